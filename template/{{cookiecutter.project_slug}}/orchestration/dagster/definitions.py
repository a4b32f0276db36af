"""Dagster software-defined assets over the project's pipeline steps (`pipeline.py`): no ML
logic here.

    raw_data -> processed_splits -> candidate_model + evaluation -> champion
    (ingest)                        (train)                          (promote)

Asset checks: the processed splits keep the data contract; the evaluation passes the
promotion gate's absolute bars (blocking: a failing candidate never reaches `champion`).
A weekly schedule retrains; a daily sensor runs the monitor and requests the training job
when it recommends retraining. `batch_scores`, partitioned by day, is the champion's scores
of that day's batch (params.yaml score.input and output, `{date}` the partition), built every
day by its schedule. `make dagster-ui` serves it all (workspace.yaml).
"""

from collections.abc import Iterator
from dataclasses import asdict
from datetime import date

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetExecutionContext,
    AssetsDefinition,
    AssetSelection,
    AssetSpec,
    DailyPartitionsDefinition,
    Definitions,
    MaterializeResult,
    ResourceParam,
    RunRequest,
    ScheduleDefinition,
    SkipReason,
    asset,
    asset_check,
    build_schedule_from_partitioned_job,
    define_asset_job,
    multi_asset,
    sensor,
)

from {{ cookiecutter.project_slug }} import pipeline
from {{ cookiecutter.project_slug }}.config import Settings, get_settings
from {{ cookiecutter.project_slug }}.data import ingest
from {{ cookiecutter.project_slug }}.data.contract import DataContractError, validate
from {{ cookiecutter.project_slug }}.monitoring.traffic import monitor_logged_traffic
from {{ cookiecutter.project_slug }}.registry import model_store
from {{ cookiecutter.project_slug }}.registry.champion import candidate_dir
from {{ cookiecutter.project_slug }}.registry.gate import review_candidate
from {{ cookiecutter.project_slug }}.tasks import TASK
from {{ cookiecutter.project_slug }}.tracking import get_tracker
from {{ cookiecutter.project_slug }}.training.candidate import train_candidate

GROUP = "training"
DAY = 24 * 60 * 60  # seconds

raw_data = AssetSpec(
    "raw_data",
    description="The raw applicant data (params.yaml ingest.raw_path), versioned by DVC.",
    group_name=GROUP,
)


@asset(deps=[raw_data], group_name=GROUP)
def processed_splits(settings: ResourceParam[Settings]) -> MaterializeResult[None]:
    """Validate the raw data against the contract; write the train, test and current splits."""
    paths = pipeline.ingest(settings)
    rows = {name: len(pd.read_parquet(path)) for name, path in asdict(paths).items()}
    return MaterializeResult(metadata={f"{name}_rows": count for name, count in rows.items()})


@asset_check(asset=processed_splits)
def data_contract(settings: ResourceParam[Settings]) -> AssetCheckResult:
    """Every split still satisfies the data contract (data/contract.py)."""
    problems = {}
    for name, path in asdict(ingest.ProcessedPaths.under(settings.data.processed_dir)).items():
        try:
            validate(pd.read_parquet(path))
        except DataContractError as error:
            problems[name] = str(error)
    return AssetCheckResult(passed=not problems, metadata=problems)


@multi_asset(
    specs=[
        AssetSpec("candidate_model", deps=[processed_splits], group_name=GROUP),
        AssetSpec("evaluation", deps=[processed_splits], group_name=GROUP),
    ]
)
def candidate_model_and_evaluation(
    settings: ResourceParam[Settings],
) -> Iterator[MaterializeResult[None]]:
    """Train a candidate, register it and write its metrics, figures and model card."""
    metadata = train_candidate(settings, get_tracker(settings.tracking))
    yield MaterializeResult(
        asset_key="candidate_model",
        metadata={"version": metadata.version, "model_type": metadata.model_type},
    )
    yield MaterializeResult(
        asset_key="evaluation",
        metadata={
            **{name: float(value) for name, value in sorted(metadata.metrics.items())},
            "model_card": str(settings.reports_dir / "model_card.md"),
        },
    )


