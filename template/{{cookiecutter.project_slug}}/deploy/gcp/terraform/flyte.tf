# Flyte on GKE (../../../orchestration/flyte/README.md, "On Google Cloud"): Flyte's
# single-binary control plane (its flyte-binary Helm chart: admin, propeller, scheduler,
# data catalog) runs in the namespace `flyte` of your GKE cluster var.gke_cluster, keeps its
# state in a PostgreSQL database on Cloud SQL and its metadata and task outputs in a bucket
# of its own. The workflows' tasks run as pods of the pipeline image in one namespace per
# project and domain (`<project>-development`, ...), which Flyte creates with the workspace
# volume they share. `make flyte-install` installs the chart with the values rendered here
# (flyte_helm_values). Without a cluster, nothing of this file is created.
#
# Identities (the cluster must have Workload Identity):
#   * the control plane signs in as the service account <name>-flyte, bound to its
#     Kubernetes service account `flyte`: flyteadmin signs the URLs `pyflyte register`
#     uploads code packages to, which takes a service account that may sign as itself
#     (Workload Identity Federation's direct principals cannot sign); the Cloud SQL Auth
#     Proxy beside it connects to the database with the same identity;
#   * the tasks' Kubernetes service account `default` of each project-domain namespace is
#     itself the IAM principal: Flyte's bucket, the inference log and the day's batch to
#     read, the scores to write.

locals {
  flyte_on_gke    = var.gke_cluster != ""
  flyte_namespace = "flyte"
  flyte_name      = "flyte" # the chart's fullnameOverride: its service account and services
  flyte_project   = "{{ cookiecutter.project_slug | replace('_', '-') }}"
  flyte_domains   = ["development", "staging", "production"]
  flyte_pool      = "principal://iam.googleapis.com/projects/${data.google_project.this.number}/locations/global/workloadIdentityPools/${var.project_id}.svc.id.goog/subject"
  flyte_tasks     = { for domain in local.flyte_domains : domain => "${local.flyte_pool}/ns/${local.flyte_project}-${domain}/sa/default" }
}

variable "gke_cluster" {
  description = "The GKE cluster (name) Flyte runs on, with Workload Identity; empty: no Flyte control plane (no database, no bucket)."
  type        = string
  default     = ""
}

variable "flyte_database_tier" {
  description = "The Cloud SQL machine tier of Flyte's PostgreSQL database (its control plane's state: executions, launch plans, schedules)."
  type        = string
  default     = "db-custom-1-3840"
}

variable "flyte_database_password_version" {
  description = "Increase to give Flyte's database a new password (written to Cloud SQL and Secret Manager only, never to the state); then make flyte-install."
  type        = number
  default     = 1
}

resource "google_project_service" "flyte" {
  count              = local.flyte_on_gke ? 1 : 0
  service            = "sqladmin.googleapis.com"
  disable_on_destroy = false
}

# ---- Flyte's bucket: metadata, offloaded inputs and outputs, registered code packages -----
resource "google_storage_bucket" "flyte" {
  #checkov:skip=CKV_GCP_62:Object reads and writes are recorded by the Data Access audit logs (main.tf); GCS usage logs would need a second bucket for less.
  #checkov:skip=CKV_GCP_78:every execution writes under new keys: versions would only keep what Flyte deletes
  count                       = local.flyte_on_gke ? 1 : 0
  name                        = "${var.project_id}-${var.name}-flyte"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  encryption {
    default_kms_key_name = google_kms_crypto_key.data.id
  }

  depends_on = [google_kms_crypto_key_iam_member.agents]
}

# ---- the database: PostgreSQL 16, regional, CMEK, reachable through the Auth Proxy only ---
# Its password is generated for each version and written to Cloud SQL and to Secret Manager
# only (write-only arguments); `make flyte-install` gives it to Flyte as a Secret.
ephemeral "random_password" "flyte_database" {
  count   = local.flyte_on_gke ? 1 : 0
  length  = 40
  special = false # it goes into a YAML configuration file unquoted
}

resource "google_project_service_identity" "cloud_sql" {
  provider = google-beta
  count    = local.flyte_on_gke ? 1 : 0

  service = google_project_service.flyte[0].service
}

resource "google_kms_crypto_key_iam_member" "cloud_sql" {
  count         = local.flyte_on_gke ? 1 : 0
  crypto_key_id = google_kms_crypto_key.data.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${google_project_service_identity.cloud_sql[0].email}"
}

# A public IP without authorized networks: nothing reaches it but Cloud SQL's connectors,
# which authenticate with IAM (roles/cloudsql.client) and a client certificate Cloud SQL
# issues them (ssl_mode), here the Auth Proxy beside the control plane. A private IP would
# need Private Service Access peered into the cluster's network, which this root does not
# manage.
resource "google_sql_database_instance" "flyte" {
  #checkov:skip=CKV_GCP_60:the public IP accepts only Cloud SQL's connectors (IAM-authorized, client certificates): no authorized networks
  #checkov:skip=CKV_GCP_79:PostgreSQL 16, as Flyte's database on AWS; Cloud SQL upgrades a major version in place when Flyte's release notes allow
  #checkov:skip=CKV2_GCP_13:log_duration would log every statement of the control plane's polling; slow statements show in Query Insights
  count               = local.flyte_on_gke ? 1 : 0
  name                = "${var.name}-flyte"
  region              = var.region
  database_version    = "POSTGRES_16"
  encryption_key_name = google_kms_crypto_key.data.id
  deletion_protection = true

  settings {
    tier                        = var.flyte_database_tier
    edition                     = "ENTERPRISE"
    availability_type           = "REGIONAL"
    disk_autoresize             = true
    deletion_protection_enabled = true

    ip_configuration {
      ipv4_enabled = true
      ssl_mode     = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
    }

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
    }

    insights_config {
      query_insights_enabled = true
    }

    # What CIS's benchmark asks of a PostgreSQL instance's logging (statements: schema
    # changes only, not the control plane's polling).
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_min_messages"
      value = "error"
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
  }

  depends_on = [google_kms_crypto_key_iam_member.cloud_sql]
}

