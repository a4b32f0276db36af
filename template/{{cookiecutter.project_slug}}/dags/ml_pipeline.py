"""The project's pipeline as three Airflow DAGs (TaskFlow API).

* `{{ cookiecutter.project_slug }}_training` runs the pipeline's steps (ingest, train, promote;
  `pipeline.STEPS`) every Monday at 04:23 UTC, and whenever monitoring asks for retraining.
* `{{ cookiecutter.project_slug }}_monitoring` checks drift, live quality and the champion's
  age every day at 05:41 UTC; when retraining is recommended it updates the `DRIFT` asset,
  which schedules a training run (data-aware scheduling: the training DAG's schedule is
  "weekly or on drift").
* `{{ cookiecutter.project_slug }}_batch_scoring` scores the day's batch with the champion
  every day at 06:11 UTC (params.yaml score.input into score.output, `{date}` the day).

Where the steps run is set in cluster.yaml beside this file: without an image, in the
Airflow worker's process (`make airflow-run`, `airflow standalone`); with one, each step is
a pod running the project's CLI in that image, started by cluster.yaml's pod operator
(KubernetesPodOperator, or the cloud's: EksPodOperator on MWAA, GKEStartPodOperator on
Cloud Composer; see README.md).
"""

from __future__ import annotations

import importlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from airflow.sdk import DAG, Asset, AssetOrTimeSchedule, CronTriggerTimetable, task
from airflow.sdk.bases.operator import BaseOperator

PROJECT = "{{ cookiecutter.project_slug }}"
CLI = "{{ cookiecutter.project_slug | replace('_', '-') }}"
HERE = Path(__file__).parent
CLUSTER: dict[str, Any] = yaml.safe_load((HERE / "cluster.yaml").read_text(encoding="utf-8"))
IMAGE = os.path.expandvars(os.environ.get("PIPELINE_IMAGE", CLUSTER["image"]))
# What the pipeline is: its steps (`pipeline.STEPS`) and its raw data (params.yaml
# data.raw_path). Beside the project, read from it; an Airflow without the project (MWAA,
# Composer or the chart on AKS: `make flow-deploy`) parses their copy, written beside this
# file (pipeline_manifest.py).
MANIFEST = HERE / "pipeline.json"
if MANIFEST.exists():
    PIPELINE: dict[str, Any] = json.loads(MANIFEST.read_text(encoding="utf-8"))
else:
    from {{ cookiecutter.project_slug }}.pipeline import STEPS

    # The repository's params.yaml, wherever the DAG file is linked from.
    PARAMS = yaml.safe_load((HERE.resolve().parent / "params.yaml").read_text(encoding="utf-8"))
    PIPELINE = {"steps": [step.name for step in STEPS], "raw_path": PARAMS["data"]["raw_path"]}
# The pods read the raw data on the workspace volume, where the project keeps it.
RAW_PATH = f"{CLUSTER['workspace']}/{PIPELINE['raw_path']}"
TRAINING_SCHEDULE = "23 4 * * 1"  # Mondays 04:23 UTC
MONITORING_SCHEDULE = "41 5 * * *"  # daily 05:41 UTC
SCORING_SCHEDULE = "11 6 * * *"  # daily 06:11 UTC, after monitoring
START = datetime(2025, 1, 1)
# Updated by the monitoring DAG when retraining is recommended; schedules a training run.
DRIFT = Asset(name=f"{PROJECT}_retraining_recommended")
DRIFT_EXIT_CODE = (
    3  # `monitor` exits with it when retraining is recommended (monitoring/summary.py)
)
NO_DRIFT_EXIT_CODE = 99  # the monitoring pod's exit code for "nothing to do" (task skipped)