@asset_check(asset="evaluation", blocking=True)
def passes_the_gate(settings: ResourceParam[Settings]) -> AssetCheckResult:
    """The candidate clears the gate's absolute bars (the task's floor, the baseline, the
    fairness bound); `champion` then also compares it with the current champion."""
    _, candidate = model_store.load(candidate_dir(settings), signers=None)
    primary = TASK.primary.key  # ROC AUC, or RMSE for regression (tasks/)
    baseline = {primary: candidate.metrics[f"baseline_{primary}"]}
    decision = review_candidate(candidate.metrics, baseline, None, settings.gate)
    return AssetCheckResult(passed=decision.promote, metadata={"reasons": decision.reasons})


@asset(deps=["candidate_model", "evaluation"], group_name=GROUP)
def champion(settings: ResourceParam[Settings]) -> MaterializeResult[None]:
    """The promotion gate: the candidate becomes the served champion if it beats the current
    one (reports/promotion.json says why either way)."""
    decision = pipeline.promote(settings, get_tracker(settings.tracking))
    signers = settings.serve.trusted_signers
    served = model_store.load(settings.serve.model_dir, signers)[1] if decision.promote else None
    return MaterializeResult(
        metadata={
            "promoted": decision.promote,
            "reasons": decision.reasons,
            "served_version": served.version if served else "unchanged",
        }
    )


training_job = define_asset_job("training", selection=AssetSelection.groups(GROUP))

weekly_training = ScheduleDefinition(
    name="weekly_training", job=training_job, cron_schedule="0 3 * * 1", execution_timezone="UTC"
)


@sensor(job=training_job, minimum_interval_seconds=DAY)
def retrain_on_drift(settings: ResourceParam[Settings]) -> RunRequest | SkipReason:
    """Continuous monitoring, once a day: drift, skew and live quality of the traffic the API
    logged, and the champion's age."""
    summary = monitor_logged_traffic(settings)
    if summary is None:
        return SkipReason("too little traffic logged to judge")
    if not summary.retraining_recommended:
        return SkipReason("no drift, quality holds, model is fresh")
    return RunRequest(
        run_key=summary.generated_at.isoformat(),
        tags={"retraining_reason": "; ".join(summary.reasons)},
    )


@asset(
    deps=[champion],
    # end_offset=1: today's partition exists from midnight, so the schedule scores today's
    # batch, {date} as the other orchestrators and `score` fill it in.
    partitions_def=DailyPartitionsDefinition(start_date="2026-01-01", timezone="UTC", end_offset=1),
    group_name="scoring",
)
def batch_scores(
    context: AssetExecutionContext, settings: ResourceParam[Settings]
) -> MaterializeResult[None]:
    """The day's batch scored by the champion, in chunks (serving/batch.py); rows that
    break the data contract go to the rejects file beside the scores."""
    result = pipeline.score_batch(settings, date.fromisoformat(context.partition_key))
    return MaterializeResult(
        metadata={
            "rows": result.rows,
            "scored": result.scored,
            "rejected": result.rejected,
            "output": result.output,
            "rejects": result.rejects,
            "model_version": result.model_version,
        }
    )


scoring_job = define_asset_job("batch_scoring", selection=[batch_scores])
# One run a day, at 06:00 UTC, for that day's partition.
daily_scoring = build_schedule_from_partitioned_job(scoring_job, hour_of_day=6)


ASSETS: list[AssetsDefinition | AssetSpec] = [
    raw_data,
    processed_splits,
    candidate_model_and_evaluation,
    champion,
]
CHECKS: list[AssetChecksDefinition] = [data_contract, passes_the_gate]

defs = Definitions(
    assets=[*ASSETS, batch_scores],
    asset_checks=CHECKS,
    jobs=[training_job, scoring_job],
    schedules=[weekly_training, daily_scoring],
    sensors=[retrain_on_drift],
    resources={"settings": get_settings()},
)
