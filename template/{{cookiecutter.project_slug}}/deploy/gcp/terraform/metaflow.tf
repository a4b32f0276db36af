# Metaflow's flows on Argo Workflows on GKE (../../../orchestration/metaflow/README.md, "On
# Google Cloud"): Argo Workflows runs each flow on its schedule or trigger, every step a pod
# of the pipeline image on your GKE cluster, sharing the workspace volume. The steps sign in
# as their Kubernetes service account metaflow-steps, itself the IAM principal (Workload
# Identity Federation for GKE): Metaflow's datastore (the bucket's metaflow/ folder) to read
# and write, the inference log and the day's batch to read, the scores to write. The
# cluster must exist with Workload Identity before this applies.

locals {
  metaflow_namespace = "{{ cookiecutter.project_slug | replace('_', '-') }}-metaflow" # orchestration/metaflow/k8s
  metaflow_steps_sa  = "metaflow-steps"
  metaflow_steps     = "principal://iam.googleapis.com/projects/${data.google_project.this.number}/locations/global/workloadIdentityPools/${var.project_id}.svc.id.goog/subject/ns/${local.metaflow_namespace}/sa/${local.metaflow_steps_sa}"
}

# The datastore: the code package of every deployment, and every step's artifacts.
resource "google_storage_managed_folder" "metaflow" {
  bucket = google_storage_bucket.artifacts.name
  name   = "metaflow/"
}

resource "google_storage_managed_folder_iam_member" "metaflow_steps" {
  for_each = {
    datastore     = { folder = google_storage_managed_folder.metaflow.name, role = "roles/storage.objectUser" }
    inference_log = { folder = google_storage_managed_folder.inference.name, role = "roles/storage.objectViewer" }
    batches       = { folder = google_storage_managed_folder.batches.name, role = "roles/storage.objectViewer" }
    scores        = { folder = google_storage_managed_folder.scores.name, role = "roles/storage.objectUser" }
  }

  bucket         = google_storage_bucket.artifacts.name
  managed_folder = each.value.folder
  role           = each.value.role
  member         = local.metaflow_steps
}

resource "google_storage_bucket_iam_member" "metaflow_steps_see_bucket" {
  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.bucketViewer"
  member = local.metaflow_steps
}

output "metaflow_on_gke" {
  description = "Metaflow's configuration for the cluster and the steps' settings, as JSON (make flow-deploy)."
  value = jsonencode({
    config = {
      METAFLOW_DEFAULT_DATASTORE          = "gs"
      METAFLOW_DATASTORE_SYSROOT_GS       = "gs://${google_storage_bucket.artifacts.name}/${google_storage_managed_folder.metaflow.name}"
      METAFLOW_KUBERNETES_NAMESPACE       = local.metaflow_namespace
      METAFLOW_KUBERNETES_SERVICE_ACCOUNT = local.metaflow_steps_sa
    }
    env = {
      INFERENCE_LOG__URL = local.inference_log_url
      SCORE__INPUT       = "gs://${google_storage_bucket.artifacts.name}/${google_storage_managed_folder.batches.name}{date}.parquet"
      SCORE__OUTPUT      = "gs://${google_storage_bucket.artifacts.name}/${google_storage_managed_folder.scores.name}{date}.parquet"
    }
  })
}
