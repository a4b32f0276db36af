# The project's Azure footprint: the storage account (DVC remote{% if cookiecutter.__tracking_server %}, tracking server artifacts{% endif %}),
# the image registry, the Container Apps service, the Azure ML workspace for training and
# the Key Vault for runtime secrets. CI identities are in ci.tf.

data "azurerm_client_config" "current" {}

resource "azurerm_resource_group" "this" {
  name     = "rg-${var.name}"
  location = var.location
}

resource "azurerm_log_analytics_workspace" "this" {
  name                = "log-${var.name}"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  sku                 = "PerGB2018"
  retention_in_days   = 30
}

# ---- storage: the DVC remote (dvc/){% if cookiecutter.__tracking_server %}, the tracking server's artifacts (mlflow/){% endif %} and the inference log
resource "azurerm_storage_account" "artifacts" {
  #checkov:skip=CKV_AZURE_33:No queues are used; queue logging has nothing to record.
  #checkov:skip=CKV_AZURE_35:CI runners and laptops reach the account over the internet; every request needs an Entra ID token (shared keys and SAS are disabled).
  #checkov:skip=CKV_AZURE_59:As CKV_AZURE_35: access is identity-based, not network-based; add a private endpoint when your runners live in a VNet.
  #checkov:skip=CKV2_AZURE_33:As CKV_AZURE_59: no VNet exists for a private endpoint to live in.
  #checkov:skip=CKV2_AZURE_1:Microsoft-managed keys with infrastructure (double) encryption; bring your own key in Key Vault if policy requires it.
  name                              = "st${var.name}"
  resource_group_name               = azurerm_resource_group.this.name
  location                          = azurerm_resource_group.this.location
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = "GRS"
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  allow_nested_items_to_be_public   = false
  shared_access_key_enabled         = false # Entra ID only: DVC, the API and Azure ML use tokens
  default_to_oauth_authentication   = true
  local_user_enabled                = false
  cross_tenant_replication_enabled  = false
  infrastructure_encryption_enabled = true

  blob_properties {
    versioning_enabled  = true
    change_feed_enabled = true

    delete_retention_policy {
      days = 14
    }

    container_delete_retention_policy {
      days = 14
    }
  }

  sas_policy {
    expiration_period = "01.00:00:00"
    expiration_action = "Log"
  }
}

resource "azurerm_storage_container" "artifacts" {
  #checkov:skip=CKV2_AZURE_21:Blob reads and writes are logged by the diagnostic setting below (audit category group to Log Analytics); the storage-insights resource the check wants needs the account key, which is disabled.
  name                  = "artifacts"
  storage_account_id    = azurerm_storage_account.artifacts.id
  container_access_type = "private"
}

# The container's prefixes that batch scoring reads (the day's batch) and writes (its scores).
locals {
  batch_input_prefix  = "batches"
  batch_scores_prefix = "scores"
  batch_scoring_root  = "az://${azurerm_storage_container.artifacts.name}@${azurerm_storage_account.artifacts.name}.blob.core.windows.net"
}

# Blob reads and writes go to Log Analytics.
resource "azurerm_monitor_diagnostic_setting" "blobs" {
  name                       = "blob-access"
  target_resource_id         = "${azurerm_storage_account.artifacts.id}/blobServices/default"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id

  enabled_log {
    category_group = "audit"
  }
}

# ---- images: CD pushes the serving image here; no admin user, no anonymous pull ------------
resource "azurerm_container_registry" "images" {
  #checkov:skip=CKV_AZURE_139:Hosted CI runners push over the internet, each with a short-lived Entra ID token (admin user and anonymous pull are off); add a private endpoint when runners live in a VNet.
  #checkov:skip=CKV_AZURE_164:ACR content trust (Docker Content Trust) is being retired by Microsoft; sign images with Notation if policy requires signatures.
  #checkov:skip=CKV_AZURE_165:One region serves this project; add a georeplications block when Container Apps run in several.
  #checkov:skip=CKV_AZURE_166:CD canaries every image (health, readiness, one prediction) before it is pushed, so quarantine would gate nothing more.
  name                          = "cr${var.name}"
  resource_group_name           = azurerm_resource_group.this.name
  location                      = azurerm_resource_group.this.location
  sku                           = "Premium"
  admin_enabled                 = false
  anonymous_pull_enabled        = false
  public_network_access_enabled = true
  quarantine_policy_enabled     = false
  zone_redundancy_enabled       = true
  data_endpoint_enabled         = true
  retention_policy_in_days      = 30
}

# ---- secrets: Key Vault in RBAC mode (values are set out of band, never in Terraform state) -
resource "azurerm_key_vault" "this" {
  #checkov:skip=CKV_AZURE_109:Azure ML and CI reach the vault without a VNet; every request is authorised by Azure RBAC.
  #checkov:skip=CKV_AZURE_189:As CKV_AZURE_109.
  #checkov:skip=CKV2_AZURE_32:As CKV_AZURE_109: no VNet for a private endpoint.
  name                       = "kv-${var.name}"
  resource_group_name        = azurerm_resource_group.this.name
  location                   = azurerm_resource_group.this.location
  tenant_id                  = data.azurerm_client_config.current.tenant_id
  sku_name                   = "standard"
  rbac_authorization_enabled = true
  purge_protection_enabled   = true
  soft_delete_retention_days = 30
}

# Who may do what. The person who applies this root may manage the vault's secrets; the
# secret values are set out of band (../README.md, "Secrets"), never through Terraform.
resource "azurerm_role_assignment" "secrets_officer" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = data.azurerm_client_config.current.object_id
}
