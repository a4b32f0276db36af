# Flyte on EKS (../../../orchestration/flyte/README.md, "On AWS"): Flyte's single-binary
# control plane (its flyte-binary Helm chart: admin, propeller, scheduler, data catalog) runs
# in the namespace `flyte` of the cluster var.eks_cluster_name, keeps its state in a
# PostgreSQL database on RDS and its metadata and task outputs in a bucket of its own. The
# workflows' tasks run as pods of the pipeline image in one namespace per project and domain
# (`<project>-development`, ...), which Flyte creates with the workspace volume they share.
# `make flyte-install` installs the chart with the values rendered here (flyte_helm_values).
# Both identities come through EKS Pod Identity, like the project's other pods (no OIDC
# provider, no role ARN annotations). Without a cluster, the database is not created.

locals {
  flyte_on_eks    = var.eks_cluster_name != ""
  flyte_namespace = "flyte"
  flyte_name      = "flyte" # the chart's fullnameOverride: its service account and services
  flyte_project   = "{{ cookiecutter.project_slug | replace('_', '-') }}"
  flyte_domains   = ["development", "staging", "production"]
}

variable "flyte_database_instance_class" {
  description = "The RDS instance class of Flyte's PostgreSQL database (its control plane's state: executions, launch plans, schedules)."
  type        = string
  default     = "db.t4g.small"
}

variable "flyte_database_password_version" {
  description = "Increase to give Flyte's database a new password (written to RDS and Secrets Manager only, never to the state); then make flyte-install."
  type        = number
  default     = 1
}

# The metadata, the task inputs and outputs and the registered code packages; private,
# KMS-encrypted, TLS only.
resource "aws_s3_bucket" "flyte" {
  #checkov:skip=CKV_AWS_18:server access logs need a separate SSE-S3 log bucket; audit object access with CloudTrail data events in the account's organisation trail
  #checkov:skip=CKV_AWS_144:Flyte's outputs are reproduced by running again; replication is a disaster-recovery choice per organisation
  #checkov:skip=CKV_AWS_21:every execution writes under new keys: versions would only keep what Flyte deletes
  #checkov:skip=CKV2_AWS_61:Flyte's data catalog caches task outputs by their key: expiring them would break cached executions
  #checkov:skip=CKV2_AWS_62:nothing consumes bucket events; Flyte reads its data on demand
  bucket_prefix = "${local.short}-flyte-"
}

