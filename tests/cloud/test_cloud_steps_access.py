"""What an orchestrator's deployed steps may do in the artifact store, read from each cloud's
Terraform for every orchestrator that deploys there: the READMEs promise that the steps
read the inference log and the day's batches, write the scores, and read and write their
own workspace where it is in the store (Metaflow's prefix, Kubeflow's folder on Vertex AI;
on EKS and AKS, Kubeflow's is a volume), and nothing else of the store
(not the models, the DVC remote or the tracker's store). checkov has no rule for a
prefix, so this test holds the promise, for every identity the orchestrator's file grants
object access to: AWS policy documents, Google Cloud managed-folder and bucket roles,
Azure role assignments and their conditions.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcl2
import pytest

from support.hcl import plain
from support.rendering import defaults, render_copier

READ, WRITE = "read", "write"
# Every prefix a step reads; those it writes (a workspace is added per orchestrator).
STEPS_READ = {"inference", "batches", "scores"}
STEPS_WRITE = {"scores"}
# Vertex AI's components keep theirs in the bucket; on EKS and AKS, on a volume.
WORKSPACE = {("gcp", "kubeflow"): "kubeflow"} | {
    (cloud, "metaflow"): "metaflow" for cloud in ("aws", "gcp", "azure")
}
# (cloud, orchestrator) of every orchestrator whose Terraform gives its steps object access.
DEPLOYED = [
    ("aws", "prefect"),
    ("aws", "airflow"),
    ("aws", "metaflow"),
    ("aws", "dagster"),
    ("aws", "flyte"),
    ("aws", "kubeflow"),
    ("gcp", "prefect"),
    ("gcp", "flyte"),
    ("gcp", "airflow"),
    ("gcp", "kubeflow"),
    ("gcp", "metaflow"),
    ("gcp", "dagster"),
    ("azure", "prefect"),
    ("azure", "metaflow"),
    ("azure", "dagster"),
    ("azure", "flyte"),
    ("azure", "airflow"),
    ("azure", "kubeflow"),
]
S3_WRITES = {"s3:PutObject", "s3:DeleteObject", "s3:*", "*"}
S3_READS = {"s3:GetObject", "s3:*", "*"} | S3_WRITES
GCS_WRITERS = {
    "roles/storage.objectUser",
    "roles/storage.objectAdmin",
    "roles/storage.objectCreator",
}
GCS_READERS = {"roles/storage.objectViewer"} | GCS_WRITERS
GCS_BUCKET_ROLES = {"roles/storage.bucketViewer"}  # lists objects: no object is read
AZURE_WRITERS = {"Storage Blob Data Contributor", "Storage Blob Data Owner"}
AZURE_READERS = {"Storage Blob Data Reader"} | AZURE_WRITERS


def terraform(root: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each file's plain document, and every local value of the root."""
    documents, local_values = {}, {}
    for path in sorted(root.glob("*.tf")):
        documents[path.name] = plain(hcl2.loads(path.read_text(encoding="utf-8")))
        for section in documents[path.name].get("locals", []):
            local_values.update(section)
    return documents, local_values


def resolved(text: str, local_values: dict[str, Any]) -> str:
    """`${local.name}` replaced by the local's literal value."""
    return re.sub(r"\$\{local\.(\w+)\}", lambda m: str(local_values[m[1]]), text)


def named(document: dict[str, Any], section: str, kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, body)
        for entry in document.get(section, [])
        for found, bodies in entry.items()
        if found == kind
        for name, body in bodies.items()
    ]


def aws_grants(document: dict[str, Any], local_values: dict[str, Any]) -> list[tuple[str, str]]:
    """(access, prefix) of every Allow on the artifact bucket's objects; the prefix is `*`
    where a statement reaches the whole bucket."""
    bucket = "${aws_s3_bucket.artifacts.arn}"
    grants = []
    for _name, body in named(document, "data", "aws_iam_policy_document"):
        for statement in body.get("statement", []):
            if statement.get("effect", "Allow") == "Deny":
                continue
            actions = set(statement["actions"])
            for resource in statement.get("resources", []):
                if resource == "*" or resource.startswith(f"{bucket}/"):
                    path = resolved(resource.removeprefix(f"{bucket}/"), local_values)
                    prefix = path.removesuffix("/*") if path.endswith("/*") else "*"
                    if actions & S3_WRITES:
                        grants.append((WRITE, prefix))
                    elif actions & S3_READS:
                        grants.append((READ, prefix))
    return grants


