{%- if cookiecutter.ci == 'github' -%}
# Keyless CI: GitHub Actions exchanges its OIDC token for short-lived credentials of one of
# two roles (aws-actions/configure-aws-credentials). No access key exists anywhere.
#   ci_plan   - pull requests of github_owner/github_repo: read-only, for `terraform plan`;
#   ci_deploy - pushes to var.deploy_branch of that repository: push the image, deploy it.
{%- set oidc_host = 'token.actions.githubusercontent.com' %}
{%- set subjects = {
  'plan': 'repo:${var.github_owner}/${var.github_repo}:pull_request',
  'deploy': 'repo:${var.github_owner}/${var.github_repo}:ref:refs/heads/${var.deploy_branch}'} %}
locals {
  oidc_url = "https://{{ oidc_host }}"
}
{%- else -%}
# Keyless CI: GitLab jobs get an ID token (`id_tokens`, aud sts.amazonaws.com) and exchange
# it with `aws sts assume-role-with-web-identity` for short-lived credentials of one of two
# roles. No access key exists anywhere.
#   ci_plan   - pipelines of any branch of var.gitlab_project_path: read-only, for `terraform plan`;
#   ci_deploy - pipelines of var.deploy_branch only: push the image, deploy it.
{%- set oidc_host = '${local.oidc_host}' %}
{%- set subjects = {
  'plan': 'project_path:${var.gitlab_project_path}:ref_type:branch:ref:*',
  'deploy': 'project_path:${var.gitlab_project_path}:ref_type:branch:ref:${var.deploy_branch}'} %}
locals {
  oidc_url  = var.gitlab_url
  oidc_host = trimprefix(var.gitlab_url, "https://")
}
{%- endif %}

resource "aws_iam_openid_connect_provider" "ci" {
  count          = var.create_oidc_provider ? 1 : 0
  url            = local.oidc_url
  client_id_list = ["sts.amazonaws.com"]
}

locals {
  oidc_provider_arn = "arn:${local.partition}:iam::${local.account_id}:oidc-provider/{{ oidc_host }}"
}
{%- for role in ['plan', 'deploy'] %}

data "aws_iam_policy_document" "ci_{{ role }}_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "{{ oidc_host }}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "{{ 'StringLike' if '*' in subjects[role] else 'StringEquals' }}"
      variable = "{{ oidc_host }}:sub"
      values   = ["{{ subjects[role] }}"]
    }
  }
}
{%- endfor %}

resource "aws_iam_role" "ci_plan" {
  name_prefix          = "${local.short}-ci-plan-"
  description          = "terraform plan from CI (read-only)"
  assume_role_policy   = data.aws_iam_policy_document.ci_plan_assume.json
  max_session_duration = 3600

  depends_on = [aws_iam_openid_connect_provider.ci]
}

resource "aws_iam_role_policy_attachment" "ci_plan_read_only" {
  role       = aws_iam_role.ci_plan.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/ReadOnlyAccess"
}

resource "aws_iam_role" "ci_deploy" {
  name_prefix          = "${local.short}-ci-deploy-"
  description          = "CD: push the serving image to ECR and deploy it to ECS"
  assume_role_policy   = data.aws_iam_policy_document.ci_deploy_assume.json
  max_session_duration = 3600

  depends_on = [aws_iam_openid_connect_provider.ci]
}

data "aws_iam_policy_document" "ci_deploy" {
  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # the action has no resource-level permissions
  }
  statement {
    sid = "PushServingImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImages",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [aws_ecr_repository.serving.arn]
  }
  statement {
    sid       = "UseProjectKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.main.arn]
  }
{%- if cookiecutter.__ci_schedules %}
  # Continuous monitoring runs on the deploy branch's schedule as this role: it reads the
  # inference log the API writes (s3://BUCKET/inference, decrypted with the key above).
  statement {
    sid       = "ListInferenceLog"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.artifacts.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.inference_log_prefix}/*"]
    }
  }
  statement {
    sid       = "ReadInferenceLog"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/${local.inference_log_prefix}/*"]
  }
{%- endif %}
  statement {
    sid       = "RegisterTaskDefinitions"
    actions   = ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"]
    resources = ["*"] # the actions have no resource-level permissions
  }
  statement {
    sid       = "DeployService"
    actions   = ["ecs:DescribeServices", "ecs:UpdateService"]
    resources = [aws_ecs_service.api.id]
  }
  statement {
    sid       = "PassTaskRoles"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.task.arn, aws_iam_role.task_execution.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "ci_deploy" {
  role   = aws_iam_role.ci_deploy.id
  policy = data.aws_iam_policy_document.ci_deploy.json
}
