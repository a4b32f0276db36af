"""ML Test Score, infrastructure: Kubeflow Pipelines on the cloud's cluster as a user installs
it (orchestration/kubeflow/README.md), checked where no cluster is at hand: `make
kubeflow-install` and `make flow-deploy` run as typed, Terraform's outputs are samples whose
keys are read from kubeflow.tf, `kubectl` records what it is asked and its port-forward
reaches a fake Kubeflow Pipelines API, which keeps what the KFP client sends: experiments
and recurring runs, each with its compiled pipeline and Kubernetes platform spec."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from {{ cookiecutter.project_slug }}.config import ENV_PREFIX, TrackingSettings
from {{ cookiecutter.project_slug }}.tracking import get_tracker

from ..conftest import PROJECT_ROOT, kustomized, local_server, run_make, terraform_outputs
from .kubeflow_terraform import assert_raw_data_in_workspace, output_keys

pytestmark = pytest.mark.infrastructure
# This render's cloud: the one whose Terraform deploys Kubeflow Pipelines on its cluster.
(TERRAFORM,) = (
    path
    for path in PROJECT_ROOT.glob("deploy/*/terraform/kubeflow.tf")
    if "pipeline-runner" in path.read_text(encoding="utf-8")
)
ON_AZURE = TERRAFORM.parts[-3] == "azure"
CONFIG = yaml.safe_load((PROJECT_ROOT / "orchestration/kubeflow/kubeflow.yaml").read_text())
# What make kubeflow-install applies beside Kubeflow Pipelines: the workspace's claim.
NAMESPACE, OBJECTS = kustomized(PROJECT_ROOT / "orchestration/kubeflow/k8s")
((_, WORKSPACE_CLAIM),) = OBJECTS.items()
IMAGE = "registry.example/demo/training@sha256:" + "0" * 64
CLIENT_ID = "00000000-0000-0000-0000-00000000c1d0"

# What `terraform output -raw kubeflow_pipeline_pod` and `kubeflow_pipeline_env` print, made up.
POD: dict[str, Any] = {"workspace_claim": "demo-workspace", "workspace": "/workspace/"}
if ON_AZURE:
    POD["labels"] = {"azure.workload.identity/use": "true"}
STORE = "az://artifacts@stdemo.blob.core.windows.net" if ON_AZURE else "s3://demo-artifacts"
ENVIRONMENT = {
    f"{ENV_PREFIX}DATA__RAW_PATH": "/workspace/data/raw/demo.csv",
    f"{ENV_PREFIX}MODELS_DIR": "/workspace/models",
    f"{ENV_PREFIX}REPORTS_DIR": "/workspace/reports",
    f"{ENV_PREFIX}DATA__PROCESSED_DIR": "/workspace/data/processed",
    f"{ENV_PREFIX}MONITOR__REPORTS_DIR": "/workspace/reports/monitoring",
    f"{ENV_PREFIX}SERVE__MODEL_DIR": "/workspace/models/champion",
    f"{ENV_PREFIX}INFERENCE_LOG__URL": f"{STORE}/inference",
    f"{ENV_PREFIX}SCORE__INPUT": f"{STORE}/batches/" + "{date}.parquet",
    f"{ENV_PREFIX}SCORE__OUTPUT": f"{STORE}/scores/" + "{date}.parquet",
    "DO_NOT_TRACK": "true",
}
# A tracker whose store is a directory (its TRACKING__URI; not a server) keeps it on the
# volume too, so that components and runs share one registry.
if f"{ENV_PREFIX}TRACKING__URI" in get_tracker(TrackingSettings()).shared_store_setup():
    ENVIRONMENT[f"{ENV_PREFIX}TRACKING__URI"] = "/workspace/registry"
OUTPUTS = {
    "kubeflow_pipeline_pod": json.dumps(POD),
    "kubeflow_pipeline_env": json.dumps(ENVIRONMENT),
    "kubeflow_components_client_id": CLIENT_ID,
}

# kubectl: every call's arguments kept in $CAPTURED/kubectl.jsonl; a port-forward stays up
# until make stops it.
KUBECTL = """
import json, os, sys, time
args = sys.argv[1:]
with open(os.path.join(os.environ["CAPTURED"], "kubectl.jsonl"), "a") as calls:
    calls.write(json.dumps(args) + "\\n")
if "port-forward" in args:
    time.sleep(600)
