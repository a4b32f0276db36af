# What CI and the Make targets need: set them as CI variables (../README.md, "CI").
output "region" {
  description = "AWS region (CI variable AWS_REGION)."
  value       = local.region
}

output "ecr_repository_url" {
  description = "Where CD pushes the serving image (CI variable ECR_REPOSITORY)."
  value       = aws_ecr_repository.serving.repository_url
}

output "artifact_bucket" {
  description = "The artifact bucket: DVC remote s3://BUCKET/dvc{% if cookiecutter.__tracking_server %}, tracking server artifacts s3://BUCKET/mlflow{% endif %}, inference log s3://BUCKET/inference."
  value       = aws_s3_bucket.artifacts.bucket
}

output "inference_log_url" {
  description = "Where the API writes its inference log (CI variable INFERENCE_LOG_URL: CM reads it)."
  value       = local.inference_log_url
}

output "trusted_signers" {
  description = "Who may have signed the models the API loads, as JSON (the k8s overlay's ConfigMap model-signers)."
  value       = local.trusted_signers
}

output "ecs_cluster" {
  description = "ECS cluster of the API (CI variable ECS_CLUSTER)."
  value       = aws_ecs_cluster.main.name
}

output "ecs_service" {
  description = "ECS service of the API (CI variable ECS_SERVICE)."
  value       = aws_ecs_service.api.name
}

output "task_definition_family" {
  description = "Task definition family CD registers revisions of (CI variable ECS_TASK_FAMILY)."
  value       = aws_ecs_task_definition.api.family
}

output "api_url" {
  description = "The load balancer's address (internal unless public); point your certificate's DNS name at it."
  value       = "https://${aws_lb.api.dns_name}"
}

output "training_role_arn" {
  description = "Execution role of SageMaker training jobs (make aws-train)."
  value       = aws_iam_role.training.arn
}

output "kms_key_arn" {
  description = "The project's KMS key (training job outputs and volumes)."
  value       = aws_kms_key.main.arn
}

output "runtime_secret_arn" {
  description = "Secrets Manager secret holding the API's runtime secrets (JSON)."
  value       = aws_secretsmanager_secret.runtime.arn
}
{%- if cookiecutter.ci != 'none' %}

output "ci_plan_role_arn" {
  description = "Role CI assumes for terraform plan (CI variable AWS_PLAN_ROLE_ARN)."
  value       = aws_iam_role.ci_plan.arn
}

output "ci_deploy_role_arn" {
  description = "Role CD assumes to push and deploy (CI variable AWS_DEPLOY_ROLE_ARN)."
  value       = aws_iam_role.ci_deploy.arn
}
{%- endif %}
