"""Metaflow's flows deployed to Argo Workflows on a cloud's Kubernetes (issue 26), checked
as far as this machine allows: `make flow-deploy` as a user types it, Terraform's output a
sample whose keys the render's metaflow.tf encodes, the cloud's object store a local
stand-in (its datastore), and Argo's `--only-json` in place of a cluster."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from support.aws import s3_endpoint, s3_env, s3_keys
from support.azure import azure_env, blob_names, blob_storage
from support.deep import Installed, run, timed
from support.google_cloud import google_cloud_env, metadata_server, storage_emulator
from support.reporting import RecordProperty


class StandIn(NamedTuple):
    env: dict[str, str]  # what points the cloud's clients at the stand-ins
    config: dict[str, str]  # Metaflow's settings that name them (over Terraform's sample)
    listed: Callable[[], list[str]]  # the datastore's objects


def bucket_and_prefix(sysroot: str) -> tuple[str, str]:
    """`gs://bucket/metaflow/`, `s3://bucket/metaflow` or `container/metaflow`: the bucket
    (container) and the datastore's prefix, with its slash."""
    bucket, prefix = sysroot.split("://")[-1].split("/", 1)
    return bucket, prefix.rstrip("/") + "/"


@contextmanager
def google_cloud_storage(sysroot: str, logs: Path) -> Iterator[StandIn]:
    """Google's metadata server and Cloud Storage (support/google_cloud.py)."""
    bucket, prefix = bucket_and_prefix(sysroot)
    with metadata_server() as metadata, storage_emulator(bucket, logs / "gcs.log") as gcs:

        def listed() -> list[str]:
            url = f"{gcs}/storage/v1/b/{bucket}/o?prefix={prefix}"
            with urllib.request.urlopen(url) as response:
                return [item["name"] for item in json.load(response).get("items", [])]

        yield StandIn(google_cloud_env(metadata, gcs), {}, listed)


@contextmanager
def amazon_s3(sysroot: str, logs: Path) -> Iterator[StandIn]:
    """moto's S3 server (support/aws.py)."""
    bucket, prefix = bucket_and_prefix(sysroot)
    with s3_endpoint(bucket, logs / "moto.log") as endpoint:
        yield StandIn(s3_env(endpoint), {}, lambda: s3_keys(endpoint, bucket, prefix))


@contextmanager
def azure_blob_storage(sysroot: str, logs: Path) -> Iterator[StandIn]:
    """Azurite and a managed identity endpoint (support/azure.py); the account's endpoint is
    Metaflow's setting, so the emulator's replaces the sample's."""
    container, prefix = bucket_and_prefix(sysroot)
    with blob_storage(container, logs / "azurite") as blobs:
        endpoint = {"METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT": blobs.endpoint}
        yield StandIn(azure_env(blobs), endpoint, lambda: blob_names(blobs, container, prefix))


@dataclass(frozen=True)
class ArgoCloud:
    cloud: str  # the answer
    cluster: str  # the cloud's Kubernetes
    output: str  # the Terraform output `make flow-deploy` reads
    sample: dict[str, dict[str, str]]  # what `terraform output -raw` prints, made-up names
    sysroot: str  # the sample's Metaflow setting naming the datastore's root
    image: str
    datastore: Callable[[str, Path], AbstractContextManager[StandIn]]  # sysroot, logs


