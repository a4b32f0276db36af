# Prefect on ECS (../../../orchestration/prefect/README.md): a Prefect worker runs as an ECS
# service and starts one Fargate task per flow run, in the API's cluster and private subnets.
# Three identities, each with only what it uses:
#   * the flow runs' task role: the bucket prefixes the flows read and write;
#   * the flow runs' execution role: ECS pulls the image, writes the logs, reads the
#     Prefect API key into the container;
#   * the worker's task role: run, watch and stop the flow runs' tasks in this cluster.
# The work pool's defaults (output prefect_work_pool) put every flow run there:
# `make flow-deploy` writes them into the pool's base job template.

variable "prefect_api_url" {
  description = "The Prefect API the worker polls (a Prefect Cloud workspace's https://api.prefect.cloud/api/accounts/.../workspaces/..., or your server's /api); empty: no worker."
  type        = string
  default     = ""

  validation {
    condition     = var.prefect_api_url == "" || can(regex("^https://", var.prefect_api_url))
    error_message = "prefect_api_url must be an https:// URL (or empty: no worker)."
  }
}

variable "flow_image" {
  description = "The image the worker and the flow runs run: orchestration/prefect/ecs.Dockerfile's image in the ECR repository, by digest (make flow-image)."
  type        = string
  default     = ""

  validation {
    condition     = var.flow_image == "" || can(regex("@sha256:[0-9a-f]{64}$", var.flow_image))
    error_message = "flow_image must be pinned by digest: REPOSITORY@sha256:..."
  }
}

locals {
  flow_family = "${var.project}-flows"
  # Every flow run's task definition is a revision of this family: the worker may run no other.
  flow_task_definitions = "arn:${local.partition}:ecs:${local.region}:${local.account_id}:task-definition/${local.flow_family}:*"
  prefect_worker        = var.prefect_api_url != "" ? 1 : 0
}

resource "aws_cloudwatch_log_group" "flows" {
  name              = "/${var.project}/flows"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_cloudwatch_log_group" "prefect_worker" {
  name              = "/${var.project}/prefect-worker"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

# Prefect Cloud's API key (or a self-hosted server's): set it once with
# `aws secretsmanager put-secret-value --secret-id <output prefect_api_key_secret_arn> --secret-string pnu_...`.
resource "aws_secretsmanager_secret" "prefect_api_key" {
  #checkov:skip=CKV2_AWS_57:a Prefect API key is rotated in Prefect, not by a Lambda
  name_prefix = "${var.project}/prefect-api-key-"
  description = "Prefect API key of the ${var.project} worker and flow runs"
  kms_key_id  = aws_kms_key.main.arn
}

# ---- the flow runs ---------------------------------------------------------------------

resource "aws_iam_role" "flow_run" {
  name_prefix        = "${local.short}-flow-"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

# Monitoring reads the API's inference log; batch scoring reads the day's batch and writes
# its scores (under temporary names renamed when complete: read and delete on scores/ too).
data "aws_iam_policy_document" "flow_run" {
  statement {
    sid       = "ListFlowPrefixes"
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

resource "aws_iam_role_policy" "flow_run" {
  role   = aws_iam_role.flow_run.id
  policy = data.aws_iam_policy_document.flow_run.json
}

# The flow runs' and the worker's execution role: the same image, logs and API key.
resource "aws_iam_role" "flow_execution" {
  name_prefix        = "${local.short}-flowx-"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "flow_execution" {
  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # the action has no resource-level permissions
  }
  statement {
    sid       = "PullTrainingImage"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [aws_ecr_repository.serving.arn]
  }
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.flows.arn}:*", "${aws_cloudwatch_log_group.prefect_worker.arn}:*"]
  }
  statement {
    sid       = "ReadPrefectApiKey"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.prefect_api_key.arn]
  }
  statement {
    sid       = "DecryptWithProjectKey"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main.arn]
  }
}

resource "aws_iam_role_policy" "flow_execution" {
  role   = aws_iam_role.flow_execution.id
  policy = data.aws_iam_policy_document.flow_execution.json
}

