"""What `make flow-deploy` deploys on the cloud, with Prefect's own machinery and no cloud
account: the pool's base job template built from a sample of Terraform's output
`prefect_work_pool` (its keys read from the Terraform itself), `make flow-deploy` run as a
user types it against a temporary Prefect server, and each deployment's job configuration as
the cloud's worker would build it for a flow run."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path
from typing import Any

import yaml
from prefect import get_client
from prefect.settings import get_current_settings
from prefect.workers.base import BaseJobConfiguration, BaseWorker

from ..conftest import PROJECT_ROOT, run_make, terraform_outputs

PREFECT_FILE = PROJECT_ROOT / "orchestration/prefect/prefect.yaml"
# The pool prefect.yaml's deployments name, which `make flow-deploy` creates.
POOL = yaml.safe_load(PREFECT_FILE.read_text())["definitions"]["work_pool"]["name"]


def terraform_job_variables(terraform: Path) -> set[str]:
    """The job variables a prefect.tf's local.prefect_work_pool sets (its top-level keys)."""
    block = re.search(r"\n  prefect_work_pool\s*=\s*\{\n(.*?)\n  \}\n", terraform.read_text(), re.S)
    assert block, f"{terraform} has no local prefect_work_pool"
    return set(re.findall(r"^    (\w+)\s+=", block.group(1), re.M))


def terraform_pool_name(terraform: Path) -> str:
    """The pool a prefect.tf's worker polls (its local.prefect_work_pool_name)."""
    name = re.search(r'^  prefect_work_pool_name\s*=\s*"([^"]*)"$', terraform.read_text(), re.M)
    assert name, f"{terraform} has no local prefect_work_pool_name"
    return name.group(1)


def make_flow_deploy(terraform_output: dict[str, Any], image: str, tmp_path: Path) -> str:
    """Run `make flow-deploy TRAINING_IMAGE=image` against the running Prefect server, with a
    `terraform` that answers `output -raw prefect_work_pool` as an applied state would."""
    bin_dir = terraform_outputs(
        tmp_path / "bin", {"prefect_work_pool": json.dumps(terraform_output)}
    )
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PREFECT_API_URL": str(get_current_settings().api.url),
    }
    return run_make("flow-deploy", f"TRAINING_IMAGE={image}", env=env).stdout


def deployed_configurations(pool_type: str) -> dict[str, BaseJobConfiguration]:
    """Each deployment of prefect.yaml, by name, with the job configuration the pool type's
    worker would build for its flow runs; every declared deployment must be there."""
    worker = BaseWorker.get_worker_class_from_type(pool_type)
    assert worker, f"no {pool_type} worker is installed"

    async def configurations() -> dict[str, BaseJobConfiguration]:
        async with get_client() as client:
            pool = await client.read_work_pool(POOL)
            assert pool.type == pool_type, pool.type
            return {
                deployment.name: await worker.job_configuration.from_template_and_values(
                    pool.base_job_template, deployment.job_variables or {}
                )
                for deployment in await client.read_deployments()
            }

    found = asyncio.run(configurations())
    declared = yaml.safe_load(PREFECT_FILE.read_text())["deployments"]
    assert sorted(found) == sorted(deployment["name"] for deployment in declared)
    return found
