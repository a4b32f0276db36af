# Airflow on Amazon MWAA (../../../dags/README.md, "On Amazon MWAA"): MWAA schedules the
# DAGs, and every step runs as a pod of the pipeline image on the EKS cluster
# var.eks_cluster_name (EksPodOperator), as on any Airflow; MWAA's workers run no ML code.
# Two identities, each with only what it uses:
#   * the environment's execution role: MWAA's own needs (its source bucket, logs, metrics,
#     Celery queues) and starting pods in the project's namespace of the cluster (an EKS
#     access entry limited to that namespace);
#   * the steps' role (EKS Pod Identity, service account airflow-steps): the bucket prefixes
#     the steps read and write.
# `make flow-deploy` ships the DAG folder to the source bucket's dags/; MWAA picks it up.

variable "airflow_version" {
  description = "The Airflow version of the MWAA environment (3.3 or later: the DAGs use airflow.sdk's AssetOrTimeSchedule)."
  type        = string
  default     = "3.3.1"

  validation {
    condition     = can(regex("^3\\.([3-9]|[1-9][0-9])\\.[0-9]+$", var.airflow_version))
    error_message = "airflow_version must be an MWAA Airflow version 3.3.0 or later."
  }
}

variable "airflow_environment_class" {
  description = "The MWAA environment class (mw1.micro to mw1.2xlarge): the scheduler and workers only start pods."
  type        = string
  default     = "mw1.small"

  validation {
    condition     = can(regex("^mw1\\.(micro|small|medium|large|xlarge|2xlarge)$", var.airflow_environment_class))
    error_message = "airflow_environment_class must be one of mw1.micro, small, medium, large, xlarge, 2xlarge."
  }
}

locals {
  # cluster.yaml's namespace, where the steps' pods run (and where the access entry allows):
  # their own (dags/k8s), not the API's, whose restricted pod security refuses root.
  airflow_namespace = "{{ cookiecutter.project_slug | replace('_', '-') }}-airflow"
  airflow_steps_sa  = "airflow-steps"
  # Without a cluster the steps have nowhere to run: no environment.
  airflow_environment = var.eks_cluster_name == "" ? 0 : 1
  airflow_arn         = "arn:${local.partition}:airflow:${local.region}:${local.account_id}:environment/${var.project}"
  # MWAA names its log groups airflow-<environment>-<component>.
  airflow_log_groups = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:airflow-${var.project}-*"
}

# ---- the source bucket: DAGs and requirements.txt ----------------------------------------

resource "aws_s3_bucket" "airflow" {
  #checkov:skip=CKV_AWS_18:server access logs need a separate SSE-S3 log bucket; audit object access with CloudTrail data events
  #checkov:skip=CKV_AWS_144:the DAG folder is rebuilt from git by make flow-deploy; no replica needed
  #checkov:skip=CKV2_AWS_62:MWAA polls its source bucket; nothing consumes bucket events
  bucket_prefix = "airflow-${local.short}-" # MWAA's source buckets are named airflow-*
}

