"""Who may call the API on each cloud, read from the rendered Terraform and Kubernetes
overlays: with the public opt-in off (the default, and every other variable as it may be),
no caller on the internet reaches the API without authenticating; with it on, the API is
reachable from the internet and only through authentication. checkov has no rule for
either (it cannot tell an opt-in from a default), so this test holds the promise.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.hcl import Terraform, Unknown, block
from support.rendering import defaults, render_copier

# ---- how an unauthenticated caller on the internet reaches the API, per cloud -------------
AWS_AUTHENTICATION = {"jwt-validation", "authenticate-oidc", "authenticate-cognito"}
AWS_NO_FORWARD = {"redirect", "fixed-response"}


def aws_open_doors(tf: Terraform) -> list[str]:
    if tf.value(tf.resources["aws_lb", "api"]["internal"]) is True:
        return []
    doors = []
    for listener in tf.of_kind("aws_lb_listener"):
        actions = sorted(tf.blocks(listener, "default_action"), key=lambda a: a.get("order", 0))
        kinds = [action["type"] for action in actions]
        if kinds and (kinds[0] in AWS_AUTHENTICATION or set(kinds) <= AWS_NO_FORWARD):
            continue
        doors.append(f"internet-facing load balancer, listener on {listener['port']}: {kinds}")
    return doors


def azure_open_doors(tf: Terraform) -> list[str]:
    app = tf.resources["azurerm_container_app", "api"]
    environment = tf.resources["azurerm_container_app_environment", "this"]
    external = tf.value(block(app, "ingress")["external_enabled"])
    if not external or tf.value(environment.get("internal_load_balancer_enabled", False)):
        return []
    for config in tf.of_kind("azapi_resource"):
        if not config["type"].startswith("Microsoft.App/containerApps/authConfigs@"):
            continue
        properties = config["body"]["properties"]
        entra = properties["identityProviders"]["azureActiveDirectory"]
        if (
            properties["platform"]["enabled"] is True
            and properties["globalValidation"]["unauthenticatedClientAction"] == "Return401"
            and entra["enabled"] is True
            and entra["validation"]["allowedAudiences"]
        ):
            return []
    return ["external ingress on an internet-facing environment, no built-in authentication"]


def gcp_open_doors(tf: Terraform) -> list[str]:
    service = tf.resources["google_cloud_run_v2_service", "api"]
    if tf.value(service.get("invoker_iam_disabled", False)):
        return ["the invoker IAM check is disabled"]
    members: list[str] = []
    for kind in ("google_cloud_run_v2_service_iam_member", "google_cloud_run_service_iam_member"):
        members += [body["member"] for body in tf.of_kind(kind)]
    for kind in ("google_cloud_run_v2_service_iam_binding", "google_cloud_run_service_iam_binding"):
        members += [member for body in tf.of_kind(kind) for member in body["members"]]
    anyone = {"allUsers", "allAuthenticatedUsers"} & set(members)
    if not anyone:
        return []
    container = block(block(service, "template"), "containers")
    environment = {env["name"]: env.get("value") for env in container.get("env", [])}
    for dynamic in container.get("dynamic", []):
        if "env" not in dynamic:
            continue
        try:
            items = tf.value(dynamic["env"]["for_each"])
        except Unknown:  # another resource's attributes (the runtime secrets)
            continue
        if isinstance(items, dict):
            environment.update(items)
    if any(
        name.endswith("_SERVE__AUTH__ENABLED") and value == "true"
        for name, value in environment.items()
    ):
        return []
    return [f"{sorted(anyone)} may invoke the service and the API checks no token"]


OpenDoors = Callable[[Terraform], list[str]]
CLOUDS: dict[str, tuple[OpenDoors, list[dict[str, Any]], str]] = {
    # cloud: (open doors, the private variants of the variables, what public = true opens)
    "aws": (aws_open_doors, [{}, {"caller_cidrs": ["10.20.0.0/16"]}], "internal"),
    "azure": (
        azure_open_doors,
        [
            {},
            {
                "infrastructure_subnet_id": "/subscriptions/s/resourceGroups/g/providers/"
                "Microsoft.Network/virtualNetworks/v/subnets/apps"
            },
        ],
        "external_enabled",
    ),
    "gcp": (gcp_open_doors, [{}, {"min_instances": 1}], "allUsers"),
}


@pytest.fixture(scope="module")
def projects(copier_source: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {
        cloud: render_copier(
            copier_source, {**defaults(), "cloud": cloud}, tmp_path_factory.mktemp(cloud)
        )
        for cloud in CLOUDS
    }


def root(projects: dict[str, Path], cloud: str) -> Path:
    return projects[cloud] / "deploy" / cloud / "terraform"


@pytest.mark.parametrize("cloud", CLOUDS)
def test_private_by_default(projects: dict[str, Path], cloud: str) -> None:
    """With public = false, nothing on the internet reaches the API unauthenticated."""
    open_doors, variants, _ = CLOUDS[cloud]
    for variables in variants:
        tf = Terraform(root(projects, cloud), public=False, **variables)
        assert tf.variables["public"] is False
        assert not open_doors(tf), f"{cloud} {variables}: {open_doors(tf)}"


@pytest.mark.parametrize("cloud", CLOUDS)
def test_public_only_through_authentication(projects: dict[str, Path], cloud: str) -> None:
    """public = true opens the API to the internet (so the check above has something to
    tell apart), and only through the platform's authentication."""
    open_doors, _, opened = CLOUDS[cloud]
    private = Terraform(root(projects, cloud), public=False)
    public = Terraform(root(projects, cloud), public=True)
    assert open_doors(public) == [], open_doors(public)
    if cloud == "aws":
        assert private.value(private.resources["aws_lb", "api"]["internal"]) is True
        assert public.value(public.resources["aws_lb", "api"]["internal"]) is False
    elif cloud == "azure":
        ingress = block(public.resources["azurerm_container_app", "api"], "ingress")
        assert public.value(ingress[opened]) is True
    else:
        members = [b["member"] for b in public.of_kind("google_cloud_run_v2_service_iam_member")]
        assert opened in members


OVERLAY_INGRESS = {
    # cloud: (annotation or field, the private value)
    "aws": ("alb.ingress.kubernetes.io/scheme", "internal"),
    "gcp": ("kubernetes.io/ingress.class", "gce-internal"),
    "azure": ("ingressClassName", "nginx-internal"),
}


@pytest.mark.parametrize("cloud", OVERLAY_INGRESS)
def test_kubernetes_overlays_are_internal(projects: dict[str, Path], cloud: str) -> None:
    """The cloud's Kubernetes overlay puts the API behind an internal load balancer."""
    ingress = yaml.safe_load(
        (projects[cloud] / "deploy" / cloud / "k8s" / "ingress.yaml").read_text(encoding="utf-8")
    )
    key, private = OVERLAY_INGRESS[cloud]
    where = ingress["spec"] if key == "ingressClassName" else ingress["metadata"]["annotations"]
    assert where[key] == private, f"{cloud}: {key} = {where[key]}"
