"""With a cloud, the data the schedules move lives in its bucket: the API's inference log, and
batch scoring's batches and scores. What each cloud's render promises, read from the render
itself (Terraform, Kubernetes overlays, Make targets, CI, the project's dependencies).
tests/deep/test_deep_cloud_log.py runs the AWS round trip of the log for real.

Per cloud: the serving image can write the URL (fsspec's filesystem package for its scheme
is a runtime dependency); the serving identity may create objects under the bucket's
inference/ prefix and may not read or delete them; the container and the cluster overlays
get `<PREFIX>_INFERENCE_LOG__URL`; Terraform outputs that URL; the identity CM runs as in CI
may read it, and CM signs in as that identity. Batch scoring in CI signs in as the same
identity, which may read batches/ and read, write and delete under scores/ (its output is
renamed into place) and nothing else there; Terraform outputs both URLs with `{date}`.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from support.gitlab_yaml import GitLabLoader
from support.hcl import block, plain
from support.project_files import BIN
from support.rendering import defaults, render_copier

CLOUDS = ("aws", "gcp", "azure")
CLUSTERS = {"aws": "eks", "gcp": "gke", "azure": "aks"}
# fsspec's registry (fsspec.registry.known_implementations): the package behind each scheme.
FILESYSTEMS = {"s3": "s3fs", "gs": "gcsfs", "az": "adlfs"}
PREFIX = "CREDIT_RISK"  # the default package name, upper-cased: the settings' env prefix
VARIABLE = f"{PREFIX}_INFERENCE_LOG__URL"
SWITCH = f"{PREFIX}_INFERENCE_LOG__ENABLED"  # the image sets it false; deployments turn it on
LOG_FILESYSTEMS = set(FILESYSTEMS.values())


@pytest.fixture(scope="module")
def renders(copier_source: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each cloud with GitHub (and AWS with GitLab), no orchestrator: CM runs in CI."""
    projects = {}
    for name, answers in {
        **{cloud: {"cloud": cloud} for cloud in (*CLOUDS, "local")},
        "aws-gitlab": {"cloud": "aws", "ci": "gitlab"},
        "gcp-gitlab": {"cloud": "gcp", "ci": "gitlab"},
        "azure-gitlab": {"cloud": "azure", "ci": "gitlab"},
    }.items():
        target = tmp_path_factory.mktemp(name)
        projects[name] = render_copier(copier_source, {**defaults(), **answers}, target)
    return projects


def hcl(root: Path) -> dict[str, Any]:
    """Every block of a Terraform root, by kind: resource/data as {(type, name): body},
    locals and outputs as {name: value}."""
    found: dict[str, Any] = {"resource": {}, "data": {}, "locals": {}, "output": {}}
    for path in sorted(root.glob("*.tf")):
        document = plain(hcl2.loads(path.read_text(encoding="utf-8")))
        for kind in ("resource", "data"):
            for entry in document.get(kind, []):
                for type_, named in entry.items():
                    for name, body in named.items():
                        found[kind][type_, name] = body
        for entry in document.get("locals", []):
            found["locals"].update(entry)
        for entry in document.get("output", []):
            for name, body in entry.items():
                found["output"][name] = body
    return found


def runtime_packages(project: Path) -> set[str]:
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    return {re.split(r"[<>=!~\[ ]", d, maxsplit=1)[0] for d in pyproject["project"]["dependencies"]}


def log_url(terraform: dict[str, Any]) -> str:
    url = terraform["locals"]["inference_log_url"]
    assert terraform["output"]["inference_log_url"]["value"] == "${local.inference_log_url}"
    return str(url)


def check_filesystem(project: Path, url: str) -> None:
    scheme = url.split("://", 1)[0]
    assert scheme in FILESYSTEMS, url
    packages = runtime_packages(project)
    assert FILESYSTEMS[scheme] in packages, f"{url} needs {FILESYSTEMS[scheme]}: {packages}"
    assert not (packages & LOG_FILESYSTEMS) - {FILESYSTEMS[scheme]}, packages


def statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    found = policy.get("statement", [])
    return found if isinstance(found, list) else [found]


def actions_on(policy: dict[str, Any], resource: str) -> set[str]:
    return {
        action
        for statement in statements(policy)
        if resource in statement.get("resources", [])
        for action in statement["actions"]
    }


def test_local_adds_no_cloud_filesystem(renders: dict[str, Path]) -> None:
    assert not runtime_packages(renders["local"]) & LOG_FILESYSTEMS


