# Training at scale: Azure ML command jobs run the pipeline in the project's image on a
# cluster that scales to zero (`make azure-train`, see ../README.md). The job reads the raw
# data from, and writes models and reports to, the artifacts container with the cluster's
# managed identity.

resource "azurerm_user_assigned_identity" "trainer" {
  name                = "id-${var.name}-trainer"
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
}

resource "azurerm_role_assignment" "trainer" {
  for_each = {
    data  = { scope = azurerm_storage_container.artifacts.id, role = "Storage Blob Data Contributor" }
    image = { scope = azurerm_container_registry.images.id, role = "AcrPull" }
  }

  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = azurerm_user_assigned_identity.trainer.principal_id
}

resource "azurerm_application_insights" "ml" {
  name                = "appi-${var.name}"
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
  workspace_id        = azurerm_log_analytics_workspace.this.id
  application_type    = "other"
}

# Azure ML keeps run snapshots and logs in a storage account of its own, through its system
# datastores, which the azurerm provider can only wire with account keys; the project's data
# and models stay in the keyless account above.
resource "azurerm_storage_account" "ml" {
  #checkov:skip=CKV2_AZURE_40:Azure ML's system datastores authenticate with account keys (azurerm exposes no identity mode); this account holds run snapshots and logs only, never project data.
  #checkov:skip=CKV2_AZURE_1:Microsoft-managed keys with infrastructure (double) encryption for run snapshots and logs.
  #checkov:skip=CKV_AZURE_33:No queues are used; queue logging has nothing to record.
  #checkov:skip=CKV_AZURE_35:Azure ML's compute and studio reach the account over its public endpoint; no VNet exists here.
  #checkov:skip=CKV_AZURE_59:As CKV_AZURE_35.
  #checkov:skip=CKV2_AZURE_33:As CKV_AZURE_35: no VNet for a private endpoint.
  #checkov:skip=CKV2_AZURE_41:Azure ML issues its own short-lived SAS for snapshots; the account has no SAS policy of ours to enforce.
  name                              = "st${var.name}ml"
  resource_group_name               = azurerm_resource_group.this.name
  location                          = azurerm_resource_group.this.location
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = "GRS"
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  allow_nested_items_to_be_public   = false
  local_user_enabled                = false
  cross_tenant_replication_enabled  = false
  infrastructure_encryption_enabled = true

  blob_properties {
    delete_retention_policy {
      days = 14
    }

    container_delete_retention_policy {
      days = 14
    }
  }
}

resource "azurerm_machine_learning_workspace" "this" {
  #checkov:skip=CKV_AZURE_144:The studio and CI submit jobs over the public endpoint with Entra ID tokens; a private workspace needs a VNet and private DNS this root does not create.
  #checkov:skip=CKV2_AZURE_49:As CKV_AZURE_144.
  #checkov:skip=CKV2_AZURE_50:As CKV_AZURE_144; the workspace storage holds run snapshots and logs, never project data.
  name                          = "mlw-${var.name}"
  resource_group_name           = azurerm_resource_group.this.name
  location                      = azurerm_resource_group.this.location
  application_insights_id       = azurerm_application_insights.ml.id
  key_vault_id                  = azurerm_key_vault.this.id
  storage_account_id            = azurerm_storage_account.ml.id
  public_network_access_enabled = true
  high_business_impact          = true

  identity {
    type = "SystemAssigned"
  }
}

# The artifacts container as a datastore without credentials: jobs reach it with their own
# identity (the cluster's managed identity for `identity: managed`).
resource "azurerm_machine_learning_datastore_blobstorage" "artifacts" {
  name                       = "artifacts"
  workspace_id               = azurerm_machine_learning_workspace.this.id
  storage_container_id       = azurerm_storage_container.artifacts.id
  service_data_auth_identity = "WorkspaceSystemAssignedIdentity"
}

# Lets the studio preview the datastore's files.
resource "azurerm_role_assignment" "workspace_reads_artifacts" {
  scope                = azurerm_storage_container.artifacts.id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_machine_learning_workspace.this.identity[0].principal_id
}

resource "azurerm_machine_learning_compute_cluster" "training" {
  name                          = "training"
  location                      = azurerm_resource_group.this.location
  machine_learning_workspace_id = azurerm_machine_learning_workspace.this.id
  vm_priority                   = "Dedicated"
  vm_size                       = var.training_vm_size
  local_auth_enabled            = false
  node_public_ip_enabled        = true

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.trainer.id]
  }

  scale_settings {
    min_node_count                       = 0
    max_node_count                       = 2
    scale_down_nodes_after_idle_duration = "PT10M"
  }
}
