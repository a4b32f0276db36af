"""Who may have signed the models the API loads (params.yaml serve.trusted_signers), set per
cloud in the deploy configuration: each cloud's Terraform gives the API's container a
`trusted_signers` variable, by default the signer CD builds the image to trust (CT's keyless
identity in CI, else the public key the image carries), so that a deployment and its image
never disagree; the Kubernetes overlays get the same value from Terraform's output through
`make <cluster>-deploy`. Read from the renders of every CI provider, and one render whose
orchestrator (not the CI provider) runs CT.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from support.gitlab_yaml import GitLabLoader
from support.hcl import Terraform, block
from support.rendering import defaults, render_copier

CLOUDS = ("aws", "gcp", "azure")
CASES = [("github", "none"), ("gitlab", "none"), ("none", "none"), ("github", "prefect")]
# The repository the CI runs in, as each CI provider and each cloud's variables name it.
OWNER, REPOSITORY, BRANCH = "acme", "credit-risk", "main"
VARIABLES = {
    "github_owner": OWNER,
    "github_repo": REPOSITORY,
    "github_repository": f"{OWNER}/{REPOSITORY}",
    "gitlab_project_path": f"{OWNER}/{REPOSITORY}",
    "deploy_branch": BRANCH,
}
CI_CONTEXT = {
    "${{ github.repository }}": f"{OWNER}/{REPOSITORY}",
    "${{ github.event.repository.default_branch }}": BRANCH,
    "${CI_SERVER_URL}": "https://gitlab.com",
    "${CI_PROJECT_PATH}": f"{OWNER}/{REPOSITORY}",
    "${CI_DEFAULT_BRANCH}": BRANCH,
}
# Terraform's choice: the variable when set, else CT's signer (both JSON-encoded).
DEFAULTED = (
    "${length(var.trusted_signers) > 0"
    " ? jsonencode(var.trusted_signers) : jsonencode([local.ct_signer])}"
)
SETTINGS_PREFIX = "CREDIT_RISK"  # the default project name's settings variables
CLUSTER_DEPLOY = {"aws": "eks-deploy", "gcp": "gke-deploy", "azure": "aks-deploy"}


@pytest.fixture(scope="module", params=CASES, ids=["-".join(case) for case in CASES])
def projects(
    request: pytest.FixtureRequest, copier_source: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    ci, orchestrator = request.param
    return {
        cloud: render_copier(
            copier_source,
            {**defaults(), "cloud": cloud, "ci": ci, "orchestrator": orchestrator},
            tmp_path_factory.mktemp(f"{cloud}-{ci}-{orchestrator}"),
        )
        for cloud in CLOUDS
    }


def in_context(text: str) -> str:
    for name, value in CI_CONTEXT.items():
        text = text.replace(name, value)
    return text


def image_signers(project: Path, prefix: str) -> list[dict[str, str]]:
    """Who the image CD builds trusts: the variable CD passes as the build argument
    TRUSTED_SIGNERS, evaluated in CI_CONTEXT; without a CI provider, the Dockerfile's
    default, as `make docker-build` builds it."""
    name = f"{prefix}_SERVE__TRUSTED_SIGNERS"
    workflow = project / ".github" / "workflows" / "cd.yml"
    pipeline = project / ".gitlab-ci.yml"
    if workflow.exists():
        value = yaml.safe_load(workflow.read_text(encoding="utf-8"))["env"][name]
    elif pipeline.exists():
        jobs = yaml.load(pipeline.read_text(encoding="utf-8"), Loader=GitLabLoader)
        value = jobs[".trusts-ct"]["variables"][name]
    else:
        dockerfile = (project / "Dockerfile").read_text(encoding="utf-8")
        (value,) = re.findall(r"^ARG TRUSTED_SIGNERS=(.+)$", dockerfile, flags=re.MULTILINE)
        value = shlex.split(value)[0]
    signers: list[dict[str, str]] = json.loads(in_context(value))
    return signers


def api_environment(tf: Terraform, cloud: str) -> dict[str, str]:
    """The API container's environment variables set in Terraform, as expressions."""
    if cloud == "aws":
        task = tf.resources["aws_ecs_task_definition", "api"]["container_definitions"]
        pairs = re.findall(r'\{name = "(\w+)", value = ([^}]+)\}', task)
        return {name: "${" + value.strip() + "}" for name, value in pairs}
    if cloud == "gcp":
        service = tf.resources["google_cloud_run_v2_service", "api"]
        container = block(block(service, "template"), "containers")
    else:
        app = tf.resources["azurerm_container_app", "api"]
        container = block(block(app, "template"), "container")
    return {env["name"]: env["value"] for env in container.get("env", []) if "value" in env}


