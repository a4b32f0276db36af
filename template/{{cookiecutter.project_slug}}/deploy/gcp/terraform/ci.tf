# Keyless CI: Workload Identity Federation trusts the CI provider's OIDC tokens for this
# repository only. Two identities, least privilege each:
#   * deployer: jobs on the deploy branch push the image and roll Cloud Run to it;
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

# ---- deployer: push the image, roll Cloud Run to it ------------------------------------------
resource "google_service_account" "deployer" {
  account_id   = "${var.name}-deployer"
  display_name = "${var.name} CI deployer"
  description  = "CI on ${var.deploy_branch}: pushes the image, deploys Cloud Run."
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

# Deploying a revision that runs as the API's service account needs actAs on that account only.
resource "google_service_account_iam_member" "deployer_acts_as_api" {
  service_account_id = google_service_account.api.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.deployer.email}"
}

{%- if cookiecutter.__ci_schedules %}

# Continuous monitoring runs on the deploy branch's schedule as the deployer: it reads the
# inference log the API writes (the managed folder inference/ only).
resource "google_storage_managed_folder_iam_member" "deployer_reads_inference_log" {
  bucket         = google_storage_managed_folder.inference.bucket
  managed_folder = google_storage_managed_folder.inference.name
  role           = "roles/storage.objectViewer"
  member         = "serviceAccount:${google_service_account.deployer.email}"
}

resource "google_storage_bucket_iam_member" "deployer_sees_bucket" {
  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.bucketViewer"
  member = "serviceAccount:${google_service_account.deployer.email}"
}
{%- endif %}

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
  for_each = toset(concat([
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
  ], var.public ? ["roles/compute.viewer"] : [])) # the public API's load balancer and Cloud Armor

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.planner.email}"
}

resource "google_storage_bucket_iam_member" "planner_state" {
  bucket = var.state_bucket
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.planner.email}"
}
