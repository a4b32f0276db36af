# Dagster+ Hybrid on AKS (../../../orchestration/dagster/README.md, "On Azure"): Dagster+
# hosts the UI, the schedules, the sensors and the run history; its agent on your AKS
# cluster starts the code location's server and every run as pods of the pipeline image in
# the project's Dagster namespace, sharing the workspace volume. They sign in as their own
# managed identity (Microsoft Entra Workload ID: the Kubernetes service account
# dagster-steps, when aks_oidc_issuer_url is set), which reads the inference log and the
# day's batches and writes the scores, each held to its prefix by a condition.

locals {
  dagster_namespace = "{{ cookiecutter.project_slug | replace('_', '-') }}-dagster" # orchestration/dagster/k8s
  dagster_steps_sa  = "dagster-steps"
}

resource "azurerm_user_assigned_identity" "dagster_steps" {
  name                = "id-${var.name}-dagster"
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
}

resource "azurerm_federated_identity_credential" "dagster_steps" {
  count = var.aks_oidc_issuer_url == null ? 0 : 1

  name                      = "aks-dagster-steps"
  user_assigned_identity_id = azurerm_user_assigned_identity.dagster_steps.id
  audience                  = ["api://AzureADTokenExchange"]
  issuer                    = var.aks_oidc_issuer_url
  subject                   = "system:serviceaccount:${local.dagster_namespace}:${local.dagster_steps_sa}"
}

# Monitoring reads and lists the API's inference log; batch scoring reads the day's batch.
resource "azurerm_role_assignment" "dagster_steps_read" {
  scope                = azurerm_storage_container.artifacts.id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_user_assigned_identity.dagster_steps.principal_id
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

# The scores, which batch scoring writes under temporary names renamed when complete (a copy
# and a delete): read, write and delete, under scores/ alone.
resource "azurerm_role_assignment" "dagster_steps_write" {
  scope                = azurerm_storage_container.artifacts.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.dagster_steps.principal_id
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

output "dagster_steps_client_id" {
  description = "Client ID of the steps' managed identity: the service account dagster-steps's azure.workload.identity/client-id annotation."
  value       = azurerm_user_assigned_identity.dagster_steps.client_id
}

output "dagster_on_aks" {
  description = "The code location's Kubernetes container context on the cluster, as JSON (make flow-deploy)."
  value = jsonencode({
    namespace            = local.dagster_namespace
    service_account_name = local.dagster_steps_sa
    # Workload ID gives a pod the identity's token only when the pod asks for it.
    labels = { "azure.workload.identity/use" = "true" }
    env = {
      INFERENCE_LOG__URL = local.inference_log_url
      SCORE__INPUT       = "${local.batch_scoring_root}/${local.batch_input_prefix}/{date}.parquet"
      SCORE__OUTPUT      = "${local.batch_scoring_root}/${local.batch_scores_prefix}/{date}.parquet"
    }
  })
}
