"""ML Test Score, infrastructure: what `make flow-deploy` deploys on the cloud, checked with
Prefect's own machinery where no cloud account is at hand.

The work pool is built from Terraform's output `prefect_work_pool`
(deploy/aws/terraform/prefect.tf); here a sample of that output, its keys read from the
Terraform itself, goes through the same steps: the pool's base job template
(orchestration/prefect/work_pool.py) and the pool created on a temporary Prefect server,
then prefect.yaml's deployments (`make flow-deploy` runs both), and the ECS worker's job
configuration for each deployment, which must put the flow run in the cluster, network and
identities Terraform made."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from orchestration.prefect.work_pool import base_job_template
from prefect import get_client
from prefect.settings import get_current_settings
from prefect.testing.utilities import prefect_test_harness
from prefect_aws.workers.ecs_worker import ECSJobConfiguration

from ..conftest import PROJECT_ROOT

pytestmark = pytest.mark.infrastructure
SERVER_STARTUP_TIMEOUT = 180  # seconds; the temporary server migrates a fresh database
TERRAFORM = PROJECT_ROOT / "deploy/aws/terraform/prefect.tf"
PREFECT_FILE = PROJECT_ROOT / "orchestration/prefect/prefect.yaml"
# The pool prefect.yaml's deployments name, which `make flow-deploy` creates.
POOL = yaml.safe_load(PREFECT_FILE.read_text())["definitions"]["work_pool"]["name"]
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


def terraform_job_variables() -> set[str]:
    """The job variables prefect.tf's local.prefect_work_pool sets (its top-level keys)."""
    block = re.search(r"\n  prefect_work_pool\s*=\s*\{\n(.*?)\n  \}\n", TERRAFORM.read_text(), re.S)
    assert block, f"{TERRAFORM} has no local prefect_work_pool"
    return set(re.findall(r"^    (\w+)\s+=", block.group(1), re.M))


def test_the_sample_is_what_terraform_outputs() -> None:
    assert terraform_job_variables() == set(TERRAFORM_OUTPUT)


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


async def deployed_configurations() -> dict[str, ECSJobConfiguration]:
    """Each deployment's ECS job configuration, as the worker would build it for a flow run."""
    async with get_client() as client:
        pool = await client.read_work_pool(POOL)
        deployments = await client.read_deployments()
        return {
            deployment.name: await ECSJobConfiguration.from_template_and_values(
                pool.base_job_template, deployment.job_variables or {}
            )
            for deployment in deployments
        }


def test_make_flow_deploy_runs_every_deployment_where_terraform_put_the_flows(
    prefect_server: None, tmp_path: Path
) -> None:
    """`make flow-deploy` as a user types it, against the temporary server, with a
    `terraform` that answers `output -raw prefect_work_pool` as an applied state would."""
    sample = tmp_path / "prefect_work_pool.json"
    sample.write_text(json.dumps(TERRAFORM_OUTPUT))
    terraform = tmp_path / "bin" / "terraform"
    terraform.parent.mkdir()
    asked = '"$2 $3 $4" = "output -raw prefect_work_pool"'  # after -chdir=deploy/aws/terraform
    terraform.write_text(f"#!/bin/sh\n[ {asked} ] && exec cat {sample}\nexit 1\n")
    terraform.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{terraform.parent}{os.pathsep}{os.environ['PATH']}",
        "PREFECT_API_URL": str(get_current_settings().api.url),
    }
    make = shutil.which("make")
    assert make, "make is not on PATH"
    deploy = subprocess.run(  # noqa: S603  # fixed arguments, no shell
        [make, "flow-deploy", f"TRAINING_IMAGE={IMAGE}"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert deploy.returncode == 0, deploy.stdout[-3000:] + deploy.stderr[-3000:]
    assert "will be ignored" not in deploy.stdout
    configurations = asyncio.run(deployed_configurations())
    declared = yaml.safe_load(PREFECT_FILE.read_text())["deployments"]
    assert sorted(configurations) == sorted(deployment["name"] for deployment in declared)
    for configuration in configurations.values():
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
