# The project's Google Cloud footprint: one CMEK key, the artifact bucket (DVC remote,
# {% if cookiecutter.__tracking_server %}tracking server artifacts, {% endif %}inference log), the image registry, the Cloud Run service,
# the training identity and the API's runtime secrets. CI identities are in ci.tf.

locals {
  base_services = [
    "aiplatform.googleapis.com",
    "artifactregistry.googleapis.com",
    "cloudkms.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "sts.googleapis.com",
  ]
  # The public API's load balancer and Cloud Armor (serving.tf).
  services = concat(local.base_services, var.public ? ["compute.googleapis.com"] : [])
}

resource "google_project_service" "this" {
  for_each = toset(local.services)

  service            = each.value
  disable_on_destroy = false
}

# ---- encryption: one customer-managed key, rotated every 90 days ---------------------------
resource "google_kms_key_ring" "this" {
  name     = var.name
  location = var.region

  depends_on = [google_project_service.this]
}

resource "google_kms_crypto_key" "data" {
  name            = "${var.name}-data"
  key_ring        = google_kms_key_ring.this.id
  rotation_period = "7776000s"

  lifecycle {
    prevent_destroy = true # destroying the key destroys every object it encrypts
  }
}

{% if cookiecutter.__gke_principals -%}
# The project's number, which names the GKE workloads' IAM principals (Workload Identity
# Federation for GKE).
data "google_project" "this" {
  project_id = var.project_id
}

{% endif -%}
# The Google-managed service agents that encrypt on our behalf.
data "google_storage_project_service_account" "gcs" {}

resource "google_project_service_identity" "agents" {
  provider = google-beta
  for_each = toset(["artifactregistry.googleapis.com", "secretmanager.googleapis.com"])

  service = each.value

  depends_on = [google_project_service.this]
}

resource "google_kms_crypto_key_iam_member" "agents" {
  for_each = {
    storage          = data.google_storage_project_service_account.gcs.email_address
    artifactregistry = google_project_service_identity.agents["artifactregistry.googleapis.com"].email
    secretmanager    = google_project_service_identity.agents["secretmanager.googleapis.com"].email
  }

  crypto_key_id = google_kms_crypto_key.data.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${each.value}"
}

# ---- storage: the DVC remote (dvc/){% if cookiecutter.__tracking_server %}, the tracking server's artifacts (mlflow/){% endif %} and the inference log
resource "google_storage_bucket" "artifacts" {
  #checkov:skip=CKV_GCP_62:Object reads and writes are recorded by the Data Access audit logs enabled below; GCS usage logs would need a second bucket for less.
  name                        = "${var.project_id}-${var.name}-artifacts"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  encryption {
    default_kms_key_name = google_kms_crypto_key.data.id
  }

  soft_delete_policy {
    retention_duration_seconds = 604800 # 7 days
  }

  # Old versions of an object go after 90 days; the newest version always stays.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 90
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_kms_crypto_key_iam_member.agents]
}

# Batch scoring's folders, whoever scores (CI: batch_scoring.tf, or an orchestrator): the
# day's batches in batches/, their scores in scores/. Each reader and writer is granted on
# its folder alone.
resource "google_storage_managed_folder" "batches" {
  bucket = google_storage_bucket.artifacts.name
  name   = "batches/"
}

resource "google_storage_managed_folder" "scores" {
  bucket = google_storage_bucket.artifacts.name
  name   = "scores/"
}

# Who read or wrote which object, in Cloud Logging (this sets the project's audit
# configuration for Cloud Storage; merge it with your organisation's if it has one).
resource "google_project_iam_audit_config" "storage" {
  project = var.project_id
  service = "storage.googleapis.com"

  audit_log_config {
    log_type = "DATA_READ"
  }

  audit_log_config {
    log_type = "DATA_WRITE"
  }
}

# ---- images: CD pushes the serving image here, tagged with the commit (tags are immutable) -
resource "google_artifact_registry_repository" "images" {
  repository_id = var.name
  location      = var.region
  format        = "DOCKER"
  description   = "Serving and training image of ${var.name}"
  kms_key_name  = google_kms_crypto_key.data.id

  docker_config {
    immutable_tags = true
  }

  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 20
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      tag_state  = "ANY"
      older_than = "7776000s" # 90 days; the 20 newest versions are kept regardless
    }
  }

  depends_on = [google_kms_crypto_key_iam_member.agents]
}

# ---- secrets: the API's runtime secrets, CMEK-encrypted, replicated in the region only -------
# One secret per environment variable of var.runtime_secrets; Cloud Run passes its latest
# version to the API. Values are added out of band (../README.md, "Secrets"), never through
# Terraform, so they stay out of the state.
resource "google_secret_manager_secret" "runtime" {
  for_each = toset(var.runtime_secrets)

  secret_id = lower(replace(each.value, "_", "-"))

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