resource "aws_security_group" "flows" {
  name        = "${var.project}-flows"
  description = "Prefect's worker and flow runs: no inbound traffic"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_egress_rule" "flows_https" {
  security_group_id = aws_security_group.flows.id
  description       = "HTTPS to the Prefect API, the tracker, ECR, S3 and CloudWatch Logs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# ---- the worker ------------------------------------------------------------------------

resource "aws_iam_role" "prefect_worker" {
  name_prefix        = "${local.short}-pfw-"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

# The worker learns how its tasks end from ECS's task state changes in this cluster, which
# EventBridge queues for it (prefect-aws's ECS observer; its CloudFormation template
# events-only.json, here in Terraform).
resource "aws_sqs_queue" "flow_task_events_dead_letters" {
  name                      = "${var.project}-flow-task-events-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "flow_task_events" {
  name                       = "${var.project}-flow-task-events"
  message_retention_seconds  = 604800
  visibility_timeout_seconds = 300
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.flow_task_events_dead_letters.arn
    maxReceiveCount     = 3
  })
}

resource "aws_cloudwatch_event_rule" "flow_task_events" {
  name        = "${var.project}-flow-task-events"
  description = "ECS task state changes in ${var.project}'s cluster, for the Prefect worker"
  event_pattern = jsonencode({
    source        = ["aws.ecs"]
    "detail-type" = ["ECS Task State Change"]
    detail        = { clusterArn = [aws_ecs_cluster.main.arn] }
  })
}

resource "aws_cloudwatch_event_target" "flow_task_events" {
  rule = aws_cloudwatch_event_rule.flow_task_events.name
  arn  = aws_sqs_queue.flow_task_events.arn
}

data "aws_iam_policy_document" "flow_task_events" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.flow_task_events.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.flow_task_events.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "flow_task_events" {
  queue_url = aws_sqs_queue.flow_task_events.id
  policy    = data.aws_iam_policy_document.flow_task_events.json
}

