# Metaflow's flows on Argo Workflows on AKS (../../../orchestration/metaflow/README.md, "On
# Azure"): Argo Workflows runs each flow on its schedule or trigger, every step a pod of the
# pipeline image on your AKS cluster, sharing the workspace volume. The steps sign in as
# their own managed identity (Microsoft Entra Workload ID: the Kubernetes service account
# metaflow-steps of the steps' namespace, when aks_oidc_issuer_url is set), which reads and
# writes Metaflow's datastore (the container's metaflow/ prefix) and the scores, and reads
# the inference log and the day's batches, each held to its prefix by a condition.

locals {
  metaflow_namespace = "{{ cookiecutter.project_slug | replace('_', '-') }}-metaflow" # orchestration/metaflow/k8s
  metaflow_steps_sa  = "metaflow-steps"
  metaflow_prefix    = "metaflow"
}

resource "azurerm_user_assigned_identity" "metaflow_steps" {
  name                = "id-${var.name}-metaflow"
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
}

resource "azurerm_federated_identity_credential" "metaflow_steps" {
  count = var.aks_oidc_issuer_url == null ? 0 : 1

  name                      = "aks-metaflow-steps"
  user_assigned_identity_id = azurerm_user_assigned_identity.metaflow_steps.id
  audience                  = ["api://AzureADTokenExchange"]
  issuer                    = var.aks_oidc_issuer_url
  subject                   = "system:serviceaccount:${local.metaflow_namespace}:${local.metaflow_steps_sa}"
}

# Monitoring reads and lists the API's inference log; batch scoring reads the day's batch.
resource "azurerm_role_assignment" "metaflow_steps_read" {
  scope                = azurerm_storage_container.artifacts.id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_user_assigned_identity.metaflow_steps.principal_id
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

# Metaflow's datastore (code packages, artifacts) and the scores, which batch scoring writes
# under temporary names renamed when complete (a copy and a delete): read, write and
# delete, under metaflow/ and scores/ alone.
resource "azurerm_role_assignment" "metaflow_steps_write" {
  scope                = azurerm_storage_container.artifacts.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.metaflow_steps.principal_id
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
        @Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringLike '${local.metaflow_prefix}/*'
        OR
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
        @Request[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:prefix] StringStartsWith '${local.metaflow_prefix}/'
        OR
        @Request[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:prefix] StringStartsWith '${local.batch_scores_prefix}/'
      )
    )
  EOT
}

output "metaflow_steps_client_id" {
  description = "Client ID of the steps' managed identity: the service account metaflow-steps's azure.workload.identity/client-id annotation."
  value       = azurerm_user_assigned_identity.metaflow_steps.client_id
}

output "metaflow_on_aks" {
  description = "Metaflow's configuration for the cluster and the steps' settings, as JSON (make flow-deploy)."
  value = jsonencode({
    config = {
      METAFLOW_DEFAULT_DATASTORE                   = "azure"
      METAFLOW_DATASTORE_SYSROOT_AZURE             = "${azurerm_storage_container.artifacts.name}/${local.metaflow_prefix}"
      METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT = azurerm_storage_account.artifacts.primary_blob_endpoint
      METAFLOW_KUBERNETES_NAMESPACE                = local.metaflow_namespace
      METAFLOW_KUBERNETES_SERVICE_ACCOUNT          = local.metaflow_steps_sa
      # Workload ID gives a pod the identity's token only when the pod asks for it.
      METAFLOW_KUBERNETES_LABELS = "azure.workload.identity/use=true"
    }
    env = {
      INFERENCE_LOG__URL = local.inference_log_url
      SCORE__INPUT       = "${local.batch_scoring_root}/${local.batch_input_prefix}/{date}.parquet"
      SCORE__OUTPUT      = "${local.batch_scoring_root}/${local.batch_scores_prefix}/{date}.parquet"
    }
  })
}
