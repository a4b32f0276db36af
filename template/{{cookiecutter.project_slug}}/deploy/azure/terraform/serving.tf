# Serving on Azure Container Apps: the image CD pushed, HTTPS ingress, scaled on concurrent
# requests. Terraform owns the app's shape (identity, probes, scaling); CD owns which image
# runs (`az containerapp update --image`), so a later `terraform apply` does not roll it back.

resource "azurerm_user_assigned_identity" "api" {
  name                = "id-${var.name}-api"
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
}

# The API's only permissions: pull its image, read its runtime secrets, write its inference log.
resource "azurerm_role_assignment" "api_pull" {
  scope                = azurerm_container_registry.images.id
  role_definition_name = "AcrPull"
  principal_id         = azurerm_user_assigned_identity.api.principal_id
}

resource "azurerm_role_assignment" "api_secrets" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_user_assigned_identity.api.principal_id
}

# The inference log: the API writes blobs under inference/ of the artifacts container, and
# nothing else (no read, no delete; versioning keeps any overwritten version). adlfs reads
# the container's properties before it writes. Microsoft-managed keys encrypt the blobs.
resource "azurerm_role_definition" "inference_log_writer" {
  name        = "${var.name} inference log writer"
  scope       = azurerm_storage_account.artifacts.id
  description = "Write blobs (the role assignment's condition limits the path to inference/); no read, no delete."

  permissions {
    actions = ["Microsoft.Storage/storageAccounts/blobServices/containers/read"]
    data_actions = [
      "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
      "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action",
    ]
  }

  assignable_scopes = [azurerm_storage_account.artifacts.id]
}

resource "azurerm_role_assignment" "api_writes_inference_log" {
  scope              = azurerm_storage_container.artifacts.id
  role_definition_id = azurerm_role_definition.inference_log_writer.role_definition_resource_id
  principal_id       = azurerm_user_assigned_identity.api.principal_id
  condition_version  = "2.0"
  condition          = <<-EOT
    (
      (
        !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write'})
        AND
        !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action'})
      )
      OR
      (
        @Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringLike '${local.inference_log_prefix}/*'
      )
    )
  EOT
}

locals {
  inference_log_prefix = "inference"
  # adlfs reads the account from the URL's host and signs in with DefaultAzureCredential
  # (the managed identity: AZURE_CLIENT_ID below).
  inference_log_url = "az://${azurerm_storage_container.artifacts.name}@${azurerm_storage_account.artifacts.name}.blob.core.windows.net/${local.inference_log_prefix}"
}

# Who may call the API (../README.md, "Calling the API"). Private by default: with
# infrastructure_subnet_id the environment lives in your VNet behind an internal load
# balancer and the app answers the VNet only; without it the app answers the other apps of
# its environment only. `public = true` opens it to the internet, and then the platform's
# built-in authentication lets a request through only with an Entra ID token for this API.
locals {
  in_vnet        = var.infrastructure_subnet_id != null
  entra_issuer   = "https://login.microsoftonline.com/${data.azurerm_client_config.current.tenant_id}/v2.0"
  entra_audience = coalesce(var.entra_audience, "api://${var.entra_client_id}")
}

resource "azurerm_container_app_environment" "this" {
  name                           = "cae-${var.name}"
  resource_group_name            = azurerm_resource_group.this.name
  location                       = azurerm_resource_group.this.location
  log_analytics_workspace_id     = azurerm_log_analytics_workspace.this.id
  infrastructure_subnet_id       = var.infrastructure_subnet_id
  internal_load_balancer_enabled = local.in_vnet && !var.public
}

