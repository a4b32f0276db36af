"""ML Test Score, infrastructure: Prefect's flows deploy on Azure Container Instances
(deploy/azure/terraform/prefect.tf, `make flow-deploy`), checked with Prefect's own machinery
where no Azure subscription is at hand (prefect_pools.py): the pool's template from
Terraform's settings, the deployments on a temporary Prefect server, and the container group
each would deploy."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from orchestration.prefect.work_pool import base_job_template
from prefect.client.schemas.objects import FlowRun
from prefect.testing.utilities import prefect_test_harness
from prefect_azure.container_instance import ACRManagedIdentity
from prefect_azure.workers.container_instance import (
    AzureContainerJobConfiguration,
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
TERRAFORM = PROJECT_ROOT / "deploy/azure/terraform/prefect.tf"
IMAGE = "crdemo.azurecr.io/demo@sha256:" + "0" * 64
GROUP = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-demo/providers"
FLOWS_IDENTITY = f"{GROUP}/Microsoft.ManagedIdentity/userAssignedIdentities/id-demo-flows"

# What `terraform output -raw prefect_work_pool` prints, with made-up identifiers.
TERRAFORM_OUTPUT: dict[str, Any] = {
    "subscription_id": "00000000-0000-0000-0000-000000000000",
    "resource_group_name": "rg-demo",
    "identities": [FLOWS_IDENTITY],
    "image_registry": {"registry_url": "crdemo.azurecr.io", "identity": FLOWS_IDENTITY},
    "entrypoint": "",
    "cpu": 1,
    "memory": 2,
    "subnet_ids": [f"{GROUP}/Microsoft.Network/virtualNetworks/vnet/subnets/flows"],
    "env": {"AZURE_CLIENT_ID": "11111111-1111-1111-1111-111111111111", "DO_NOT_TRACK": "true"},
}


def test_the_sample_is_what_terraform_outputs() -> None:
    assert terraform_job_variables(TERRAFORM) == set(TERRAFORM_OUTPUT)


def test_the_worker_polls_the_pool_the_deployments_use() -> None:
    assert terraform_pool_name(TERRAFORM) == POOL


def test_the_pool_refuses_what_the_aci_worker_would_not_use() -> None:
    pool_type = "azure-container-instance"
    with pytest.raises(ValueError, match=f"not a job variable of a {pool_type} work pool: vpc_id"):
        base_job_template(pool_type, {**TERRAFORM_OUTPUT, "vpc_id": "default"})
    with pytest.raises(ValueError, match="job variable memory: Input should be a valid number"):
        base_job_template(pool_type, {**TERRAFORM_OUTPUT, "memory": "2Gi"})


@pytest.fixture(scope="module")
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=SERVER_STARTUP_TIMEOUT):
        yield


def test_make_flow_deploy_runs_every_deployment_where_terraform_put_the_flows(
    prefect_server: None, tmp_path: Path
) -> None:
    output = make_flow_deploy(TERRAFORM_OUTPUT, IMAGE, tmp_path)
    assert "will be ignored" not in output
    for name, configuration in deployed_configurations("azure-container-instance").items():
        assert isinstance(configuration, AzureContainerJobConfiguration)
        subscription = configuration.subscription_id.get_secret_value()
        assert subscription == TERRAFORM_OUTPUT["subscription_id"]
        assert configuration.resource_group_name == TERRAFORM_OUTPUT["resource_group_name"]
        assert configuration.image_registry == ACRManagedIdentity(
            **TERRAFORM_OUTPUT["image_registry"]
        )
        assert configuration.env["AZURE_CLIENT_ID"] == TERRAFORM_OUTPUT["env"]["AZURE_CLIENT_ID"]
        # The container group the worker would deploy for a flow run of this deployment.
        configuration.prepare_for_flow_run(FlowRun(flow_id=uuid4(), name=name))
        group = configuration.arm_template["resources"][0]
        assert list(group["identity"]["userAssignedIdentities"]) == [FLOWS_IDENTITY]
        assert group["properties"]["imageRegistryCredentials"] == [
            {"server": "crdemo.azurecr.io", "identity": FLOWS_IDENTITY}
        ]
        assert group["properties"]["subnetIds"] == [{"id": TERRAFORM_OUTPUT["subnet_ids"][0]}]
        container = group["properties"]["containers"][0]["properties"]
        assert container["image"] == IMAGE
        # Prefect's command itself: the training image has no /opt/prefect/entrypoint.sh.
        assert container["command"][:3] == ["prefect", "flow-run", "execute"], container["command"]
        assert container["resources"]["requests"] == {"cpu": 1.0, "memoryInGB": 2.0}
