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
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from support.deep import (
    BREAST_CANCER,
    RENDER_PYTEST,
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
from support.metaflow_argo import ARGO_CLOUDS, metaflow_deploys_to_argo
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
    # (support/metaflow_argo.py; EKS and AKS: test_metaflow_deploys_to_argo_on_the_clouds_cluster).
    "metaflow": {"tracker": "wandb", "cloud": "gcp", "ci": "none", "python_version": "3.13"},
    # Two orchestrators drive the pipeline's steps on Ray (a local Ray in `make flow`): the
    # same step functions, no code of their own. Airflow's tasks run in its worker's process,
    # Kubeflow's components in subprocesses, each starting its own Ray. Airflow on AWS: the
    # DAG folder `make flow-deploy` ships to MWAA (test_airflow_managed.py) parses without
    # the project, its steps EKS pods as Terraform says (Composer: below).
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
            [*RENDER_PYTEST, *own_tests],
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
        cloud = ARGO_CLOUDS[ROTATION["metaflow"]["cloud"]]
        metaflow_deploys_to_argo(installed, cloud, tmp_path, record_property)


def installed_on(
    source: Path,
    orchestrator: str,
    answers: dict[str, str],
    tmp_path: Path,
    record_property: RecordProperty,
) -> Installed:
    """A render of `orchestrator` with `answers` over the defaults, installed and timed."""
    label = f"{orchestrator} on {answers['cloud']}"
    start = time.perf_counter()
    installed = installed_project(
        source,
        {**defaults(), "orchestrator": orchestrator, **answers},
        tmp_path / label.replace(" ", "-"),
    )
    seconds = time.perf_counter() - start
    record_property("wall_time", f"{label}: render and uv sync: {seconds:.1f} s")
    return installed


# Deployments checked on clouds other than the one the rotation renders their orchestrator
# with (whose render checks its own): each render installed, the deployment's own test run.
# (orchestrator, cloud) -> (the other answers, the deployment's tests in the render).
DEPLOYED_ELSEWHERE = {
    # Prefect's work pools: `make flow-deploy` against a temporary server, the pool's job
    # variables from Terraform's settings (Cloud Run, Container Instances).
    ("prefect", "gcp"): (
        {"tracker": "wandb", "ci": "gitlab"},
        ("tests/infrastructure/test_prefect_cloud_run_pool.py",),
    ),
    ("prefect", "azure"): (
        {"tracker": "none", "ci": "gitlab"},
        ("tests/infrastructure/test_prefect_aci_pool.py",),
    ),
    # Dagster+ Hybrid: `make flow-deploy` with the real dagster-cloud CLI against a stand-in
    # API, the run's Job built by dagster-k8s on the cloud's Terraform output and labels,
    # with and without a tracker's Secret.
    ("dagster", "aws"): (
        {"tracker": "mlflow", "ci": "none", "python_version": "3.13"},
        ("tests/infrastructure/test_dagster_plus.py",),
    ),
    ("dagster", "gcp"): (
        {"tracker": "none", "ci": "none", "python_version": "3.12"},
        ("tests/infrastructure/test_dagster_plus.py",),
    ),
    # Cloud Composer: `make flow-deploy` as typed, the shipped DAG folder parsed without the
    # project, every step a GKEStartPodOperator on Terraform's cluster; without a tracker's
    # Secret, on Composer's Python.
    ("airflow", "gcp"): (
        {"tracker": "wandb", "ci": "none", "python_version": "3.11"},
        ("tests/infrastructure/test_airflow_managed.py",),
    ),
    # Airflow's chart on AKS: `make flow-deploy` ships the DAG folder into the DAG volume
    # through kubectl, parsed without the project (every step a KubernetesPodOperator in
    # the cluster, with Workload ID's label); `make airflow-install`'s Secret and chart.
    ("airflow", "azure"): (
        {"tracker": "dvc", "ci": "gitlab", "python_version": "3.12"},
        (
            "tests/infrastructure/test_airflow_managed.py",
            "tests/infrastructure/test_airflow_aks.py",
        ),
    ),
    # Kubeflow Pipelines on AKS: `make kubeflow-install` as typed, `make flow-deploy` through
    # the port-forward to a fake KFP API (every recurring run on the volume, with Workload
    # ID's label); EKS's differs by its role and the label alone (the cloud tier).
    ("kubeflow", "azure"): (
        {"tracker": "mlflow", "ci": "github", "python_version": "3.12"},
        ("tests/infrastructure/test_kubeflow_cluster.py",),
    ),
}


@pytest.mark.parametrize(
    ("orchestrator", "cloud"),
    list(DEPLOYED_ELSEWHERE),
    ids=[f"{orchestrator}-{cloud}" for orchestrator, cloud in DEPLOYED_ELSEWHERE],
)
def test_orchestrator_deploys_on_another_cloud(
    orchestrator: str,
    cloud: str,
    copier_source: Path,
    tmp_path: Path,
    record_property: RecordProperty,
) -> None:
    answers, deployment_tests = DEPLOYED_ELSEWHERE[orchestrator, cloud]
    installed = installed_on(
        copier_source, orchestrator, {"cloud": cloud, **answers}, tmp_path, record_property
    )
    for deployment_test in deployment_tests:
        assert (installed.project / deployment_test).is_file()
    timed(
        [*RENDER_PYTEST, *deployment_tests],
        installed.project, installed.env, record_property,
        f"{orchestrator} on {cloud}: its deployment",
    )  # fmt: skip


# Metaflow on the clouds whose Terraform deploys its flows to Argo Workflows, but the one the
# rotation renders Metaflow with (its render checks its own): each installed, `make
# flow-deploy` checked (support/metaflow_argo.py). Other trackers than the rotation's: the
# deployment without a tracker's Secret, and with MLflow's, are checked too.
METAFLOW_ARGO_CLOUDS = {
    "aws": {"tracker": "none", "ci": "none", "python_version": "3.12"},
    "azure": {"tracker": "mlflow", "ci": "none", "python_version": "3.11"},
}


@pytest.mark.parametrize("cloud", list(METAFLOW_ARGO_CLOUDS))
def test_metaflow_deploys_to_argo_on_the_clouds_cluster(
    cloud: str, copier_source: Path, tmp_path: Path, record_property: RecordProperty
) -> None:
    answers = {"cloud": cloud, **METAFLOW_ARGO_CLOUDS[cloud]}
    installed = installed_on(copier_source, "metaflow", answers, tmp_path, record_property)
    metaflow_deploys_to_argo(installed, ARGO_CLOUDS[cloud], tmp_path, record_property)


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
