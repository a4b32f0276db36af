"""ML Test Score, infrastructure: Airflow's DAGs deploy on the cloud's Airflow, their steps as
pods on the cloud's Kubernetes (Amazon MWAA and EKS, Cloud Composer and GKE, or Airflow's
chart on AKS: deploy/<cloud>/terraform/airflow.tf, `make flow-deploy`), checked where no
cloud account is at hand: `make flow-deploy` runs as a user types it, with Terraform's
outputs as samples whose keys are read from airflow.tf and the cloud's CLI (or kubectl, into
the DAG volume) shipping into a directory; then the DAG folder it shipped is parsed as that
Airflow's DAG processor would, by an Airflow without the project installed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from {{ cookiecutter.project_slug }}.config import ENV_PREFIX
from {{ cookiecutter.project_slug }}.pipeline import STEPS

from ..conftest import PROJECT_ROOT, kustomized, run_make, terraform_outputs

pytestmark = pytest.mark.infrastructure
# The cloud whose Terraform deploys Airflow: the one airflow.tf is rendered for.
(TERRAFORM,) = PROJECT_ROOT.glob("deploy/*/terraform/airflow.tf")
CLOUD = TERRAFORM.parents[1].name
NAMESPACE = "{{ cookiecutter.project_slug | replace('_', '-') }}-airflow"

# What `terraform output -raw airflow_cluster` prints on each cloud, with made-up names;
# the DAG folder's URL (on AKS, the DAG volume's mount path in the DAG processor); the image
# by digest in the cloud's registry; the other outputs the make targets read, and what
# `make flow-namespace` runs beyond applying dags/k8s.
SAMPLES: dict[str, dict[str, Any]] = {
    "aws": {
        "cluster": {
            "namespace": NAMESPACE,
            "pod_operator": {
                "class": "airflow.providers.amazon.aws.operators.eks.EksPodOperator",
                "arguments": {
                    "cluster_name": "demo",
                    "region": "eu-west-1",
                    "service_account_name": "airflow-steps",
                },
            },
            "env": {
                "INFERENCE_LOG__URL": "s3://demo-artifacts/inference",
                "SCORE__INPUT": "s3://demo-artifacts/batches/{date}.parquet",
                "SCORE__OUTPUT": "s3://demo-artifacts/scores/{date}.parquet",
            },
        },
        "dags_url": "s3://airflow-demo-20261205/dags/",
        "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/demo@sha256:" + "0" * 64,
        # EKS's access entry, in Terraform, lets MWAA start pods
        "outputs": {"airflow_dags_url": "s3://airflow-demo-20261205/dags/"},
        "grants": [],
    },
    "gcp": {
        "cluster": {
            "namespace": NAMESPACE,
            "pod_operator": {
                "class": "airflow.providers.google.cloud.operators.kubernetes_engine"
                ".GKEStartPodOperator",
                "arguments": {
                    "project_id": "demo-project",
                    "location": "europe-west1",
                    "cluster_name": "demo",
                    "use_dns_endpoint": True,
                    "service_account_name": "airflow-steps",
                },
            },
            "env": {
                "INFERENCE_LOG__URL": "gs://demo-project-demo-artifacts/inference",
                "SCORE__INPUT": "gs://demo-project-demo-artifacts/batches/{date}.parquet",
                "SCORE__OUTPUT": "gs://demo-project-demo-artifacts/scores/{date}.parquet",
            },
        },
        "dags_url": "gs://europe-west1-demo-0a1b2c3d-bucket/dags",
        "image": "europe-west1-docker.pkg.dev/demo-project/demo/demo@sha256:" + "0" * 64,
        "outputs": {
            "airflow_dags_url": "gs://europe-west1-demo-0a1b2c3d-bucket/dags",
            "airflow_service_account": "demo-composer@demo-project.iam.gserviceaccount.com",
        },
        # GKE's RBAC: Composer's account may manage pods in the steps' namespace only.
        "grants": [
            f"kubectl -n {NAMESPACE} create rolebinding composer-starts-steps --clusterrole=edit",
            "--user=demo-composer@demo-project.iam.gserviceaccount.com --dry-run=client -o yaml",
        ],
    },
    "azure": {
        "cluster": {
            "namespace": NAMESPACE,
            "pod_operator": {
                "class": "airflow.providers.cncf.kubernetes.operators.pod.KubernetesPodOperator",
                "arguments": {
                    "in_cluster": True,
                    "service_account_name": "airflow-steps",
                    "labels": {"azure.workload.identity/use": "true"},
                },
            },
            "env": {
                "INFERENCE_LOG__URL": "az://artifacts@stdemo.blob.core.windows.net/inference",
                "SCORE__INPUT": "az://artifacts@stdemo.blob.core.windows.net/batches/{date}.parquet",
                "SCORE__OUTPUT": "az://artifacts@stdemo.blob.core.windows.net/scores/{date}.parquet",
            },
        },
        "dags_url": "volume://opt/airflow/dags",
        "image": "crdemo.azurecr.io/demo@sha256:" + "0" * 64,
        "outputs": {"airflow_steps_client_id": "00000000-0000-0000-0000-00000000000a"},
        # Workload ID: the steps' service account names their identity; AKS's RBAC: the
        # scheduler, which runs the tasks, may manage pods in the steps' namespace only.
        "grants": [
            f"kubectl -n {NAMESPACE} annotate serviceaccount airflow-steps --overwrite",
            "azure.workload.identity/client-id=00000000-0000-0000-0000-00000000000a",
            f"kubectl -n {NAMESPACE} create rolebinding airflow-starts-steps --clusterrole=edit",
            "--serviceaccount=airflow:airflow-scheduler --dry-run=client -o yaml",
        ],
    },
}
CLUSTER: dict[str, Any] = SAMPLES[CLOUD]["cluster"]
DAGS_URL: str = SAMPLES[CLOUD]["dags_url"]
IMAGE: str = SAMPLES[CLOUD]["image"]
OUTPUTS: dict[str, str] = {"airflow_cluster": json.dumps(CLUSTER), **SAMPLES[CLOUD]["outputs"]}

# The cloud's CLI syncing a folder to its bucket, into $FAKE_STORE/<bucket>/<prefix>:
# `aws s3 sync [--delete] ... SOURCE s3://...` or `gcloud storage rsync [--recursive]
# [--delete-unmatched-destination-objects] SOURCE gs://...`.
STORAGE_CLI = """
import os, shutil, sys
from pathlib import Path