def test_aws_serving_role_writes_the_log_and_ci_reads_it(renders: dict[str, Path]) -> None:
    project = renders["aws"]
    root = project / "deploy" / "aws" / "terraform"
    terraform = hcl(root)
    url = log_url(terraform)
    assert url.startswith("s3://${aws_s3_bucket.artifacts.bucket}/"), url
    check_filesystem(project, url)
    objects = "${aws_s3_bucket.artifacts.arn}/${local.inference_log_prefix}/*"

    # The task role (ECS, and EKS through Pod Identity) holds exactly one inline policy.
    (policy_name,) = [
        name
        for (kind, name), body in terraform["resource"].items()
        if kind == "aws_iam_role_policy" and body["role"] == "${aws_iam_role.task.id}"
    ]
    policy = terraform["data"]["aws_iam_policy_document", policy_name]
    assert actions_on(policy, objects) == {"s3:PutObject"}
    granted = {a for s in statements(policy) for a in s["actions"]}
    assert not {a for a in granted if a.startswith("s3:") and a != "s3:PutObject"} - {
        "s3:GetBucketLocation"
    }, granted
    assert "kms:GenerateDataKey" in actions_on(policy, "${aws_kms_key.main.arn}")

    serving = (root / "serving.tf").read_text(encoding="utf-8")
    assert f'{{ name = "{VARIABLE}", value = local.inference_log_url }}' in serving
    assert f'{{ name = "{SWITCH}", value = "true" }}' in serving

    # CM in CI runs as the deploy role (the only role trusted on the deploy branch).
    ci = terraform["data"]["aws_iam_policy_document", "ci_deploy"]
    assert "s3:GetObject" in actions_on(ci, objects)
    assert "s3:ListBucket" in actions_on(ci, "${aws_s3_bucket.artifacts.arn}")


def test_gcp_service_account_writes_the_log_and_ci_reads_it(renders: dict[str, Path]) -> None:
    project = renders["gcp"]
    terraform = hcl(project / "deploy" / "gcp" / "terraform")
    url = log_url(terraform)
    assert url.startswith("gs://${google_storage_bucket.artifacts.name}/"), url
    check_filesystem(project, url)
    folder = terraform["resource"]["google_storage_managed_folder", "inference"]
    assert folder["bucket"] == "${google_storage_bucket.artifacts.name}"
    assert url.endswith('${trimsuffix(google_storage_managed_folder.inference.name, "/")}')

    def roles(member: str) -> set[str]:
        return {
            body["role"]
            for (kind, _), body in terraform["resource"].items()
            if kind == "google_storage_managed_folder_iam_member"
            and body["managed_folder"] == "${google_storage_managed_folder.inference.name}"
            and body["member"] == f"serviceAccount:${{google_service_account.{member}.email}}"
        }

    assert roles("api") == {"roles/storage.objectCreator"}  # create, never read or delete
    assert roles("deployer") == {"roles/storage.objectViewer"}
    container = block(terraform["resource"]["google_cloud_run_v2_service", "api"], "template")
    env = block(container, "containers")["env"]
    assert {"name": VARIABLE, "value": "${local.inference_log_url}"} in env
    assert {"name": SWITCH, "value": "true"} in env


def test_azure_identity_writes_the_log_and_ci_reads_it(renders: dict[str, Path]) -> None:
    project = renders["azure"]
    terraform = hcl(project / "deploy" / "azure" / "terraform")
    url = log_url(terraform)
    assert re.fullmatch(
        r"az://\$\{azurerm_storage_container\.artifacts\.name\}@"
        r"\$\{azurerm_storage_account\.artifacts\.name\}\.blob\.core\.windows\.net/"
        r"\$\{local\.inference_log_prefix\}",
        url,
    ), url
    check_filesystem(project, url)
    resources = terraform["resource"]
    role = resources["azurerm_role_definition", "inference_log_writer"]
    data_actions = set(block(role, "permissions")["data_actions"])
    blobs = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
    assert data_actions == {f"{blobs}/write", f"{blobs}/add/action"}, data_actions
    (assignment,) = [
        body
        for (kind, _), body in resources.items()
        if kind == "azurerm_role_assignment"
        and body["principal_id"] == "${azurerm_user_assigned_identity.api.principal_id}"
        and "inference_log_writer" in body.get("role_definition_id", "")
    ]
    assert assignment["scope"] == "${azurerm_storage_container.artifacts.id}"
    assert "StringLike '${local.inference_log_prefix}/*'" in assignment["condition"]

    app = block(resources["azurerm_container_app", "api"], "template", "container")
    env = {e["name"]: e.get("value") for e in app["env"]}
    assert env[VARIABLE] == "${local.inference_log_url}"
    assert env[SWITCH] == "true"
    assert env["AZURE_CLIENT_ID"] == "${azurerm_user_assigned_identity.api.client_id}"

    reader = resources["azurerm_role_assignment", "deployer_reads_inference_log"]
    assert reader["principal_id"] == "${azurerm_user_assigned_identity.deployer.principal_id}"
    assert reader["role_definition_name"] == "Storage Blob Data Reader"
    assert "'${local.inference_log_prefix}/'" in reader["condition"]


