"""What deploy/gcp and deploy/azure promise (their README tables, the issue's security
bar), read from the rendered Terraform itself: every combination of CI provider, since the
CI identities differ per provider. checkov covers the generic rules (tests/support/cloud_checks.py);
these are the promises it has no rule for, such as CMEK on every GCP store, probes on the
API's own endpoints, Key Vault in RBAC mode or no key-based identity anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from support.hcl import block, plain
from support.rendering import LONGEST_SLUG, choices, defaults, render_copier

Resources = dict[tuple[str, str], dict[str, Any]]


def terraform(root: Path) -> tuple[Resources, dict[str, Any]]:
    resources: Resources = {}
    settings: dict[str, Any] = {}
    for path in sorted(root.glob("*.tf")):
        document = plain(hcl2.loads(path.read_text(encoding="utf-8")))
        for section in document.get("resource", []):
            for kind, named in section.items():
                for name, body in named.items():
                    resources[kind, name] = body
        for section in document.get("terraform", []):
            settings.update(section)
    return resources, settings


def probes(container: dict[str, Any], kind: str) -> Iterator[str]:
    for probe in container.get(kind, []):
        yield block(probe, "http_get")["path"] if "http_get" in probe else probe["path"]


@pytest.fixture(scope="module", params=choices("ci"))
def rendered(request: pytest.FixtureRequest, copier_source: Path, tmp_path_factory: Any) -> Any:
    projects = {}
    for cloud in ("gcp", "azure"):
        answers = {**defaults(), "cloud": cloud, "ci": request.param}
        target = tmp_path_factory.mktemp(f"{cloud}-{request.param}")
        projects[cloud] = render_copier(copier_source, answers, target)
    return request.param, projects


def test_gcp_keeps_its_promises(rendered: Any) -> None:
    ci, projects = rendered
    resources, settings = terraform(projects["gcp"] / "deploy" / "gcp" / "terraform")
    cmek = "${google_kms_crypto_key.data.id}"

    bucket = resources["google_storage_bucket", "artifacts"]
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert block(bucket, "versioning")["enabled"] is True
    assert block(bucket, "encryption")["default_kms_key_name"] == cmek
    registry = resources["google_artifact_registry_repository", "images"]
    assert registry["kms_key_name"] == cmek
    assert block(registry, "docker_config")["immutable_tags"] is True
    secret = resources["google_secret_manager_secret", "runtime"]
    replica = block(secret, "replication", "user_managed", "replicas")
    assert block(replica, "customer_managed_encryption")["kms_key_name"] == cmek

    service = resources["google_cloud_run_v2_service", "api"]
    template = block(service, "template")
    assert template["service_account"] == "${google_service_account.api.email}"
    scaling = block(template, "scaling")
    assert scaling["min_instance_count"] == "${var.min_instances}"
    assert scaling["max_instance_count"] == "${var.max_instances}"
    container = block(template, "containers")
    assert list(probes(container, "startup_probe")) == ["/ready"]
    assert list(probes(container, "liveness_probe")) == ["/health"]
    # The API's own identity holds no project-wide role.
    assert not [
        body
        for (kind, _), body in resources.items()
        if kind == "google_project_iam_member" and "google_service_account.api" in body["member"]
    ]

    assert "google_service_account_key" not in {kind for kind, _ in resources}
    if ci == "none":
        assert ("google_iam_workload_identity_pool_provider", "ci") not in resources
    else:
        provider = resources["google_iam_workload_identity_pool_provider", "ci"]
        claim = "repository" if ci == "github" else "project_path"
        assert f"assertion.{claim} ==" in provider["attribute_condition"]
    for name, spec in block(settings, "required_providers").items():
        assert spec["version"].startswith("~> "), f"{name} is not pinned: {spec}"


def test_azure_keeps_its_promises(rendered: Any) -> None:
    ci, projects = rendered
    resources, settings = terraform(projects["azure"] / "deploy" / "azure" / "terraform")

    account = resources["azurerm_storage_account", "artifacts"]
    assert account["min_tls_version"] == "TLS1_2"
    assert account["allow_nested_items_to_be_public"] is False
    assert account["shared_access_key_enabled"] is False
    properties = block(account, "blob_properties")
    assert properties["versioning_enabled"] is True
    assert block(properties, "delete_retention_policy")["days"] >= 7
    container = resources["azurerm_storage_container", "artifacts"]
    assert container["container_access_type"] == "private"
    assert resources["azurerm_container_registry", "images"]["admin_enabled"] is False
    assert resources["azurerm_key_vault", "this"]["rbac_authorization_enabled"] is True

    app = resources["azurerm_container_app", "api"]
    assert block(app, "identity")["type"] == "UserAssigned"
    assert block(app, "registry")["identity"] == "${azurerm_user_assigned_identity.api.id}"
    template = block(app, "template")
    assert template["max_replicas"] == "${var.max_replicas}"
    assert block(template, "http_scale_rule")["concurrent_requests"]
    api = block(template, "container")
    assert list(probes(api, "startup_probe")) == ["/ready"]
    assert list(probes(api, "readiness_probe")) == ["/ready"]
    assert list(probes(api, "liveness_probe")) == ["/health"]
    cluster = resources["azurerm_machine_learning_compute_cluster", "training"]
    assert block(cluster, "identity")["type"] == "UserAssigned"
    assert block(cluster, "scale_settings")["min_node_count"] == 0

    kinds = {kind for kind, _ in resources}
    assert not kinds & {"azuread_application_password", "azuread_service_principal_password"}
    if ci == "none":
        assert ("azurerm_federated_identity_credential", "deployer") not in resources
    else:
        deployer = resources["azurerm_federated_identity_credential", "deployer"]
        assert deployer["subject"] == "${local.deploy_subject}"
        assert deployer["audience"] == ["api://AzureADTokenExchange"]
    for name, spec in block(settings, "required_providers").items():
        assert spec["version"].startswith("~> "), f"{name} is not pinned: {spec}"


def variables(root: Path) -> dict[str, dict[str, Any]]:
    document = plain(hcl2.loads((root / "variables.tf").read_text(encoding="utf-8")))
    return {name: body for block in document["variable"] for name, body in block.items()}


# A validation the value must match (not `!can(regex(...))`, one it must not).
VALIDATION_REGEX = re.compile(r'(?<!!)can\(regex\("(.+)", var\.(\w+)\)\)')
# A validation of a value the public opt-in needs (`!var.public || ...`).
OPT_IN_GUARD = "${!var.public ||"
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


@pytest.mark.parametrize("slug", ["credit_risk", LONGEST_SLUG])
@pytest.mark.parametrize("cloud", ["gcp", "azure"])
def test_defaults_pass_their_own_validation(
    cloud: str, slug: str, copier_source: Path, tmp_path: Path
) -> None:
    """Names derived from the package name (up to 32 characters, may end in `_`) are valid
    defaults: Terraform would refuse its own default at plan time otherwise."""
    answers = {**defaults(), "cloud": cloud, "project_slug": slug}
    project = render_copier(copier_source, answers, tmp_path / "project")
    checked = 0
    for name, body in variables(project / "deploy" / cloud / "terraform").items():
        default = body.get("default")
        for validation in body.get("validation", []):
            if validation["condition"].startswith(OPT_IN_GUARD):
                continue  # checked only when the opt-in is on, and the defaults leave it off
            match = VALIDATION_REGEX.search(validation["condition"])
            if isinstance(default, str) and match and match[2] == name:
                pattern = match[1].replace("\\\\", "\\")
                assert re.search(pattern, default), f"{name} = {default!r} fails {pattern}"
                checked += 1
    assert checked >= 1
    overlay = project / "deploy" / cloud / "k8s" / "kustomization.yaml"
    kustomization = yaml.safe_load(overlay.read_text(encoding="utf-8"))
    assert DNS_LABEL.fullmatch(kustomization["namespace"]), kustomization["namespace"]


# Google's rule for a service account's id: 6 to 30 characters, a letter first, no hyphen last.
SERVICE_ACCOUNT_ID = re.compile(r"[a-z][-a-z0-9]{4,28}[a-z0-9]")


def test_gcp_service_account_ids_fit_the_longest_name(copier_source: Path, tmp_path: Path) -> None:
    """Every service account's id is `${var.name}-<what>`: with the longest name its
    validation admits, each still fits Google's 30 characters (Terraform cannot tell before
    the API refuses it). Prefect's, Kubeflow's, Flyte's and both CI providers' accounts are
    among them."""
    ids = []
    for ci, orchestrator in (("github", "prefect"), ("gitlab", "kubeflow"), ("github", "flyte")):
        answers = {**defaults(), "cloud": "gcp", "orchestrator": orchestrator, "ci": ci}
        project = render_copier(copier_source, answers, tmp_path / f"{ci}-{orchestrator}")
        root = project / "deploy" / "gcp" / "terraform"
        validation = variables(root)["name"]["validation"][0]["condition"]
        bound = re.search(r"\{1,(\d+)\}", validation)
        assert bound, validation
        longest = "n" * (int(bound[1]) + 2)
        resources, _ = terraform(root)
        ids += [
            body["account_id"].replace("${var.name}", longest)
            for (kind, _), body in resources.items()
            if kind == "google_service_account"
        ]
    # api, trainer, deployer, planner, Prefect's flows and worker, Kubeflow's pipelines,
    # Flyte's control plane
    assert len(set(ids)) >= 8, ids
    too_long = sorted({i for i in ids if not SERVICE_ACCOUNT_ID.fullmatch(i)})
    assert not too_long, too_long
