# Dagster+ Hybrid on GKE (../../../orchestration/dagster/README.md, "On Google Cloud"):
# Dagster+ hosts the UI, the schedules, the sensors and the run history; its agent on your
# GKE cluster starts the code location's server and every run as pods of the pipeline image
# in the project's Dagster namespace, sharing the workspace volume. They sign in as their
# Kubernetes service account dagster-steps, itself the IAM principal (Workload Identity
# Federation for GKE): the inference log and the day's batch to read, the scores to write.
# The cluster must exist with Workload Identity before this applies.

locals {
  dagster_namespace = "{{ cookiecutter.project_slug | replace('_', '-') }}-dagster" # orchestration/dagster/k8s
  dagster_steps_sa  = "dagster-steps"
  dagster_steps     = "principal://iam.googleapis.com/projects/${data.google_project.this.number}/locations/global/workloadIdentityPools/${var.project_id}.svc.id.goog/subject/ns/${local.dagster_namespace}/sa/${local.dagster_steps_sa}"
}

resource "google_storage_managed_folder_iam_member" "dagster_steps" {
  for_each = {
    inference_log = { folder = google_storage_managed_folder.inference.name, role = "roles/storage.objectViewer" }
    batches       = { folder = google_storage_managed_folder.batches.name, role = "roles/storage.objectViewer" }
    scores        = { folder = google_storage_managed_folder.scores.name, role = "roles/storage.objectUser" }
  }

  bucket         = google_storage_bucket.artifacts.name
  managed_folder = each.value.folder
  role           = each.value.role
  member         = local.dagster_steps
}

resource "google_storage_bucket_iam_member" "dagster_steps_see_bucket" {
  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.bucketViewer"
  member = local.dagster_steps
}

output "dagster_on_gke" {
  description = "The code location's Kubernetes container context on the cluster, as JSON (make flow-deploy)."
  value = jsonencode({
    namespace            = local.dagster_namespace
    service_account_name = local.dagster_steps_sa
    env = {
      INFERENCE_LOG__URL = local.inference_log_url
      SCORE__INPUT       = "gs://${google_storage_bucket.artifacts.name}/${google_storage_managed_folder.batches.name}{date}.parquet"
      SCORE__OUTPUT      = "gs://${google_storage_bucket.artifacts.name}/${google_storage_managed_folder.scores.name}{date}.parquet"
    }
  })
}