"""


def test_the_samples_are_what_terraform_outputs() -> None:
    assert output_keys(TERRAFORM, "kubeflow_pipeline_pod") == set(POD)
    assert output_keys(TERRAFORM, "kubeflow_pipeline_env") == set(ENVIRONMENT)
    text = TERRAFORM.read_text(encoding="utf-8")
    assert ('output "kubeflow_components_client_id"' in text) == ON_AZURE
    # The claim every component mounts is the one make kubeflow-install applies.
    claim = re.search(r'kubeflow_workspace_claim\s*=\s*"([^"]+)"', text)
    assert claim, f"{TERRAFORM} names no workspace claim"
    assert claim.group(1) == WORKSPACE_CLAIM["metadata"]["name"]


def test_the_raw_data_is_read_where_params_yaml_says() -> None:
    """Terraform gives the ingest component params.yaml's data.raw_path on the volume."""
    assert_raw_data_in_workspace(TERRAFORM, "kubeflow_pipeline_env")


def stand_ins(tmp_path: Path) -> dict[str, str]:
    """The environment of a make target whose kubectl and terraform are stand-ins."""
    bin_dir = terraform_outputs(tmp_path / "bin", OUTPUTS)
    (bin_dir / "kubectl").write_text(f"#!{sys.executable}\n{KUBECTL}", encoding="utf-8")
    (bin_dir / "kubectl").chmod(0o755)
    captured = tmp_path / "captured"
    captured.mkdir()
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "CAPTURED": str(captured),
    }


def kubectl_calls(env: dict[str, str]) -> list[list[str]]:
    log = Path(env["CAPTURED"]) / "kubectl.jsonl"
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def test_kubeflow_install_applies_the_pinned_release_then_the_workspace(tmp_path: Path) -> None:
    env = stand_ins(tmp_path)
    run_make("kubeflow-install", env=env)
    calls = kubectl_calls(env)
    manifests = "github.com/kubeflow/pipelines/manifests/kustomize"
    expected = [
        ["apply", "-k", f"{manifests}/cluster-scoped-resources?ref=2.17.0"],
        ["wait", "--for", "condition=established", "--timeout=60s", "crd/applications.app.k8s.io"],
        ["apply", "-k", f"{manifests}/env/platform-agnostic?ref=2.17.0"],
        ["apply", "-k", "orchestration/kubeflow/k8s"],
    ]
    if ON_AZURE:  # the components' pods sign in as the managed identity Terraform made
        annotation = f"azure.workload.identity/client-id={CLIENT_ID}"
        runner = ["serviceaccount", "pipeline-runner"]
        expected.append(["-n", "kubeflow", "annotate", *runner, "--overwrite", annotation])
    ready = ["-l", "application-crd-id=kubeflow-pipelines", "--for", "condition=Ready"]
    expected.append(["-n", "kubeflow", "wait", "pods", *ready, "--timeout=30m"])
    assert calls == expected
    assert NAMESPACE == "kubeflow"  # where pipeline-runner's pods run
    assert WORKSPACE_CLAIM["kind"] == "PersistentVolumeClaim"
    spec = WORKSPACE_CLAIM["spec"]
    assert spec["accessModes"] == ["ReadWriteMany"]  # every component's pod mounts it
    assert spec["storageClassName"] == ("azurefile-csi" if ON_AZURE else "efs-sc")


class FakeKubeflowPipelines(BaseHTTPRequestHandler):
    """Kubeflow Pipelines' REST API (v2beta1), as far as the KFP client schedules: health,
    experiments and recurring runs, kept in `state` as the API server keeps them."""

    state: dict[str, dict[str, Any]]

    def reply(self, body: dict[str, Any], status: int = 200) -> None:
        encoded = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        if url.path == "/apis/v2beta1/healthz":
            self.reply({"multi_user": False})
        elif url.path == "/apis/v2beta1/experiments":
            (wanted,) = json.loads(query["filter"])["predicates"]
            found = [
                experiment
                for experiment in self.state["experiments"].values()
                if experiment["display_name"] == wanted["stringValue"]
            ]
            self.reply({"experiments": found, "total_size": len(found)})
        elif url.path == "/apis/v2beta1/recurringruns":
            found = [
                run
                for run in self.state["recurring_runs"].values()
                if run["experiment_id"] == query["experiment_id"]
            ]
            # The field's JSON name in KFP's API (run.proto), as its REST clients read it.
            self.reply({"recurringRuns": found, "total_size": len(found)})
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        kind = self.path.rsplit("/", 1)[-1]
        key = {"experiments": "experiment_id", "recurringruns": "recurring_run_id"}[kind]
        collection = self.state["recurring_runs" if kind == "recurringruns" else kind]
        body[key] = f"{kind}-{len(self.state['created'])}"
        self.state["created"][body[key]] = body
        collection[body[key]] = body
        self.reply(body)

    def do_DELETE(self) -> None:
        del self.state["recurring_runs"][self.path.rsplit("/", 1)[-1]]
        self.reply({})

    def log_message(self, *_: Any) -> None:
        pass