resource "aws_s3_bucket_public_access_block" "airflow" {
  bucket                  = aws_s3_bucket.airflow.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "airflow" {
  bucket = aws_s3_bucket.airflow.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# MWAA requires versioning: the environment names requirements.txt by object version.
resource "aws_s3_bucket_versioning" "airflow" {
  bucket = aws_s3_bucket.airflow.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "airflow" {
  bucket = aws_s3_bucket.airflow.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.main.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "airflow" {
  bucket = aws_s3_bucket.airflow.id

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_policy" "airflow" {
  bucket = aws_s3_bucket.airflow.id
  policy = data.aws_iam_policy_document.airflow_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.airflow]
}

data "aws_iam_policy_document" "airflow_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.airflow.arn, "${aws_s3_bucket.airflow.arn}/*"]
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

# The providers the DAG imports beyond MWAA's own (MWAA applies its Airflow's constraints).
resource "aws_s3_object" "airflow_requirements" {
  bucket       = aws_s3_bucket.airflow.id
  key          = "requirements.txt"
  content      = "apache-airflow-providers-amazon\napache-airflow-providers-cncf-kubernetes\n"
  content_type = "text/plain"
  depends_on   = [aws_s3_bucket_versioning.airflow]
}

# ---- the environment ---------------------------------------------------------------------

data "aws_iam_policy_document" "airflow_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["airflow.amazonaws.com", "airflow-env.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "airflow" {
  name_prefix        = "${local.short}-mwaa-"
  assume_role_policy = data.aws_iam_policy_document.airflow_assume.json
}

# MWAA's execution role policy (its user guide's; MWAA encrypts its own queues and database
# with an AWS-owned key, the source bucket uses the project's), and the one EKS call
# EksPodOperator makes to reach the cluster.
data "aws_iam_policy_document" "airflow" {
  statement {
    sid       = "PublishMetrics"
    actions   = ["airflow:PublishMetrics"]
    resources = [local.airflow_arn]
  }
  statement {
    sid       = "ReadSourceBucket"
    actions   = ["s3:GetObject*", "s3:GetBucket*", "s3:List*"]
    resources = [aws_s3_bucket.airflow.arn, "${aws_s3_bucket.airflow.arn}/*"]
  }
  statement {
    sid       = "CheckAccountPublicAccessBlock"
    actions   = ["s3:GetAccountPublicAccessBlock"]
    resources = ["*"] # the action has no resource-level permissions
  }
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:CreateLogGroup", "logs:PutLogEvents", "logs:GetLogEvents", "logs:GetLogRecord", "logs:GetLogGroupFields", "logs:GetQueryResults"]
    resources = [local.airflow_log_groups]
  }
  statement {
    sid       = "DescribeLogGroups"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["*"] # the action has no resource-level permissions
  }
  statement {
    sid       = "PublishCloudWatchMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # the action has no resource-level permissions
  }
  statement {
    sid       = "CeleryQueues"
    actions   = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:SendMessage"]
    resources = ["arn:${local.partition}:sqs:${local.region}:*:airflow-celery-*"] # in MWAA's account
  }
  statement {
    sid       = "ReadSourceBucketWithProjectKey"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
  statement {
    sid       = "ReachTheCluster"
    actions   = ["eks:DescribeCluster"]
    resources = ["arn:${local.partition}:eks:${local.region}:${local.account_id}:cluster/${var.eks_cluster_name}"]
  }
}

resource "aws_iam_role_policy" "airflow" {
  role   = aws_iam_role.airflow.id
  policy = data.aws_iam_policy_document.airflow.json
}

# MWAA's components reach each other and their endpoints in the VPC through this group.
resource "aws_security_group" "airflow" {
  name        = "${var.project}-airflow"
  description = "MWAA environment: its own components, then HTTPS to AWS APIs and the cluster"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "airflow_self" {
  security_group_id            = aws_security_group.airflow.id
  description                  = "MWAA's components and its VPC endpoints, among themselves"
  ip_protocol                  = "-1"
  referenced_security_group_id = aws_security_group.airflow.id
}

resource "aws_vpc_security_group_egress_rule" "airflow_self" {
  security_group_id            = aws_security_group.airflow.id
  description                  = "MWAA's components and its VPC endpoints, among themselves"
  ip_protocol                  = "-1"
  referenced_security_group_id = aws_security_group.airflow.id
}

resource "aws_vpc_security_group_egress_rule" "airflow_https" {
  security_group_id = aws_security_group.airflow.id
  description       = "HTTPS to the EKS API, S3, CloudWatch, SQS and STS"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_mwaa_environment" "main" {
  count                           = local.airflow_environment
  name                            = var.project
  airflow_version                 = var.airflow_version
  environment_class               = var.airflow_environment_class
  execution_role_arn              = aws_iam_role.airflow.arn
  source_bucket_arn               = aws_s3_bucket.airflow.arn
  dag_s3_path                     = "dags/"
  requirements_s3_path            = aws_s3_object.airflow_requirements.key
  requirements_s3_object_version  = aws_s3_object.airflow_requirements.version_id
  webserver_access_mode           = "PRIVATE_ONLY"
  max_workers                     = 2
  weekly_maintenance_window_start = "SUN:03:00"

  airflow_configuration_options = {
    "core.load_examples" = "false"
  }

  network_configuration {
    # MWAA takes exactly two private subnets, in two availability zones.
    subnet_ids         = slice(var.private_subnet_ids, 0, 2)
    security_group_ids = [aws_security_group.airflow.id]
  }

  logging_configuration {
    dag_processing_logs {
      enabled   = true
      log_level = "WARNING"
    }
    scheduler_logs {
      enabled   = true
      log_level = "WARNING"
    }
    task_logs {
      enabled   = true
      log_level = "INFO"
    }
    webserver_logs {
      enabled   = true
      log_level = "WARNING"
    }
    worker_logs {
      enabled   = true
      log_level = "WARNING"
    }
  }

  depends_on = [aws_iam_role_policy.airflow, aws_s3_bucket_policy.airflow]
}

# The execution role may manage pods in the project's namespace of the cluster, no more.
resource "aws_eks_access_entry" "airflow" {
  count         = local.airflow_environment
  cluster_name  = var.eks_cluster_name
  principal_arn = aws_iam_role.airflow.arn
}

resource "aws_eks_access_policy_association" "airflow" {
  count         = local.airflow_environment
  cluster_name  = var.eks_cluster_name
  principal_arn = aws_eks_access_entry.airflow[0].principal_arn
  policy_arn    = "arn:${local.partition}:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"

  access_scope {
    type       = "namespace"
    namespaces = [local.airflow_namespace]
  }
}

# ---- the steps ---------------------------------------------------------------------------

resource "aws_iam_role" "airflow_steps" {
  name_prefix        = "${local.short}-steps-"
  assume_role_policy = data.aws_iam_policy_document.eks_pods_assume.json
}

# Monitoring reads the API's inference log; batch scoring reads the day's batch and writes
# its scores (under temporary names renamed when complete: read and delete on scores/ too).
data "aws_iam_policy_document" "airflow_steps" {
  statement {
    sid       = "ListStepPrefixes"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.artifacts.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.inference_log_prefix}/*", "${local.batch_input_prefix}/*", "${local.batch_scores_prefix}/*"]
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

resource "aws_iam_role_policy" "airflow_steps" {
  role   = aws_iam_role.airflow_steps.id
  policy = data.aws_iam_policy_document.airflow_steps.json
}

resource "aws_eks_pod_identity_association" "airflow_steps" {
  count           = local.airflow_environment
  cluster_name    = var.eks_cluster_name
  namespace       = local.airflow_namespace
  service_account = local.airflow_steps_sa
  role_arn        = aws_iam_role.airflow_steps.arn
}

# ---- what make flow-deploy reads ---------------------------------------------------------

output "airflow_dags_url" {
  description = "MWAA's DAG folder in its source bucket: make flow-deploy syncs the DAG folder there."
  value       = "s3://${aws_s3_bucket.airflow.bucket}/dags/"
}

output "airflow_cluster" {
  description = "The cloud's part of the DAGs' cluster.yaml, as JSON (make flow-deploy)."
  value = jsonencode({
    namespace = local.airflow_namespace
    pod_operator = {
      class = "airflow.providers.amazon.aws.operators.eks.EksPodOperator"
      arguments = {
        cluster_name         = var.eks_cluster_name
        region               = local.region
        service_account_name = local.airflow_steps_sa
      }
    }
    env = {
      INFERENCE_LOG__URL = local.inference_log_url
      SCORE__INPUT       = "s3://${aws_s3_bucket.artifacts.bucket}/${local.batch_input_prefix}/{date}.parquet"
      SCORE__OUTPUT      = "s3://${aws_s3_bucket.artifacts.bucket}/${local.batch_scores_prefix}/{date}.parquet"
    }
  })
}

output "airflow_webserver_url" {
  description = "The Airflow UI (private: from the VPC; sign in with aws mwaa create-web-login-token)."
  value       = one(aws_mwaa_environment.main[*].webserver_url)
}
