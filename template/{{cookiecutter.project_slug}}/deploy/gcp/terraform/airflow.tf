# Airflow on Managed Airflow, Cloud Composer 3 (../../../dags/README.md, "On Google Cloud"):
# Composer schedules the DAGs, and every step runs as a pod of the pipeline image on your GKE
# cluster var.gke_cluster (GKEStartPodOperator), as on any Airflow; Composer's workers run no
# ML code and need nothing beyond their preinstalled Google and Kubernetes providers.
# Two identities, each with only what it uses:
#   * the environment's service account: Composer's own needs (roles/composer.worker) and
#     reaching the cluster's control plane (its DNS-based endpoint, authorized by IAM); in
#     the cluster, a RoleBinding that `make flow-namespace` creates lets it manage pods in
#     the steps' namespace only;
#   * the steps' Kubernetes service account airflow-steps, itself the IAM principal
#     (Workload Identity Federation for GKE): the bucket folders the steps read and write.
# `make flow-deploy` syncs the DAG folder to the environment's bucket; Composer picks it up.

variable "composer_image_version" {
  description = "The environment's Composer 3 image: composer-3-airflow-3.<minor>[.<patch>[-build.<n>]], Airflow 3.3 or later (the DAGs use airflow.sdk's AssetOrTimeSchedule)."
  type        = string
  default     = "composer-3-airflow-3.3.1"

  validation {
    condition     = can(regex("^composer-3-airflow-3\\.([3-9]|[1-9][0-9])(\\.[0-9]+(-build\\.[0-9]+)?)?$", var.composer_image_version))
    error_message = "composer_image_version must be a Composer 3 image of Airflow 3.3 or later, e.g. composer-3-airflow-3.3.1."
  }
}

variable "composer_environment_size" {
  description = "The environment's size (its database and web server): the scheduler and workers only start pods."
  type        = string
  default     = "ENVIRONMENT_SIZE_SMALL"

  validation {
    condition     = contains(["ENVIRONMENT_SIZE_SMALL", "ENVIRONMENT_SIZE_MEDIUM", "ENVIRONMENT_SIZE_LARGE"], var.composer_environment_size)
    error_message = "composer_environment_size must be ENVIRONMENT_SIZE_SMALL, _MEDIUM or _LARGE."
  }
}

variable "gke_cluster" {
  description = "The GKE cluster (name) the DAGs' steps run on, with Workload Identity and its DNS-based control plane endpoint; empty: no environment."
  type        = string
  default     = ""
}

variable "gke_cluster_location" {
  description = "The GKE cluster's region or zone; empty: var.region."
  type        = string
  default     = ""
}

locals {
  # cluster.yaml's namespace, where the steps' pods run: their own (dags/k8s), not the
  # API's, whose restricted pod security refuses root.
  airflow_namespace = "{{ cookiecutter.project_slug | replace('_', '-') }}-airflow"
  airflow_steps_sa  = "airflow-steps"
  airflow_steps     = "principal://iam.googleapis.com/projects/${data.google_project.this.number}/locations/global/workloadIdentityPools/${var.project_id}.svc.id.goog/subject/ns/${local.airflow_namespace}/sa/${local.airflow_steps_sa}"
  # Without a cluster the steps have nowhere to run: no environment.
  airflow_environment = var.gke_cluster == "" ? 0 : 1
  gke_location        = coalesce(var.gke_cluster_location, var.region)
}

resource "google_project_service" "airflow" {
  for_each = toset(["composer.googleapis.com", "container.googleapis.com"])

  service            = each.value
  disable_on_destroy = false
}

# ---- the environment ---------------------------------------------------------------------

resource "google_service_account" "airflow" {
  account_id   = "${var.name}-composer" # at most 30 characters
  display_name = "${var.name} Cloud Composer environment"
  description  = "Managed Airflow's scheduler and workers: start the steps' pods on the GKE cluster, in their namespace only."
}

# What Composer 3's own components need of the project (Google's setup for a user-managed
# environment account), and what Composer's service agent needs to run as this account.
resource "google_project_iam_member" "airflow_composer_worker" {
  #checkov:skip=CKV_GCP_49:Composer 3's environment account must hold Composer Worker on the project (Google's setup; the role includes actAs for its own components), and no narrower resource takes it
  project = var.project_id
  role    = "roles/composer.worker"
  member  = "serviceAccount:${google_service_account.airflow.email}"
}

