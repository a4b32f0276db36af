# Everything CI and the Make targets need; `terraform output` prints them.

output "subscription_id" {
  description = "AZURE_SUBSCRIPTION_ID: the subscription of every resource."
  value       = var.subscription_id
}

output "tenant_id" {
  description = "AZURE_TENANT_ID: the Entra ID tenant CI signs in to."
  value       = data.azurerm_client_config.current.tenant_id
}

output "resource_group" {
  description = "AZURE_RESOURCE_GROUP: the resource group of every resource."
  value       = azurerm_resource_group.this.name
}

output "storage_account" {
  description = "AZURE_STORAGE_ACCOUNT: the keyless account of the artifacts container."
  value       = azurerm_storage_account.artifacts.name
}

output "dvc_remote_url" {
  description = "URL of the DVC remote: dvc remote add -d azure <url>, then dvc remote modify azure account_name <account>."
  value       = "azure://${azurerm_storage_container.artifacts.name}/dvc"
}

output "inference_log_url" {
  description = "INFERENCE_LOG_URL: where the API writes its inference log (CM reads it)."
  value       = local.inference_log_url
}

output "trusted_signers" {
  description = "Who may have signed the models the API loads, as JSON (the k8s overlay's ConfigMap model-signers)."
  value       = local.trusted_signers
}

output "registry" {
  description = "AZURE_REGISTRY: the registry CD pushes to (az acr login --name <registry>)."
  value       = azurerm_container_registry.images.name
}

output "image_repository" {
  description = "AZURE_IMAGE_REPOSITORY: where CD pushes the image (<login server>/<image>)."
  value       = "${azurerm_container_registry.images.login_server}/${var.name}"
}

output "container_app" {
  description = "AZURE_CONTAINER_APP: the Container App CD deploys to."
  value       = azurerm_container_app.api.name
}

output "service_url" {
  description = "The API's URL (it answers /health, /ready, /predict)."
  value       = "https://${azurerm_container_app.api.ingress[0].fqdn}"
}

output "ml_workspace" {
  description = "AZURE_ML_WORKSPACE: the Azure ML workspace training jobs run in."
  value       = azurerm_machine_learning_workspace.this.name
}

output "key_vault" {
  description = "The Key Vault of the runtime secrets (RBAC mode)."
  value       = azurerm_key_vault.this.name
}

output "api_client_id" {
  description = "Client ID of the API's managed identity (Container Apps; AKS through Workload ID)."
  value       = azurerm_user_assigned_identity.api.client_id
}
{%- if cookiecutter.ci != 'none' %}

output "deployer_client_id" {
  description = "AZURE_DEPLOYER_CLIENT_ID: what CI on the deploy branch signs in as."
  value       = azurerm_user_assigned_identity.deployer.client_id
}

output "planner_client_id" {
  description = "AZURE_PLANNER_CLIENT_ID: what the terraform plan job signs in as."
  value       = local.planner_client_id
}
{%- endif %}