resource "aws_s3_bucket_public_access_block" "flyte" {
  bucket                  = aws_s3_bucket.flyte.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "flyte" {
  bucket = aws_s3_bucket.flyte.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "flyte" {
  bucket = aws_s3_bucket.flyte.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.main.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_policy" "flyte" {
  bucket = aws_s3_bucket.flyte.id
  policy = data.aws_iam_policy_document.flyte_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.flyte]
}

data "aws_iam_policy_document" "flyte_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.flyte.arn, "${aws_s3_bucket.flyte.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

# The database: private subnets, reachable from the cluster's pods only, TLS enforced by
# PostgreSQL 16's default parameters (rds.force_ssl). Its password is generated for each
# version and written to RDS and to Secrets Manager only (write-only arguments): RDS's own
# managed password would rotate every seven days under a control plane that reads it once.
ephemeral "aws_secretsmanager_random_password" "flyte_database" {
  password_length     = 40
  exclude_punctuation = true # it goes into a YAML configuration file unquoted
}

resource "aws_secretsmanager_secret" "flyte_database" {
  #checkov:skip=CKV2_AWS_57:the password changes with var.flyte_database_password_version, which writes it to RDS and here in one apply; a rotation Lambda would change it under the running control plane
  name_prefix = "${var.project}/flyte-database-"
  description = "The password of ${var.project}'s Flyte database"
  kms_key_id  = aws_kms_key.main.arn
}

resource "aws_secretsmanager_secret_version" "flyte_database" {
  secret_id                = aws_secretsmanager_secret.flyte_database.id
  secret_string_wo         = ephemeral.aws_secretsmanager_random_password.flyte_database.random_password
  secret_string_wo_version = var.flyte_database_password_version
}

{%- if cookiecutter.ci != 'none' %}

# `terraform plan` generates the ephemeral password too, and CI plans with the role of
# ci.tf, whose ReadOnlyAccess does not include generating one.
resource "aws_iam_role_policy" "ci_plan_flyte_database_password" {
  role   = aws_iam_role.ci_plan.id
  policy = data.aws_iam_policy_document.ci_plan_flyte_database_password.json
}

data "aws_iam_policy_document" "ci_plan_flyte_database_password" {
  statement {
    actions   = ["secretsmanager:GetRandomPassword"]
    resources = ["*"] # the action has no resource
  }
}
{%- endif %}

data "aws_eks_cluster" "flyte" {
  count = local.flyte_on_eks ? 1 : 0
  name  = var.eks_cluster_name
}

resource "aws_db_subnet_group" "flyte" {
  count       = local.flyte_on_eks ? 1 : 0
  name_prefix = "${local.short}-flyte-"
  subnet_ids  = var.private_subnet_ids
}

resource "aws_security_group" "flyte_database" {
  count       = local.flyte_on_eks ? 1 : 0
  name_prefix = "${local.short}-flyte-db-"
  description = "Flyte's database: PostgreSQL from the EKS cluster's pods"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "flyte_database_from_cluster" {
  count                        = local.flyte_on_eks ? 1 : 0
  security_group_id            = aws_security_group.flyte_database[0].id
  description                  = "PostgreSQL from the cluster security group (nodes and pods)"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = data.aws_eks_cluster.flyte[0].vpc_config[0].cluster_security_group_id
}

resource "aws_db_instance" "flyte" {
  #checkov:skip=CKV_AWS_161:Flyte connects with a password (its configuration has no IAM token source)
  #checkov:skip=CKV_AWS_118:enhanced monitoring needs a monitoring role; Performance Insights and CloudWatch metrics cover a control plane's database
  #checkov:skip=CKV2_AWS_30:query logging would write every statement of the control plane's polling to the logs
  count                               = local.flyte_on_eks ? 1 : 0
  identifier_prefix                   = "${local.short}-flyte-"
  engine                              = "postgres"
  engine_version                      = "16"
  instance_class                      = var.flyte_database_instance_class
  allocated_storage                   = 20
  max_allocated_storage               = 100
  storage_encrypted                   = true
  kms_key_id                          = aws_kms_key.main.arn
  db_name                             = "flyte"
  username                            = "flyte"
  password_wo                         = ephemeral.aws_secretsmanager_random_password.flyte_database.random_password
  password_wo_version                 = var.flyte_database_password_version
  db_subnet_group_name                = aws_db_subnet_group.flyte[0].name
  vpc_security_group_ids              = [aws_security_group.flyte_database[0].id]
  multi_az                            = true
  auto_minor_version_upgrade          = true
  backup_retention_period             = 7
  copy_tags_to_snapshot               = true
  deletion_protection                 = true
  final_snapshot_identifier           = "${local.short}-flyte-final"
  enabled_cloudwatch_logs_exports     = ["postgresql", "upgrade"]
  performance_insights_enabled        = true
  performance_insights_kms_key_id     = aws_kms_key.main.arn
  iam_database_authentication_enabled = false
}

# The control plane (service account `flyte`): reads and writes Flyte's bucket (metadata,
# offloaded inputs and outputs) and signs the URLs `pyflyte register` uploads code
# packages to.
resource "aws_iam_role" "flyte_backend" {
  name_prefix        = "${local.short}-flyte-"
  assume_role_policy = data.aws_iam_policy_document.eks_pods_assume.json
}

data "aws_iam_policy_document" "flyte_bucket_access" {
  statement {
    sid       = "ListFlyteBucket"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.flyte.arn]
  }
  statement {
    sid       = "ReadWriteFlyteBucket"
    actions   = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    resources = ["${aws_s3_bucket.flyte.arn}/*"]
  }
  statement {
    sid       = "UseProjectKeyThroughS3"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.main.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "flyte_backend" {
  role   = aws_iam_role.flyte_backend.id
  policy = data.aws_iam_policy_document.flyte_bucket_access.json
}

resource "aws_eks_pod_identity_association" "flyte_backend" {
  count           = local.flyte_on_eks ? 1 : 0
  cluster_name    = var.eks_cluster_name
  namespace       = local.flyte_namespace
  service_account = local.flyte_name
  role_arn        = aws_iam_role.flyte_backend.arn
}

# The tasks (service account `default` of each project-domain namespace): Flyte's bucket,
# as the control plane, and of the artifact bucket what the steps use: read the inference
# log and the day's batches, write the scores (under temporary names renamed when
# complete: read and delete on scores/ too).
resource "aws_iam_role" "flyte_tasks" {
  name_prefix        = "${local.short}-flyte-tasks-"
  assume_role_policy = data.aws_iam_policy_document.eks_pods_assume.json
}

data "aws_iam_policy_document" "flyte_tasks" {
  source_policy_documents = [data.aws_iam_policy_document.flyte_bucket_access.json]
  statement {
    sid       = "ListStepPrefixes"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.artifacts.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values = [
        "${local.inference_log_prefix}/*",
        "${local.batch_input_prefix}/*",
        "${local.batch_scores_prefix}/*",
      ]
    }
  }
  statement {
    sid       = "ReadInferenceLogAndBatches"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/${local.inference_log_prefix}/*", "${aws_s3_bucket.artifacts.arn}/${local.batch_input_prefix}/*"]
  }
  statement {
    sid       = "WriteScores"
    actions   = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/${local.batch_scores_prefix}/*"]
  }
}

resource "aws_iam_role_policy" "flyte_tasks" {
  role   = aws_iam_role.flyte_tasks.id
  policy = data.aws_iam_policy_document.flyte_tasks.json
}

resource "aws_eks_pod_identity_association" "flyte_tasks" {
  for_each        = local.flyte_on_eks ? toset(local.flyte_domains) : toset([])
  cluster_name    = var.eks_cluster_name
  namespace       = "${local.flyte_project}-${each.key}"
  service_account = "default"
  role_arn        = aws_iam_role.flyte_tasks.arn
}

output "flyte_helm_values" {
  description = "The flyte-binary chart's values for this account: database, bucket, project, the tasks' settings (make flyte-install)."
  value = local.flyte_on_eks ? templatefile("${path.module}/../../../orchestration/flyte/flyte-values.yaml.tftpl", {
    database_host     = aws_db_instance.flyte[0].address
    bucket            = aws_s3_bucket.flyte.bucket
    region            = local.region
    name              = local.flyte_name
    project           = local.flyte_project
    inference_log_url = local.inference_log_url
    batch_input_url   = "s3://${aws_s3_bucket.artifacts.bucket}/${local.batch_input_prefix}/{date}.parquet"
    batch_scores_url  = "s3://${aws_s3_bucket.artifacts.bucket}/${local.batch_scores_prefix}/{date}.parquet"
  }) : null
}

output "flyte_database_secret" {
  description = "The Secrets Manager secret holding the Flyte database's password (make flyte-install)."
  value       = aws_secretsmanager_secret.flyte_database.arn
}
