# Serving on Cloud Run: the image CD pushed, behind Google's front end, scaled on requests.
# Terraform owns the service's shape (identity, probes, scaling); CD owns which image runs
# (`gcloud run deploy --image`), so a later `terraform apply` does not roll it back.

resource "google_service_account" "api" {
  account_id   = "${var.name}-api"
  display_name = "${var.name} API on Cloud Run"
  description  = "Runtime identity of the serving API: the model is in the image; it reads its runtime secrets and writes its inference log."
}

# The inference log: a managed folder of the artifact bucket (gs://BUCKET/inference/) where the
# API may create objects and nothing else (no read, no overwrite, no delete). gcsfs reads the
# bucket's metadata before it writes (bucketViewer: no object in it). Cloud Storage's service
# agent encrypts with the bucket's CMEK key, so the API needs no key permission.
resource "google_storage_managed_folder" "inference" {
  bucket = google_storage_bucket.artifacts.name
  name   = "inference/"
}

resource "google_storage_managed_folder_iam_member" "api_writes_inference_log" {
  bucket         = google_storage_managed_folder.inference.bucket
  managed_folder = google_storage_managed_folder.inference.name
  role           = "roles/storage.objectCreator"
  member         = "serviceAccount:${google_service_account.api.email}"
}

resource "google_storage_bucket_iam_member" "api_sees_bucket" {
  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.bucketViewer"
  member = "serviceAccount:${google_service_account.api.email}"
}

locals {
  inference_log_url = "gs://${google_storage_bucket.artifacts.name}/${trimsuffix(google_storage_managed_folder.inference.name, "/")}"
}

resource "google_secret_manager_secret_iam_member" "api" {
  for_each = google_secret_manager_secret.runtime

  secret_id = each.value.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.api.email}"
}

resource "google_cloud_run_v2_service" "api" {
  name     = var.name
  location = var.region
  ingress  = "INGRESS_TRAFFIC_ALL"

  template {
    service_account                  = google_service_account.api.email
    max_instance_request_concurrency = 40
    timeout                          = "30s"

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    containers {
      # Google's sample image until CD deploys the first champion (it answers on every path).
      image = "us-docker.pkg.dev/cloudrun/container/hello"

      ports {
        container_port = 8000
      }

      # Every prediction goes to the bucket (../README.md, "Inference log").
      env {
        name  = "{{ cookiecutter.project_slug | upper }}_INFERENCE_LOG__URL"
        value = local.inference_log_url
      }

      env {
        name  = "{{ cookiecutter.project_slug | upper }}_INFERENCE_LOG__ENABLED"
        value = "true" # the image leaves it off
      }

      dynamic "env" {
        for_each = google_secret_manager_secret.runtime
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value.secret_id
              version = "latest"
            }
          }
        }
      }

      resources {
        limits = {
          cpu    = "1"
          memory = "1Gi"
        }
        cpu_idle          = true
        startup_cpu_boost = true
      }

      # Traffic only once the champion is loaded (/ready), restarts when the process hangs.
      startup_probe {
        period_seconds    = 5
        timeout_seconds   = 3
        failure_threshold = 24
        http_get {
          path = "/ready"
        }
      }

      liveness_probe {
        period_seconds    = 30
        timeout_seconds   = 5
        failure_threshold = 3
        http_get {
          path = "/health"
        }
      }
    }
  }

  lifecycle {
    ignore_changes = [
      template[0].containers[0].image,
      client,
      client_version,
    ]
  }

  depends_on = [
    google_project_service.this,
    google_secret_manager_secret_iam_member.api,
    google_storage_managed_folder_iam_member.api_writes_inference_log,
  ]
}

# Off by default: callers present an identity token (roles/run.invoker on this service).
resource "google_cloud_run_v2_service_iam_member" "public" {
  #checkov:skip=CKV_GCP_102:Public access is an explicit opt-in (var.public, false by default) for an API meant to be called from the internet.
  count = var.public ? 1 : 0

  name     = google_cloud_run_v2_service.api.name
  location = google_cloud_run_v2_service.api.location
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# GKE: the Kubernetes service account `api` (deploy/gcp/k8s) acts as the same Google service
# account as Cloud Run. The cluster must exist with Workload Identity before this applies.
resource "google_service_account_iam_member" "gke_api" {
  count = var.gke_namespace == null ? 0 : 1

  service_account_id = google_service_account.api.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.gke_namespace}/api]"
}
