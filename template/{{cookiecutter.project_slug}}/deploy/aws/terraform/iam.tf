# Runtime identities, each with only what it uses. No user has access keys: people use
# their SSO sessions, CI assumes roles through OIDC (ci.tf).

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# EKS Pod Identity: a role a Kubernetes service account of the cluster gets (its association
# names the cluster, namespace and service account).
data "aws_iam_policy_document" "eks_pods_assume" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]
    principals {
      type        = "Service"
      identifiers = ["pods.eks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# ECS itself: pull the image, write the logs, read the runtime secret into the container.
resource "aws_iam_role" "task_execution" {
  name_prefix        = "${local.short}-exec-"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "task_execution" {
  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # the action has no resource-level permissions
  }
  statement {
    sid       = "PullServingImage"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [aws_ecr_repository.serving.arn]
  }
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.api.arn}:*"]
  }
  statement {
    sid       = "ReadRuntimeSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.runtime.arn]
  }
  statement {
    sid       = "DecryptWithProjectKey"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main.arn]
  }
}

resource "aws_iam_role_policy" "task_execution" {
  role   = aws_iam_role.task_execution.id
  policy = data.aws_iam_policy_document.task_execution.json
}

# The API's own identity, the same on ECS and on EKS (Pod Identity, service account `api`
# of deploy/aws/k8s). The model is baked into the image; the only thing the API does in AWS
# is write its inference log under the bucket's inference/ prefix (policy below).
data "aws_iam_policy_document" "api_assume" {
  source_policy_documents = [
    data.aws_iam_policy_document.ecs_tasks_assume.json,
    data.aws_iam_policy_document.eks_pods_assume.json,
  ]
}

resource "aws_iam_role" "task" {
  name_prefix        = "${local.short}-api-"
  assume_role_policy = data.aws_iam_policy_document.api_assume.json
}

resource "aws_eks_pod_identity_association" "api" {
  count           = var.eks_cluster_name == "" ? 0 : 1
  cluster_name    = var.eks_cluster_name
  namespace       = var.project
  service_account = "api"
  role_arn        = aws_iam_role.task.arn
}

# The inference log: create objects under inference/ (never read, overwrite-protected by
# versioning, never delete), encrypted with the project's key through S3 only. s3fs checks
# that the bucket exists before it writes (HeadBucket, else GetBucketLocation): the
# location is the only bucket metadata the API may read.
data "aws_iam_policy_document" "api" {
  statement {
    sid       = "WriteInferenceLog"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/${local.inference_log_prefix}/*"]
  }
  statement {
    sid       = "LocateBucket"
    actions   = ["s3:GetBucketLocation"]
    resources = [aws_s3_bucket.artifacts.arn]
  }
  statement {
    sid = "EncryptInferenceLog"
    # GenerateDataKey encrypts a new object; Decrypt completes a multipart upload (s3fs
    # uses one above its 50 MiB block size).
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.main.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "api" {
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.api.json
}
