variable "project" {
  description = "Name prefix of every resource (lowercase letters, digits and hyphens)."
  type        = string
  default     = "{{ cookiecutter.project_slug | replace('_', '-') }}"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.project))
    error_message = "project must be 3-32 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  description = "AWS region of every resource, e.g. eu-west-1."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "vpc_id" {
  description = "VPC of the load balancer and the serving tasks (usually your platform team's)."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "private_subnet_ids" {
  description = "Subnets of the serving tasks; they need a route to ECR, S3 and CloudWatch Logs (NAT gateway or VPC endpoints)."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2 && alltrue([for s in var.private_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "private_subnet_ids needs at least two subnet ids (subnet-...)."
  }
}

variable "certificate_arn" {
  description = "ACM certificate of the API's domain name, for the load balancer's HTTPS listener."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

# ---- who may call the API (../README.md, "Calling the API") -------------------------------
variable "public" {
  description = "Put the API's load balancer on the internet. Off (the default): an internal load balancer that only the VPC (or caller_cidrs) reaches. On: callers need a bearer token from jwt_issuer, checked by the load balancer."
  type        = bool
  default     = false
}

variable "caller_cidrs" {
  description = "Networks that may reach the internal load balancer (public = false); empty: the VPC's CIDR block."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.caller_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "caller_cidrs must be IPv4 CIDR blocks, not 0.0.0.0/0 (that is public = true, with authentication)."
  }
}

variable "public_subnet_ids" {
  description = "Subnets of the internet-facing load balancer (public = true), in at least two availability zones."
  type        = list(string)
  default     = []

  validation {
    condition     = (!var.public || length(var.public_subnet_ids) >= 2) && alltrue([for s in var.public_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "public = true needs at least two public_subnet_ids (subnet-...)."
  }
}

variable "jwt_issuer" {
  description = "Issuer (iss) of the tokens the public load balancer accepts, e.g. https://cognito-idp.<region>.amazonaws.com/<user pool id> or https://login.microsoftonline.com/<tenant>/v2.0."
  type        = string
  default     = ""

  validation {
    condition     = !var.public || can(regex("^https://", var.jwt_issuer))
    error_message = "public = true needs jwt_issuer, an https:// issuer URL."
  }
}

variable "jwt_jwks_endpoint" {
  description = "Where jwt_issuer publishes its signing keys (JWKS), e.g. <issuer>/.well-known/jwks.json."
  type        = string
  default     = ""

  validation {
    condition     = !var.public || can(regex("^https://", var.jwt_jwks_endpoint))
    error_message = "public = true needs jwt_jwks_endpoint, an https:// URL."
  }
}

variable "jwt_claims" {
  description = "Claims every token must also carry (the load balancer checks exp, iss, nbf and iat itself), e.g. the audience: [{ name = \"aud\", format = \"single-string\", values = [\"api://scoring\"] }] or a Cognito scope: [{ name = \"scope\", format = \"space-separated-values\", values = [\"scoring/predict\"] }]."
  type = list(object({
    name   = string
    format = string
    values = list(string)
  }))
  default = []

  validation {
    condition     = (!var.public || length(var.jwt_claims) >= 1) && alltrue([for c in var.jwt_claims : contains(["single-string", "string-array", "space-separated-values"], c.format)])
    error_message = "public = true needs at least one jwt_claims entry naming this API (aud or scope: a token for another API must not pass); format is single-string, string-array or space-separated-values."
  }
}

variable "rate_limit" {
  description = "Requests one client address may send per rate_limit_window_seconds before AWS WAF blocks it (until its rate falls again)."
  type        = number
  default     = 3000

  validation {
    condition     = var.rate_limit >= 10 && var.rate_limit <= 2000000000
    error_message = "rate_limit must be between 10 and 2,000,000,000 (AWS WAF's bounds)."
  }
}

variable "rate_limit_window_seconds" {
  description = "The window AWS WAF counts each address's requests over."
  type        = number
  default     = 300

  validation {
    condition     = contains([60, 120, 300, 600], var.rate_limit_window_seconds)
    error_message = "rate_limit_window_seconds must be 60, 120, 300 or 600."
  }
}

{% if cookiecutter.ci == 'github' -%}
variable "github_owner" {
  description = "Owner (user or organisation) of the GitHub repository whose workflows may assume the CI roles."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9](-?[A-Za-z0-9])*$", var.github_owner))
    error_message = "github_owner must be a GitHub user or organisation name."
  }
}

variable "github_repo" {
  description = "Name of that GitHub repository (without the owner)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+$", var.github_repo))
    error_message = "github_repo must be a repository name such as credit-risk."
  }
}
{%- elif cookiecutter.ci == 'gitlab' %}
variable "gitlab_project_path" {
  description = "Path of the GitLab project whose pipelines may assume the CI roles, as group/project."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$", var.gitlab_project_path))
    error_message = "gitlab_project_path must be a path such as group/project."
  }
}

variable "gitlab_url" {
  description = "The GitLab instance that issues the CI jobs' ID tokens (its OIDC issuer)."
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
  description = "The only branch whose CI jobs may push images and deploy."
  type        = string
  default     = "main"

  validation {
    condition     = length(var.deploy_branch) > 0 && !can(regex("[*?]", var.deploy_branch))
    error_message = "deploy_branch must be one branch name, without wildcards."
  }
}

variable "create_oidc_provider" {
  description = "Create the CI provider's IAM OIDC identity provider; set false if the account already has it."
  type        = bool
  default     = true
}
{%- endif %}

variable "eks_cluster_name" {
  description = "An EKS cluster that also serves the API (deploy/aws/k8s): its service account gets the API's role through EKS Pod Identity. Empty: ECS only."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([0-9A-Za-z][A-Za-z0-9_-]{0,99})?$", var.eks_cluster_name))
    error_message = "eks_cluster_name must be empty or an EKS cluster name."
  }
}

variable "runtime_secret_keys" {
  description = "Keys of the runtime secret (Secrets Manager, JSON) passed to the API as environment variables of the same name."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for k in var.runtime_secret_keys : can(regex("^[A-Z_][A-Z0-9_]*$", k))])
    error_message = "runtime_secret_keys must be environment variable names (A-Z, 0-9, _)."
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

variable "min_tasks" {
  description = "Fewest serving tasks (autoscaling floor); two keep the API up through a task replacement."
  type        = number
  default     = 2

  validation {
    condition     = var.min_tasks >= 1
    error_message = "min_tasks must be at least 1."
  }
}

variable "max_tasks" {
  description = "Most serving tasks (autoscaling ceiling)."
  type        = number
  default     = 10

  validation {
    condition     = var.max_tasks >= var.min_tasks
    error_message = "max_tasks must not be below min_tasks."
  }
}

variable "log_retention_days" {
  description = "How long CloudWatch keeps the API's and the training jobs' logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch retention of at least a year (365, 400, 545, 731, ...)."
  }
}