# What prefect-aws's ECS worker calls: it registers a task definition revision per
# deployment, runs it in this cluster, stops it when the flow run is cancelled, reads the
# task events above, forwards a crashed run's logs, and checks the pool's subnets against
# vpc_id.
data "aws_iam_policy_document" "prefect_worker" {
  statement {
    sid       = "RegisterFlowTaskDefinitions"
    actions   = ["ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:DeregisterTaskDefinition"]
    resources = ["*"] # the actions have no resource-level permissions
  }
  statement {
    sid       = "RunFlowTasks"
    actions   = ["ecs:RunTask"]
    resources = [local.flow_task_definitions]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [aws_ecs_cluster.main.arn]
    }
  }
  statement {
    sid       = "WatchAndStopFlowTasks"
    actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:task/${aws_ecs_cluster.main.name}/*"]
  }
  statement {
    sid       = "TagFlowTasks"
    actions   = ["ecs:TagResource"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RunTask", "RegisterTaskDefinition"]
    }
  }
  statement {
    sid       = "PassFlowRoles"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.flow_run.arn, aws_iam_role.flow_execution.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
  statement {
    sid       = "CheckSubnets"
    actions   = ["ec2:DescribeVpcs", "ec2:DescribeSubnets"]
    resources = ["*"] # the actions have no resource-level permissions
  }
  statement {
    sid       = "ReadFlowTaskEvents"
    actions   = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ReceiveMessage"]
    resources = [aws_sqs_queue.flow_task_events.arn]
  }
  statement {
    sid       = "ForwardCrashedRunLogs"
    actions   = ["logs:GetLogEvents"]
    resources = ["${aws_cloudwatch_log_group.flows.arn}:*"]
  }
}

resource "aws_iam_role_policy" "prefect_worker" {
  role   = aws_iam_role.prefect_worker.id
  policy = data.aws_iam_policy_document.prefect_worker.json
}

# The worker runs the flows' own image (orchestration/prefect/ecs.Dockerfile, with prefect-aws),
# so worker and flow runs share one lockfile. Created once var.prefect_api_url is set.
resource "aws_ecs_task_definition" "prefect_worker" {
  count                    = local.prefect_worker
  family                   = "${var.project}-prefect-worker"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 512
  memory                   = 1024
  execution_role_arn       = aws_iam_role.flow_execution.arn
  task_role_arn            = aws_iam_role.prefect_worker.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([
    {
      name                   = "worker"
      image                  = var.flow_image
      essential              = true
      command                = ["prefect", "worker", "start", "--pool", local.prefect_work_pool_name, "--type", "ecs"]
      user                   = "10001:10001"
      readonlyRootFilesystem = true
      linuxParameters = {
        capabilities = { drop = ["ALL"] }
        tmpfs        = [{ containerPath = "/tmp", size = 64 }]
      }
      environment = [
        { name = "PREFECT_API_URL", value = var.prefect_api_url },
        { name = "PREFECT_INTEGRATIONS_AWS_ECS_OBSERVER_SQS_QUEUE_NAME", value = aws_sqs_queue.flow_task_events.name },
        { name = "PREFECT_HOME", value = "/tmp/prefect" },
        { name = "DO_NOT_TRACK", value = "true" },
      ]
      secrets = [{ name = "PREFECT_API_KEY", valueFrom = aws_secretsmanager_secret.prefect_api_key.arn }]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.prefect_worker.name
          awslogs-region        = local.region
          awslogs-stream-prefix = "worker"
        }
      }
    }
  ])

  lifecycle {
    precondition {
      condition     = var.flow_image != ""
      error_message = "prefect_api_url needs flow_image: the flows' image in ECR, by digest (make flow-image)."
    }
  }
}

resource "aws_ecs_service" "prefect_worker" {
  count           = local.prefect_worker
  name            = "prefect-worker"
  cluster         = aws_ecs_cluster.main.id
  task_definition = aws_ecs_task_definition.prefect_worker[0].arn
  desired_count   = 1
  launch_type     = "FARGATE"
  propagate_tags  = "SERVICE"

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.flows.id]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
}

# ---- the work pool ---------------------------------------------------------------------

locals {
  # The pool prefect.yaml's deployments name (make flow-deploy creates it), whatever the
  # resources' prefix.
  prefect_work_pool_name = "{{ cookiecutter.project_slug | replace('_', '-') }}-{{ cookiecutter.__prefect_work_pool }}"
  # Defaults of the ECS work pool's job variables (prefect-aws's ECSVariables).
  prefect_work_pool = {
    cluster                    = aws_ecs_cluster.main.arn
    family                     = local.flow_family
    launch_type                = "FARGATE"
    task_role_arn              = aws_iam_role.flow_run.arn
    execution_role_arn         = aws_iam_role.flow_execution.arn
    prefect_api_key_secret_arn = aws_secretsmanager_secret.prefect_api_key.arn
    vpc_id                     = var.vpc_id
    network_configuration = {
      subnets        = var.private_subnet_ids
      securityGroups = [aws_security_group.flows.id]
      assignPublicIp = "DISABLED"
    }
    configure_cloudwatch_logs = true
    cloudwatch_logs_options = {
      awslogs-group         = aws_cloudwatch_log_group.flows.name
      awslogs-region        = local.region
      awslogs-stream-prefix = "flow"
      awslogs-create-group  = "false" # the group above: the execution role creates none
    }
    env = {
      "{{ cookiecutter.project_slug | upper }}_INFERENCE_LOG__URL" = local.inference_log_url
      "{{ cookiecutter.project_slug | upper }}_SCORE__INPUT"       = "s3://${aws_s3_bucket.artifacts.bucket}/${local.batch_input_prefix}/{date}.parquet"
      "{{ cookiecutter.project_slug | upper }}_SCORE__OUTPUT"      = "s3://${aws_s3_bucket.artifacts.bucket}/${local.batch_scores_prefix}/{date}.parquet"

      PREFECT_HOME = "/tmp/prefect"
      DO_NOT_TRACK = "true"
    }
  }
}

output "prefect_work_pool" {
  description = "The ECS work pool's job variable defaults, as JSON (make flow-deploy)."
  value       = jsonencode(local.prefect_work_pool)
}

output "prefect_api_key_secret_arn" {
  description = "Where to put the Prefect API key (aws secretsmanager put-secret-value)."
  value       = aws_secretsmanager_secret.prefect_api_key.arn
}