resource "google_sql_database" "flyte" {
  count    = local.flyte_on_gke ? 1 : 0
  name     = "flyte"
  instance = google_sql_database_instance.flyte[0].name
}

resource "google_sql_user" "flyte" {
  count               = local.flyte_on_gke ? 1 : 0
  name                = "flyte"
  instance            = google_sql_database_instance.flyte[0].name
  password_wo         = ephemeral.random_password.flyte_database[0].result
  password_wo_version = var.flyte_database_password_version
}

resource "google_secret_manager_secret" "flyte_database" {
  count     = local.flyte_on_gke ? 1 : 0
  secret_id = "${var.name}-flyte-database"

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

resource "google_secret_manager_secret_version" "flyte_database" {
  count                  = local.flyte_on_gke ? 1 : 0
  secret                 = google_secret_manager_secret.flyte_database[0].id
  secret_data_wo         = ephemeral.random_password.flyte_database[0].result
  secret_data_wo_version = var.flyte_database_password_version
}

# ---- the control plane's identity ----------------------------------------------------------
resource "google_service_account" "flyte_backend" {
  count        = local.flyte_on_gke ? 1 : 0
  account_id   = "${var.name}-flyte" # at most 30 characters
  display_name = "${var.name} Flyte control plane"
  description  = "Flyte's control plane on GKE: its bucket, signed upload URLs, its Cloud SQL database."
}

resource "google_service_account_iam_member" "flyte_backend" {
  for_each = local.flyte_on_gke ? {
    workload_identity = { role = "roles/iam.workloadIdentityUser", member = "serviceAccount:${var.project_id}.svc.id.goog[${local.flyte_namespace}/${local.flyte_name}]" }
    sign_upload_urls  = { role = "roles/iam.serviceAccountTokenCreator", member = "serviceAccount:${google_service_account.flyte_backend[0].email}" }
  } : {}

  service_account_id = google_service_account.flyte_backend[0].name
  role               = each.value.role
  member             = each.value.member
}

# Cloud SQL Client on Flyte's instance alone (an IAM condition on its resource name).
resource "google_project_iam_member" "flyte_backend_database" {
  count   = local.flyte_on_gke ? 1 : 0
  project = var.project_id
  role    = "roles/cloudsql.client"
  member  = "serviceAccount:${google_service_account.flyte_backend[0].email}"

  condition {
    title      = "flyte-database-only"
    expression = "resource.name == \"projects/${var.project_id}/instances/${google_sql_database_instance.flyte[0].name}\""
  }
}

resource "google_storage_bucket_iam_member" "flyte_bucket" {
  for_each = local.flyte_on_gke ? merge(
    { backend = "serviceAccount:${google_service_account.flyte_backend[0].email}" },
    local.flyte_tasks,
  ) : {}

  bucket = google_storage_bucket.flyte[0].name
  role   = "roles/storage.objectUser"
  member = each.value
}

# ---- the tasks' identity: what the steps use of the artifact bucket ----------------------
# Monitoring reads the API's inference log; batch scoring reads the day's batch and writes
# its scores.
locals {
  flyte_task_folders = {
    inference_log = { folder = google_storage_managed_folder.inference.name, role = "roles/storage.objectViewer" }
    batches       = { folder = google_storage_managed_folder.batches.name, role = "roles/storage.objectViewer" }
    scores        = { folder = google_storage_managed_folder.scores.name, role = "roles/storage.objectUser" }
  }
}

resource "google_storage_managed_folder_iam_member" "flyte_tasks" {
  for_each = !local.flyte_on_gke ? {} : {
    for pair in setproduct(local.flyte_domains, keys(local.flyte_task_folders)) :
    join("/", pair) => merge(local.flyte_task_folders[pair[1]], { member = local.flyte_tasks[pair[0]] })
  }

  bucket         = google_storage_bucket.artifacts.name
  managed_folder = each.value.folder
  role           = each.value.role
  member         = each.value.member
}

resource "google_storage_bucket_iam_member" "flyte_tasks_see_bucket" {
  for_each = local.flyte_on_gke ? local.flyte_tasks : {}

  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.bucketViewer"
  member = each.value
}

# ---- what make flyte-install reads -----------------------------------------------------------
output "flyte_helm_values" {
  description = "The flyte-binary chart's values for this project: database, bucket, identity, the tasks' settings (make flyte-install)."
  value = local.flyte_on_gke ? templatefile("${path.module}/../../../orchestration/flyte/flyte-values.yaml.tftpl", {
    database_instance = google_sql_database_instance.flyte[0].connection_name
    backend_account   = google_service_account.flyte_backend[0].email
    bucket            = google_storage_bucket.flyte[0].name
    project_id        = var.project_id
    name              = local.flyte_name
    project           = local.flyte_project
    inference_log_url = local.inference_log_url
    batch_input_url   = "gs://${google_storage_bucket.artifacts.name}/${google_storage_managed_folder.batches.name}{date}.parquet"
    batch_scores_url  = "gs://${google_storage_bucket.artifacts.name}/${google_storage_managed_folder.scores.name}{date}.parquet"
  }) : null
}

output "flyte_database_secret" {
  description = "The Secret Manager secret holding the Flyte database's password (make flyte-install)."
  value       = one(google_secret_manager_secret.flyte_database[*].secret_id)
}
