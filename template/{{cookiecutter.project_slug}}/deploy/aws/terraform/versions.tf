# One Terraform root for everything {{ cookiecutter.project_name }} needs on AWS. See ../README.md.
terraform {
  required_version = ">= 1.11, < 2.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.24" # 6.22 added the listener's jwt-validation action
    }
  }

  # Remote state in S3 with S3-native locking (no DynamoDB table). The state bucket is
  # created once per account, outside this root (../README.md, "State"); its name, key and
  # region come from backend.hcl at init: `make infra-init TF_STATE_BUCKET=...`.
  backend "s3" {
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project    = var.project
      managed-by = "terraform"
    }
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region
  # Load balancer and target group names (32), bucket and role name prefixes (37, 38) are
  # short: this prefix leaves room for their suffixes.
  short = trimsuffix(substr(var.project, 0, 24), "-")
}
