# Prefect on Azure Container Instances (../../../orchestration/prefect/README.md): a Prefect
# worker runs as a Container App and starts one container group per flow run, by an ARM
# deployment in this resource group. Two identities, each with only what it uses:
#   * the flow runs': pull the image, the container's prefixes the flows read and write;
#   * the worker's: deploy, watch and delete container groups that carry the flow runs'
#     identity, and read the Prefect API key from Key Vault.
# The work pool's defaults (output prefect_work_pool) put every flow run there:
# `make flow-deploy` writes them into the pool's base job template.

variable "prefect_api_url" {
  description = "The Prefect API the worker polls (a Prefect Cloud workspace's https://api.prefect.cloud/api/accounts/.../workspaces/..., or your server's /api); empty: no worker."
  type        = string
  default     = ""

  validation {
    condition     = var.prefect_api_url == "" || can(regex("^https://", var.prefect_api_url))
    error_message = "prefect_api_url must be an https:// URL (or empty: no worker)."
  }
}

variable "flow_image" {
  description = "The image the worker and the flow runs run: the Dockerfile's training target in the registry, by digest (make flow-image)."
  type        = string
  default     = ""

  validation {
    condition     = var.flow_image == "" || can(regex("@sha256:[0-9a-f]{64}$", var.flow_image))
    error_message = "flow_image must be pinned by digest: REPOSITORY@sha256:..."
  }
}

variable "flow_subnet_id" {
  description = "A subnet of your VNet delegated to Microsoft.ContainerInstance/containerGroups, for the flow runs' container groups (they then reach the internet through that VNet: give it a NAT gateway). null: no VNet."
  type        = string
  default     = null
  nullable    = true

  validation {
    condition     = var.flow_subnet_id == null || can(regex("^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft.Network/virtualNetworks/[^/]+/subnets/[^/]+$", var.flow_subnet_id))
    error_message = "flow_subnet_id must be a subnet resource ID."
  }
}

locals {
  # The pool prefect.yaml's deployments name (make flow-deploy creates it), whatever the
  # resources' prefix.
  prefect_work_pool_name = "{{ cookiecutter.project_slug | replace('_', '-') }}-{{ cookiecutter.__prefect_work_pool }}"
  prefect_worker         = var.prefect_api_url != "" ? 1 : 0
  # The Key Vault secret that holds Prefect's API key; its value is set out of band:
  # `az keyvault secret set --vault-name <key_vault> --name prefect-api-key --value "$PREFECT_API_KEY"`.
  prefect_api_key_secret_name = "prefect-api-key"
  # The resource group of the flow runs' subnet, where the worker's role may join it.
  flow_subnet_scope = var.flow_subnet_id == null ? null : regex("^/subscriptions/[^/]+/resourceGroups/[^/]+", var.flow_subnet_id)
}

# ---- the flow runs ---------------------------------------------------------------------

resource "azurerm_user_assigned_identity" "flow_run" {
  name                = "id-${var.name}-flows"
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
}

# The container groups pull the image as the flow runs' identity (no registry password).
resource "azurerm_role_assignment" "flows_pull" {
  scope                = azurerm_container_registry.images.id
  role_definition_name = "AcrPull"
  principal_id         = azurerm_user_assigned_identity.flow_run.principal_id
}

# Monitoring reads and lists the API's inference log; batch scoring reads the day's batch.
resource "azurerm_role_assignment" "flows_read_inference_log_and_batches" {
  scope                = azurerm_storage_container.artifacts.id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_user_assigned_identity.flow_run.principal_id
  condition_version    = "2.0"
  condition            = <<-EOT
    (
      (
        !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'} AND NOT SubOperationMatches{'Blob.List'})
      )
      OR
      (
        @Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringLike '${local.inference_log_prefix}/*'
        OR
        @Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringLike '${local.batch_input_prefix}/*'
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
        OR
        @Request[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:prefix] StringStartsWith '${local.batch_input_prefix}/'
      )
    )
  EOT
}

