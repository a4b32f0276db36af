# Kubeflow's pipelines on Vertex AI Pipelines (../../../orchestration/kubeflow/README.md):
# Vertex AI runs each pipeline on its schedule (make flow-deploy creates them), every
# component a container of the training image, as one service account. The components
# share files through the bucket, which Vertex AI mounts at /gcs/<bucket> (Cloud Storage
# FUSE): the pipelines' workspace is the bucket's kubeflow/ folder (the pipeline root, the
# processed data, models, reports{% if not cookiecutter.__tracker_secrets %} and the registry{% endif %}), kept from run to run.

resource "google_storage_managed_folder" "kubeflow" {
  bucket = google_storage_bucket.artifacts.name
  name   = "kubeflow/"
}

resource "google_service_account" "pipelines" {
  account_id   = "${var.name}-pipelines" # at most 30 characters
  display_name = "${var.name} Kubeflow pipelines on Vertex AI"
  description  = "Runtime identity of the scheduled pipelines: their workspace, the inference log and the day's batch to read, the scores to write."
}

# Vertex AI Pipelines runs each component as a job that the pipeline's service account
# creates (Google's least-privilege setup for a custom pipeline account: Vertex AI User on
# the project, object access to the pipeline root). Whoever runs make flow-deploy acts as
# it: project owners may; grant others roles/iam.serviceAccountUser on this account.
resource "google_project_iam_member" "pipelines_run_components" {
  project = var.project_id
  role    = "roles/aiplatform.user"
  member  = "serviceAccount:${google_service_account.pipelines.email}"
}

resource "google_storage_managed_folder_iam_member" "pipelines" {
  for_each = {
    workspace     = { folder = google_storage_managed_folder.kubeflow.name, role = "roles/storage.objectUser" }
    inference_log = { folder = google_storage_managed_folder.inference.name, role = "roles/storage.objectViewer" }
    batches       = { folder = google_storage_managed_folder.batches.name, role = "roles/storage.objectViewer" }
    scores        = { folder = google_storage_managed_folder.scores.name, role = "roles/storage.objectUser" }
  }

  bucket         = google_storage_bucket.artifacts.name
  managed_folder = each.value.folder
  role           = each.value.role
  member         = "serviceAccount:${google_service_account.pipelines.email}"
}

resource "google_storage_bucket_iam_member" "pipelines_see_bucket" {
  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.bucketViewer"
  member = "serviceAccount:${google_service_account.pipelines.email}"
}

locals {
  kubeflow_workspace = "/gcs/${google_storage_bucket.artifacts.name}/${google_storage_managed_folder.kubeflow.name}"
  # The ingest component reads the raw data in the workspace, at params.yaml's data.raw_path
  # (the README's step copies it there; apply again once `adopt` changes that path).
  kubeflow_raw_path = yamldecode(file("${path.module}/../../../params.yaml")).data.raw_path
}

output "vertex_pipelines" {
  description = "Where and as whom Vertex AI runs the pipelines, as JSON (make flow-deploy)."
  value = jsonencode({
    project         = var.project_id
    location        = var.region
    service_account = google_service_account.pipelines.email
    pipeline_root   = "gs://${google_storage_bucket.artifacts.name}/${google_storage_managed_folder.kubeflow.name}pipeline-root"
  })
}

output "vertex_pipeline_env" {
  description = "Every component's environment on Vertex AI, as JSON: its files in the workspace, the inference log, the day's batch (make flow-deploy)."
  value = jsonencode({
    "{{ cookiecutter.project_slug | upper }}_MODELS_DIR"           = "${local.kubeflow_workspace}models"
    "{{ cookiecutter.project_slug | upper }}_REPORTS_DIR"          = "${local.kubeflow_workspace}reports"
    "{{ cookiecutter.project_slug | upper }}_DATA__RAW_PATH"       = "${local.kubeflow_workspace}${local.kubeflow_raw_path}"
    "{{ cookiecutter.project_slug | upper }}_DATA__PROCESSED_DIR"  = "${local.kubeflow_workspace}data/processed"
    "{{ cookiecutter.project_slug | upper }}_MONITOR__REPORTS_DIR" = "${local.kubeflow_workspace}reports/monitoring"
    "{{ cookiecutter.project_slug | upper }}_SERVE__MODEL_DIR"     = "${local.kubeflow_workspace}models/champion"
{%- if not cookiecutter.__tracker_secrets %}
    "{{ cookiecutter.project_slug | upper }}_TRACKING__URI"        = "${local.kubeflow_workspace}registry"
{%- endif %}
    "{{ cookiecutter.project_slug | upper }}_INFERENCE_LOG__URL"   = local.inference_log_url
    "{{ cookiecutter.project_slug | upper }}_SCORE__INPUT"         = "gs://${google_storage_bucket.artifacts.name}/${google_storage_managed_folder.batches.name}{date}.parquet"
    "{{ cookiecutter.project_slug | upper }}_SCORE__OUTPUT"        = "gs://${google_storage_bucket.artifacts.name}/${google_storage_managed_folder.scores.name}{date}.parquet"

    DO_NOT_TRACK = "true"
  })
}
