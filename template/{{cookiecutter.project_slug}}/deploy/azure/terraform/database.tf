{%- set db = cookiecutter.__orchestrator_database -%}
# {{ db | capitalize }}'s PostgreSQL database on Azure Database for PostgreSQL (flexible server), inside
# the AKS cluster's VNet: created with the cluster (aks_oidc_issuer_url), in the subnet
# {{ db }}_database_subnet_id delegated to it, without a public endpoint. Its password is
# generated for each {{ db }}_database_password_version and written to the server and to Key
# Vault only (write-only arguments: never in the state or a plan); `make {{ db }}-install`
# reads it from Key Vault.

locals {
  {{ db }}_database = var.aks_oidc_issuer_url != null
}

variable "{{ db }}_database_subnet_id" {
  description = "A subnet of the AKS cluster's VNet delegated to Microsoft.DBforPostgreSQL/flexibleServers: {{ db | capitalize }}'s database lives in it, without a public endpoint. Required with aks_oidc_issuer_url."
  type        = string
  default     = null
  nullable    = true

  validation {
    condition = (
      var.{{ db }}_database_subnet_id == null ? var.aks_oidc_issuer_url == null :
      can(regex("^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft.Network/virtualNetworks/[^/]+/subnets/[^/]+$", var.{{ db }}_database_subnet_id))
    )
    error_message = "{{ db | capitalize }} on AKS (aks_oidc_issuer_url) needs {{ db }}_database_subnet_id, a subnet resource ID delegated to Microsoft.DBforPostgreSQL/flexibleServers."
  }
}

variable "{{ db }}_database_sku" {
  description = "The SKU of {{ db | capitalize }}'s PostgreSQL flexible server; General Purpose or above, for zone-redundant high availability."
  type        = string
  default     = "GP_Standard_D2ds_v5"

  validation {
    condition     = can(regex("^(GP|MO)_", var.{{ db }}_database_sku))
    error_message = "{{ db }}_database_sku must be a General Purpose (GP_) or Memory Optimized (MO_) SKU: Burstable servers have no high availability."
  }
}

variable "{{ db }}_database_password_version" {
  description = "Increase to give {{ db | capitalize }}'s database a new password (written to the server and Key Vault only, never to the state); then make {{ db }}-install."
  type        = number
  default     = 1
}

ephemeral "random_password" "{{ db }}_database" {
  count       = local.{{ db }}_database ? 1 : 0
  length      = 40
  special     = false # it goes into configuration files and URLs unquoted
  min_upper   = 1     # Azure asks for three kinds of characters
  min_lower   = 1
  min_numeric = 1
}

# The server's name resolves inside the VNet through this zone (VNet integration).
resource "azurerm_private_dns_zone" "{{ db }}_database" {
  count               = local.{{ db }}_database ? 1 : 0
  name                = "${var.name}-{{ db }}.private.postgres.database.azure.com"
  resource_group_name = azurerm_resource_group.this.name
}

resource "azurerm_private_dns_zone_virtual_network_link" "{{ db }}_database" {
  count                 = local.{{ db }}_database ? 1 : 0
  name                  = "{{ db }}-database"
  resource_group_name   = azurerm_resource_group.this.name
  private_dns_zone_name = azurerm_private_dns_zone.{{ db }}_database[0].name
  virtual_network_id    = regex("^(.+)/subnets/[^/]+$", var.{{ db }}_database_subnet_id)[0]
}

resource "azurerm_postgresql_flexible_server" "{{ db }}" {
  #checkov:skip=CKV2_AZURE_57:VNet integration instead of a private endpoint (Azure's other private model): the server lives in a delegated subnet of the cluster's VNet, without a public endpoint.
  count                             = local.{{ db }}_database ? 1 : 0
  name                              = "psql-${var.name}-{{ db }}"
  resource_group_name               = azurerm_resource_group.this.name
  location                          = azurerm_resource_group.this.location
  version                           = "16"
  sku_name                          = var.{{ db }}_database_sku
  storage_mb                        = 32768
  auto_grow_enabled                 = true
  delegated_subnet_id               = var.{{ db }}_database_subnet_id
  private_dns_zone_id               = azurerm_private_dns_zone.{{ db }}_database[0].id
  public_network_access_enabled     = false
  administrator_login               = "{{ db }}"
  administrator_password_wo         = ephemeral.random_password.{{ db }}_database[0].result
  administrator_password_wo_version = var.{{ db }}_database_password_version
  backup_retention_days             = 14
  geo_redundant_backup_enabled      = true

  authentication {
    password_auth_enabled         = true # {{ db | capitalize }} signs in with a password
    active_directory_auth_enabled = false
  }

  high_availability {
    mode = "ZoneRedundant"
  }

  # Azure picks the zones and swaps them on a failover.
  lifecycle {
    ignore_changes = [zone, high_availability[0].standby_availability_zone]
  }

  depends_on = [azurerm_private_dns_zone_virtual_network_link.{{ db }}_database]
}

# Its logging, as for the orchestrators' databases on the other clouds (statements: schema
# changes only, not the orchestrator's polling).
resource "azurerm_postgresql_flexible_server_configuration" "{{ db }}" {
  for_each = local.{{ db }}_database ? {
    log_checkpoints              = "on"
    log_connections              = "on"
    log_disconnections           = "on"
    log_lock_waits               = "on"
    log_statement                = "ddl"
    log_min_duration_statement   = "-1"
    "connection_throttle.enable" = "on"
  } : {}

  server_id = azurerm_postgresql_flexible_server.{{ db }}[0].id
  name      = each.key
  value     = each.value
}

resource "azurerm_postgresql_flexible_server_database" "{{ db }}" {
  count     = local.{{ db }}_database ? 1 : 0
  name      = "{{ db }}"
  server_id = azurerm_postgresql_flexible_server.{{ db }}[0].id
  charset   = "UTF8"
  collation = "en_US.utf8"
}

resource "azurerm_key_vault_secret" "{{ db }}_database" {
  #checkov:skip=CKV_AZURE_41:Rotated by {{ db }}_database_password_version, not on a date: an expiry would only stop make {{ db }}-install.
  count            = local.{{ db }}_database ? 1 : 0
  name             = "{{ db }}-database-password"
  key_vault_id     = azurerm_key_vault.this.id
  content_type     = "{{ db | capitalize }}'s PostgreSQL password (make {{ db }}-install)"
  value_wo         = ephemeral.random_password.{{ db }}_database[0].result
  value_wo_version = var.{{ db }}_database_password_version

  depends_on = [azurerm_role_assignment.secrets_officer]
}

output "{{ db }}_database_host" {
  description = "The name {{ db | capitalize }} reaches its database by, inside the cluster's VNet."
  value       = one(azurerm_postgresql_flexible_server.{{ db }}[*].fqdn)
}

output "{{ db }}_database_secret" {
  description = "The Key Vault secret (its versionless ID) holding the {{ db | capitalize }} database's password (make {{ db }}-install)."
  value       = one(azurerm_key_vault_secret.{{ db }}_database[*].versionless_id)
}