args = sys.argv[1:]
assert args[:2] in (["s3", "sync"], ["storage", "rsync"]), args
source, target = args[-2:]
destination = Path(os.environ["FAKE_STORE"], target.split("://", 1)[1])
if "--delete" in args or "--delete-unmatched-destination-objects" in args:
    shutil.rmtree(destination, ignore_errors=True)
shutil.copytree(source, destination, dirs_exist_ok=True)
print(f"upload: {source} to {target}")
"""

# kubectl writing the DAG folder's tar into the DAG volume through the DAG processor:
# `kubectl -n airflow exec -i deployment/airflow-dag-processor -c dag-processor -- sh -c
# SCRIPT`, SCRIPT run here on $FAKE_STORE/<the volume's mount path>.
KUBECTL = """
import os, subprocess, sys

args = sys.argv[1:]
expected = ["-n", "airflow", "exec", "-i", "deployment/airflow-dag-processor"]
assert args[:5] == expected and args[5:8] == ["-c", "dag-processor", "--"], args
shell, flag, script = args[8:]
assert (shell, flag) == ("sh", "-c"), args
mount = "/opt/airflow/dags"
volume = os.path.join(os.environ["FAKE_STORE"], mount.lstrip("/"))
os.makedirs(volume, exist_ok=True)
sys.exit(subprocess.run(["sh", "-c", script.replace(mount, volume)]).returncode)
"""

# The managed Airflow's DAG processor, in an Airflow without the project: each task as it
# would run, with the pod operator's own arguments (argv[3:]).
PARSE = """
import json, sys
sys.modules[sys.argv[2]] = None  # importing the project fails, as it would on the service
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1])
tasks = {
    dag_id: {
        task.task_id: {
            "operator": type(task).__module__ + "." + type(task).__name__,
            "upstream": sorted(task.upstream_task_ids),
            "secrets": [source.secret_ref.name for source in task.env_from or []],
            **{
                name: getattr(task, name, None)
                for name in ("namespace", "image", "env_vars", "arguments", *sys.argv[3:])
            },
        }
        for task in dag.tasks
    }
    for dag_id, dag in bag.dags.items()
}
print(json.dumps({"import_errors": bag.import_errors, "dags": tasks}))
"""


def output_block(output: str) -> str:
    """The text of an airflow.tf output."""
    block = re.search('output "' + output + r'" \{\n(.*?)\n\}', TERRAFORM.read_text(), re.S)
    assert block, f"{TERRAFORM} has no output {output}"
    return block.group(1)


def test_the_sample_is_what_terraform_outputs() -> None:
    """Every key of the sample is one airflow.tf encodes, and no other."""
    block = output_block("airflow_cluster")
    keys = set(re.findall(r"^\s+(\w+)\s+=", block, re.M)) - {"description", "value"}
    sample = {*CLUSTER, *CLUSTER["pod_operator"], *CLUSTER["pod_operator"]["arguments"]}
    assert keys == sample | set(CLUSTER["env"])
    assert f'"{CLUSTER["pod_operator"]["class"]}"' in block


def test_the_outputs_the_make_targets_read_are_terraforms() -> None:
    """Every output `make flow-deploy` and `make flow-namespace` read is one airflow.tf has
    (output_block fails on any other)."""
    for name in OUTPUTS:
        output_block(name)


def test_make_flow_namespace_applies_dags_k8s_and_grants_the_managed_airflow(
    cloud: dict[str, str],
) -> None:
    """What `make flow-namespace` runs, with Terraform's outputs: dags/k8s, and where the
    cluster's RBAC holds the managed Airflow's access, the binding to that namespace alone."""
    printed = run_make("-n", "flow-namespace", env=cloud).stdout
    assert "kubectl apply -k dags/k8s" in printed
    for command in SAMPLES[CLOUD]["grants"]:
        assert command in printed


def test_terraform_names_what_make_flow_namespace_makes() -> None:
    """The namespace the execution role may start pods in and the service account the steps'
    role is given to are those dags/k8s makes (and the sample's)."""
    text = TERRAFORM.read_text(encoding="utf-8")
    pattern = r'^\s+(airflow_namespace|airflow_steps_sa)\s+=\s+"([^"]+)"'
    names = dict(re.findall(pattern, text, re.M))
    namespace, made = kustomized(PROJECT_ROOT / "dags/k8s")
    accounts = [name for kind, name in made if kind == "ServiceAccount"]
    assert names == {"airflow_namespace": namespace, "airflow_steps_sa": accounts[0]}
    assert accounts == [names["airflow_steps_sa"]]
    assert names["airflow_namespace"] == CLUSTER["namespace"]
    assert names["airflow_steps_sa"] == CLUSTER["pod_operator"]["arguments"]["service_account_name"]


@pytest.fixture
def cloud(tmp_path: Path) -> dict[str, str]:
    """The environment of a `make flow-deploy`: Terraform's outputs, the cloud's CLI syncing
    into tmp_path/store, where an earlier deployment left a DAG file of its own."""
    bin_dir = terraform_outputs(tmp_path / "bin", OUTPUTS)
    for name, stand_in in (("aws", STORAGE_CLI), ("gcloud", STORAGE_CLI), ("kubectl", KUBECTL)):
        (bin_dir / name).write_text(f"#!{sys.executable}\n{stand_in}")
        (bin_dir / name).chmod(0o755)
    earlier = shipped(tmp_path) / "retired_dag.py"
    earlier.parent.mkdir(parents=True)
    earlier.write_text("# a DAG removed from the repository since\n")
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_STORE": str(tmp_path / "store"),
    }


