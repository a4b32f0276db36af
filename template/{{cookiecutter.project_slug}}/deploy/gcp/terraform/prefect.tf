# Prefect on Cloud Run (../../../orchestration/prefect/README.md): a Prefect worker runs as a
# Cloud Run service and starts one Cloud Run job per flow run, in the project's region.
# Two identities, each with only what it uses:
#   * the flow runs': the bucket's folders the flows read and write, the Prefect API key;
#   * the worker's: create, run and delete Cloud Run jobs that act as the flow runs' identity.
# The work pool's defaults (output prefect_work_pool) put every flow run there:
# `make flow-deploy` writes them into the pool's base job template.

variable "prefect_api_url" {
  description = "The Prefect API the worker polls (a Prefect Cloud workspace's https://api.prefect.cloud/api/accounts/.../workspaces/..., or your server's /api); empty: no worker."
  type        = string
  default     = ""

  validation {
    condition     = var.prefect_api_url == "" || can(regex("^https://", var.prefect_api_url))
    error_message = "prefect_api_url must be an https:// URL (or empty: no worker)."
  }
}

variable "flow_image" {
  description = "The image the worker and the flow runs run: the Dockerfile's training target in the Artifact Registry repository, by digest (make flow-image)."
  type        = string
  default     = ""

  validation {
    condition     = var.flow_image == "" || can(regex("@sha256:[0-9a-f]{64}$", var.flow_image))
    error_message = "flow_image must be pinned by digest: REPOSITORY@sha256:..."
  }
}

locals {
  # The pool prefect.yaml's deployments name (make flow-deploy creates it), whatever the
  # resources' prefix.
  prefect_work_pool_name = "{{ cookiecutter.project_slug | replace('_', '-') }}-{{ cookiecutter.__prefect_work_pool }}"
  prefect_worker         = var.prefect_api_url != "" ? 1 : 0
}

# Prefect Cloud's API key (or a self-hosted server's), CMEK-encrypted like the runtime
# secrets; its value is added out of band:
# `printf %s "$PREFECT_API_KEY" | gcloud secrets versions add <output prefect_api_key_secret> --data-file=-`.
resource "google_secret_manager_secret" "prefect_api_key" {
  secret_id = "${var.name}-prefect-api-key"

  replication {
    user_managed {
      replicas {
        location = var.region
        customer_managed_encryption {
          kms_key_name = google_kms_crypto_key.data.id
        }
      }
    }
  }

  depends_on = [google_kms_crypto_key_iam_member.agents]
}

# ---- the flow runs ---------------------------------------------------------------------

resource "google_service_account" "flow_run" {
  account_id   = "${var.name}-flows"
  display_name = "${var.name} Prefect flow runs on Cloud Run"
  description  = "Runtime identity of the flow runs: read the inference log and the day's batch, write the scores."
}

# Monitoring reads the API's inference log; batch scoring reads the day's batch and writes its
# scores (under temporary names renamed when complete: objectUser on scores/ alone).
resource "google_storage_managed_folder_iam_member" "flows_read_inference_log" {
  bucket         = google_storage_managed_folder.inference.bucket
  managed_folder = google_storage_managed_folder.inference.name
  role           = "roles/storage.objectViewer"
  member         = "serviceAccount:${google_service_account.flow_run.email}"
}

resource "google_storage_managed_folder_iam_member" "flows_read_batches" {
  bucket         = google_storage_managed_folder.batches.bucket
  managed_folder = google_storage_managed_folder.batches.name
  role           = "roles/storage.objectViewer"
  member         = "serviceAccount:${google_service_account.flow_run.email}"
}

resource "google_storage_managed_folder_iam_member" "flows_write_scores" {
  bucket         = google_storage_managed_folder.scores.bucket
  managed_folder = google_storage_managed_folder.scores.name
  role           = "roles/storage.objectUser"
  member         = "serviceAccount:${google_service_account.flow_run.email}"
}

resource "google_storage_bucket_iam_member" "flows_see_bucket" {
  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.bucketViewer"
  member = "serviceAccount:${google_service_account.flow_run.email}"
}

resource "google_secret_manager_secret_iam_member" "flows_read_prefect_api_key" {
  secret_id = google_secret_manager_secret.prefect_api_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.flow_run.email}"
}

# ---- the worker ------------------------------------------------------------------------

resource "google_service_account" "prefect_worker" {
  account_id   = "${var.name}-prefect" # at most 30 characters
  display_name = "${var.name} Prefect worker on Cloud Run"
  description  = "Creates, runs and deletes the flow runs' Cloud Run jobs."
}

