# The Ray jobs on AKS (deploy/azure/k8s/ray): the Kubernetes service account `ray` signs in
# as the training jobs' managed identity (Microsoft Entra Workload ID), which reads and
# writes the artifacts container, when aks_oidc_issuer_url is set.
resource "azurerm_federated_identity_credential" "aks_ray" {
  count = var.aks_oidc_issuer_url == null ? 0 : 1

  name                      = "aks-ray"
  user_assigned_identity_id = azurerm_user_assigned_identity.trainer.id
  audience                  = ["api://AzureADTokenExchange"]
  issuer                    = var.aks_oidc_issuer_url
  subject                   = "system:serviceaccount:${var.aks_namespace}:ray"
}

output "trainer_client_id" {
  description = "Client ID of the training jobs' managed identity (the Ray jobs on AKS through Workload ID)."
  value       = azurerm_user_assigned_identity.trainer.client_id
}

output "ray_store_url" {
  description = "Where the Ray jobs on AKS read and write (make aks-ray-train, aks-ray-score)."
  value       = "az://${azurerm_storage_container.artifacts.name}@${azurerm_storage_account.artifacts.name}.blob.core.windows.net/ray"
}
