"""ML Test Score, infrastructure: the pipeline through Airflow, as the scheduler runs it.

A throwaway Airflow home (sqlite, `airflow db migrate`) in a temporary directory; the DAG
folder parsed as the DAG processor parses it; both DAGs run with `dag.test()`.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from {{ cookiecutter.project_slug }}.config import ENV_PREFIX, TrackingSettings, get_settings
from {{ cookiecutter.project_slug }}.data import ingest
from {{ cookiecutter.project_slug }}.pipeline import STEPS
from {{ cookiecutter.project_slug }}.registry import model_store
from {{ cookiecutter.project_slug }}.tracking import get_tracker

from ..conftest import (
    PROJECT_ROOT,
    kustomized,
    scored_today,
    serve_traffic,
    workspace_environment,
)

pytestmark = pytest.mark.infrastructure

DAGS = PROJECT_ROOT / "dags"
TRAINING = "{{ cookiecutter.project_slug }}_training"
MONITORING = "{{ cookiecutter.project_slug }}_monitoring"
SCORING = "{{ cookiecutter.project_slug }}_batch_scoring"


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Airflow configured by the environment (before it is first imported), its metadata
    database migrated, the steps in-process and their outputs in a temporary workspace."""
    root = tmp_path_factory.mktemp("airflow")
    environment = {
        "AIRFLOW_HOME": str(root / "home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",  # as once unpaused in the UI
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",  # slow, shared CI machines
        "PIPELINE_IMAGE": "",  # the steps in this process, whatever cluster.yaml says
        **workspace_environment(root / "workspace"),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            check=True,
            capture_output=True,
            env=os.environ.copy(),
        )
        get_settings.cache_clear()
        yield root
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def dags(airflow: Path) -> dict[str, Any]:
    """The DAG folder parsed as the DAG processor parses it (`dag.test()` stores the DAGs
    of its file in the metadata database, so the scheduler's asset bookkeeping knows
    which DAG consumes which asset)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=DAGS)
    assert bag.import_errors == {}
    return dict(bag.dags)


@pytest.fixture(scope="module")
def training_run(dags: dict[str, Any]) -> Any:
    """The training DAG, run once for the module: the monitoring test needs its champion,
    whichever order the tests run in."""
    return dags[TRAINING].test()


def test_the_dags_import_with_the_declared_steps_and_schedules(dags: dict[str, Any]) -> None:
    """Both DAGs parse (no import error, no cycle); training chains the declared steps and
    runs weekly or when the monitoring DAG updates its asset."""
    from airflow.sdk import AssetOrTimeSchedule

    assert set(dags) == {TRAINING, MONITORING, SCORING}
    training, monitoring = dags[TRAINING], dags[MONITORING]
    names = [step.name for step in STEPS]
    assert [task.task_id for task in training.topological_sort()] == names
    for upstream, downstream in itertools.pairwise(names):
        assert training.get_task(downstream).upstream_task_ids == {upstream}
    assert isinstance(training.timetable, AssetOrTimeSchedule)
    (outlet,) = monitoring.get_task("request_retraining").outlets
    assert training.timetable.asset_condition == outlet
    assert monitoring.get_task("request_retraining").upstream_task_ids == {"monitor"}


def test_the_training_dag_produces_a_champion(training_run: Any, airflow: Path) -> None:
    """Infrastructure 3: ingest -> train -> promote through Airflow leaves a champion in
    the registry and a servable model."""
    assert training_run.state == "success"
    settings = get_settings()
    assert str(settings.models_dir).startswith(str(airflow))
    champion = get_tracker(settings.tracking).get_champion()
    assert champion is not None
    _, served = model_store.load(settings.serve.model_dir, settings.serve.trusted_signers)
    assert served.version == champion.version


@pytest.mark.usefixtures("training_run")  # the champion that scores
def test_the_batch_scoring_dag_scores_the_days_batch(dags: dict[str, Any]) -> None:
    """Infrastructure 3: the daily batch-scoring DAG scores params.yaml score.input with the
    champion, one row per input row."""
    run = dags[SCORING].test()
    assert run.state == "success"
    scored_today(get_settings())


@pytest.mark.usefixtures("training_run")  # the monitoring run judges that champion
def test_drifted_traffic_updates_the_asset_that_schedules_training(
    dags: dict[str, Any], airflow: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Monitoring 2 and 7: the monitoring run judges the traffic the API logged. Traffic
    like the training data (the held-out split) updates nothing; once the API has served
    the bundled drifted batch, the run updates the asset and a training run is queued."""
    from airflow.models.asset import AssetDagRunQueue, AssetEvent
    from airflow.utils.session import create_session

    def queued() -> tuple[int, int]:
        with create_session() as session:
            events = session.query(AssetEvent).count()
            runs = session.query(AssetDagRunQueue).filter_by(target_dag_id=TRAINING).count()
        return events, runs

    settings = get_settings()
    batches = ingest.ProcessedPaths.under(settings.data.processed_dir)
    serve_traffic(settings, ingest.read_processed(batches.test))
    calm = dags[MONITORING].test()
    assert calm.state == "success"
    states = {ti.task_id: ti.state for ti in calm.get_task_instances()}
    assert states["request_retraining"] == "skipped"
    assert queued() == (0, 0)

    monkeypatch.setenv(f"{ENV_PREFIX}INFERENCE_LOG__URL", str(airflow / "drifted-log"))
    get_settings.cache_clear()
    serve_traffic(get_settings(), ingest.read_processed(batches.current))
    drifted = dags[MONITORING].test()
    assert drifted.state == "success"
    assert queued() == (1, 1)


# The steps' namespace: its pods run the training image as root, which baseline admits.
STEPS_POD_SECURITY = {
    "pod-security.kubernetes.io/enforce": "baseline",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}


def test_with_an_image_each_step_runs_the_cli_in_a_pod(
    airflow: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cluster path (cluster.yaml's image, as CD pushes it): every step is a pod that runs
    the project's CLI in the image, on the shared workspace volume, in the namespace and as
    the service account `make flow-namespace` makes."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    image = "registry.example.com/{{ cookiecutter.project_slug | replace('_', '-') }}:main"
    monkeypatch.setenv("PIPELINE_IMAGE", image)
    bag = DagBag(dag_folder=DAGS)
    assert bag.import_errors == {}
    training, monitoring = bag.dags[TRAINING], bag.dags[MONITORING]
    scoring = bag.dags[SCORING].get_task("score")
    assert isinstance(scoring, KubernetesPodOperator)
    assert scoring.arguments == ["{{ cookiecutter.project_slug | replace('_', '-') }} score"]
    pods: list[KubernetesPodOperator] = []
    for task in [training.get_task(step.name) for step in STEPS] + [monitoring.get_task("monitor")]:
        assert isinstance(task, KubernetesPodOperator)
        pods.append(task)
    # The raw data on the volume, where params.yaml (data.raw_path) puts it in the project.
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8"))
    raw = f"/workspace/{params['data']['raw_path']}"
    cli = "{{ cookiecutter.project_slug | replace('_', '-') }}"
    # One registry for every pod of every run: a directory on the volume for a tracker
    # without a server, else the server, its settings from a Secret in the namespace.
    shared_directory = f"{ENV_PREFIX}TRACKING__URI" in (
        get_tracker(TrackingSettings()).shared_store_setup()
    )
    namespace, made = kustomized(DAGS / "k8s")
    assert ("Namespace", namespace) in made, sorted(made)
    for pod in pods:
        assert pod.image == image
        # What `make flow-namespace` applies (dags/k8s): the namespace, below restricted
        # pod security (the image runs as root), the service account and the claim.
        assert made["Namespace", str(pod.namespace)]["metadata"]["labels"] == STEPS_POD_SECURITY
        assert ("ServiceAccount", pod.service_account_name) in made
        assert ("PersistentVolumeClaim", pod.volumes[0].persistent_volume_claim.claim_name) in made
        assert pod.volume_mounts[0].mount_path == "/workspace"
        assert isinstance(pod.env_vars, dict)  # a list once the pod is built
        assert pod.env_vars[f"{ENV_PREFIX}DATA__RAW_PATH"] == raw
        if shared_directory:
            assert pod.env_vars[f"{ENV_PREFIX}TRACKING__URI"].startswith("/workspace/")
        else:
            assert [source.secret_ref.name for source in pod.env_from] == [f"{cli}-tracker"]
    assert [pod.arguments[0] for pod in pods[:-1]] == [f"{cli} {step.name}" for step in STEPS]
    assert pods[-1].arguments[0].startswith(f"{cli} monitor;")
    assert pods[-1].outlets == [training.timetable.asset_condition]
    # The monitoring pod's command: retraining recommended (3) succeeds and updates the
    # asset, no drift (0) skips the task, any other failure fails it.
    stub = airflow / "bin" / cli
    stub.parent.mkdir(exist_ok=True)
    stub.write_text('#!/bin/sh\nexit "$MONITOR_EXIT"\n', encoding="utf-8")
    stub.chmod(0o755)
    path = f"{stub.parent}{os.pathsep}{os.environ['PATH']}"
    skipped = 99  # dags/ml_pipeline.py NO_DRIFT_EXIT_CODE
    assert skipped in pods[-1].skip_on_exit_code
    for monitor_exit, pod_exit in {"3": 0, "0": skipped, "1": 1}.items():
        ran = subprocess.run(  # noqa: S603 (the DAG's own command, with a stub CLI)
            [str(shutil.which("sh")), "-c", pods[-1].arguments[0]],
            env={**os.environ, "PATH": path, "MONITOR_EXIT": monitor_exit},
            check=False,
        )
        assert ran.returncode == pod_exit, monitor_exit
