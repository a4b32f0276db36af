# Airflow on AKS (../../../dags/README.md, "On Azure"): Azure's managed Airflow is a preview
# the AzureRM provider does not manage, so Airflow runs on your AKS cluster from its official
# Helm chart (`make airflow-install`: the scheduler, DAG processor, triggerer and API server
# in the namespace `airflow`), its metadata database on Azure Database for PostgreSQL
# (database.tf). The scheduler starts every step as a pod of the pipeline image in the
# steps' namespace (KubernetesPodOperator, in the cluster); Airflow's own pods need nothing
# of Azure. The steps sign in as their own managed identity (Microsoft Entra Workload ID:
# the Kubernetes service account airflow-steps of the steps' namespace), which reads the
# inference log and the day's batch and writes the scores, each held to its prefix by a
# condition. Without a cluster (aks_oidc_issuer_url), nothing of this file is created.

locals {
  airflow_on_aks = var.aks_oidc_issuer_url != null
  # cluster.yaml's namespace, where the steps' pods run: their own (dags/k8s), not the
  # API's, whose restricted pod security refuses root.
  airflow_namespace = "{{ cookiecutter.project_slug | replace('_', '-') }}-airflow"
  airflow_steps_sa  = "airflow-steps"
}

resource "azurerm_user_assigned_identity" "airflow_steps" {
  count               = local.airflow_on_aks ? 1 : 0
  name                = "id-${var.name}-airflow-steps"
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
}

resource "azurerm_federated_identity_credential" "airflow_steps" {
  count                     = local.airflow_on_aks ? 1 : 0
  name                      = "aks-airflow-steps"
  user_assigned_identity_id = azurerm_user_assigned_identity.airflow_steps[0].id
  audience                  = ["api://AzureADTokenExchange"]
  issuer                    = var.aks_oidc_issuer_url
  subject                   = "system:serviceaccount:${local.airflow_namespace}:${local.airflow_steps_sa}"
}

# Monitoring reads and lists the API's inference log; batch scoring reads the day's batch.
resource "azurerm_role_assignment" "airflow_steps_read" {
  count                = local.airflow_on_aks ? 1 : 0
  scope                = azurerm_storage_container.artifacts.id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_user_assigned_identity.airflow_steps[0].principal_id
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

# The scores, which batch scoring writes under temporary names renamed when complete (a
# copy and a delete): read, write and delete, under scores/ alone.
resource "azurerm_role_assignment" "airflow_steps_write" {
  count                = local.airflow_on_aks ? 1 : 0
  scope                = azurerm_storage_container.artifacts.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.airflow_steps[0].principal_id
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

# ---- what make flow-namespace and make flow-deploy read ----------------------------------

output "airflow_steps_client_id" {
  description = "Client ID of the steps' managed identity: the service account airflow-steps's azure.workload.identity/client-id annotation (make flow-namespace)."
  value       = one(azurerm_user_assigned_identity.airflow_steps[*].client_id)
}

output "airflow_cluster" {
  description = "The cloud's part of the DAGs' cluster.yaml, as JSON (make flow-deploy)."
  value = jsonencode({
    namespace = local.airflow_namespace
    pod_operator = {
      class = "airflow.providers.cncf.kubernetes.operators.pod.KubernetesPodOperator"
      arguments = {
        in_cluster           = true
        service_account_name = local.airflow_steps_sa
        # Workload ID gives a pod the identity's token only when the pod asks for it.
        labels = { "azure.workload.identity/use" = "true" }
      }
    }
    env = {
      INFERENCE_LOG__URL = local.inference_log_url
      SCORE__INPUT       = "${local.batch_scoring_root}/${local.batch_input_prefix}/{date}.parquet"
      SCORE__OUTPUT      = "${local.batch_scoring_root}/${local.batch_scores_prefix}/{date}.parquet"
    }
  })
}