ARGO_CLOUDS = {
    "gcp": ArgoCloud(
        cloud="gcp",
        cluster="GKE",
        output="metaflow_on_gke",
        sample={
            "config": {
                "METAFLOW_DEFAULT_DATASTORE": "gs",
                "METAFLOW_DATASTORE_SYSROOT_GS": "gs://demo-artifacts/metaflow/",
                "METAFLOW_KUBERNETES_NAMESPACE": "credit-risk-metaflow",
                "METAFLOW_KUBERNETES_SERVICE_ACCOUNT": "metaflow-steps",
            },
            "env": {
                "INFERENCE_LOG__URL": "gs://demo-artifacts/inference",
                "SCORE__INPUT": "gs://demo-artifacts/batches/{date}.parquet",
                "SCORE__OUTPUT": "gs://demo-artifacts/scores/{date}.parquet",
            },
        },
        sysroot="METAFLOW_DATASTORE_SYSROOT_GS",
        image="europe-docker.pkg.dev/demo-project/demo/pipeline@sha256:" + "0" * 64,
        datastore=google_cloud_storage,
    ),
    "aws": ArgoCloud(
        cloud="aws",
        cluster="EKS",
        output="metaflow_on_eks",
        sample={
            "config": {
                "METAFLOW_DEFAULT_DATASTORE": "s3",
                "METAFLOW_DATASTORE_SYSROOT_S3": "s3://demo-artifacts/metaflow",
                "METAFLOW_KUBERNETES_NAMESPACE": "credit-risk-metaflow",
                "METAFLOW_KUBERNETES_SERVICE_ACCOUNT": "metaflow-steps",
            },
            "env": {
                "INFERENCE_LOG__URL": "s3://demo-artifacts/inference",
                "SCORE__INPUT": "s3://demo-artifacts/batches/{date}.parquet",
                "SCORE__OUTPUT": "s3://demo-artifacts/scores/{date}.parquet",
            },
        },
        sysroot="METAFLOW_DATASTORE_SYSROOT_S3",
        image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/credit-risk@sha256:" + "0" * 64,
        datastore=amazon_s3,
    ),
    "azure": ArgoCloud(
        cloud="azure",
        cluster="AKS",
        output="metaflow_on_aks",
        sample={
            "config": {
                "METAFLOW_DEFAULT_DATASTORE": "azure",
                "METAFLOW_DATASTORE_SYSROOT_AZURE": "artifacts/metaflow",
                "METAFLOW_AZURE_STORAGE_BLOB_SERVICE_ENDPOINT": "https://demo.blob.core.windows.net/",
                "METAFLOW_KUBERNETES_NAMESPACE": "credit-risk-metaflow",
                "METAFLOW_KUBERNETES_SERVICE_ACCOUNT": "metaflow-steps",
                "METAFLOW_KUBERNETES_LABELS": "azure.workload.identity/use=true",
            },
            "env": {
                "INFERENCE_LOG__URL": "az://artifacts@demo.blob.core.windows.net/inference",
                "SCORE__INPUT": "az://artifacts@demo.blob.core.windows.net/batches/{date}.parquet",
                "SCORE__OUTPUT": "az://artifacts@demo.blob.core.windows.net/scores/{date}.parquet",
            },
        },
        sysroot="METAFLOW_DATASTORE_SYSROOT_AZURE",
        image="demo.azurecr.io/credit-risk@sha256:" + "0" * 64,
        datastore=azure_blob_storage,
    ),
}
# What a cluster's Argo Events install names (Metaflow's configuration, not Terraform's).
ARGO_EVENTS = {
    "METAFLOW_ARGO_EVENTS_EVENT_BUS": "default",
    "METAFLOW_ARGO_EVENTS_EVENT_SOURCE": "argo-events-webhook",
    "METAFLOW_ARGO_EVENTS_SERVICE_ACCOUNT": "operate-workflow-sa",
    "METAFLOW_ARGO_EVENTS_EVENT": "metaflow-event",
}


def json_documents(text: str) -> list[dict[str, Any]]:
    """The JSON objects printed one after another in `text`, other lines skipped."""
    decoder, documents, at = json.JSONDecoder(), [], 0
    while (start := text.find("\n{", at)) != -1:
        document, at = decoder.raw_decode(text, start + 1)
        documents.append(document)
    return documents


def terraform_stand_in(
    cloud: ArgoCloud, sample: dict[str, dict[str, str]], metaflow_tf: str, bin_dir: Path
) -> None:
    """A `terraform` in `bin_dir` whose `output -raw <cloud.output>` prints `sample`, once
    its keys are checked to be the ones the render's metaflow.tf encodes."""
    block = metaflow_tf.split(f'output "{cloud.output}"', 1)[1]
    encoded = set(re.findall(r"^\s+(\w+)\s+=", block, re.M)) - {"description", "value"}
    assert encoded == {*sample, *sample["config"], *sample["env"]}
    outputs = bin_dir / f"{cloud.output}.json"
    outputs.write_text(json.dumps(sample), "utf-8")
    terraform = bin_dir / "terraform"  # terraform -chdir=... output -raw NAME
    terraform.write_text(f'#!/bin/sh\n[ "$4" = {cloud.output} ] && exec cat {outputs}\nexit 1\n')
    terraform.chmod(0o755)


def terraform_local(text: str, name: str) -> str:
    """The literal string a Terraform file gives the local `name`."""
    (value,) = re.findall(rf'^\s+{name}\s+=\s+"([^"]+)"', text, re.M)
    return str(value)


def cluster_manifests_match(project: Path, metaflow_tf: str, cluster: dict[str, Any]) -> None:
    """orchestration/metaflow/k8s (`make flow-namespace`) makes what the deployed steps are
    given: Terraform's namespace and service account, the role Argo's executor needs bound
    to it, kubernetes.yaml's claim."""
    namespace = terraform_local(metaflow_tf, "metaflow_namespace")
    service_account = terraform_local(metaflow_tf, "metaflow_steps_sa")
    k8s = project / "orchestration/metaflow/k8s"
    kustomization = yaml.safe_load((k8s / "kustomization.yaml").read_text("utf-8"))
    assert kustomization["namespace"] == namespace, kustomization
    documents = [
        document
        for resource in kustomization["resources"]
        for document in yaml.safe_load_all((k8s / resource).read_text("utf-8"))
    ]
    by_kind = {(d["kind"], d["metadata"]["name"]): d for d in documents}
    assert ("Namespace", namespace) in by_kind, sorted(by_kind)
    assert ("ServiceAccount", service_account) in by_kind, sorted(by_kind)
    claim = by_kind["PersistentVolumeClaim", cluster["workspace_claim"]]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"], claim
    executor = {"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"]}
    bound = [
        by_kind["Role", binding["roleRef"]["name"]]
        for (kind, _), binding in by_kind.items()
        if kind == "RoleBinding"
        and {"kind": "ServiceAccount", "name": service_account} in binding["subjects"]
    ]
    assert any(
        rule.items() >= executor.items() and {"create", "patch"} <= set(rule["verbs"])
        for role in bound
        for rule in role["rules"]
    ), bound


