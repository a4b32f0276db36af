"""ML Test Score, infrastructure: Prefect's flows deploy on Cloud Run
(deploy/gcp/terraform/prefect.tf, `make flow-deploy`), checked with Prefect's own machinery
where no Google Cloud project is at hand (prefect_pools.py): the pool's template from
Terraform's settings, the deployments on a temporary Prefect server, and the Cloud Run job
each would run."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from orchestration.prefect.work_pool import base_job_template
from prefect.testing.utilities import prefect_test_harness
from prefect_gcp.workers.cloud_run_v2 import (  # type: ignore[import-untyped]
    CloudRunWorkerJobV2Configuration,
)

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
TERRAFORM = PROJECT_ROOT / "deploy/gcp/terraform/prefect.tf"
IMAGE = "europe-west1-docker.pkg.dev/demo-project/demo/demo@sha256:" + "0" * 64

# What `terraform output -raw prefect_work_pool` prints, with made-up identifiers.
TERRAFORM_OUTPUT: dict[str, Any] = {
    "region": "europe-west1",
    "service_account_name": "demo-flows@demo-project.iam.gserviceaccount.com",
    "prefect_api_key_secret": {"secret": "demo-prefect-api-key", "version": "latest"},
    "memory": "2Gi",
    "timeout": 3600,
    "launch_stage": "GA",
    "env": {"DO_NOT_TRACK": "true"},
}


def test_the_sample_is_what_terraform_outputs() -> None:
    assert terraform_job_variables(TERRAFORM) == set(TERRAFORM_OUTPUT)


def test_the_worker_polls_the_pool_the_deployments_use() -> None:
    assert terraform_pool_name(TERRAFORM) == POOL


def test_the_pool_refuses_what_the_cloud_run_worker_would_not_use() -> None:
    with pytest.raises(ValueError, match="not a job variable of a cloud-run-v2 work pool: vpc_id"):
        base_job_template("cloud-run-v2", {**TERRAFORM_OUTPUT, "vpc_id": "default"})
    with pytest.raises(ValueError, match="job variable memory: String should match pattern"):
        base_job_template("cloud-run-v2", {**TERRAFORM_OUTPUT, "memory": "2GB"})


@pytest.fixture(scope="module")
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=SERVER_STARTUP_TIMEOUT):
        yield


@pytest.fixture
def application_default_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the worker finds on Cloud Run (its service account, through the metadata server),
    as `gcloud auth application-default login` leaves it on a laptop: the worker's job
    configuration names the project it runs the jobs in."""
    credentials = tmp_path / "application_default_credentials.json"
    credentials.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "demo",
                "client_secret": "demo",
                "refresh_token": "demo",
                "quota_project_id": "demo-project",
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(credentials))


def test_make_flow_deploy_runs_every_deployment_where_terraform_put_the_flows(
    prefect_server: None, application_default_credentials: None, tmp_path: Path
) -> None:
    output = make_flow_deploy(TERRAFORM_OUTPUT, IMAGE, tmp_path)
    assert "will be ignored" not in output
    for configuration in deployed_configurations("cloud-run-v2").values():
        assert isinstance(configuration, CloudRunWorkerJobV2Configuration)
        assert configuration.region == TERRAFORM_OUTPUT["region"]
        job = configuration.job_body["template"]["template"]
        assert job["serviceAccount"] == TERRAFORM_OUTPUT["service_account_name"]
        container = job["containers"][0]
        assert container.get("image") == IMAGE
        assert container["resources"]["limits"]["memory"] == TERRAFORM_OUTPUT["memory"]
        assert configuration.job_body["launchStage"] == "GA"
        assert configuration.timeout == TERRAFORM_OUTPUT["timeout"]
        secret = configuration.prefect_api_key_secret
        assert secret is not None
        assert secret.secret == TERRAFORM_OUTPUT["prefect_api_key_secret"]["secret"]
        assert configuration.env["DO_NOT_TRACK"] == "true"
