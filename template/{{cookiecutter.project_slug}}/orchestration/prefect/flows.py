"""Prefect flows over the project's pipeline steps (`pipeline.STEPS`): no ML logic here.

- `training`: one task per step, in the declared order (ingest, train, promote).
- `monitoring`: the checks of the traffic the API logged (drift, skew, live quality) and of
  the champion's age; when they recommend retraining it runs `training` as a subflow, so
  drift-triggered retraining shows up as one flow run tree.
- `batch_scoring`: the champion scores the day's batch (params.yaml score.input and output).

Run locally with `make flow` / `make flow-monitor` / `make flow-score` (no server needed:
Prefect starts a temporary one); prefect.yaml schedules them on a work pool (see README.md).
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from {{ cookiecutter.project_slug }}.config import Settings, get_settings
from {{ cookiecutter.project_slug }}.monitoring.summary import DriftSummary
from {{ cookiecutter.project_slug }}.monitoring.traffic import monitor_logged_traffic
from {{ cookiecutter.project_slug }}.pipeline import STEPS, Step, score_batch
from {{ cookiecutter.project_slug }}.serving.batch import BatchResult

# Steps read files and talk to the tracker: transient failures (a network file system, a
# tracking server restart) are worth a retry. No caching: every step writes files or the
# registry, which a cached result would silently skip (DVC's `make repro` is the
# content-addressed way to skip up-to-date steps).
RETRIES = 2
RETRY_DELAY_SECONDS = 30


@task(retries=RETRIES, retry_delay_seconds=RETRY_DELAY_SECONDS, cache_policy=NO_CACHE)
def run_step(step: Step, settings: Settings) -> object:
    """One pipeline step, as a Prefect task named after it."""
    return step.run(settings)


@task(retries=RETRIES, retry_delay_seconds=RETRY_DELAY_SECONDS, cache_policy=NO_CACHE)
def check_monitoring(settings: Settings) -> DriftSummary | None:
    """The logged traffic against the registry's champion (None: too little traffic)."""
    return monitor_logged_traffic(settings)


@flow(name="training")
def training(settings: Settings | None = None) -> object:
    """Continuous training: every pipeline step in order; returns the gate's decision."""
    settings = settings or get_settings()
    result: object = None
    for step in STEPS:
        result = run_step.with_options(name=step.name)(step, settings)
    get_run_logger().info("%s", result)
    return result


@flow(name="monitoring")
def monitoring(settings: Settings | None = None) -> DriftSummary | None:
    """Continuous monitoring: retrains (the `training` flow) when the checks recommend it."""
    settings = settings or get_settings()
    summary = check_monitoring(settings)
    logger = get_run_logger()
    if summary is None:
        logger.info("too little traffic logged to judge: nothing to retrain on")
    elif summary.retraining_recommended:
        logger.warning("retraining: %s", "; ".join(summary.reasons))
        training(settings)
    else:
        logger.info("no drift, quality holds, model is fresh")
    return summary


@task(retries=RETRIES, retry_delay_seconds=RETRY_DELAY_SECONDS, cache_policy=NO_CACHE)
def score(settings: Settings) -> BatchResult:
    """The day's batch scored by the champion (its output appears whole or not at all)."""
    return score_batch(settings)


@flow(name="batch-scoring")
def batch_scoring(settings: Settings | None = None) -> BatchResult:
    """Batch scoring: params.yaml score.input scored into score.output ({date}: today)."""
    result = score(settings or get_settings())
    get_run_logger().info("%s", result)
    return result


if __name__ == "__main__":
    training()