resource "azurerm_container_app" "api" {
  name                         = "ca-${var.name}"
  resource_group_name          = azurerm_resource_group.this.name
  container_app_environment_id = azurerm_container_app_environment.this.id
  revision_mode                = "Single"

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.api.id]
  }

  registry {
    server   = azurerm_container_registry.images.login_server
    identity = azurerm_user_assigned_identity.api.id
  }

  # Key Vault references: the app reads each runtime secret with its identity.
  dynamic "secret" {
    for_each = var.runtime_secrets
    content {
      name                = secret.value
      key_vault_secret_id = "${azurerm_key_vault.this.vault_uri}secrets/${secret.value}"
      identity            = azurerm_user_assigned_identity.api.id
    }
  }

  ingress {
    # Beyond the environment: the VNet's callers (internal environment) or, public, anyone
    # holding an Entra ID token (azapi_resource.api_auth).
    external_enabled           = var.public || local.in_vnet
    target_port                = 8000
    transport                  = "auto"
    allow_insecure_connections = false

    traffic_weight {
      latest_revision = true
      percentage      = 100
    }
  }

  template {
    min_replicas = var.min_replicas
    max_replicas = var.max_replicas

    http_scale_rule {
      name                = "concurrent-requests"
      concurrent_requests = "40"
    }

    container {
      name = "api"
      # A public sample that answers every path on $PORT, until CD deploys the first champion.
      image  = "us-docker.pkg.dev/cloudrun/container/hello"
      cpu    = 0.5
      memory = "1Gi"

      env {
        name  = "PORT"
        value = "8000"
      }

      # Every prediction goes to the bucket (../README.md, "Inference log"), written as the
      # app's user-assigned identity (DefaultAzureCredential reads AZURE_CLIENT_ID).
      env {
        name  = "{{ cookiecutter.project_slug | upper }}_INFERENCE_LOG__URL"
        value = local.inference_log_url
      }

      env {
        name  = "{{ cookiecutter.project_slug | upper }}_INFERENCE_LOG__ENABLED"
        value = "true" # the image leaves it off
      }

      env {
        name  = "{{ cookiecutter.project_slug | upper }}_SERVE__TRUSTED_SIGNERS"
        value = local.trusted_signers
      }

      env {
        name  = "AZURE_CLIENT_ID"
        value = azurerm_user_assigned_identity.api.client_id
      }

      dynamic "env" {
        for_each = var.runtime_secrets
        content {
          name        = env.key
          secret_name = env.value
        }
      }

      # Traffic only once the champion is loaded (/ready), restarts when the process hangs.
      startup_probe {
        transport               = "HTTP"
        port                    = 8000
        path                    = "/ready"
        interval_seconds        = 5
        timeout                 = 3
        failure_count_threshold = 10
      }

      readiness_probe {
        transport               = "HTTP"
        port                    = 8000
        path                    = "/ready"
        interval_seconds        = 10
        timeout                 = 3
        failure_count_threshold = 3
      }

      liveness_probe {
        transport               = "HTTP"
        port                    = 8000
        path                    = "/health"
        interval_seconds        = 30
        timeout                 = 5
        failure_count_threshold = 3
      }
    }
  }

  lifecycle {
    ignore_changes = [template[0].container[0].image]
  }

  depends_on = [
    azurerm_role_assignment.api_pull,
    azurerm_role_assignment.api_secrets,
    azurerm_role_assignment.api_writes_inference_log,
  ]
}

# Public: Container Apps' built-in authentication answers 401 to any request without an
# Entra ID token issued by this tenant for the API (entra_client_id's audience), and, when
# entra_allowed_client_ids names them, from another client than those.
resource "azapi_resource" "api_auth" {
  count = var.public ? 1 : 0

  type      = "Microsoft.App/containerApps/authConfigs@2024-03-01"
  name      = "current"
  parent_id = azurerm_container_app.api.id

  body = {
    properties = {
      platform = {
        enabled = true
      }
      globalValidation = {
        unauthenticatedClientAction = "Return401"
      }
      httpSettings = {
        requireHttps = true
      }
      identityProviders = {
        azureActiveDirectory = {
          enabled = true
          registration = {
            clientId     = var.entra_client_id
            openIdIssuer = local.entra_issuer
          }
          validation = {
            allowedAudiences = [local.entra_audience]
            defaultAuthorizationPolicy = {
              allowedApplications = var.entra_allowed_client_ids
            }
          }
        }
      }
    }
  }
}

# AKS: the Kubernetes service account `api` (deploy/azure/k8s) signs in as the same managed
# identity as the Container App.
resource "azurerm_federated_identity_credential" "aks_api" {
  count = var.aks_oidc_issuer_url == null ? 0 : 1

  name                      = "aks-api"
  user_assigned_identity_id = azurerm_user_assigned_identity.api.id
  audience                  = ["api://AzureADTokenExchange"]
  issuer                    = var.aks_oidc_issuer_url
  subject                   = "system:serviceaccount:${var.aks_namespace}:api"
}

# Who may have signed the models the API loads: var.trusted_signers, or else who signs what CT
# promotes, whom the serving image is built to trust (the Dockerfile's TRUSTED_SIGNERS).
locals {
{%- if cookiecutter.__ci_schedules and cookiecutter.ci == 'github' %}
  # CT's workflow on deploy_branch, keyless through Sigstore (.github/workflows/ct.yml).
  ct_signer = {
    identity = "https://github.com/${var.github_repository}/.github/workflows/ct.yml@refs/heads/${var.deploy_branch}"
    issuer   = "https://token.actions.githubusercontent.com"
  }
{%- elif cookiecutter.__ci_schedules and cookiecutter.ci == 'gitlab' %}
  # CT's jobs on deploy_branch, keyless through Sigstore (.gitlab/continuous-training.yml).
  ct_signer = {
    identity = "${var.gitlab_url}/${var.gitlab_project_path}//.gitlab-ci.yml@refs/heads/${var.deploy_branch}"
    issuer   = var.gitlab_url
  }
{%- else %}
  # The project's key pair: the image carries its public half (the Dockerfile's TRUSTED_SIGNERS).
  ct_signer       = { public_key = "models/signer.pub" }
{%- endif %}
  trusted_signers = length(var.trusted_signers) > 0 ? jsonencode(var.trusted_signers) : jsonencode([local.ct_signer])
}