def metaflow_deploys_to_argo(
    installed: Installed, cloud: ArgoCloud, tmp_path: Path, record_property: RecordProperty
) -> None:
    """`make flow-deploy` as typed, on `cloud`: every step of the three flows is a pod of the
    image, as the steps' service account in Terraform's namespace, with its labels,
    mounting the workspace volume, with kubernetes.yaml's settings and Secrets, Terraform's
    and the raw data's path on the volume; the code packages are in Terraform's datastore.
    An image by tag is refused in one line. The cluster's manifests match (above)."""
    project = installed.project
    metaflow_tf = (project / f"deploy/{cloud.cloud}/terraform/metaflow.tf").read_text("utf-8")
    cluster = yaml.safe_load((project / "orchestration/metaflow/kubernetes.yaml").read_text())
    cluster_manifests_match(project, metaflow_tf, cluster)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    with cloud.datastore(cloud.sample["config"][cloud.sysroot], tmp_path) as stand_in:
        config = {**cloud.sample["config"], **stand_in.config}
        terraform_stand_in(cloud, {**cloud.sample, "config": config}, metaflow_tf, bin_dir)
        env = {
            **installed.env,
            **stand_in.env,
            **ARGO_EVENTS,
            "PATH": f"{bin_dir}:{installed.env['PATH']}",
        }
        tagged = run(
            ["make", "flow-deploy", f"TRAINING_IMAGE={cloud.image.split('@')[0]}:latest"],
            project, env, check=False,
        )  # fmt: skip
        assert tagged.returncode != 0
        assert "--image must be pinned by digest" in tagged.stderr, tagged.stderr
        assert "Traceback" not in tagged.stderr
        deploy = timed(
            ["make", "flow-deploy", f"TRAINING_IMAGE={cloud.image}", "ARGO_OPTIONS=--only-json"],
            project, env, record_property, f"metaflow: make flow-deploy on {cloud.cluster}",
        )  # fmt: skip
        packages = stand_in.listed()
    templates = {doc["metadata"]["name"]: doc for doc in json_documents(deploy.stdout)}
    assert sorted(templates) == ["batchscoringflow", "monitoringflow", "trainingflow"]
    assert len(packages) >= 3, f"a code package per flow in the datastore: {packages}"
    raw_path = yaml.safe_load((project / "params.yaml").read_text())["data"]["raw_path"]
    settings = {
        "DATA__RAW_PATH": f"{cluster['workspace']}/{raw_path}",
        **cluster["env"],
        **cloud.sample["env"],
    }
    prefix = f"{installed.package.upper()}_"
    mount = {"name": cluster["workspace_claim"], "mountPath": cluster["workspace"]}
    asked = config.get("METAFLOW_KUBERNETES_LABELS", "")  # key=value,...
    labels = dict(label.split("=", 1) for label in asked.split(",") if label)
    namespace = config["METAFLOW_KUBERNETES_NAMESPACE"]
    service_account = config["METAFLOW_KUBERNETES_SERVICE_ACCOUNT"]
    for name, template in templates.items():
        assert template["metadata"]["namespace"] == namespace, name
        steps = [t for t in template["spec"]["templates"] if "container" in t]
        steps = [t for t in steps if not t["name"].endswith("-hook")]  # Metaflow's own
        assert len(steps) >= (5 if name == "trainingflow" else 2), [t["name"] for t in steps]
        for step in steps:
            container = step["container"]
            where = f"{name}/{step['name']}"
            assert step["serviceAccountName"] == service_account, where
            assert step["metadata"]["labels"].items() >= labels.items(), where
            assert container["image"] == cloud.image, where
            claims = [v["persistentVolumeClaim"]["claimName"] for v in step["volumes"]
                      if v.get("persistentVolumeClaim")]  # fmt: skip
            assert claims == [cluster["workspace_claim"]], where
            assert any(m.items() >= mount.items() for m in container["volumeMounts"]), where
            env = {item["name"]: item.get("value") for item in container["env"]}
            expected = {f"{prefix}{key}": str(value) for key, value in settings.items()}
            assert env.items() >= expected.items(), where
            secrets = [s["secretRef"]["name"] for s in container.get("envFrom") or []]
            assert secrets == cluster["secrets"], where