# Batch scoring writes its scores under temporary names renamed when complete (a copy and a
# delete): read, write and delete, under scores/ alone.
resource "azurerm_role_assignment" "flows_write_scores" {
  scope                = azurerm_storage_container.artifacts.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.flow_run.principal_id
  condition_version    = "2.0"
  condition            = <<-EOT
    (
      (
        !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'} AND NOT SubOperationMatches{'Blob.List'})
        AND !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write'})
        AND !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action'})
        AND !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete'})
        AND !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action'})
      )
      OR
      (
        @Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringLike '${local.batch_scores_prefix}/*'
      )
    )
    AND
    (
      (
        !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'} AND SubOperationMatches{'Blob.List'})
      )
      OR
      (
        @Request[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:prefix] StringStartsWith '${local.batch_scores_prefix}/'
      )
    )
  EOT
}

# ---- the worker ------------------------------------------------------------------------

resource "azurerm_user_assigned_identity" "prefect_worker" {
  name                = "id-${var.name}-prefect"
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
}

# prefect-azure's worker deploys an ARM template per flow run (a container group), watches
# the group, reads its logs when it fails and deletes it when it ends; with flow_subnet_id
# the group joins that subnet. Nothing else: no other resource type, no role assignments.
resource "azurerm_role_definition" "prefect_worker" {
  name        = "${var.name} Prefect worker"
  scope       = azurerm_resource_group.this.id
  description = "Run Prefect flow runs as Azure Container Instances container groups, by ARM deployments."

  permissions {
    actions = [
      "Microsoft.Resources/subscriptions/resourceGroups/read",
      "Microsoft.Resources/deployments/*",
      "Microsoft.ContainerInstance/containerGroups/read",
      "Microsoft.ContainerInstance/containerGroups/write",
      "Microsoft.ContainerInstance/containerGroups/delete",
      "Microsoft.ContainerInstance/containerGroups/stop/action",
      "Microsoft.ContainerInstance/containerGroups/containers/logs/read",
      "Microsoft.Network/virtualNetworks/subnets/join/action",
    ]
  }

  assignable_scopes = compact([azurerm_resource_group.this.id, local.flow_subnet_scope])
}

resource "azurerm_role_assignment" "prefect_worker" {
  scope              = azurerm_resource_group.this.id
  role_definition_id = azurerm_role_definition.prefect_worker.role_definition_resource_id
  principal_id       = azurerm_user_assigned_identity.prefect_worker.principal_id
}

resource "azurerm_role_assignment" "prefect_worker_joins_flow_subnet" {
  count              = var.flow_subnet_id == null ? 0 : 1
  scope              = var.flow_subnet_id
  role_definition_id = azurerm_role_definition.prefect_worker.role_definition_resource_id
  principal_id       = azurerm_user_assigned_identity.prefect_worker.principal_id
}

# The worker pulls its own image, reads the API key through a Key Vault reference and may
# give container groups the flow runs' identity, and no other. Key Vault's RBAC cannot scope
# a role to a secret that does not exist yet, and the key is set out of band: the vault it is.
resource "azurerm_role_assignment" "prefect_worker_builtin" {
  for_each = {
    pull_image            = { scope = azurerm_container_registry.images.id, role = "AcrPull" }
    read_api_key          = { scope = azurerm_key_vault.this.id, role = "Key Vault Secrets User" }
    assign_flows_identity = { scope = azurerm_user_assigned_identity.flow_run.id, role = "Managed Identity Operator" }
  }

  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = azurerm_user_assigned_identity.prefect_worker.principal_id
}

