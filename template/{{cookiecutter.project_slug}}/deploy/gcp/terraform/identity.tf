{%- if cookiecutter.ci == 'none' -%}
# No CI provider was chosen: nothing outside Google Cloud gets an identity here. Deploy and
# train from your machine with your own gcloud login (see ../README.md).
{%- else -%}
# Keyless CI: Workload Identity Federation trusts the CI provider's OIDC tokens for this
# repository only. Two identities, least privilege each:
#   * deployer: jobs on the deploy branch push images, deploy Cloud Run and submit training;
#   * planner:  every job of the repository (pull requests too) runs `terraform plan`: read only.
# No service account key exists anywhere.

resource "google_iam_workload_identity_pool" "ci" {
  workload_identity_pool_id = "${var.name}-ci"
  display_name              = "${var.name} CI"
  description               = "{{ 'GitHub Actions' if cookiecutter.ci == 'github' else 'GitLab CI/CD' }} of this repository"

  depends_on = [google_project_service.this]
}
{%- if cookiecutter.ci == 'github' %}

resource "google_iam_workload_identity_pool_provider" "ci" {
  #checkov:skip=CKV_GCP_125:The condition pins assertion.repository, a claim GitHub sets and no workflow can change (Google's documented condition); the check only recognises conditions on assertion.sub.
  workload_identity_pool_id          = google_iam_workload_identity_pool.ci.workload_identity_pool_id
  workload_identity_pool_provider_id = "github"
  display_name                       = "GitHub Actions"

  attribute_mapping = {
    "google.subject"       = "assertion.sub"
    "attribute.repository" = "assertion.repository"
    "attribute.ref"        = "assertion.ref"
  }
  # Tokens of any other repository are refused before any binding is looked at.
  attribute_condition = "assertion.repository == '${var.github_repository}'"

  oidc {
    issuer_uri = "https://token.actions.githubusercontent.com"
  }
}

locals {
  deployers = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.ci.name}/attribute.ref/refs/heads/${var.deploy_branch}"
  planners  = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.ci.name}/attribute.repository/${var.github_repository}"
}
{%- else %}

resource "google_iam_workload_identity_pool_provider" "ci" {
  workload_identity_pool_id          = google_iam_workload_identity_pool.ci.workload_identity_pool_id
  workload_identity_pool_provider_id = "gitlab"
  display_name                       = "GitLab CI/CD"

  attribute_mapping = {
    "google.subject"         = "assertion.sub" # project_path:<group/project>:ref_type:<branch|tag>:ref:<name>
    "attribute.project_path" = "assertion.project_path"
  }
  # Tokens of any other project are refused before any binding is looked at.
  attribute_condition = "assertion.project_path == '${var.gitlab_project_path}'"

  oidc {
    issuer_uri = var.gitlab_url
  }
}

locals {
  deployers = "principal://iam.googleapis.com/${google_iam_workload_identity_pool.ci.name}/subject/project_path:${var.gitlab_project_path}:ref_type:branch:ref:${var.deploy_branch}"
  planners  = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.ci.name}/attribute.project_path/${var.gitlab_project_path}"
}
{%- endif %}

# ---- deployer: push the image, roll Cloud Run to it, submit training, sync DVC data ----------
resource "google_service_account" "deployer" {
  account_id   = "${var.name}-deployer"
  display_name = "${var.name} CI deployer"
  description  = "CI on ${var.deploy_branch}: pushes images, deploys Cloud Run, submits Vertex AI jobs."
}

resource "google_service_account_iam_member" "deployer_federation" {
  service_account_id = google_service_account.deployer.name
  role               = "roles/iam.workloadIdentityUser"
  member             = local.deployers
}

resource "google_artifact_registry_repository_iam_member" "deployer" {
  repository = google_artifact_registry_repository.images.name
  location   = google_artifact_registry_repository.images.location
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${google_service_account.deployer.email}"
}

resource "google_cloud_run_v2_service_iam_member" "deployer" {
  name     = google_cloud_run_v2_service.api.name
  location = google_cloud_run_v2_service.api.location
  role     = "roles/run.developer"
  member   = "serviceAccount:${google_service_account.deployer.email}"
}

# Deploying a revision or a job that runs as a service account needs actAs on that account only.
resource "google_service_account_iam_member" "deployer_acts_as" {
  for_each = {
    api     = google_service_account.api.name
    trainer = google_service_account.trainer.name
  }

  service_account_id = each.value
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.deployer.email}"
}

resource "google_project_iam_member" "deployer_vertex" {
  project = var.project_id
  role    = "roles/aiplatform.user"
  member  = "serviceAccount:${google_service_account.deployer.email}"
}

resource "google_storage_bucket_iam_member" "deployer" {
  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.deployer.email}"
}

# ---- planner: read everything this root manages, and its state ------------------------------
resource "google_service_account" "planner" {
  account_id   = "${var.name}-planner"
  display_name = "${var.name} CI terraform plan"
  description  = "CI on every change: terraform plan (read only)."
}

resource "google_service_account_iam_member" "planner_federation" {
  service_account_id = google_service_account.planner.name
  role               = "roles/iam.workloadIdentityUser"
  member             = local.planners
}

# Predefined read-only roles for exactly the services this root manages (no basic roles).
resource "google_project_iam_member" "planner" {
  for_each = toset([
    "roles/browser",
    "roles/iam.securityReviewer",
    "roles/serviceusage.serviceUsageViewer",
    "roles/cloudkms.viewer",
    "roles/storage.bucketViewer",
    "roles/artifactregistry.reader",
    "roles/run.viewer",
    "roles/secretmanager.viewer",
    "roles/iam.serviceAccountViewer",
    "roles/iam.workloadIdentityPoolViewer",
  ])

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.planner.email}"
}

resource "google_storage_bucket_iam_member" "planner_state" {
  bucket = var.state_bucket
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.planner.email}"
}
{%- endif %}
