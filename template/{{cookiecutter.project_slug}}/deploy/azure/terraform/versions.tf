# Pinned Terraform and provider versions; `terraform init` writes .terraform.lock.hcl, commit it.
terraform {
  required_version = ">= 1.11, < 2.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.66"
    }
    azapi = { # Container Apps' built-in authentication, which azurerm does not manage
      source  = "Azure/azapi"
      version = "~> 2.5"
    }
{%- if cookiecutter.__generated_password %}
    random = { # ephemeral passwords, never in the state (3.7 added them)
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
{%- endif %}
{%- if cookiecutter.ci == 'gitlab' %}
    azuread = { # only for the plan job's app registration (flexible federated credential)
      source  = "hashicorp/azuread"
      version = "~> 3.7"
    }
{%- endif %}
  }

  # Remote state in a blob container you create once, outside this root (Entra ID auth,
  # no account keys), e.g.
  #   az group create -n tfstate -l <region>
  #   az storage account create -n <account> -g tfstate --min-tls-version TLS1_2 \
  #     --allow-blob-public-access false --allow-shared-key-access false
  #   az storage container create -n tfstate --account-name <account> --auth-mode login
  # and pass it at init (make infra-plan does, from TF_STATE_ACCOUNT):
  #   terraform init -backend-config="storage_account_name=<account>"
  # Blob leases lock the state.
  backend "azurerm" {
    container_name   = "tfstate"
    key              = "{{ cookiecutter.project_slug | replace('_', '-') | trim('-') }}.tfstate"
    use_azuread_auth = true
  }
}

provider "azapi" {
  subscription_id = var.subscription_id
}

provider "azurerm" {
  subscription_id     = var.subscription_id
  storage_use_azuread = true # shared keys are disabled on the storage account

  features {
    key_vault {
      purge_soft_delete_on_destroy = false
    }
  }
}