def gcp_members(body: dict[str, Any], local_values: dict[str, Any]) -> list[dict[str, Any]]:
    """What a resource grants: itself, its for_each's literal map, or the literal map of
    the local its for_each expression builds from (a map of a folder and a role each)."""
    for_each = body.get("for_each", {"": body})
    if isinstance(for_each, dict):
        return list(for_each.values())
    grants = [
        local_values[name]
        for name in re.findall(r"local\.(\w+)", for_each)
        if isinstance(local_values.get(name), dict)
        and all(isinstance(v, dict) and "role" in v for v in local_values[name].values())
    ]
    assert grants, f"no grants found for the for_each {for_each}"
    return [member for grant in grants for member in grant.values()]


def gcp_grants(document: dict[str, Any], local_values: dict[str, Any]) -> list[tuple[str, str]]:
    """(access, folder) of every object role on a managed folder (the artifact bucket's);
    `*` for a role on the whole artifact bucket."""
    folder = re.compile(r"^\$\{google_storage_managed_folder\.(\w+)\.name\}$")
    artifacts = "${google_storage_bucket.artifacts.name}"
    grants = []
    for _name, body in named(document, "resource", "google_storage_managed_folder_iam_member"):
        for member in gcp_members(body, local_values):
            matched = folder.match(member.get("folder") or member["managed_folder"])
            assert matched, member
            role = member["role"]
            if role in GCS_WRITERS:
                grants.append((WRITE, matched[1]))
            elif role in GCS_READERS:
                grants.append((READ, matched[1]))
    for _name, body in named(document, "resource", "google_storage_bucket_iam_member"):
        if body["bucket"] != artifacts:  # an orchestrator's own bucket (Flyte's)
            continue
        if body["role"] not in GCS_BUCKET_ROLES:
            grants.append((WRITE if body["role"] in GCS_WRITERS else READ, "*"))
    return grants


def azure_grants(document: dict[str, Any], local_values: dict[str, Any]) -> list[tuple[str, str]]:
    """(access, path) of every path a built-in blob role's condition allows on the artifacts
    container; `*` for one without a condition (custom roles here are the Prefect worker's,
    on container groups)."""
    grants = []
    for _name, body in named(document, "resource", "azurerm_role_assignment"):
        if "storage" in body["scope"] and ".artifacts." not in body["scope"]:
            continue  # an orchestrator's own storage (Flyte's)
        name = body.get("role_definition_name", "")
        roles = [v["role"] for v in body["for_each"].values()] if "each." in name else [name]
        for role in roles:
            if role not in AZURE_READERS:
                continue
            access = WRITE if role in AZURE_WRITERS else READ
            condition = resolved(body.get("condition", ""), local_values)
            paths = re.findall(r"blobs:path\] StringLike '([\w-]+)/\*'", condition)
            grants += [(access, path) for path in paths] or [(access, "*")]
    return grants


GRANTS = {"aws": aws_grants, "gcp": gcp_grants, "azure": azure_grants}


def excess(grants: list[tuple[str, str]], deployed: tuple[str, str]) -> list[str]:
    workspace = {WORKSPACE[deployed]} if deployed in WORKSPACE else set()
    allowed = {WRITE: STEPS_WRITE | workspace, READ: STEPS_READ | workspace}
    return [f"{access} {prefix}" for access, prefix in grants if prefix not in allowed[access]]


@pytest.mark.parametrize(("cloud", "orchestrator"), DEPLOYED)
def test_deployed_steps_reach_only_their_prefixes(
    cloud: str, orchestrator: str, copier_source: Path, tmp_path: Path
) -> None:
    answers = {**defaults(), "cloud": cloud, "orchestrator": orchestrator}
    project = render_copier(copier_source, answers, tmp_path / "project")
    documents, local_values = terraform(project / "deploy" / cloud / "terraform")
    grants = GRANTS[cloud](documents[f"{orchestrator}.tf"], local_values)
    assert {(WRITE, "scores"), (READ, "inference"), (READ, "batches")} <= set(grants), grants
    if (cloud, orchestrator) in WORKSPACE:
        assert (WRITE, WORKSPACE[cloud, orchestrator]) in grants, grants
    assert not excess(grants, (cloud, orchestrator)), excess(grants, (cloud, orchestrator))