@pytest.mark.parametrize("cloud", CLOUDS)
def test_cluster_overlays_get_the_url_from_the_deploy_target(
    cloud: str, renders: dict[str, Path]
) -> None:
    project = renders[cloud]
    built = subprocess.run(
        [str(BIN / "kubectl"), "kustomize", str(project / "deploy" / cloud / "k8s")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    documents = {d["kind"]: d for d in yaml.safe_load_all(built) if d}
    (container,) = documents["Deployment"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container.get("env", [])}
    assert env[VARIABLE]["valueFrom"] == {
        "configMapKeyRef": {"name": "inference-log", "key": "url"}
    }
    assert env[SWITCH]["value"] == "true"
    egress = documents["NetworkPolicy"]["spec"]["egress"]
    assert any(
        "to" not in rule and {"port": 443, "protocol": "TCP"} in rule["ports"] for rule in egress
    ), egress
    make = (project / "deploy" / cloud / f"{cloud}.mk").read_text(encoding="utf-8")
    target = make.split(f"{CLUSTERS[cloud]}-deploy:", 1)[1]
    assert "create configmap inference-log" in target
    assert "--from-literal=url=$(call tf_output,inference_log_url)" in target


@pytest.mark.parametrize("cloud", CLOUDS)
def test_cm_signs_in_as_the_identity_that_may_read_the_log(
    cloud: str, renders: dict[str, Path]
) -> None:
    project = renders[cloud]
    workflow = yaml.safe_load((project / ".github/workflows/cm.yml").read_text(encoding="utf-8"))
    job = workflow["jobs"]["monitor"]
    assert job["permissions"]["id-token"] == "write"
    steps = [step.get("uses", step.get("id", step.get("name"))) for step in job["steps"]]
    login = f"./.github/actions/{cloud}-login"
    assert steps.index(login) < steps.index("monitor"), steps
    action = (project / login / "action.yml").read_text(encoding="utf-8")
    deployer = {"aws": "AWS_DEPLOY_ROLE_ARN", "gcp": "GCP_DEPLOYER_SERVICE_ACCOUNT"}
    assert deployer.get(cloud, "AZURE_DEPLOYER_CLIENT_ID") in action

    gitlab = renders[f"{cloud}-gitlab"]
    monitor = yaml.load(
        (gitlab / ".gitlab/continuous-training.yml").read_text(encoding="utf-8"), GitLabLoader
    )["cm-monitor"]
    assert ".as-deployer" in monitor["extends"]
    jobs = yaml.load(
        (gitlab / f".gitlab/deploy-{cloud}.yml").read_text(encoding="utf-8"), GitLabLoader
    )
    reader = jobs[".as-deployer"]
    assert deployer.get(cloud, "AZURE_DEPLOYER_CLIENT_ID") in str(reader["variables"])


# ---- batch scoring: the CI deploy identity reads batches/ and writes scores/ ---------------
SCORE_OUTPUTS = ("score_input_url", "score_output_url")


def score_urls(terraform: dict[str, Any]) -> tuple[str, str]:
    """Terraform's SCORE_INPUT and SCORE_OUTPUT suggestions: the day's file in each prefix."""
    urls = tuple(str(terraform["output"][name]["value"]) for name in SCORE_OUTPUTS)
    assert all(url.endswith("{date}.parquet") for url in urls), urls
    return urls[0], urls[1]


def test_aws_deploy_role_reads_batches_and_writes_scores(renders: dict[str, Path]) -> None:
    terraform = hcl(renders["aws"] / "deploy" / "aws" / "terraform")
    bucket = "${aws_s3_bucket.artifacts.arn}"
    (attached,) = [
        body
        for (kind, _), body in terraform["resource"].items()
        if kind == "aws_iam_role_policy"
        and body["policy"] == "${data.aws_iam_policy_document.batch_scoring.json}"
    ]
    assert attached["role"] == "${aws_iam_role.ci_deploy.id}"
    policy = terraform["data"]["aws_iam_policy_document", "batch_scoring"]
    batches = f"{bucket}/${{local.batch_input_prefix}}/*"
    scores = f"{bucket}/${{local.batch_scores_prefix}}/*"
    assert actions_on(policy, batches) == {"s3:GetObject"}
    assert actions_on(policy, scores) == {"s3:DeleteObject", "s3:GetObject", "s3:PutObject"}
    assert {r for s in statements(policy) for r in s["resources"]} == {bucket, batches, scores}
    source, destination = score_urls(terraform)
    assert source.startswith("s3://${aws_s3_bucket.artifacts.bucket}/${local.batch_input_prefix}/")
    assert destination.startswith(
        "s3://${aws_s3_bucket.artifacts.bucket}/${local.batch_scores_prefix}/"
    )


def test_gcp_deployer_reads_batches_and_writes_scores(renders: dict[str, Path]) -> None:
    terraform = hcl(renders["gcp"] / "deploy" / "gcp" / "terraform")
    deployer = "serviceAccount:${google_service_account.deployer.email}"

    def roles(folder: str) -> set[str]:
        return {
            body["role"]
            for (kind, _), body in terraform["resource"].items()
            if kind == "google_storage_managed_folder_iam_member"
            and body["managed_folder"] == f"${{google_storage_managed_folder.{folder}.name}}"
            and body["member"] == deployer
        }

    assert roles("batches") == {"roles/storage.objectViewer"}
    assert roles("scores") == {"roles/storage.objectUser"}  # read, create, delete: no IAM
    source, destination = score_urls(terraform)
    assert "${google_storage_managed_folder.batches.name}" in source
    assert "${google_storage_managed_folder.scores.name}" in destination


def test_azure_deployer_reads_batches_and_writes_scores(renders: dict[str, Path]) -> None:
    terraform = hcl(renders["azure"] / "deploy" / "azure" / "terraform")
    resources = terraform["resource"]
    deployer = "${azurerm_user_assigned_identity.deployer.principal_id}"
    reader = resources["azurerm_role_assignment", "deployer_reads_batches"]
    writer = resources["azurerm_role_assignment", "deployer_writes_scores"]
    for assignment, role, prefix in (
        (reader, "Storage Blob Data Reader", "${local.batch_input_prefix}"),
        (writer, "Storage Blob Data Contributor", "${local.batch_scores_prefix}"),
    ):
        assert assignment["principal_id"] == deployer
        assert assignment["scope"] == "${azurerm_storage_container.artifacts.id}"
        assert assignment["role_definition_name"] == role
        condition = assignment["condition"]
        assert f"blobs:path] StringLike '{prefix}/*'" in condition, condition
        assert f"blobs:prefix] StringStartsWith '{prefix}/'" in condition, condition
    # Every data action the Contributor role holds is held to scores/ (not only reads).
    for action in ("write", "add/action", "delete", "move/action"):
        assert f"containers/blobs/{action}'}})" in writer["condition"], action
    source, destination = score_urls(terraform)
    assert source.endswith("${local.batch_input_prefix}/{date}.parquet")
    assert destination.endswith("${local.batch_scores_prefix}/{date}.parquet")


@pytest.mark.parametrize("cloud", [*CLOUDS, "local"])
def test_batch_scoring_in_ci_signs_in_as_the_identity_that_may_score(
    cloud: str, renders: dict[str, Path]
) -> None:
    """GitHub's batch-scoring workflow signs in before it scores when a bucket is its input or
    output; GitLab's score-batch job runs as the deploy identity. Locally neither signs in."""
    workflow = yaml.safe_load(
        (renders[cloud] / ".github/workflows/batch-scoring.yml").read_text(encoding="utf-8")
    )
    job = workflow["jobs"]["score"]
    steps = [step.get("uses", step.get("name")) for step in job["steps"]]
    if cloud == "local":
        assert "permissions" not in job
        assert not [step for step in steps if step.endswith("-login")], steps
        return
    assert job["permissions"]["id-token"] == "write"
    login = f"./.github/actions/{cloud}-login"
    assert steps.index(login) < steps.index("Score the batch"), steps
    gitlab = renders[f"{cloud}-gitlab"]
    score = yaml.load(
        (gitlab / ".gitlab/continuous-training.yml").read_text(encoding="utf-8"), GitLabLoader
    )["score-batch"]
    assert ".as-deployer" in score["extends"]
