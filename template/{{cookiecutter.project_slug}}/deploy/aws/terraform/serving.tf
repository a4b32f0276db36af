# The API on ECS Fargate behind an Application Load Balancer (../README.md says why not App
# Runner): HTTPS in, health checks on /ready, CPU-based autoscaling, logs in CloudWatch.
# CD deploys each image by registering a new task definition revision (its digest), so
# Terraform ignores the service's current task definition after the first apply.

resource "aws_ecs_cluster" "main" {
  name = var.project

  setting {
    name  = "containerInsights"
    value = "enhanced"
  }
}

resource "aws_cloudwatch_log_group" "api" {
  name              = "/${var.project}/api"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_ecs_task_definition" "api" {
  family                   = "${var.project}-api"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 512
  memory                   = 1024
  execution_role_arn       = aws_iam_role.task_execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([
    {
      name      = "api"
      image     = "${aws_ecr_repository.serving.repository_url}:bootstrap"
      essential = true
      # The Dockerfile's user, read-only root file system with a scratch /tmp.
      user                   = "10001:10001"
      readonlyRootFilesystem = true
      linuxParameters = {
        capabilities = { drop = ["ALL"] }
        tmpfs        = [{ containerPath = "/tmp", size = 64 }]
      }
      portMappings = [{ containerPort = 8000, protocol = "tcp" }]
      # Every prediction goes to the bucket (../README.md, "Inference log").
      environment = [
        { name = "{{ cookiecutter.project_slug | upper }}_INFERENCE_LOG__URL", value = local.inference_log_url },
        { name = "{{ cookiecutter.project_slug | upper }}_INFERENCE_LOG__ENABLED", value = "true" }, # the image leaves it off
        { name = "{{ cookiecutter.project_slug | upper }}_SERVE__TRUSTED_SIGNERS", value = local.trusted_signers },
      ]
      secrets = [
        for key in var.runtime_secret_keys : {
          name      = key
          valueFrom = "${aws_secretsmanager_secret.runtime.arn}:${key}::"
        }
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.api.name
          awslogs-region        = local.region
          awslogs-stream-prefix = "api"
        }
      }
    }
  ])
}

resource "aws_ecs_service" "api" {
  name                              = "api"
  cluster                           = aws_ecs_cluster.main.id
  task_definition                   = aws_ecs_task_definition.api.arn
  desired_count                     = var.min_tasks
  launch_type                       = "FARGATE"
  health_check_grace_period_seconds = 60
  propagate_tags                    = "SERVICE"

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.api.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.api.arn
    container_name   = "api"
    container_port   = 8000
  }

  # A deployment whose tasks never become healthy rolls back to the last good revision.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  lifecycle {
    ignore_changes = [task_definition, desired_count]
  }

  depends_on = [aws_lb_listener.https]
}

resource "aws_appautoscaling_target" "api" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.api.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_tasks
  max_capacity       = var.max_tasks
}