def shipped(tmp_path: Path) -> Path:
    """Where the fake store keeps the bucket's DAG folder."""
    return tmp_path / "store" / DAGS_URL.split("://", 1)[1]


def make_flow_deploy(
    env: dict[str, str], folder: Path, *options: str, succeed: bool = True
) -> subprocess.CompletedProcess[str]:
    return run_make(
        "flow-deploy", f"AIRFLOW_DAG_FOLDER={folder}", *options, env=env, succeed=succeed
    )


def parsed_without_the_project(folder: Path, home: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",  # slow, shared CI machines
    }
    parsed = subprocess.run(  # noqa: S603  # this interpreter, fixed arguments
        [sys.executable, "-c", PARSE, str(folder), "{{ cookiecutter.project_slug }}",
         *CLUSTER["pod_operator"]["arguments"]],
        env=env, capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(parsed.stdout.splitlines()[-1])
    return result


def test_make_flow_deploy_ships_dags_that_parse_into_pods_on_the_cluster(
    cloud: dict[str, str], tmp_path: Path
) -> None:
    """The DAG folder in the bucket's DAG folder (and nothing left of earlier ones) parses
    without the project; every step is a pod on Terraform's cluster, as its service account,
    in the pipeline image by digest, with the bucket's inference log, batches and scores and
    cluster.yaml's Secrets."""
    make_flow_deploy(cloud, tmp_path / "dag-folder", f"TRAINING_IMAGE={IMAGE}")
    assert sorted(path.name for path in shipped(tmp_path).iterdir()) == [
        "cluster.yaml",
        "ml_pipeline.py",
        "pipeline.json",
    ]

    parsed = parsed_without_the_project(shipped(tmp_path), tmp_path / "airflow")
    assert parsed["import_errors"] == {}
    dags = parsed["dags"]
    project = "{{ cookiecutter.project_slug }}"
    training = dags[f"{project}_training"]
    names = [step.name for step in STEPS]
    assert list(training) == names
    assert [training[name]["upstream"] for name in names] == [[], *[[name] for name in names[:-1]]]
    pods = [
        *training.values(),
        *dags[f"{project}_monitoring"].values(),
        *dags[f"{project}_batch_scoring"].values(),
    ]
    expected_env = {f"{ENV_PREFIX}{name}": value for name, value in CLUSTER["env"].items()}
    secrets = yaml.safe_load((PROJECT_ROOT / "dags/cluster.yaml").read_text())["env_from_secrets"]
    for pod in pods:
        assert pod["operator"] == CLUSTER["pod_operator"]["class"]
        assert {name: pod[name] for name in CLUSTER["pod_operator"]["arguments"]} == (
            CLUSTER["pod_operator"]["arguments"]
        )
        assert pod["namespace"] == CLUSTER["namespace"]
        assert pod["image"] == IMAGE
        assert pod["env_vars"].items() >= expected_env.items()
        assert pod["env_vars"][f"{ENV_PREFIX}DATA__RAW_PATH"].startswith("/workspace/")
        assert pod["secrets"] == secrets  # the tracker's settings, where it has a server


def test_make_flow_deploy_refuses_an_image_not_pinned_by_digest(
    cloud: dict[str, str], tmp_path: Path
) -> None:
    """A tag is refused in one line, and nothing is written or shipped."""
    tagged = IMAGE.split("@", 1)[0] + ":latest"
    deploy = make_flow_deploy(
        cloud, tmp_path / "dag-folder", f"TRAINING_IMAGE={tagged}", succeed=False
    )
    assert deploy.returncode != 0
    assert f"--image must be pinned by digest (REPOSITORY@sha256:...), not '{tagged}'" in (
        deploy.stderr
    )
    assert "Traceback" not in deploy.stderr
    assert not (tmp_path / "dag-folder").exists()
    assert [path.name for path in shipped(tmp_path).iterdir()] == ["retired_dag.py"]
    # Asked for before Terraform is read: without the infrastructure, the image comes first.
    no_outputs = terraform_outputs(tmp_path / "no-state", {})
    no_state = {**cloud, "PATH": f"{no_outputs}{os.pathsep}{cloud['PATH']}"}
    unset = make_flow_deploy(no_state, tmp_path / "dag-folder", succeed=False)
    assert unset.returncode != 0
    assert "set TRAINING_IMAGE to the image the steps run: make flow-image prints it" in (
        unset.stderr
    )
    assert "Terraform" not in unset.stderr
