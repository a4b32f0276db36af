# Kubeflow's pipelines on Kubeflow Pipelines on EKS (../../../orchestration/kubeflow/README.md,
# "On AWS"): Kubeflow Pipelines standalone (make kubeflow-install) runs each pipeline on its
# recurring run, every component a pod of the training image in the namespace kubeflow as
# the service account pipeline-runner, sharing the workspace volume (EFS). That account's
# role, by EKS Pod Identity, reads the inference log and the day's batches and writes the
# scores; nothing else of the bucket. Kubeflow Pipelines keeps its own state (runs, the
# components' outputs) in its MySQL and object store on the cluster. Without a cluster, the
# role has no pods.

locals {
  kubeflow_namespace       = "kubeflow" # Kubeflow Pipelines standalone's namespace
  kubeflow_runner_sa       = "pipeline-runner"
  kubeflow_workspace_claim = "{{ cookiecutter.project_slug | replace('_', '-') }}-workspace" # orchestration/kubeflow/k8s
  kubeflow_workspace       = "/workspace/"
  # The ingest component reads the raw data on the volume, at params.yaml's data.raw_path
  # (the README's step copies it there; apply again once `adopt` changes that path).
  kubeflow_raw_path = yamldecode(file("${path.module}/../../../params.yaml")).data.raw_path
}

resource "aws_iam_role" "kubeflow_components" {
  name_prefix        = "${local.short}-kubeflow-"
  assume_role_policy = data.aws_iam_policy_document.eks_pods_assume.json
}

# Batch scoring writes its scores under temporary names renamed when complete: read and
# delete on scores/ too.
data "aws_iam_policy_document" "kubeflow_components" {
  statement {
    sid       = "ListComponentPrefixes"
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

resource "aws_iam_role_policy" "kubeflow_components" {
  role   = aws_iam_role.kubeflow_components.id
  policy = data.aws_iam_policy_document.kubeflow_components.json
}

resource "aws_eks_pod_identity_association" "kubeflow_components" {
  count           = var.eks_cluster_name == "" ? 0 : 1
  cluster_name    = var.eks_cluster_name
  namespace       = local.kubeflow_namespace
  service_account = local.kubeflow_runner_sa
  role_arn        = aws_iam_role.kubeflow_components.arn
}

output "kubeflow_pipeline_pod" {
  description = "How every component's pod runs on the cluster, as JSON: the workspace volume and where it is mounted (make flow-deploy)."
  value = jsonencode({
    workspace_claim = local.kubeflow_workspace_claim
    workspace       = local.kubeflow_workspace
  })
}

output "kubeflow_pipeline_env" {
  description = "Every component's environment on the cluster, as JSON: its files in the workspace, the inference log, the day's batch (make flow-deploy)."
  value = jsonencode({
    "{{ cookiecutter.project_slug | upper }}_MODELS_DIR"           = "${local.kubeflow_workspace}models"
    "{{ cookiecutter.project_slug | upper }}_REPORTS_DIR"          = "${local.kubeflow_workspace}reports"
    "{{ cookiecutter.project_slug | upper }}_DATA__RAW_PATH"       = "${local.kubeflow_workspace}${local.kubeflow_raw_path}"
    "{{ cookiecutter.project_slug | upper }}_DATA__PROCESSED_DIR"  = "${local.kubeflow_workspace}data/processed"
    "{{ cookiecutter.project_slug | upper }}_MONITOR__REPORTS_DIR" = "${local.kubeflow_workspace}reports/monitoring"
    "{{ cookiecutter.project_slug | upper }}_SERVE__MODEL_DIR"     = "${local.kubeflow_workspace}models/champion"
{%- if not cookiecutter.__tracker_secrets %}
    "{{ cookiecutter.project_slug | upper }}_TRACKING__URI"        = "${local.kubeflow_workspace}registry"
{%- endif %}
    "{{ cookiecutter.project_slug | upper }}_INFERENCE_LOG__URL"   = local.inference_log_url
    "{{ cookiecutter.project_slug | upper }}_SCORE__INPUT"         = "s3://${aws_s3_bucket.artifacts.bucket}/${local.batch_input_prefix}/{date}.parquet"
    "{{ cookiecutter.project_slug | upper }}_SCORE__OUTPUT"        = "s3://${aws_s3_bucket.artifacts.bucket}/${local.batch_scores_prefix}/{date}.parquet"

    DO_NOT_TRACK = "true"
  })
}
