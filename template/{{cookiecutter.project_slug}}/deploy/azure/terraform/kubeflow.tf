# Kubeflow's pipelines on Kubeflow Pipelines on AKS (../../../orchestration/kubeflow/README.md,
# "On Azure"): Kubeflow Pipelines standalone (make kubeflow-install) runs each pipeline on its
# recurring run, every component a pod of the training image in the namespace kubeflow as
# the service account pipeline-runner, sharing the workspace volume (Azure Files). The
# components sign in as their own managed identity (Microsoft Entra Workload ID, when
# aks_oidc_issuer_url is set), which reads the inference log and the day's batches and
# writes the scores, each held to its prefix by a condition; nothing else of the account.
# Kubeflow Pipelines keeps its own state (runs, the components' outputs) in its MySQL and
# object store on the cluster: Azure Blob Storage is not one of its pipeline roots.

locals {
  kubeflow_namespace       = "kubeflow" # Kubeflow Pipelines standalone's namespace
  kubeflow_runner_sa       = "pipeline-runner"
  kubeflow_workspace_claim = "{{ cookiecutter.project_slug | replace('_', '-') }}-workspace" # orchestration/kubeflow/k8s
  kubeflow_workspace       = "/workspace/"
  # The ingest component reads the raw data on the volume, at params.yaml's data.raw_path
  # (the README's step copies it there; apply again once `adopt` changes that path).
  kubeflow_raw_path = yamldecode(file("${path.module}/../../../params.yaml")).data.raw_path
}

resource "azurerm_user_assigned_identity" "kubeflow_components" {
  name                = "id-${var.name}-kubeflow"
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
}

resource "azurerm_federated_identity_credential" "kubeflow_components" {
  count = var.aks_oidc_issuer_url == null ? 0 : 1

  name                      = "aks-kubeflow-pipeline-runner"
  user_assigned_identity_id = azurerm_user_assigned_identity.kubeflow_components.id
  audience                  = ["api://AzureADTokenExchange"]
  issuer                    = var.aks_oidc_issuer_url
  subject                   = "system:serviceaccount:${local.kubeflow_namespace}:${local.kubeflow_runner_sa}"
}

# Monitoring reads and lists the API's inference log; batch scoring reads the day's batch.
resource "azurerm_role_assignment" "kubeflow_components_read" {
  scope                = azurerm_storage_container.artifacts.id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_user_assigned_identity.kubeflow_components.principal_id
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
resource "azurerm_role_assignment" "kubeflow_components_write" {
  scope                = azurerm_storage_container.artifacts.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.kubeflow_components.principal_id
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

output "kubeflow_components_client_id" {
  description = "Client ID of the components' managed identity: the service account pipeline-runner's azure.workload.identity/client-id annotation (make kubeflow-install)."
  value       = azurerm_user_assigned_identity.kubeflow_components.client_id
}

output "kubeflow_pipeline_pod" {
  description = "How every component's pod runs on the cluster, as JSON: the workspace volume and where it is mounted, the label that gives the pod its Workload ID token (make flow-deploy)."
  value = jsonencode({
    workspace_claim = local.kubeflow_workspace_claim
    workspace       = local.kubeflow_workspace
    labels          = { "azure.workload.identity/use" = "true" }
  })
}

output "kubeflow_pipeline_env" {
  description = "Every component's environment on the cluster, as JSON: its files in the workspace, the inference log, the day's batch (make flow-deploy)."
  value = jsonencode({
    "{{ cookiecutter.project_slug | upper }}_MODELS_DIR"           = "${local.kubeflow_workspace}models"
    "{{ cookiecutter.project_slug | upper }}_REPORTS_DIR"          = "${local.kubeflow_workspace}reports"
    "{{ cookiecutter.project_slug | upper }}_DATA__RAW_PATH"       = "${local.kubeflow_workspace}${local.kubeflow_raw_path}"
    "{{ cookiecutter.project_slug | upper }}_DATA__PROCESSED_DIR"  = "${local.kubeflow_workspace}data/processed"
    "{{ cookiecutter.project_slug | upper }}_MONITOR__REPORTS_DIR" = "${local.kubeflow_workspace}reports/monitoring"
    "{{ cookiecutter.project_slug | upper }}_SERVE__MODEL_DIR"     = "${local.kubeflow_workspace}models/champion"
{%- if not cookiecutter.__tracker_secrets %}
    "{{ cookiecutter.project_slug | upper }}_TRACKING__URI"        = "${local.kubeflow_workspace}registry"
{%- endif %}
    "{{ cookiecutter.project_slug | upper }}_INFERENCE_LOG__URL"   = local.inference_log_url
    "{{ cookiecutter.project_slug | upper }}_SCORE__INPUT"         = "${local.batch_scoring_root}/${local.batch_input_prefix}/{date}.parquet"
    "{{ cookiecutter.project_slug | upper }}_SCORE__OUTPUT"        = "${local.batch_scoring_root}/${local.batch_scores_prefix}/{date}.parquet"

    DO_NOT_TRACK = "true"
  })
}