# prefect-gcp's Cloud Run worker creates a job per flow run, runs it, watches its execution
# and deletes the job when it ends: Cloud Run's developer role, which has no narrower scope
# than the project for jobs that do not exist yet. It may act as the flow runs' identity only.
resource "google_project_iam_member" "prefect_worker_runs_jobs" {
  project = var.project_id
  role    = "roles/run.developer"
  member  = "serviceAccount:${google_service_account.prefect_worker.email}"
}

resource "google_service_account_iam_member" "prefect_worker_acts_as_flows" {
  service_account_id = google_service_account.flow_run.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.prefect_worker.email}"
}

resource "google_secret_manager_secret_iam_member" "prefect_worker_reads_api_key" {
  secret_id = google_secret_manager_secret.prefect_api_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.prefect_worker.email}"
}

# The worker runs the flows' own image (the training target holds prefect-gcp), so worker and
# flow runs share one lockfile; one instance, its CPU always allocated, as it polls rather
# than serves. It answers only its health check (--with-healthcheck, port 8080), and only
# from inside the project. Created once var.prefect_api_url is set.
resource "google_cloud_run_v2_service" "prefect_worker" {
  count    = local.prefect_worker
  name     = "${var.name}-prefect-worker"
  location = var.region
  ingress  = "INGRESS_TRAFFIC_INTERNAL_ONLY"

  template {
    service_account = google_service_account.prefect_worker.email

    scaling {
      min_instance_count = 1
      max_instance_count = 1
    }

    containers {
      image   = var.flow_image
      command = ["prefect"]
      args    = ["worker", "start", "--pool", local.prefect_work_pool_name, "--type", "cloud-run-v2", "--with-healthcheck"]

      ports {
        container_port = 8080
      }

      env {
        name  = "PREFECT_API_URL"
        value = var.prefect_api_url
      }

      env {
        name = "PREFECT_API_KEY"
        value_source {
          secret_key_ref {
            secret  = google_secret_manager_secret.prefect_api_key.secret_id
            version = "latest"
          }
        }
      }

      env {
        name  = "DO_NOT_TRACK"
        value = "true"
      }

      resources {
        limits = {
          cpu    = "1"
          memory = "1Gi"
        }
        cpu_idle = false
      }

      startup_probe {
        period_seconds    = 5
        failure_threshold = 24
        http_get {
          path = "/health"
        }
      }

      liveness_probe {
        period_seconds = 60
        http_get {
          path = "/health"
        }
      }
    }
  }

  lifecycle {
    precondition {
      condition     = var.flow_image != ""
      error_message = "prefect_api_url needs flow_image: the training image in Artifact Registry, by digest (make flow-image)."
    }
  }

  depends_on = [
    google_project_service.this,
    google_secret_manager_secret_iam_member.prefect_worker_reads_api_key,
  ]
}

# ---- the work pool ---------------------------------------------------------------------

locals {
  # Defaults of the Cloud Run work pool's job variables (prefect-gcp's CloudRunWorkerJobV2Variables).
  prefect_work_pool = {
    region               = var.region
    service_account_name = google_service_account.flow_run.email
    prefect_api_key_secret = {
      secret  = google_secret_manager_secret.prefect_api_key.secret_id
      version = "latest"
    }
    memory       = "2Gi"
    timeout      = 3600 # seconds: a training run, with room
    launch_stage = "GA"
    env = {
      "{{ cookiecutter.project_slug | upper }}_INFERENCE_LOG__URL" = local.inference_log_url
      "{{ cookiecutter.project_slug | upper }}_SCORE__INPUT"       = "gs://${google_storage_bucket.artifacts.name}/${google_storage_managed_folder.batches.name}{date}.parquet"
      "{{ cookiecutter.project_slug | upper }}_SCORE__OUTPUT"      = "gs://${google_storage_bucket.artifacts.name}/${google_storage_managed_folder.scores.name}{date}.parquet"

      DO_NOT_TRACK = "true"
    }
  }
}

output "prefect_work_pool" {
  description = "The Cloud Run work pool's job variable defaults, as JSON (make flow-deploy)."
  value       = jsonencode(local.prefect_work_pool)
}

output "prefect_api_key_secret" {
  description = "The Secret Manager secret that holds the Prefect API key (gcloud secrets versions add)."
  value       = google_secret_manager_secret.prefect_api_key.secret_id
}