def ct_signer(tf: Terraform) -> dict[str, str]:
    """local.ct_signer with its variables (VARIABLES, else their defaults) filled in."""
    signer: dict[str, str] = tf.locals["ct_signer"]
    return {
        key: re.sub(r"\$\{var\.(\w+)\}", lambda m: str(tf.variables[m[1]]), value)
        for key, value in signer.items()
    }


@pytest.mark.parametrize("cloud", CLOUDS)
def test_the_api_trusts_by_default_whom_its_image_trusts(
    projects: dict[str, Path], cloud: str
) -> None:
    project = projects[cloud]
    prefix = SETTINGS_PREFIX
    root = project / "deploy" / cloud / "terraform"
    tf = Terraform(root)
    tf.variables.update({k: v for k, v in VARIABLES.items() if k in tf.variables})
    assert tf.variables["trusted_signers"] == [], "unset, the deployment trusts CT's signer"
    environment = api_environment(tf, cloud)
    assert environment.get(f"{prefix}_SERVE__TRUSTED_SIGNERS") == "${local.trusted_signers}", (
        environment
    )
    assert tf.locals["trusted_signers"] == DEFAULTED
    assert [ct_signer(tf)] == image_signers(project, prefix)

    outputs = "".join(p.read_text(encoding="utf-8") for p in root.glob("outputs.tf"))
    assert re.search(r'output "trusted_signers" \{[^}]*value\s+= local\.trusted_signers', outputs)


@pytest.mark.parametrize("cloud", CLOUDS)
def test_the_cluster_overlay_reads_the_signers_terraform_gives(
    projects: dict[str, Path], cloud: str, tmp_path: Path
) -> None:
    """`make <cluster>-deploy` writes Terraform's trusted_signers (JSON, quotes and all) into
    the ConfigMap that the overlay's API container reads the variable from."""
    project = projects[cloud]
    signers = json.dumps([{"identity": "https://x/ct.yml@refs/heads/main", "issuer": "https://x"}])
    fake = tmp_path / "terraform"
    fake.write_text(
        '#!/bin/sh\n[ "$3" = trusted_signers ] && printf %s '
        + shlex.quote(signers)
        + ' || printf "fake-%s" "$3"\n',
        encoding="utf-8",
    )
    fake.chmod(0o755)
    planned = subprocess.run(
        ["make", "-n", CLUSTER_DEPLOY[cloud], "IMAGE=registry/api@sha256:0", f"TF={fake}"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.replace("\\\n", " ")
    (command,) = [line for line in planned.splitlines() if "configmap model-signers" in line]
    words = shlex.split(command.split("|")[0])
    assert f"--from-literal=json={signers}" in words, command

    overlay = project / "deploy" / cloud / "k8s" / "kustomization.yaml"
    patches = yaml.safe_load(overlay.read_text(encoding="utf-8"))["patches"]
    env = [
        variable
        for patch in patches
        for op in yaml.safe_load(patch["patch"])
        if op["path"] == "/spec/template/spec/containers/0/env"
        for variable in op["value"]
    ]
    (trusted,) = [v for v in env if v["name"].endswith("_SERVE__TRUSTED_SIGNERS")]
    assert trusted["valueFrom"]["configMapKeyRef"] == {"name": "model-signers", "key": "json"}
