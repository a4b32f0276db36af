variable "project_id" {
  description = "The Google Cloud project that holds every resource of this root."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project ID: 6-30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  description = "Region of the bucket, the registry, Cloud Run, Vertex AI and the key ring."
  type        = string
  default     = "europe-west1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1 or us-central1."
  }
}

variable "name" {
  description = "Prefix of every resource name (lowercase letters, digits and hyphens)."
  type        = string
  default     = "{{ (cookiecutter.project_slug | replace('_', '-'))[:20] | trim('-') }}"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.name))
    error_message = "name must be 3-20 lowercase letters, digits or hyphens, starting with a letter."
  }
}
{%- if cookiecutter.ci == 'github' %}

variable "github_repository" {
  description = "The GitHub repository (owner/name) whose workflows may authenticate to this project."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like owner/name."
  }
}
{%- elif cookiecutter.ci == 'gitlab' %}

variable "gitlab_project_path" {
  description = "The GitLab project (group/project) whose pipelines may authenticate to this project."
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
  description = "The only branch whose CI jobs may push images, deploy and train; pull requests get the plan role."
  type        = string
  default     = "main"

  validation {
    condition     = length(var.deploy_branch) > 0 && !can(regex("[*?]", var.deploy_branch))
    error_message = "deploy_branch must be one branch name, without wildcards."
  }
}

variable "state_bucket" {
  description = "The GCS bucket that holds this root's Terraform state (read by the plan job)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", var.state_bucket))
    error_message = "state_bucket must be a GCS bucket name."
  }
}
{%- endif %}

variable "min_instances" {
  description = "Cloud Run instances kept warm (0 scales to zero between requests)."
  type        = number
  default     = 0

  validation {
    condition     = var.min_instances >= 0 && var.min_instances <= 100
    error_message = "min_instances must be between 0 and 100."
  }
}

variable "max_instances" {
  description = "Upper bound of Cloud Run autoscaling (a cost ceiling)."
  type        = number
  default     = 5

  validation {
    condition     = var.max_instances >= 1 && var.max_instances <= 100
    error_message = "max_instances must be between 1 and 100."
  }
}

variable "runtime_secrets" {
  description = "Environment variables of the API whose values live in Secret Manager (one secret each, e.g. {{ cookiecutter.project_slug | upper }}_MONITOR__ALERT_WEBHOOK)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for k in var.runtime_secrets : can(regex("^[A-Z_][A-Z0-9_]*$", k))])
    error_message = "runtime_secrets must be environment variable names (A-Z, 0-9, _)."
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

variable "gke_namespace" {
  description = "Namespace of the API on a GKE cluster with Workload Identity (deploy/gcp/k8s); null: no GKE."
  type        = string
  default     = null
  nullable    = true

  validation {
    condition     = var.gke_namespace == null || can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.gke_namespace))
    error_message = "gke_namespace must be a Kubernetes namespace name."
  }
}

# ---- who may call the API (../README.md, "Calling the API") -------------------------------
variable "public" {
  description = "Open the API to callers without a Google identity: grants roles/run.invoker to allUsers, turns on the API's own bearer-token check (jwt_*) and puts a load balancer with Cloud Armor on `domain` in front. Off (the default): callers need a Google identity token of a principal with roles/run.invoker."
  type        = bool
  default     = false
}

variable "domain" {
  description = "The public API's domain name (public = true): the load balancer's Google-managed certificate is issued for it once its DNS points at the address output."
  type        = string
  default     = ""

  validation {
    condition     = !var.public || can(regex("^([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)+[a-z]{2,}$", var.domain))
    error_message = "public = true needs domain, a DNS name such as api.example.com."
  }
}

variable "jwt_issuer" {
  description = "Issuer (iss) of the bearer tokens the public API accepts, e.g. https://login.microsoftonline.com/<tenant>/v2.0."
  type        = string
  default     = ""

  validation {
    condition     = !var.public || can(regex("^https://", var.jwt_issuer))
    error_message = "public = true needs jwt_issuer, an https:// issuer URL."
  }
}

variable "jwt_audience" {
  description = "Audience (aud) the public API's tokens must carry: this API's identifier at the issuer."
  type        = string
  default     = ""

  validation {
    condition     = !var.public || length(var.jwt_audience) > 0
    error_message = "public = true needs jwt_audience."
  }
}

variable "jwt_jwks_url" {
  description = "Where jwt_issuer publishes its signing keys (JWKS)."
  type        = string
  default     = ""

  validation {
    condition     = !var.public || can(regex("^https://", var.jwt_jwks_url))
    error_message = "public = true needs jwt_jwks_url, an https:// URL."
  }
}

variable "rate_limit" {
  description = "Requests one client address may send to the public API per rate_limit_window_seconds; Cloud Armor answers 429 beyond."
  type        = number
  default     = 3000

  validation {
    condition     = var.rate_limit >= 1 && var.rate_limit <= 10000000
    error_message = "rate_limit must be between 1 and 10,000,000."
  }
}

variable "rate_limit_window_seconds" {
  description = "The window Cloud Armor counts each address's requests over."
  type        = number
  default     = 300

  validation {
    condition     = contains([10, 30, 60, 120, 180, 240, 300, 600, 900, 1200, 1800, 2700, 3600], var.rate_limit_window_seconds)
    error_message = "rate_limit_window_seconds must be one of Cloud Armor's intervals: 10, 30, 60, 120, 180, 240, 300, 600, 900, 1200, 1800, 2700 or 3600."
  }
}