# The worker runs the flows' own image (the training target holds prefect-azure), so worker
# and flow runs share one lockfile; one replica, no ingress, as it polls rather than serves.
# The flow runs get the API URL and key from it (the key as a secure value). Created once
# var.prefect_api_url is set and the key is in the vault.
resource "azurerm_container_app" "prefect_worker" {
  count                        = local.prefect_worker
  name                         = "ca-${var.name}-prefect"
  resource_group_name          = azurerm_resource_group.this.name
  container_app_environment_id = azurerm_container_app_environment.this.id
  revision_mode                = "Single"

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.prefect_worker.id]
  }

  registry {
    server   = azurerm_container_registry.images.login_server
    identity = azurerm_user_assigned_identity.prefect_worker.id
  }

  secret {
    name                = local.prefect_api_key_secret_name
    key_vault_secret_id = "${azurerm_key_vault.this.vault_uri}secrets/${local.prefect_api_key_secret_name}"
    identity            = azurerm_user_assigned_identity.prefect_worker.id
  }

  template {
    min_replicas = 1
    max_replicas = 1

    container {
      name    = "worker"
      image   = var.flow_image
      cpu     = 0.5
      memory  = "1Gi"
      command = ["prefect"]
      args    = ["worker", "start", "--pool", local.prefect_work_pool_name, "--type", "azure-container-instance", "--with-healthcheck"]

      env {
        name  = "PREFECT_API_URL"
        value = var.prefect_api_url
      }

      env {
        name        = "PREFECT_API_KEY"
        secret_name = local.prefect_api_key_secret_name
      }

      # DefaultAzureCredential signs the worker in as its identity.
      env {
        name  = "AZURE_CLIENT_ID"
        value = azurerm_user_assigned_identity.prefect_worker.client_id
      }

      env {
        name  = "DO_NOT_TRACK"
        value = "true"
      }

      # The worker's health check (--with-healthcheck) fails when it stops polling.
      startup_probe {
        transport               = "HTTP"
        port                    = 8080
        path                    = "/health"
        interval_seconds        = 5
        failure_count_threshold = 24
      }

      liveness_probe {
        transport               = "HTTP"
        port                    = 8080
        path                    = "/health"
        interval_seconds        = 60
        failure_count_threshold = 3
      }
    }
  }

  lifecycle {
    precondition {
      condition     = var.flow_image != ""
      error_message = "prefect_api_url needs flow_image: the training image in the registry, by digest (make flow-image)."
    }
  }

  depends_on = [azurerm_role_assignment.prefect_worker_builtin]
}

# ---- the work pool ---------------------------------------------------------------------

locals {
  # Defaults of the ACI work pool's job variables (prefect-azure's AzureContainerVariables).
  prefect_work_pool = {
    subscription_id     = var.subscription_id
    resource_group_name = azurerm_resource_group.this.name
    identities          = [azurerm_user_assigned_identity.flow_run.id]
    image_registry = {
      registry_url = azurerm_container_registry.images.login_server
      identity     = azurerm_user_assigned_identity.flow_run.id
    }
    # No entrypoint before Prefect's command: its default is Prefect images' entrypoint.sh,
    # which the training image does not have (ACI's command replaces the image's). Empty,
    # not null: Prefect drops a null default and the worker's own comes back.
    entrypoint = ""
    cpu        = 1
    memory     = 2 # GB: a training run, with room
    subnet_ids = var.flow_subnet_id == null ? null : [var.flow_subnet_id]
    env = {
      "{{ cookiecutter.project_slug | upper }}_INFERENCE_LOG__URL" = local.inference_log_url
      "{{ cookiecutter.project_slug | upper }}_SCORE__INPUT"       = "${local.batch_scoring_root}/${local.batch_input_prefix}/{date}.parquet"
      "{{ cookiecutter.project_slug | upper }}_SCORE__OUTPUT"      = "${local.batch_scoring_root}/${local.batch_scores_prefix}/{date}.parquet"

      AZURE_CLIENT_ID = azurerm_user_assigned_identity.flow_run.client_id # DefaultAzureCredential's
      DO_NOT_TRACK    = "true"
    }
  }
}

output "prefect_work_pool" {
  description = "The Azure Container Instances work pool's job variable defaults, as JSON (make flow-deploy)."
  value       = jsonencode(local.prefect_work_pool)
}

output "prefect_api_key_secret" {
  description = "The Key Vault secret that holds the Prefect API key (az keyvault secret set)."
  value       = local.prefect_api_key_secret_name
}
