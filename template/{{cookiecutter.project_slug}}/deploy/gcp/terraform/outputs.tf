# Everything CI and the Make targets need; `terraform output` prints them.

output "project_id" {
  description = "GCP_PROJECT_ID: the project of every resource."
  value       = var.project_id
}

output "region" {
  description = "GCP_REGION: region of the registry, Cloud Run and Vertex AI."
  value       = var.region
}

output "bucket" {
  description = "GCP_BUCKET: the artifact bucket (DVC remote under dvc/{% if cookiecutter.__tracking_server %}, tracking server artifacts under mlflow/{% endif %}, inference log under inference/)."
  value       = google_storage_bucket.artifacts.name
}

output "dvc_remote_url" {
  description = "URL of the DVC remote: dvc remote add -d gcs <url>."
  value       = "gs://${google_storage_bucket.artifacts.name}/dvc"
}

output "inference_log_url" {
  description = "INFERENCE_LOG_URL: where the API writes its inference log (CM reads it)."
  value       = local.inference_log_url
}

output "trusted_signers" {
  description = "Who may have signed the models the API loads, as JSON (the k8s overlay's ConfigMap model-signers)."
  value       = local.trusted_signers
}

output "image_repository" {
  description = "GCP_IMAGE_REPOSITORY: where CD pushes the image (<registry>/<image>)."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}/${var.name}"
}

output "service" {
  description = "GCP_SERVICE: the Cloud Run service CD deploys to."
  value       = google_cloud_run_v2_service.api.name
}

output "service_url" {
  description = "The API's URL (it answers /health, /ready, /predict)."
  value       = google_cloud_run_v2_service.api.uri
}

output "public_address" {
  description = "The public API's load balancer address (public = true): point domain's DNS A record at it."
  value       = var.public ? google_compute_global_address.api[0].address : null
}

output "api_service_account" {
  description = "Google service account of the API (Cloud Run; GKE through Workload Identity)."
  value       = google_service_account.api.email
}

output "trainer_service_account" {
  description = "GCP_TRAINER_SERVICE_ACCOUNT: identity of the Vertex AI training jobs."
  value       = google_service_account.trainer.email
}

output "runtime_secrets" {
  description = "Secret Manager secrets of the API (gcloud secrets versions add <id> --data-file=-)."
  value       = [for secret in google_secret_manager_secret.runtime : secret.secret_id]
}
{%- if cookiecutter.ci != 'none' %}

output "workload_identity_provider" {
  description = "GCP_WORKLOAD_IDENTITY_PROVIDER: the provider CI exchanges its OIDC token with."
  value       = google_iam_workload_identity_pool_provider.ci.name
}

output "deployer_service_account" {
  description = "GCP_DEPLOYER_SERVICE_ACCOUNT: what CI on the deploy branch acts as."
  value       = google_service_account.deployer.email
}

output "planner_service_account" {
  description = "GCP_PLANNER_SERVICE_ACCOUNT: what the terraform plan job acts as."
  value       = google_service_account.planner.email
}
{%- endif %}
