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
a KubernetesPodOperator running the project's CLI in that image (see README.md).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from airflow.sdk import DAG, Asset, AssetOrTimeSchedule, CronTriggerTimetable, task
from airflow.sdk.bases.operator import BaseOperator

from {{ cookiecutter.project_slug }}.config import get_settings
from {{ cookiecutter.project_slug }}.pipeline import STEPS, Step, score_batch

PROJECT = "{{ cookiecutter.project_slug }}"
CLI = "{{ cookiecutter.project_slug | replace('_', '-') }}"
CLUSTER: dict[str, Any] = yaml.safe_load(
    Path(__file__).with_name("cluster.yaml").read_text(encoding="utf-8")
)
IMAGE = os.path.expandvars(os.environ.get("PIPELINE_IMAGE", CLUSTER["image"]))
# The pods read the raw data on the workspace volume, where the project keeps it: params.yaml
# (beside dags/, in the repository and in the image) names the file, data.raw_path.
PARAMS: dict[str, Any] = yaml.safe_load(
    Path(__file__).resolve().parent.parent.joinpath("params.yaml").read_text(encoding="utf-8")
)
RAW_PATH = f"{CLUSTER['workspace']}/{PARAMS['data']['raw_path']}"
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
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from kubernetes.client import models as k8s  # type: ignore[import-untyped]

    return KubernetesPodOperator(
        task_id=task_id,
        name=f"{PROJECT}-{task_id}".replace("_", "-"),
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
        volume_mounts=[k8s.V1VolumeMount(name="workspace", mount_path=CLUSTER["workspace"])],
        on_finish_action="delete_succeeded_pod",
        **kwargs,
    )


def step_task(step: Step) -> Any:
    """One pipeline step as a task: the very function the CLI runs."""
    if IMAGE:
        return in_pod(step.name, f"{CLI} {step.name}")

    @task(task_id=step.name)
    def run_step() -> str:
        return str(step.run(get_settings()))

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
    for step in STEPS:
        current = step_task(step)
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
    (ingest,) = (s for s in STEPS if s.name == "ingest")  # today's batch
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
        step_task(ingest) >> check
    else:

        @task.short_circuit(task_id="monitor")
        def monitor() -> bool:
            """Continue (and update the asset) only when retraining is recommended."""
            # Imported here: heavy, and only this task needs it.
            from {{ cookiecutter.project_slug }}.monitoring.traffic import (
                monitor_logged_traffic,
            )

            summary = monitor_logged_traffic(get_settings())  # None: too little traffic
            return summary is not None and summary.retraining_recommended

        @task(outlets=[DRIFT])
        def request_retraining() -> None:
            """Updating the asset schedules a training run."""

        step_task(ingest) >> monitor() >> request_retraining()


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
    step_task(Step("score", score_batch))
