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

# Who may call the API (../README.md, "Calling the API"). Private by default: Cloud Run
# answers only callers with an identity token of a principal holding roles/run.invoker.
# `public = true` lets anyone through Cloud Run's IAM, so the API checks bearer tokens itself
# (serve.auth, from jwt_issuer), and only the load balancer below, behind Cloud Armor's rate
# limit, reaches the service: its run.app address no longer answers the internet.
resource "google_cloud_run_v2_service" "api" {
  name     = var.name
  location = var.region
  ingress  = var.public ? "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER" : "INGRESS_TRAFFIC_ALL"

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

      env {
        name  = "{{ cookiecutter.project_slug | upper }}_SERVE__TRUSTED_SIGNERS"
        value = local.trusted_signers
      }

      # Public: the API's own bearer-token check (serving/auth.py), since IAM lets anyone in.
      dynamic "env" {
        for_each = var.public ? local.token_check : {}
        content {
          name  = env.key
          value = env.value
        }
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

locals {
  token_check = {
    "{{ cookiecutter.project_slug | upper }}_SERVE__AUTH__ENABLED"  = "true"
    "{{ cookiecutter.project_slug | upper }}_SERVE__AUTH__ISSUER"   = var.jwt_issuer
    "{{ cookiecutter.project_slug | upper }}_SERVE__AUTH__AUDIENCE" = var.jwt_audience
    "{{ cookiecutter.project_slug | upper }}_SERVE__AUTH__JWKS_URL" = var.jwt_jwks_url
  }
}

# Off by default: callers present an identity token (roles/run.invoker on this service).
resource "google_cloud_run_v2_service_iam_member" "public" {
  #checkov:skip=CKV_GCP_102:Public access is an explicit opt-in (var.public, false by default); the API then checks bearer tokens itself and only the load balancer behind Cloud Armor reaches it.
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

# ---- public: a global external load balancer with Cloud Armor in front of Cloud Run -------
resource "google_compute_region_network_endpoint_group" "api" {
  count = var.public ? 1 : 0

  name                  = "${var.name}-api"
  region                = var.region
  network_endpoint_type = "SERVERLESS"

  cloud_run {
    service = google_cloud_run_v2_service.api.name
  }

  depends_on = [google_project_service.this]
}

# Each client address may send rate_limit requests per rate_limit_window_seconds; more get 429.
resource "google_compute_security_policy" "api" {
  count = var.public ? 1 : 0

  name        = "${var.name}-api"
  description = "Rate limit per client address and known CVE probes (Log4j), in front of the API."

  rule {
    action      = "throttle"
    priority    = 1000
    description = "Rate limit per client address"

    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }

    rate_limit_options {
      conform_action = "allow"
      exceed_action  = "deny(429)"
      enforce_on_key = "IP"

      rate_limit_threshold {
        count        = var.rate_limit
        interval_sec = var.rate_limit_window_seconds
      }
    }
  }

  rule {
    action      = "deny(403)"
    priority    = 900
    description = "Known CVE probes, Log4j's JNDI lookups among them"

    match {
      expr {
        expression = "evaluatePreconfiguredWaf('cve-canary')"
      }
    }
  }

  rule {
    action      = "allow"
    priority    = 2147483647
    description = "Everything else"

    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
  }
}

resource "google_compute_backend_service" "api" {
  count = var.public ? 1 : 0

  name                  = "${var.name}-api"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  protocol              = "HTTPS"
  security_policy       = google_compute_security_policy.api[0].id

  backend {
    group = google_compute_region_network_endpoint_group.api[0].id
  }

  log_config {
    enable      = true
    sample_rate = 1.0
  }
}

resource "google_compute_url_map" "api" {
  count = var.public ? 1 : 0

  name            = "${var.name}-api"
  default_service = google_compute_backend_service.api[0].id
}

resource "google_compute_managed_ssl_certificate" "api" {
  count = var.public ? 1 : 0

  name = "${var.name}-api"

  managed {
    domains = [var.domain]
  }
}

resource "google_compute_ssl_policy" "api" {
  count = var.public ? 1 : 0

  name            = "${var.name}-api"
  profile         = "MODERN"
  min_tls_version = "TLS_1_2"
}

resource "google_compute_target_https_proxy" "api" {
  count = var.public ? 1 : 0

  name             = "${var.name}-api"
  url_map          = google_compute_url_map.api[0].id
  ssl_certificates = [google_compute_managed_ssl_certificate.api[0].id]
  ssl_policy       = google_compute_ssl_policy.api[0].id
}

resource "google_compute_global_address" "api" {
  count = var.public ? 1 : 0

  name = "${var.name}-api"
}

# HTTPS only: nothing listens on port 80.
resource "google_compute_global_forwarding_rule" "api" {
  count = var.public ? 1 : 0

  name                  = "${var.name}-api"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.api[0].id
  port_range            = "443"
  target                = google_compute_target_https_proxy.api[0].id
}

# Who may have signed the models the API loads: var.trusted_signers, or else who signs what CT
# promotes, whom the serving image is built to trust (the Dockerfile's TRUSTED_SIGNERS).
locals {
{%- if cookiecutter.__ci_schedules and cookiecutter.ci == 'github' %}
  # CT's workflow on deploy_branch, keyless through Sigstore (.github/workflows/ct.yml).
  ct_signer = {
    identity = "https://github.com/${var.github_repository}/.github/workflows/ct.yml@refs/heads/${var.deploy_branch}"
    issuer   = "https://token.actions.githubusercontent.com"
  }
{%- elif cookiecutter.__ci_schedules and cookiecutter.ci == 'gitlab' %}
  # CT's jobs on deploy_branch, keyless through Sigstore (.gitlab/continuous-training.yml).
  ct_signer = {
    identity = "${var.gitlab_url}/${var.gitlab_project_path}//.gitlab-ci.yml@refs/heads/${var.deploy_branch}"
    issuer   = var.gitlab_url
  }
{%- else %}
  # The project's key pair: the image carries its public half (the Dockerfile's TRUSTED_SIGNERS).
  ct_signer       = { public_key = "models/signer.pub" }
{%- endif %}
  trusted_signers = length(var.trusted_signers) > 0 ? jsonencode(var.trusted_signers) : jsonencode([local.ct_signer])
}
