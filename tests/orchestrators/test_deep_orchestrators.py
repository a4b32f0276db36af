"""Deep tier: every orchestrator runs the rendered project's pipeline for real.

One project per orchestrator, rotating the other answers so that every tracker, cloud, CI
provider and Python version is exercised by some orchestrator: render with Copier, install
with uv (the `orchestrator` dependency group comes with `dev`), then

* run the project's whole suite, in reverse order, in one render per tracker but the
  default's (REVERSED), so that a test passing only because of another's leftovers fails
  here; the other renders run their orchestrator's own test (their other tests are the same
  code and data as in the renders that run them all). The orchestrator's own test runs the
  whole pipeline through the orchestrator on the bundled data, a champion produced,
  retraining on drift and only on drift (Prefect in a temporary local server, Dagster's
  `materialize`, Metaflow's local runtime, Airflow's `dag.test()` on a sqlite home,
  `kfp.local` after compiling, Flyte's local execution);
* run `make flow`, what a user types, without the tools' telemetry switches in the
  environment (the Makefile must set them: no network beyond the package indexes is
  reachable here, so a tool that tries to phone home prints its failure), and check that it
  left a promoted, served champion and printed no telemetry error;
* with compute=ray (Airflow and Kubeflow), serve the champion `make flow` trained on Ray
  and check the API's answers;
* run the project's strict type checks, which cover the orchestration code (ruff checks
  every render in test_matrix.py).

The quickest orchestrator's render (ON_ADOPTED_DATA) then adopts another dataset (`<cli>
adopt`, nothing else edited) and runs `make flow` again: a flow is not bound to German
Credit.

The orchestrator's test runs beside the rest of the suite because they share a process:
what one test leaves in it (an exported variable, a registry) reaches the flow's tasks.
The cluster-facing halves (Kubernetes pods, work pools, recurring runs, launch plans) need a
cluster or a server and are checked statically by the same rendered tests. Install and run
wall times and the environment size of each project appear in the summary.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.deep import (
    BREAST_CANCER,
    Installed,
    adopt_dataset,
    api_server,
    check_api,
    example_applicant,
    installed_project,
    run,
    suite_in_reverse_order,
    timed,
)
from support.google_cloud import google_cloud_env, metadata_server, storage_emulator
from support.rendering import TELEMETRY_OFF, defaults
from support.reporting import RecordProperty

pytestmark = pytest.mark.deep

# orchestrator -> the other answers it is rendered with.
ROTATION = {
    # Prefect on AWS: its ECS work pool (test_prefect_ecs_pool.py) is deployed against a
    # temporary server from the Terraform's settings.
    "prefect": {"tracker": "mlflow", "cloud": "aws", "ci": "github", "python_version": "3.12"},
    "dagster": {"tracker": "dvc", "cloud": "azure", "ci": "gitlab", "python_version": "3.11"},
    # Metaflow on Google Cloud: `make flow-deploy` deploys its flows to Argo Workflows on GKE
    # (metaflow_deploys_to_argo_on_gke, below).
    "metaflow": {"tracker": "wandb", "cloud": "gcp", "ci": "none", "python_version": "3.13"},
    # Two orchestrators drive the pipeline's steps on Ray (a local Ray in `make flow`): the
    # same step functions, no code of their own. Airflow's tasks run in its worker's process,
    # Kubeflow's components in subprocesses, each starting its own Ray. Airflow on AWS: the
    # DAG folder `make flow-deploy` ships to MWAA (test_airflow_mwaa.py) parses without the
    # project, its steps EKS pods as Terraform says.
    "airflow": {
        "tracker": "mlflow",
        "cloud": "aws",
        "ci": "github",
        "python_version": "3.12",
        "compute": "ray",
    },
    # Kubeflow on Google Cloud: its Vertex AI schedules (test_kubeflow_vertex.py) are made by
    # `make flow-deploy` from the Terraform's settings, against a fake schedule service.
    "kubeflow": {
        "tracker": "none",
        "cloud": "gcp",
        "ci": "gitlab",
        "python_version": "3.11",
        "compute": "ray",
    },
    "flyte": {"tracker": "none", "cloud": "local", "ci": "none", "python_version": "3.13"},
}

# Its `make flow` took 9 s in CI, the others' 26-64 s.
ON_ADOPTED_DATA = "flyte"
# One render per tracker other than the default's runs the whole suite, in reverse order:
# order dependence shows per tracker (the default's suite runs forward in the deep tier).
# The others run their orchestrator's test alone: a run of the whole suite costs about 3.5
# minutes of a busy CI core, and the template's CI has 60 minutes on two.
REVERSED = ("dagster", "metaflow", "flyte")


def environment_size(project: Path) -> str:
    result = subprocess.run(
        ["du", "-sh", str(project / ".venv")], capture_output=True, text=True, check=True
    )
    return result.stdout.split()[0]


@pytest.mark.parametrize("orchestrator", list(ROTATION))
def test_orchestrator_runs_the_pipeline(
    orchestrator: str,
    copier_source: Path,
    tmp_path: Path,
    record_property: RecordProperty,
) -> None:
    for tool in ("uv", "make", "du"):
        assert shutil.which(tool), f"the deep tests need `{tool}` on PATH"
    answers = {**defaults(), "orchestrator": orchestrator, **ROTATION[orchestrator]}
    start = time.perf_counter()
    installed = installed_project(copier_source, answers, tmp_path / f"project-{orchestrator}")
    seconds = time.perf_counter() - start
    record_property("wall_time", f"{orchestrator}: render and uv sync: {seconds:.1f} s")
    project, env = installed.project, installed.env
    assert not (project / ".github" / "workflows" / "ct.yml").exists()
    record_property("wall_time", f"{orchestrator}: environment {environment_size(project)}")

    # The orchestrator's own tests: its pipeline, and its deployment where one is checked.
    own_tests = sorted(
        str(path.relative_to(project))
        for path in project.glob(f"tests/infrastructure/test_{orchestrator}_*.py")
    )
    assert f"tests/infrastructure/test_{orchestrator}_pipeline.py" in own_tests
    if orchestrator in REVERSED:
        suite_in_reverse_order(project, env, record_property, orchestrator)
    else:
        timed(
            ["uv", "run", "--no-sync", "pytest", "-q", "-p", "no:cacheprovider", *own_tests],
            project, env, record_property, f"{orchestrator}: its own tests",
        )  # fmt: skip
    for produced in ("models", "reports"):  # `make flow` starts from an empty registry
        shutil.rmtree(project / produced, ignore_errors=True)
    as_typed = {name: value for name, value in env.items() if name not in TELEMETRY_OFF}
    flow = timed(["make", "flow"], project, as_typed, record_property, f"{orchestrator}: make flow")
    phoned_home = [
        line
        for line in (flow.stdout + flow.stderr).splitlines()
        if "telemetry" in line.lower() or "analytics" in line.lower()
    ]
    assert not phoned_home, "\n".join(phoned_home[:5])
    assert (project / "models" / "champion" / "metadata.json").is_file(), "no served champion"
    promotion = json.loads((project / "reports" / "promotion.json").read_text("utf-8"))
    # Some flows go on to monitor and retrain: the last decision may keep the first champion.
    assert promotion["promote"] or promotion["champion_version"] == "1", promotion

    if ROTATION[orchestrator].get("compute") == "ray":  # the champion Ray trained, served
        applicant = example_applicant(project, installed.package, env)
        with api_server(installed.cli, project, env, tmp_path / "api.log") as base:
            check_api(base, applicant)

    run(["make", "typecheck"], project, env)  # ruff runs on every render in test_matrix.py
    if orchestrator == ON_ADOPTED_DATA:
        flow_on_adopted_data(installed, tmp_path, record_property)
    if orchestrator == "metaflow":
        metaflow_deploys_to_argo_on_gke(installed, tmp_path, record_property)


# Prefect's work pools on the clouds whose Terraform makes them, but the one the rotation
# renders Prefect with (its render runs the pool's test with its own): each installed, its
# pool's test run (`make flow-deploy` against a temporary server, Terraform's settings).
PREFECT_POOL_CLOUDS = {
    "gcp": {"tracker": "wandb", "ci": "gitlab"},
    "azure": {"tracker": "none", "ci": "gitlab"},
}


@pytest.mark.parametrize("cloud", list(PREFECT_POOL_CLOUDS))
def test_prefect_deploys_into_the_clouds_work_pool(
    cloud: str, copier_source: Path, tmp_path: Path, record_property: RecordProperty
) -> None:
    answers = {
        **defaults(),
        "orchestrator": "prefect",
        "cloud": cloud,
        **PREFECT_POOL_CLOUDS[cloud],
    }
    start = time.perf_counter()
    installed = installed_project(copier_source, answers, tmp_path / f"prefect-{cloud}")
    seconds = time.perf_counter() - start
    record_property("wall_time", f"prefect on {cloud}: render and uv sync: {seconds:.1f} s")
    pool_tests = sorted(
        str(path.relative_to(installed.project))
        for path in installed.project.glob("tests/infrastructure/test_prefect_*_pool.py")
    )
    assert len(pool_tests) == 1, pool_tests
    timed(
        ["uv", "run", "--no-sync", "pytest", "-q", "-p", "no:cacheprovider", *pool_tests],
        installed.project, installed.env, record_property, f"prefect on {cloud}: its pool's test",
    )  # fmt: skip


def flow_on_adopted_data(
    installed: Installed, tmp_path: Path, record_property: RecordProperty
) -> None:
    """Issue 22: the same project adopts scikit-learn's breast cancer (30 numeric inputs, no
    sensitive attribute; `<cli> adopt`, nothing else edited) and `make flow` trains and serves
    a champion on it, its gate noting that fairness was not assessed: a flow is not bound to
    German Credit."""
    project, env, cli = installed.project, installed.env, installed.cli
    for produced in ("models", "reports"):  # the German Credit champion is not the baseline
        shutil.rmtree(project / produced, ignore_errors=True)
    adopt_dataset(project, cli, env, BREAST_CANCER, tmp_path / "breast_cancer.csv")
    timed(["make", "flow"], project, env, record_property, f"{ON_ADOPTED_DATA}: make flow, adopted")
    metadata = json.loads((project / "models" / "champion" / "metadata.json").read_text("utf-8"))
    assert "mean radius" in metadata["inputs"], metadata["inputs"]
    promotion = json.loads((project / "reports" / "promotion.json").read_text("utf-8"))
    assert promotion["promote"], promotion
    assert any("fairness not assessed" in note for note in promotion["notes"]), promotion


# What `terraform output -raw metaflow_on_gke` prints, with made-up names.
METAFLOW_ON_GKE: dict[str, dict[str, str]] = {
    "config": {
        "METAFLOW_DEFAULT_DATASTORE": "gs",
        "METAFLOW_DATASTORE_SYSROOT_GS": "gs://demo-artifacts/metaflow/",
        "METAFLOW_KUBERNETES_NAMESPACE": "credit-risk",
        "METAFLOW_KUBERNETES_SERVICE_ACCOUNT": "metaflow-steps",
    },
    "env": {
        "INFERENCE_LOG__URL": "gs://demo-artifacts/inference",
        "SCORE__INPUT": "gs://demo-artifacts/batches/{date}.parquet",
        "SCORE__OUTPUT": "gs://demo-artifacts/scores/{date}.parquet",
    },
}
IMAGE = "europe-docker.pkg.dev/demo-project/demo/pipeline@sha256:" + "0" * 64
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


def metaflow_deploys_to_argo_on_gke(
    installed: Installed, tmp_path: Path, record_property: RecordProperty
) -> None:
    """Issue 26: `make flow-deploy` as a user types it, Terraform's output a sample whose
    keys metaflow.tf outputs, Google's endpoints stand-ins (support/google_cloud.py), and
    Argo's `--only-json`: every step of the three flows is a pod of the image, as the steps'
    service account in Terraform's namespace, mounting the workspace volume, with
    kubernetes.yaml's settings and Secrets, Terraform's and the raw data's path on the
    volume; the code packages are in Terraform's datastore. An image by tag is refused in
    one line."""
    project = installed.project
    metaflow_tf = (project / "deploy/gcp/terraform/metaflow.tf").read_text("utf-8")
    block = metaflow_tf.split('output "metaflow_on_gke"', 1)[1]
    encoded = set(re.findall(r"^\s+(\w+)\s+=", block, re.M)) - {"description", "value"}
    assert encoded == {*METAFLOW_ON_GKE, *METAFLOW_ON_GKE["config"], *METAFLOW_ON_GKE["env"]}
    outputs = tmp_path / "metaflow_on_gke.json"
    outputs.write_text(json.dumps(METAFLOW_ON_GKE), "utf-8")
    terraform = tmp_path / "bin" / "terraform"  # terraform -chdir=... output -raw NAME
    terraform.parent.mkdir()
    terraform.write_text(f'#!/bin/sh\n[ "$4" = metaflow_on_gke ] && exec cat {outputs}\nexit 1\n')
    terraform.chmod(0o755)
    bucket = METAFLOW_ON_GKE["config"]["METAFLOW_DATASTORE_SYSROOT_GS"].split("/")[2]
    with metadata_server() as metadata, storage_emulator(bucket, tmp_path / "gcs.log") as gcs:
        env = {
            **installed.env,
            **google_cloud_env(metadata, gcs),
            **ARGO_EVENTS,
            "PATH": f"{terraform.parent}:{installed.env['PATH']}",
        }
        tagged = run(
            ["make", "flow-deploy", f"TRAINING_IMAGE={IMAGE.split('@')[0]}:latest"],
            project, env, check=False,
        )  # fmt: skip
        assert tagged.returncode != 0
        assert "--image must be pinned by digest" in tagged.stderr, tagged.stderr
        assert "Traceback" not in tagged.stderr
        deploy = timed(
            ["make", "flow-deploy", f"TRAINING_IMAGE={IMAGE}", "ARGO_OPTIONS=--only-json"],
            project, env, record_property, "metaflow: make flow-deploy on GKE",
        )  # fmt: skip
        with urllib.request.urlopen(f"{gcs}/storage/v1/b/{bucket}/o?prefix=metaflow/") as listed:
            packages = json.load(listed).get("items", [])
    templates = {doc["metadata"]["name"]: doc for doc in json_documents(deploy.stdout)}
    assert sorted(templates) == ["batchscoringflow", "monitoringflow", "trainingflow"]
    assert len(packages) >= 3, "a code package per flow in the datastore"
    cluster = yaml.safe_load((project / "orchestration/metaflow/kubernetes.yaml").read_text())
    raw_path = yaml.safe_load((project / "params.yaml").read_text())["data"]["raw_path"]
    settings = {
        "DATA__RAW_PATH": f"{cluster['workspace']}/{raw_path}",
        **cluster["env"],
        **METAFLOW_ON_GKE["env"],
    }
    prefix = f"{installed.package.upper()}_"
    mount = {"name": cluster["workspace_claim"], "mountPath": cluster["workspace"]}
    config = METAFLOW_ON_GKE["config"]
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
            assert container["image"] == IMAGE, where
            claims = [v["persistentVolumeClaim"]["claimName"] for v in step["volumes"]
                      if v.get("persistentVolumeClaim")]  # fmt: skip
            assert claims == [cluster["workspace_claim"]], where
            assert any(m.items() >= mount.items() for m in container["volumeMounts"]), where
            env = {item["name"]: item.get("value") for item in container["env"]}
            expected = {f"{prefix}{key}": str(value) for key, value in settings.items()}
            assert env.items() >= expected.items(), where
            secrets = [s["secretRef"]["name"] for s in container.get("envFrom") or []]
            assert secrets == cluster["secrets"], where
