# Dagster+ Hybrid on EKS (../../../orchestration/dagster/README.md, "On AWS"): Dagster+ hosts
# the UI, the schedules, the sensors and the run history; its agent on the cluster
# var.eks_cluster_name starts the code location's server and every run as pods of the
# pipeline image in the project's Dagster namespace, sharing the workspace volume. The
# runs' role (EKS Pod Identity, service account dagster-steps) reads the inference log and
# the day's batches and writes the scores. Without a cluster, the role has no pods.

locals {
  dagster_namespace = "{{ cookiecutter.project_slug | replace('_', '-') }}-dagster" # orchestration/dagster/k8s
  dagster_steps_sa  = "dagster-steps"
}

resource "aws_iam_role" "dagster_steps" {
  name_prefix        = "${local.short}-dagster-"
  assume_role_policy = data.aws_iam_policy_document.eks_pods_assume.json
}

# Batch scoring writes its scores under temporary names renamed when complete: read and
# delete on scores/ too.
data "aws_iam_policy_document" "dagster_steps" {
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

resource "aws_iam_role_policy" "dagster_steps" {
  role   = aws_iam_role.dagster_steps.id
  policy = data.aws_iam_policy_document.dagster_steps.json
}

resource "aws_eks_pod_identity_association" "dagster_steps" {
  count           = var.eks_cluster_name == "" ? 0 : 1
  cluster_name    = var.eks_cluster_name
  namespace       = local.dagster_namespace
  service_account = local.dagster_steps_sa
  role_arn        = aws_iam_role.dagster_steps.arn
}

output "dagster_on_eks" {
  description = "The code location's Kubernetes container context on the cluster, as JSON (make flow-deploy)."
  value = jsonencode({
    namespace            = local.dagster_namespace
    service_account_name = local.dagster_steps_sa
    env = {
      INFERENCE_LOG__URL = local.inference_log_url
      SCORE__INPUT       = "s3://${aws_s3_bucket.artifacts.bucket}/${local.batch_input_prefix}/{date}.parquet"
      SCORE__OUTPUT      = "s3://${aws_s3_bucket.artifacts.bucket}/${local.batch_scores_prefix}/{date}.parquet"
    }
  })
}
