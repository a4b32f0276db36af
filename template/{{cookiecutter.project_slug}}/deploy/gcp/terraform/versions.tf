# Pinned Terraform and provider versions; `terraform init` writes .terraform.lock.hcl, commit it.
terraform {
  required_version = ">= 1.11, < 2.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.0"
    }
    google-beta = { # only for the service agents of Artifact Registry, Secret Manager{% if cookiecutter.__generated_password %} and Cloud SQL{% endif %}
      source  = "hashicorp/google-beta"
      version = "~> 7.0"
    }
{%- if cookiecutter.__generated_password %}
    random = { # ephemeral passwords, never in the state (3.7 added them)
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
{%- endif %}
  }

  # Remote state in a GCS bucket you create once, outside this root (versioned, with
  # uniform bucket-level access), e.g.
  #   gcloud storage buckets create gs://<project>-tfstate --location=<region> \
  #     --uniform-bucket-level-access --public-access-prevention
  #   gcloud storage buckets update gs://<project>-tfstate --versioning
  # and pass its name at init: `terraform init -backend-config="bucket=<project>-tfstate"`
  # (make infra-plan does, from TF_STATE_BUCKET). GCS locks the state natively.
  backend "gcs" {
    prefix = "{{ cookiecutter.project_slug | replace('_', '-') | trim('-') }}"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = {
    project    = var.name
    managed-by = "terraform"
  }
}

provider "google-beta" {
  project = var.project_id
  region  = var.region
}
