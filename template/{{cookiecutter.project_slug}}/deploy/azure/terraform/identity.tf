# Who may do what. The person who applies this root may manage the vault's secrets; the
# secret values are set out of band (see outputs.secrets), never through Terraform.
resource "azurerm_role_assignment" "secrets_officer" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = data.azurerm_client_config.current.object_id
}
{%- if cookiecutter.ci != 'none' %}

# Keyless CI: federated credentials trust the CI provider's OIDC tokens for this repository
# only. Two identities, least privilege each:
#   * deployer: jobs on the deploy branch push images, update the Container App, submit training;
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
  name                      = "{{ cookiecutter.ci }}-${var.deploy_branch}"
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
    train  = { scope = azurerm_machine_learning_workspace.this.id, role = "AzureML Data Scientist" }
    data   = { scope = azurerm_storage_container.artifacts.id, role = "Storage Blob Data Contributor" }
  }

  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = azurerm_user_assigned_identity.deployer.principal_id
}
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
{%- endif %}
