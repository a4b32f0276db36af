"""ML Test Score, infrastructure: Prefect's flows deploy on ECS (deploy/aws/terraform/prefect.tf,
`make flow-deploy`), checked with Prefect's own machinery where no AWS account is at hand
(prefect_pools.py): the pool's template from Terraform's settings, the deployments on a
temporary Prefect server, and the ECS job each would run."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from orchestration.prefect.work_pool import base_job_template
from prefect.testing.utilities import prefect_test_harness
from prefect_aws.workers.ecs_worker import ECSJobConfiguration

from ..conftest import PROJECT_ROOT
from .prefect_pools import (
    POOL,
    deployed_configurations,
    make_flow_deploy,
    terraform_job_variables,
    terraform_pool_name,
)

pytestmark = pytest.mark.infrastructure
SERVER_STARTUP_TIMEOUT = 180  # seconds; the temporary server migrates a fresh database
TERRAFORM = PROJECT_ROOT / "deploy/aws/terraform/prefect.tf"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/demo@sha256:" + "0" * 64
ARN = "arn:aws:{}:eu-west-1:123456789012:{}"

# What `terraform output -raw prefect_work_pool` prints, with made-up identifiers.
TERRAFORM_OUTPUT: dict[str, Any] = {
    "cluster": ARN.format("ecs", "cluster/demo"),
    "family": "demo-flows",
    "launch_type": "FARGATE",
    "task_role_arn": "arn:aws:iam::123456789012:role/demo-flow-1",
    "execution_role_arn": "arn:aws:iam::123456789012:role/demo-flowx-1",
    "prefect_api_key_secret_arn": ARN.format("secretsmanager", "secret:demo/prefect-api-key-1"),
    "vpc_id": "vpc-0a1b2c3d",
    "network_configuration": {
        "subnets": ["subnet-0a1", "subnet-0b2"],
        "securityGroups": ["sg-0c3"],
        "assignPublicIp": "DISABLED",
    },
    "configure_cloudwatch_logs": True,
    "cloudwatch_logs_options": {
        "awslogs-group": "/demo/flows",
        "awslogs-region": "eu-west-1",
        "awslogs-stream-prefix": "flow",
        "awslogs-create-group": "false",
    },
    "env": {"PREFECT_HOME": "/tmp/prefect", "DO_NOT_TRACK": "true"},  # noqa: S108 (the container's)
}


def test_the_sample_is_what_terraform_outputs() -> None:
    assert terraform_job_variables(TERRAFORM) == set(TERRAFORM_OUTPUT)


def test_the_worker_polls_the_pool_the_deployments_use() -> None:
    assert terraform_pool_name(TERRAFORM) == POOL


def test_the_flows_image_runs_the_command_ecs_gives() -> None:
    """ECS's command override replaces CMD, never ENTRYPOINT: the image must not prefix one."""
    dockerfile = (PROJECT_ROOT / "orchestration/prefect/ecs.Dockerfile").read_text()
    assert re.findall(r"^FROM (.*)$", dockerfile, re.M) == ["${TRAINING_IMAGE}"]
    assert re.findall(r"^ENTRYPOINT (.*)$", dockerfile, re.M) == ["[]"]


def test_the_pool_refuses_what_the_ecs_worker_would_not_use() -> None:
    with pytest.raises(ValueError, match="not a job variable of a ecs work pool: subnet_ids"):
        base_job_template("ecs", {**TERRAFORM_OUTPUT, "subnet_ids": ["subnet-0a1"]})
    with pytest.raises(
        ValueError, match="job variable configure_cloudwatch_logs: Input should be a valid boolean"
    ):
        base_job_template("ecs", {**TERRAFORM_OUTPUT, "configure_cloudwatch_logs": "yes"})


@pytest.fixture(scope="module")
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=SERVER_STARTUP_TIMEOUT):
        yield


def test_make_flow_deploy_runs_every_deployment_where_terraform_put_the_flows(
    prefect_server: None, tmp_path: Path
) -> None:
    output = make_flow_deploy(TERRAFORM_OUTPUT, IMAGE, tmp_path)
    assert "will be ignored" not in output
    configurations = deployed_configurations("ecs")
    for configuration in configurations.values():
        assert isinstance(configuration, ECSJobConfiguration)
        request = configuration.task_run_request
        assert request.get("cluster") == TERRAFORM_OUTPUT["cluster"]
        assert request["launchType"] == "FARGATE"
        assert request["overrides"]["taskRoleArn"] == TERRAFORM_OUTPUT["task_role_arn"]
        definition = configuration.task_definition
        assert definition["executionRoleArn"] == TERRAFORM_OUTPUT["execution_role_arn"]
        assert definition["family"] == TERRAFORM_OUTPUT["family"]
        assert definition["containerDefinitions"][0].get("image") == IMAGE
        assert configuration.vpc_id == TERRAFORM_OUTPUT["vpc_id"]
        assert configuration.network_configuration == TERRAFORM_OUTPUT["network_configuration"]
        api_key = configuration.prefect_api_key_secret_arn
        assert api_key == TERRAFORM_OUTPUT["prefect_api_key_secret_arn"]
        assert configuration.cloudwatch_logs_options == TERRAFORM_OUTPUT["cloudwatch_logs_options"]
        assert configuration.env["DO_NOT_TRACK"] == "true"