@contextmanager
def serving(api: type[FakeKubeflowPipelines]) -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
    """A fake Kubeflow Pipelines API answering for the block: its port, and what it keeps."""
    state: dict[str, dict[str, Any]] = {
        collection: {} for collection in ("experiments", "recurring_runs", "created")
    }
    with local_server(type("Handler", (api,), {"state": state})) as url:
        yield url.rsplit(":", 1)[-1], state


@pytest.fixture
def kubeflow_pipelines() -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
    with serving(FakeKubeflowPipelines) as api:
        yield api


def test_flow_deploy_refuses_an_image_not_pinned_by_digest(tmp_path: Path) -> None:
    env = stand_ins(tmp_path)
    refused = run_make("flow-deploy", "TRAINING_IMAGE=demo:latest", env=env, succeed=False)
    assert refused.returncode != 0
    assert "TRAINING_IMAGE must be the components' image pinned by digest" in refused.stderr
    assert not (Path(env["CAPTURED"]) / "kubectl.jsonl").exists()


def test_flow_deploy_schedules_every_pipeline_on_the_workspace_as_terraform_says(
    tmp_path: Path, kubeflow_pipelines: tuple[str, dict[str, dict[str, Any]]]
) -> None:
    port, state = kubeflow_pipelines
    env = stand_ins(tmp_path)
    deploy = ("flow-deploy", f"TRAINING_IMAGE={IMAGE}", f"KFP_PORT={port}")
    run_make(*deploy, env=env)
    output = run_make(*deploy, env=env).stdout  # again: the earlier recurring runs are replaced
    (forward,) = {tuple(call) for call in kubectl_calls(env)}
    assert forward == ("-n", "kubeflow", "port-forward", "svc/ml-pipeline-ui", f"{port}:80")
    assert [e["display_name"] for e in state["experiments"].values()] == [CONFIG["experiment"]]
    names = ("training", "monitoring", "batch_scoring")
    crons = {f"{CONFIG['experiment']}-{name}": CONFIG[f"{name}_cron"] for name in names}
    runs = list(state["recurring_runs"].values())
    assert sorted(run["display_name"] for run in runs) == sorted(crons)
    assert len(state["created"]) == 1 + 2 * len(names)  # the experiment once, the runs twice
    for name in names:
        assert f"scheduled {name}: {CONFIG[f'{name}_cron']}" in output
    for run in runs:
        assert run["trigger"]["cron_schedule"]["cron"] == crons[run["display_name"]]
        assert (run["max_concurrency"], run["no_catchup"], run["mode"]) == (1, True, "ENABLE")
        pipeline, platform = run["pipeline_spec"]["pipeline_spec"], run["pipeline_spec"]
        executors = pipeline["deploymentSpec"]["executors"]
        assert executors
        for executor in executors.values():
            container = executor["container"]
            assert container["image"] == IMAGE
            env_vars = {variable["name"]: variable["value"] for variable in container["env"]}
            assert env_vars == ENVIRONMENT
        pods = platform["platform_spec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
        assert set(pods) == set(executors)
        for pod in pods.values():
            (mount,) = pod["pvcMount"]
            assert mount["constant"] == POD["workspace_claim"]
            assert mount["mountPath"] == POD["workspace"]
            assert pod.get("podMetadata", {}).get("labels", {}) == POD.get("labels", {})
            # A tracker with a server: its settings from the Secret kubeflow.yaml names.
            secrets = [
                (secret["secretName"], {e["secretKey"]: e["envVar"] for e in secret["keyToEnv"]})
                for secret in pod.get("secretAsEnv", [])
            ]
            settings = CONFIG.get("tracker_settings", [])
            expected = [(CONFIG["tracker_secret"], {s: s for s in settings})] if settings else []
            assert secrets == expected


class RefusingKubeflowPipelines(FakeKubeflowPipelines):
    """The API refusing to create a recurring run, as it does a spec it cannot accept: a
    google.rpc.Status body."""

    def do_POST(self) -> None:
        if not self.path.endswith("/recurringruns"):
            super().do_POST()
            return
        self.reply({"code": 3, "message": "Invalid input: cron", "details": []}, status=400)


def test_flow_deploy_reports_a_refusal_in_one_line(tmp_path: Path) -> None:
    with serving(RefusingKubeflowPipelines) as (port, _):
        deploy = ("flow-deploy", f"TRAINING_IMAGE={IMAGE}", f"KFP_PORT={port}")
        refused = run_make(*deploy, env=stand_ins(tmp_path), succeed=False)
    assert refused.returncode != 0
    assert "Traceback" not in refused.stderr, refused.stderr[-2000:]
    (line,) = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert line.endswith("refused: 400 Invalid input: cron"), line
