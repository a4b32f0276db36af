# Keyless CI: federated credentials trust the CI provider's OIDC tokens for this repository
# only. Two identities, least privilege each:
#   * deployer: jobs on the deploy branch push the image and roll the Container App to it;
#   * planner:  {{ 'pull requests' if cookiecutter.ci == 'github' else 'merge requests and branches' }} run `terraform plan`: read only.
# No client secret exists anywhere.
locals {
{%- if cookiecutter.ci == 'github' %}
  issuer         = "https://token.actions.githubusercontent.com"
  deploy_subject = "repo:${var.github_repository}:ref:refs/heads/${var.deploy_branch}"
{%- else %}
  issuer         = var.gitlab_url
  deploy_subject = "project_path:${var.gitlab_project_path}:ref_type:branch:ref:${var.deploy_branch}"
{%- endif %}
}

resource "azurerm_user_assigned_identity" "deployer" {
  name                = "id-${var.name}-deployer"
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
}

resource "azurerm_federated_identity_credential" "deployer" {
  name                      = "{{ cookiecutter.ci }}-deploy-branch"
  user_assigned_identity_id = azurerm_user_assigned_identity.deployer.id
  audience                  = ["api://AzureADTokenExchange"]
  issuer                    = local.issuer
  subject                   = local.deploy_subject
}

resource "azurerm_role_assignment" "deployer" {
  for_each = {
    push   = { scope = azurerm_container_registry.images.id, role = "AcrPush" }
    deploy = { scope = azurerm_container_app.api.id, role = "Contributor" }
    read   = { scope = azurerm_resource_group.this.id, role = "Reader" }
  }

  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = azurerm_user_assigned_identity.deployer.principal_id
}
{%- if cookiecutter.__ci_schedules %}

# Continuous monitoring runs on the deploy branch's schedule as the deployer: it reads and
# lists the inference log the API writes (blobs under inference/ only).
resource "azurerm_role_assignment" "deployer_reads_inference_log" {
  scope                = azurerm_storage_container.artifacts.id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_user_assigned_identity.deployer.principal_id
  condition_version    = "2.0"
  condition            = <<-EOT
    (
      (
        !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'} AND NOT SubOperationMatches{'Blob.List'})
      )
      OR
      (
        @Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringLike '${local.inference_log_prefix}/*'
      )
    )
    AND
    (
      (
        !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'} AND SubOperationMatches{'Blob.List'})
      )
      OR
      (
        @Request[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:prefix] StringStartsWith '${local.inference_log_prefix}/'
      )
    )
  EOT
}
{%- endif %}
{%- if cookiecutter.ci == 'github' %}

resource "azurerm_user_assigned_identity" "planner" {
  name                = "id-${var.name}-planner"
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
}

resource "azurerm_federated_identity_credential" "planner" {
  name                      = "github-pull-request"
  user_assigned_identity_id = azurerm_user_assigned_identity.planner.id
  audience                  = ["api://AzureADTokenExchange"]
  issuer                    = local.issuer
  subject                   = "repo:${var.github_repository}:pull_request"
}

locals {
  planner_principal_id = azurerm_user_assigned_identity.planner.principal_id
  planner_client_id    = azurerm_user_assigned_identity.planner.client_id
}
{%- else %}

# GitLab puts the source branch into the subject of a merge request pipeline's token, and a
# managed identity's federated credential matches one subject exactly. An app registration
# takes a flexible federated credential that matches every branch of this project.
resource "azuread_application_registration" "planner" {
  display_name = "${var.name}-terraform-plan"
}

resource "azuread_service_principal" "planner" {
  client_id = azuread_application_registration.planner.client_id
}

resource "azuread_application_flexible_federated_identity_credential" "planner" {
  application_id             = azuread_application_registration.planner.id
  display_name               = "gitlab-branches"
  description                = "terraform plan from any branch of ${var.gitlab_project_path}"
  audience                   = "api://AzureADTokenExchange"
  issuer                     = local.issuer
  claims_matching_expression = "claims['sub'] matches 'project_path:${var.gitlab_project_path}:ref_type:branch:ref:*'"
}

# Terraform reads this app registration back on every plan: Microsoft Graph's
# Application.Read.All, granted by whoever applies (Privileged Role Administrator).
data "azuread_service_principal" "graph" {
  client_id = "00000003-0000-0000-c000-000000000000" # Microsoft Graph
}

resource "azuread_app_role_assignment" "planner_reads_applications" {
  app_role_id         = data.azuread_service_principal.graph.app_role_ids["Application.Read.All"]
  principal_object_id = azuread_service_principal.planner.object_id
  resource_object_id  = data.azuread_service_principal.graph.object_id
}

locals {
  planner_principal_id = azuread_service_principal.planner.object_id
  planner_client_id    = azuread_application_registration.planner.client_id
}
{%- endif %}

resource "azurerm_role_assignment" "planner" {
  for_each = {
    resources = { scope = azurerm_resource_group.this.id, role = "Reader" }
    blobs     = { scope = azurerm_storage_account.artifacts.id, role = "Storage Blob Data Reader" }
    queues    = { scope = azurerm_storage_account.artifacts.id, role = "Storage Queue Data Reader" }
    state     = { scope = var.state_storage_account_id, role = "Storage Blob Data Reader" }
  }

  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = local.planner_principal_id
}
