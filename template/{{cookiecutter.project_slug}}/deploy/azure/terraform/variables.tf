variable "subscription_id" {
  description = "The Azure subscription that holds every resource of this root."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.subscription_id))
    error_message = "subscription_id must be a subscription GUID."
  }
}

variable "location" {
  description = "Azure region of every resource."
  type        = string
  default     = "westeurope"

  validation {
    condition     = can(regex("^[a-z0-9]+$", var.location))
    error_message = "location must be an Azure region name such as westeurope or eastus2."
  }
}

variable "name" {
  description = "Prefix of every resource name (lowercase letters and digits; storage and registry names allow nothing else)."
  type        = string
  default     = "{{ (cookiecutter.project_slug | replace('_', ''))[:16] }}"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{2,15}$", var.name))
    error_message = "name must be 3-16 lowercase letters or digits, starting with a letter."
  }
}
{%- if cookiecutter.ci == 'github' %}

variable "github_repository" {
  description = "The GitHub repository (owner/name) whose workflows may authenticate to this subscription."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like owner/name."
  }
}
{%- elif cookiecutter.ci == 'gitlab' %}

variable "gitlab_project_path" {
  description = "The GitLab project (group/project) whose pipelines may authenticate to this subscription."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$", var.gitlab_project_path))
    error_message = "gitlab_project_path must look like group/project (subgroups allowed)."
  }
}

variable "gitlab_url" {
  description = "The GitLab instance that issues the pipelines' ID tokens (its issuer URL)."
  type        = string
  default     = "https://gitlab.com"

  validation {
    condition     = can(regex("^https://[^/]+$", var.gitlab_url))
    error_message = "gitlab_url must be an https:// URL without a path or trailing slash."
  }
}
{%- endif %}
{%- if cookiecutter.ci != 'none' %}

variable "deploy_branch" {
  description = "The only branch whose CI jobs may push images, deploy and train; other changes get the plan identity."
  type        = string
  default     = "main"

  validation {
    condition     = length(var.deploy_branch) > 0 && !can(regex("[*?]", var.deploy_branch))
    error_message = "deploy_branch must be one branch name, without wildcards."
  }
}

variable "state_storage_account_id" {
  description = "Resource ID of the storage account that holds this root's Terraform state (read by the plan job)."
  type        = string

  validation {
    condition     = can(regex("^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft.Storage/storageAccounts/[a-z0-9]{3,24}$", var.state_storage_account_id))
    error_message = "state_storage_account_id must be a storage account resource ID."
  }
}
{%- endif %}

# ---- who may call the API (../README.md, "Calling the API") -------------------------------
variable "public" {
  description = "Open the API to the internet. Off (the default): only the VNet (infrastructure_subnet_id) or the environment's other apps reach it. On: callers need an Entra ID token for the API (entra_client_id), checked by Container Apps' built-in authentication."
  type        = bool
  default     = false
}

variable "infrastructure_subnet_id" {
  description = "A subnet of your VNet for the Container Apps environment (/23 or larger, empty, for a Consumption environment); the private API then answers that VNet through an internal load balancer. null: no VNet, the environment's other apps alone reach it. Changing it recreates the environment."
  type        = string
  default     = null
  nullable    = true

  validation {
    condition     = var.infrastructure_subnet_id == null || can(regex("^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft.Network/virtualNetworks/[^/]+/subnets/[^/]+$", var.infrastructure_subnet_id))
    error_message = "infrastructure_subnet_id must be a subnet resource ID."
  }
}

variable "entra_client_id" {
  description = "Application (client) ID of the Entra ID app registration that represents the API (public = true): callers get tokens for it."
  type        = string
  default     = ""

  validation {
    condition     = !var.public || can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.entra_client_id))
    error_message = "public = true needs entra_client_id, the API's app registration client ID (a GUID)."
  }
}

variable "entra_audience" {
  description = "The audience (aud) tokens must carry; empty: api://<entra_client_id>, the app registration's default Application ID URI."
  type        = string
  default     = ""
}

variable "entra_allowed_client_ids" {
  description = "Client IDs of the applications (or managed identities) that may call the public API; empty: any client holding a token for it (then require app role assignment on the registration)."
  type        = list(string)
  default     = []
}

variable "min_replicas" {
  description = "Container Apps replicas kept running (0 scales to zero between requests)."
  type        = number
  default     = 1

  validation {
    condition     = var.min_replicas >= 0 && var.min_replicas <= 30
    error_message = "min_replicas must be between 0 and 30."
  }
}

variable "max_replicas" {
  description = "Upper bound of Container Apps autoscaling (a cost ceiling)."
  type        = number
  default     = 5

  validation {
    condition     = var.max_replicas >= 1 && var.max_replicas <= 300
    error_message = "max_replicas must be between 1 and 300."
  }
}

variable "runtime_secrets" {
  description = "Environment variables of the API whose values live in Key Vault, mapped to their secret names (create each secret first: ../README.md, \"Secrets\")."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for k, v in var.runtime_secrets : can(regex("^[A-Z_][A-Z0-9_]*$", k)) && can(regex("^[a-z0-9-]{1,127}$", v))
    ])
    error_message = "runtime_secrets maps environment variable names (A-Z, 0-9, _) to Key Vault secret names (a-z, 0-9, -)."
  }
}

variable "trusted_signers" {
  description = "Who may have signed the models the API loads (params.yaml serve.trusted_signers), each {public_key = a path in the image} or a keyless Sigstore signer {identity, issuer}; empty: who signs what CT promotes (serving.tf, local.ct_signer)."
  type = list(object({
    public_key = optional(string)
    identity   = optional(string)
    issuer     = optional(string)
  }))
  default = []

  validation {
    condition = alltrue([
      for s in var.trusted_signers : (s.public_key == null) == (s.identity != null && s.issuer != null) && (s.identity == null) == (s.issuer == null)
    ])
    error_message = "Each trusted signer gives either public_key, or both identity and issuer."
  }
}

variable "aks_oidc_issuer_url" {
  description = "OIDC issuer URL of an AKS cluster with Workload ID that serves the API (deploy/azure/k8s); null: no AKS."
  type        = string
  default     = null
  nullable    = true

  validation {
    condition     = var.aks_oidc_issuer_url == null || can(regex("^https://", var.aks_oidc_issuer_url))
    error_message = "aks_oidc_issuer_url must be the cluster's https:// OIDC issuer URL."
  }
}

variable "aks_namespace" {
  description = "Namespace of the API on AKS (deploy/azure/k8s)."
  type        = string
  default     = "{{ cookiecutter.project_slug | replace('_', '-') | trim('-') }}"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.aks_namespace))
    error_message = "aks_namespace must be a Kubernetes namespace name."
  }
}

variable "training_vm_size" {
  description = "VM size of the Azure ML compute cluster that runs training jobs (it scales to zero when idle)."
  type        = string
  default     = "Standard_D4s_v3"

  validation {
    condition     = can(regex("^Standard_[A-Za-z0-9_]+$", var.training_vm_size))
    error_message = "training_vm_size must be an Azure VM size such as Standard_D4s_v3."
  }
}