resource "google_service_account_iam_member" "airflow_composer_agent" {
  service_account_id = google_service_account.airflow.name
  role               = "roles/composer.ServiceAgentV2Ext"
  member             = "serviceAccount:service-${data.google_project.this.number}@cloudcomposer-accounts.iam.gserviceaccount.com"

  depends_on = [google_project_service.airflow]
}

# GKEStartPodOperator reads the cluster's endpoint and connects through its DNS-based
# endpoint (container.clusters.get and .connect); what it may do inside is Kubernetes RBAC's:
# `edit` in the steps' namespace alone (make flow-namespace).
resource "google_project_iam_member" "airflow_reach_cluster" {
  project = var.project_id
  role    = "roles/container.clusterViewer"
  member  = "serviceAccount:${google_service_account.airflow.email}"
}

# Google-managed keys: a customer key would need every service agent Composer uses (its own,
# Artifact Registry's, Pub/Sub's, Storage's, GKE's) granted on it, for an environment that
# holds no data of the project (its bucket holds the DAG folder, rebuilt from git).
resource "google_composer_environment" "main" {
  count  = local.airflow_environment
  name   = var.name
  region = var.region

  config {
    environment_size           = var.composer_environment_size
    enable_private_environment = true # no public IP on its components
    enable_private_builds_only = true # PyPI installs go through Private Google Access only

    software_config {
      image_version = var.composer_image_version
      airflow_config_overrides = {
        "core-load_examples" = "False"
      }
    }

    node_config {
      service_account = google_service_account.airflow.email
    }
  }

  depends_on = [
    google_project_iam_member.airflow_composer_worker,
    google_service_account_iam_member.airflow_composer_agent,
  ]
}

# ---- the steps ---------------------------------------------------------------------------

# Monitoring reads the API's inference log; batch scoring reads the day's batch and writes
# its scores.
resource "google_storage_managed_folder_iam_member" "airflow_steps" {
  for_each = {
    inference_log = { folder = google_storage_managed_folder.inference.name, role = "roles/storage.objectViewer" }
    batches       = { folder = google_storage_managed_folder.batches.name, role = "roles/storage.objectViewer" }
    scores        = { folder = google_storage_managed_folder.scores.name, role = "roles/storage.objectUser" }
  }

  bucket         = google_storage_bucket.artifacts.name
  managed_folder = each.value.folder
  role           = each.value.role
  member         = local.airflow_steps
}

resource "google_storage_bucket_iam_member" "airflow_steps_see_bucket" {
  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.bucketViewer"
  member = local.airflow_steps
}

# ---- what make flow-namespace and make flow-deploy read ----------------------------------

output "airflow_service_account" {
  description = "The environment's service account: make flow-namespace lets it manage pods in the steps' namespace."
  value       = google_service_account.airflow.email
}

output "airflow_dags_url" {
  description = "The environment's DAG folder in its bucket: make flow-deploy syncs the DAG folder there."
  value       = one(google_composer_environment.main[*].config[0].dag_gcs_prefix)
}

output "airflow_cluster" {
  description = "The cloud's part of the DAGs' cluster.yaml, as JSON (make flow-deploy)."
  value = jsonencode({
    namespace = local.airflow_namespace
    pod_operator = {
      class = "airflow.providers.google.cloud.operators.kubernetes_engine.GKEStartPodOperator"
      arguments = {
        project_id           = var.project_id
        location             = local.gke_location
        cluster_name         = var.gke_cluster
        use_dns_endpoint     = true
        service_account_name = local.airflow_steps_sa
      }
    }
    env = {
      INFERENCE_LOG__URL = local.inference_log_url
      SCORE__INPUT       = "gs://${google_storage_bucket.artifacts.name}/${google_storage_managed_folder.batches.name}{date}.parquet"
      SCORE__OUTPUT      = "gs://${google_storage_bucket.artifacts.name}/${google_storage_managed_folder.scores.name}{date}.parquet"
    }
  })
}

output "airflow_webserver_url" {
  description = "The Airflow UI (sign in with a Google identity that has roles/composer.user)."
  value       = one(google_composer_environment.main[*].config[0].airflow_uri)
}
