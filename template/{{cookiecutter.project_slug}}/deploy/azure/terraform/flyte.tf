# Flyte on AKS (../../../orchestration/flyte/README.md, "On Azure"): Flyte's single-binary
# control plane (its flyte-binary Helm chart: admin, propeller, scheduler, data catalog) runs
# in the namespace `flyte` of your AKS cluster, keeps its state in a PostgreSQL database
# (database.tf) and its metadata and task outputs in a storage account of its own. The
# workflows' tasks run as pods of the pipeline image in one namespace per project and domain
# (`<project>-development`, ...), which Flyte creates with the workspace volume they share.
# `make flyte-install` installs the chart with the values rendered here (flyte_helm_values).
# Without a cluster (aks_oidc_issuer_url), nothing of this file is created.
#
# Identities (Microsoft Entra Workload ID, through the cluster's OIDC issuer):
#   * the control plane signs in as the managed identity id-<name>-flyte, federated with its
#     Kubernetes service account `flyte`: Flyte's storage account, where it also signs the
#     URLs `pyflyte register` uploads code packages to (user delegation SAS);
#   * each domain's tasks sign in as a managed identity of their own, federated with the
#     service account `default` of `<project>-<domain>` (one identity per domain: Azure
#     refuses concurrent writes of federated credentials to one identity): Flyte's
#     container; of the artifacts container, read the inference log and the day's batch,
#     write the scores.

locals {
  flyte_on_aks    = var.aks_oidc_issuer_url != null
  flyte_namespace = "flyte"
  flyte_name      = "flyte" # the chart's fullnameOverride: its service account and services
  flyte_project   = "{{ cookiecutter.project_slug | replace('_', '-') }}"
  flyte_domains   = toset(["development", "staging", "production"])
  # What Flyte's cluster resource manager fills in for each domain's namespace: the client
  # ID its `default` service account is annotated with (flyte-values.yaml.tftpl).
  flyte_domain_data = {
    for domain, identity in azurerm_user_assigned_identity.flyte_tasks :
    domain => { tasksClientId = { value = identity.client_id } }
  }
}

# ---- Flyte's storage account: metadata, offloaded inputs and outputs, code packages ------
# An account of its own: Flyte lists the account's containers when it starts and signs
# upload URLs with a user delegation key, both granted on a whole account.
resource "azurerm_storage_account" "flyte" {
  #checkov:skip=CKV_AZURE_33:No queues are used; queue logging has nothing to record.
  #checkov:skip=CKV_AZURE_35:The laptop that registers uploads over the internet to URLs Flyte signs with Entra ID (user delegation SAS); shared keys are disabled.
  #checkov:skip=CKV_AZURE_59:As CKV_AZURE_35.
  #checkov:skip=CKV2_AZURE_33:As CKV_AZURE_35: uploads from outside the VNet.
  #checkov:skip=CKV2_AZURE_1:Microsoft-managed keys with infrastructure (double) encryption, as the artifacts account.
  count                             = local.flyte_on_aks ? 1 : 0
  name                              = "st${var.name}flyte"
  resource_group_name               = azurerm_resource_group.this.name
  location                          = azurerm_resource_group.this.location
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = "GRS"
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  allow_nested_items_to_be_public   = false
  shared_access_key_enabled         = false
  default_to_oauth_authentication   = true
  local_user_enabled                = false
  cross_tenant_replication_enabled  = false
  infrastructure_encryption_enabled = true

  blob_properties {
    delete_retention_policy {
      days = 7
    }

    container_delete_retention_policy {
      days = 7
    }
  }

  sas_policy {
    expiration_period = "01.00:00:00"
    expiration_action = "Log"
  }
}

resource "azurerm_storage_container" "flyte" {
  #checkov:skip=CKV2_AZURE_21:Blob reads and writes are logged by the diagnostic setting below.
  count                 = local.flyte_on_aks ? 1 : 0
  name                  = "flyte"
  storage_account_id    = azurerm_storage_account.flyte[0].id
  container_access_type = "private"
}