resource "aws_appautoscaling_policy" "api_cpu" {
  name               = "${var.project}-api-cpu"
  service_namespace  = aws_appautoscaling_target.api.service_namespace
  resource_id        = aws_appautoscaling_target.api.resource_id
  scalable_dimension = aws_appautoscaling_target.api.scalable_dimension
  policy_type        = "TargetTrackingScaling"

  target_tracking_scaling_policy_configuration {
    target_value = 60
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

# ---- load balancer ----------------------------------------------------------------------
# Private by default: an internal load balancer in the private subnets, reachable from the
# VPC (or caller_cidrs) only. `public = true` puts it on the internet, and then the HTTPS
# listener lets a request through only with a valid bearer token from jwt_issuer
# (jwt-validation: signature against the issuer's JWKS, exp, iss, nbf and jwt_claims).
# Either way the WAF web ACL below limits each client address to rate_limit requests.
data "aws_vpc" "api" {
  id = var.vpc_id
}

locals {
  callers = var.public ? ["0.0.0.0/0"] : coalescelist(var.caller_cidrs, [data.aws_vpc.api.cidr_block])
}

resource "aws_lb" "api" {
  #checkov:skip=CKV_AWS_91:access logs need an SSE-S3 bucket with the ELB log-delivery policy; enable them with your organisation's central log bucket
  name                       = "${local.short}-api"
  load_balancer_type         = "application"
  internal                   = !var.public
  subnets                    = var.public ? var.public_subnet_ids : var.private_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = true
}

resource "aws_lb_target_group" "api" {
  name        = "${local.short}-api"
  port        = 8000
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id

  # /ready answers 200 only once the champion model is loaded.
  health_check {
    path                = "/ready"
    matcher             = "200"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.api.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  # Public: no token, no request (401 from the load balancer, before the API sees it).
  dynamic "default_action" {
    for_each = var.public ? [true] : []
    content {
      type  = "jwt-validation"
      order = 1

      jwt_validation {
        issuer        = var.jwt_issuer
        jwks_endpoint = var.jwt_jwks_endpoint

        dynamic "additional_claim" {
          for_each = var.jwt_claims
          content {
            name   = additional_claim.value.name
            format = additional_claim.value.format
            values = additional_claim.value.values
          }
        }
      }
    }
  }

  default_action {
    type             = "forward"
    order            = 2
    target_group_arn = aws_lb_target_group.api.arn
  }
}

# ---- rate limiting: AWS WAF in front of the load balancer --------------------------------
resource "aws_wafv2_web_acl" "api" {
  name        = "${var.project}-api"
  description = "Rate limit per client address, known bad inputs and anonymous addresses, in front of the API."
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "rate-limit-per-address"
    priority = 0

    action {
      block {}
    }

    statement {
      rate_based_statement {
        limit                 = var.rate_limit
        evaluation_window_sec = var.rate_limit_window_seconds
        aggregate_key_type    = "IP"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.project}-rate-limit"
      sampled_requests_enabled   = true
    }
  }

  # Request patterns of known exploits (Log4j's JNDI lookups among them).
  rule {
    name     = "known-bad-inputs"
    priority = 1

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.project}-known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  # Anonymising proxies, VPNs and Tor exits are blocked; addresses of hosting providers are
  # only counted, since callers of a scoring API are often servers.
  rule {
    name     = "anonymous-addresses"
    priority = 2

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesAnonymousIpList"

        rule_action_override {
          name = "HostingProviderIPList"
          action_to_use {
            count {}
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.project}-anonymous-addresses"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.project}-api"
    sampled_requests_enabled   = true
  }
}

resource "aws_wafv2_web_acl_association" "api" {
  resource_arn = aws_lb.api.arn
  web_acl_arn  = aws_wafv2_web_acl.api.arn
}

# WAF's log group names must start with aws-waf-logs-.
resource "aws_cloudwatch_log_group" "waf" {
  name              = "aws-waf-logs-${var.project}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_wafv2_web_acl_logging_configuration" "api" {
  resource_arn            = aws_wafv2_web_acl.api.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf.arn]

  # Tokens are credentials: never in the logs.
  redacted_fields {
    single_header {
      name = "authorization"
    }
  }
}

# ---- network: callers reach the load balancer, only the load balancer the tasks ----------
resource "aws_security_group" "alb" {
  name        = "${var.project}-alb"
  description = "Callers to the API load balancer"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = toset(local.callers)

  security_group_id = aws_security_group.alb.id
  description       = var.public ? "HTTPS from anywhere (bearer token required)" : "HTTPS from the VPC or caller_cidrs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_to_api" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the API tasks"
  ip_protocol                  = "tcp"
  from_port                    = 8000
  to_port                      = 8000
  referenced_security_group_id = aws_security_group.api.id
}

resource "aws_security_group" "api" {
  name        = "${var.project}-api"
  description = "The API tasks: from the load balancer only"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "api_from_alb" {
  security_group_id            = aws_security_group.api.id
  description                  = "From the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = 8000
  to_port                      = 8000
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_egress_rule" "api_https" {
  security_group_id = aws_security_group.api.id
  description       = "HTTPS to ECR, CloudWatch Logs and Secrets Manager"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# Who may have signed the models the API loads: var.trusted_signers, or else who signs what CT
# promotes, whom the serving image is built to trust (the Dockerfile's TRUSTED_SIGNERS).
locals {
{%- if cookiecutter.__ci_schedules and cookiecutter.ci == 'github' %}
  # CT's workflow on deploy_branch, keyless through Sigstore (.github/workflows/ct.yml).
  ct_signer = {
    identity = "https://github.com/${var.github_owner}/${var.github_repo}/.github/workflows/ct.yml@refs/heads/${var.deploy_branch}"
    issuer   = "https://token.actions.githubusercontent.com"
  }
{%- elif cookiecutter.__ci_schedules and cookiecutter.ci == 'gitlab' %}
  # CT's jobs on deploy_branch, keyless through Sigstore (.gitlab/continuous-training.yml).
  ct_signer = {
    identity = "${var.gitlab_url}/${var.gitlab_project_path}//.gitlab-ci.yml@refs/heads/${var.deploy_branch}"
    issuer   = var.gitlab_url
  }
{%- else %}
  # The project's key pair: the image carries its public half (the Dockerfile's TRUSTED_SIGNERS).
  ct_signer       = { public_key = "models/signer.pub" }
{%- endif %}
  trusted_signers = length(var.trusted_signers) > 0 ? jsonencode(var.trusted_signers) : jsonencode([local.ct_signer])
}