def in_pod(task_id: str, command: str, **kwargs: Any) -> BaseOperator:
    """A task that runs one CLI command in the project's image on Kubernetes, with the
    workspace (data, models, reports) on a shared volume."""
    from kubernetes.client import models as k8s  # type: ignore[import-untyped]

    # cluster.yaml's pod_operator: Kubernetes' own in Airflow's cluster, or the cloud's
    # (make flow-deploy sets it from Terraform) with its own arguments. Each pod is named
    # after its task, in the project's namespace.
    module, _, class_name = CLUSTER["pod_operator"]["class"].rpartition(".")
    operator: type[BaseOperator] = getattr(importlib.import_module(module), class_name)
    return operator(
        task_id=task_id,
        namespace=CLUSTER["namespace"],
        image=IMAGE,
        cmds=["sh", "-c"],
        arguments=[command],
        env_vars={
            f"{PROJECT.upper()}_{name}": value
            for name, value in {"DATA__RAW_PATH": RAW_PATH, **CLUSTER["env"]}.items()
        },
        volumes=[
            k8s.V1Volume(
                name="workspace",
                persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(
                    claim_name=CLUSTER["workspace_claim"]
                ),
            )
        ],
        env_from=[
            k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=secret))
            for secret in CLUSTER["env_from_secrets"]
        ],
        volume_mounts=[k8s.V1VolumeMount(name="workspace", mount_path=CLUSTER["workspace"])],
        on_finish_action="delete_succeeded_pod",
        **CLUSTER["pod_operator"]["arguments"],
        **kwargs,
    )


def step_task(name: str) -> Any:
    """One pipeline step as a task: the very function the CLI runs (`{CLI} <name>`)."""
    if IMAGE:
        return in_pod(name, f"{CLI} {name}")

    @task(task_id=name)
    def run_step() -> str:
        # Imported when the step runs: only the in-process path needs the project.
        from {{ cookiecutter.project_slug }}.config import get_settings
        from {{ cookiecutter.project_slug }}.pipeline import STEPS, Step, score_batch

        steps = {step.name: step for step in (*STEPS, Step("score", score_batch))}
        return str(steps[name].run(get_settings()))

    return run_step()


with DAG(
    dag_id=f"{PROJECT}_training",
    description="Ingest, train and promote: weekly, and when monitoring recommends retraining.",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(TRAINING_SCHEDULE, timezone="UTC"), assets=DRIFT
    ),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    tags=[PROJECT, "continuous-training"],
) as training:
    previous = None
    for step_name in PIPELINE["steps"]:
        current = step_task(step_name)
        if previous is not None:
            previous >> current
        previous = current


with DAG(
    dag_id=f"{PROJECT}_monitoring",
    description=(
        "Drift, skew and live quality of the logged traffic, and the champion's age; "
        "retraining when they degrade."
    ),
    schedule=CronTriggerTimetable(MONITORING_SCHEDULE, timezone="UTC"),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    tags=[PROJECT, "continuous-monitoring"],
) as monitoring:
    if IMAGE:
        # `monitor` exits DRIFT_EXIT_CODE when retraining is recommended: that success
        # updates the asset; "no drift" skips the task, so the asset stays as it was.
        check = in_pod(
            "monitor",
            f"{CLI} monitor; code=$?; [ $code -eq {DRIFT_EXIT_CODE} ] && exit 0; "
            f"[ $code -eq 0 ] && exit {NO_DRIFT_EXIT_CODE}; exit $code",
            outlets=[DRIFT],
            skip_on_exit_code=NO_DRIFT_EXIT_CODE,
        )
        step_task("ingest") >> check  # today's batch first
    else:

        @task.short_circuit(task_id="monitor")
        def monitor() -> bool:
            """Continue (and update the asset) only when retraining is recommended."""
            # Imported here: heavy, and only this task needs it.
            from {{ cookiecutter.project_slug }}.config import get_settings
            from {{ cookiecutter.project_slug }}.monitoring.traffic import (
                monitor_logged_traffic,
            )

            summary = monitor_logged_traffic(get_settings())  # None: too little traffic
            return summary is not None and summary.retraining_recommended

        @task(outlets=[DRIFT])
        def request_retraining() -> None:
            """Updating the asset schedules a training run."""

        step_task("ingest") >> monitor() >> request_retraining()  # today's batch first


with DAG(
    dag_id=f"{PROJECT}_batch_scoring",
    description="The champion scores the day's batch (params.yaml score.input and output).",
    schedule=CronTriggerTimetable(SCORING_SCHEDULE, timezone="UTC"),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    tags=[PROJECT, "batch-scoring"],
) as batch_scoring:
    # `score` without options, as the CLI runs it: the day's batch into score.output.
    step_task("score")