resource "azurerm_monitor_diagnostic_setting" "flyte_blobs" {
  count                      = local.flyte_on_aks ? 1 : 0
  name                       = "blob-access"
  target_resource_id         = "${azurerm_storage_account.flyte[0].id}/blobServices/default"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id

  enabled_log {
    category_group = "audit"
  }
}

# ---- the control plane's identity ----------------------------------------------------------
resource "azurerm_user_assigned_identity" "flyte_backend" {
  count               = local.flyte_on_aks ? 1 : 0
  name                = "id-${var.name}-flyte"
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
}

resource "azurerm_federated_identity_credential" "flyte_backend" {
  count                     = local.flyte_on_aks ? 1 : 0
  name                      = "aks-flyte"
  user_assigned_identity_id = azurerm_user_assigned_identity.flyte_backend[0].id
  audience                  = ["api://AzureADTokenExchange"]
  issuer                    = var.aks_oidc_issuer_url
  subject                   = "system:serviceaccount:${local.flyte_namespace}:${local.flyte_name}"
}

resource "azurerm_role_assignment" "flyte_backend" {
  count                = local.flyte_on_aks ? 1 : 0
  scope                = azurerm_storage_account.flyte[0].id
  role_definition_name = "Storage Blob Data Contributor" # with the user delegation key
  principal_id         = azurerm_user_assigned_identity.flyte_backend[0].principal_id
}

# ---- the tasks' identities, one per domain ------------------------------------------------
resource "azurerm_user_assigned_identity" "flyte_tasks" {
  for_each            = local.flyte_on_aks ? local.flyte_domains : toset([])
  name                = "id-${var.name}-flyte-${each.key}"
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
}

resource "azurerm_federated_identity_credential" "flyte_tasks" {
  for_each                  = azurerm_user_assigned_identity.flyte_tasks
  name                      = "aks-flyte-tasks"
  user_assigned_identity_id = each.value.id
  audience                  = ["api://AzureADTokenExchange"]
  issuer                    = var.aks_oidc_issuer_url
  subject                   = "system:serviceaccount:${local.flyte_project}-${each.key}:default"
}

# Flyte's data: the tasks' inputs and outputs.
resource "azurerm_role_assignment" "flyte_tasks_data" {
  for_each             = azurerm_user_assigned_identity.flyte_tasks
  scope                = azurerm_storage_container.flyte[0].id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = each.value.principal_id
}

# Monitoring reads and lists the API's inference log; batch scoring reads the day's batch.
resource "azurerm_role_assignment" "flyte_tasks_read" {
  for_each             = azurerm_user_assigned_identity.flyte_tasks
  scope                = azurerm_storage_container.artifacts.id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = each.value.principal_id
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
resource "azurerm_role_assignment" "flyte_tasks_write" {
  for_each             = azurerm_user_assigned_identity.flyte_tasks
  scope                = azurerm_storage_container.artifacts.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = each.value.principal_id
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

# ---- what make flyte-install reads -----------------------------------------------------------
output "flyte_helm_values" {
  description = "The flyte-binary chart's values for this project: database, storage, identities, the tasks' settings (make flyte-install)."
  value = local.flyte_on_aks ? templatefile("${path.module}/../../../orchestration/flyte/flyte-values.yaml.tftpl", {
    database_host     = azurerm_postgresql_flexible_server.flyte[0].fqdn
    backend_client_id = azurerm_user_assigned_identity.flyte_backend[0].client_id
    storage_account   = azurerm_storage_account.flyte[0].name
    bucket            = azurerm_storage_container.flyte[0].name
    domain_data       = jsonencode(local.flyte_domain_data)
    name              = local.flyte_name
    project           = local.flyte_project
    inference_log_url = local.inference_log_url
    batch_input_url   = "${local.batch_scoring_root}/${local.batch_input_prefix}/{date}.parquet"
    batch_scores_url  = "${local.batch_scoring_root}/${local.batch_scores_prefix}/{date}.parquet"
  }) : null
}
