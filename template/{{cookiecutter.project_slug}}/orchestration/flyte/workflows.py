"""The project's pipeline as Flyte workflows (flytekit).

Three workflows over the steps that `pipeline.py` declares (no ML code here):

* `training`: ingest -> train -> promote, one task per step;
* `monitoring`: ingest -> monitor, then the `retrain` subworkflow (train -> promote) only
  when monitoring recommends retraining (a Flyte `conditional`);
* `batch_scoring`: the champion scores the day's batch (params.yaml score.input, output).

Their launch plans run them on a cron schedule once registered on a Flyte cluster
(`training_weekly`, `monitoring_daily`, `batch_scoring_daily`, which passes its scheduled
time as `kickoff_time`: the day whose batch it scores). Every task runs in the project's
image (flyte.yaml).

    pyflyte run orchestration/flyte/workflows.py training      # locally, in this process
    pyflyte register --project <p> --domain development orchestration/flyte/workflows.py
"""

# flytekit ships no type information: its decorators return untyped objects.
# mypy: disable-error-code="untyped-decorator,misc,no-untyped-call"

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from flytekit import CronSchedule, LaunchPlan, conditional, task, workflow  # type: ignore[import-untyped]

from {{ cookiecutter.project_slug }}.pipeline import STEPS

CONFIG: dict[str, Any] = yaml.safe_load(
    Path(__file__).with_name("flyte.yaml").read_text(encoding="utf-8")
)
IMAGE = os.path.expandvars(os.environ.get("PIPELINE_IMAGE", CONFIG["image"]))
INGEST, *RETRAIN = [step.name for step in STEPS]


@task(container_image=IMAGE)
def run_step(step: str) -> str:
    """One step of `pipeline.STEPS`, by name, with the settings of the container."""
    from {{ cookiecutter.project_slug }}.config import get_settings

    (found,) = (s for s in STEPS if s.name == step)
    return str(found.run(get_settings()))


@task(container_image=IMAGE)
def monitor() -> bool:
    """Drift, skew and live quality of the traffic the API logged, and the champion's age:
    is retraining recommended?"""
    from {{ cookiecutter.project_slug }}.config import get_settings
    from {{ cookiecutter.project_slug }}.monitoring.traffic import monitor_logged_traffic

    summary = monitor_logged_traffic(get_settings())  # None: too little traffic to judge
    return summary is not None and summary.retraining_recommended


@task(container_image=IMAGE)
def keep_champion() -> str:
    """Nothing to retrain."""
    return "no retraining recommended"


@task(container_image=IMAGE)
def score(kickoff_time: datetime) -> str:
    """The batch of `kickoff_time`'s day (UTC) scored by the champion, in chunks."""
    from {{ cookiecutter.project_slug }}.config import get_settings
    from {{ cookiecutter.project_slug }}.pipeline import score_batch

    return str(score_batch(get_settings(), kickoff_time.date()))


def chain(names: list[str]) -> Any:
    """The named steps in order, each after the previous one; the last one's promise."""
    previous = None
    for name in names:
        current = run_step(step=name).with_overrides(name=name)
        if previous is not None:
            previous >> current
        previous = current
    return previous


@workflow
def training() -> str:
    """Ingest, train and promote; returns the promotion decision."""
    return chain([step.name for step in STEPS])  # type: ignore[no-any-return]


@workflow
def retrain() -> str:
    """Train and promote on the data already ingested."""
    return chain(RETRAIN)  # type: ignore[no-any-return]


@workflow
def monitoring() -> str:
    """Check the logged traffic; retrain (and gate) when retraining is recommended."""
    fresh = run_step(step=INGEST).with_overrides(name=INGEST)
    recommended = monitor()
    fresh >> recommended
    return (  # type: ignore[no-any-return]
        conditional("retraining_recommended")
        .if_(recommended.is_true())
        .then(retrain())
        .else_()
        .then(keep_champion())
    )


@workflow
def batch_scoring(kickoff_time: datetime) -> str:
    """Score the batch of `kickoff_time`'s day with the champion."""
    return score(kickoff_time=kickoff_time)  # type: ignore[no-any-return]


training_weekly = LaunchPlan.get_or_create(
    training, name="training_weekly", schedule=CronSchedule(schedule=CONFIG["training_cron"])
)
monitoring_daily = LaunchPlan.get_or_create(
    monitoring, name="monitoring_daily", schedule=CronSchedule(schedule=CONFIG["monitoring_cron"])
)
batch_scoring_daily = LaunchPlan.get_or_create(
    batch_scoring,
    name="batch_scoring_daily",
    schedule=CronSchedule(
        schedule=CONFIG["batch_scoring_cron"], kickoff_time_input_arg="kickoff_time"
    ),
)
