# Metaflow's flows on Argo Workflows on EKS (../../../orchestration/metaflow/README.md, "On
# AWS"): Argo Workflows runs each flow on its schedule or trigger, every step a pod of the
# pipeline image on the cluster var.eks_cluster_name, sharing the workspace volume. The
# steps' role (EKS Pod Identity, service account metaflow-steps of their own namespace)
# reads and writes Metaflow's datastore (the bucket's metaflow/ prefix) and the scores, and
# reads the inference log and the day's batches. Without a cluster, the role has no pods.

locals {
  metaflow_namespace = "{{ cookiecutter.project_slug | replace('_', '-') }}-metaflow" # orchestration/metaflow/k8s
  metaflow_steps_sa  = "metaflow-steps"
  metaflow_prefix    = "metaflow"
}

resource "aws_iam_role" "metaflow_steps" {
  name_prefix        = "${local.short}-metaflow-"
  assume_role_policy = data.aws_iam_policy_document.eks_pods_assume.json
}

# Batch scoring writes its scores under temporary names renamed when complete: read and
# delete on scores/ too. Metaflow's datastore only adds objects (code packages, artifacts).
data "aws_iam_policy_document" "metaflow_steps" {
  statement {
    sid       = "ListStepPrefixes"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.artifacts.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values = [
        "${local.metaflow_prefix}/*",
        "${local.inference_log_prefix}/*",
        "${local.batch_input_prefix}/*",
        "${local.batch_scores_prefix}/*",
      ]
    }
  }
  statement {
    sid       = "ReadWriteDatastore"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/${local.metaflow_prefix}/*"]
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

resource "aws_iam_role_policy" "metaflow_steps" {
  role   = aws_iam_role.metaflow_steps.id
  policy = data.aws_iam_policy_document.metaflow_steps.json
}

resource "aws_eks_pod_identity_association" "metaflow_steps" {
  count           = var.eks_cluster_name == "" ? 0 : 1
  cluster_name    = var.eks_cluster_name
  namespace       = local.metaflow_namespace
  service_account = local.metaflow_steps_sa
  role_arn        = aws_iam_role.metaflow_steps.arn
}

output "metaflow_on_eks" {
  description = "Metaflow's configuration for the cluster and the steps' settings, as JSON (make flow-deploy)."
  value = jsonencode({
    config = {
      METAFLOW_DEFAULT_DATASTORE          = "s3"
      METAFLOW_DATASTORE_SYSROOT_S3       = "s3://${aws_s3_bucket.artifacts.bucket}/${local.metaflow_prefix}"
      METAFLOW_KUBERNETES_NAMESPACE       = local.metaflow_namespace
      METAFLOW_KUBERNETES_SERVICE_ACCOUNT = local.metaflow_steps_sa
    }
    env = {
      INFERENCE_LOG__URL = local.inference_log_url
      SCORE__INPUT       = "s3://${aws_s3_bucket.artifacts.bucket}/${local.batch_input_prefix}/{date}.parquet"
      SCORE__OUTPUT      = "s3://${aws_s3_bucket.artifacts.bucket}/${local.batch_scores_prefix}/{date}.parquet"
    }
  })
}
