"""ML Test Score, infrastructure: the pipeline runs for real as Dagster assets (materialized
in-process), with its asset checks, and the drift sensor requests retraining."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "true")

import orchestration.dagster.definitions as definitions
from dagster import DagsterInstance, RunRequest, build_sensor_context, materialize

from {{ cookiecutter.project_slug }} import pipeline
from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.registry import model_store
from {{ cookiecutter.project_slug }}.tracking import get_tracker

from ..conftest import scored_today, serve_traffic, workspace_settings

pytestmark = pytest.mark.infrastructure


@pytest.fixture
def fresh(tmp_path: Path) -> Settings:
    return workspace_settings(tmp_path)


def test_assets_materialize_into_a_served_champion_and_pass_their_checks(
    fresh: Settings,
) -> None:
    """Infrastructure 3: raw data -> splits -> candidate + evaluation -> champion, with the
    data contract and gate checks passing."""
    result = materialize(
        [*definitions.ASSETS, *definitions.CHECKS],
        resources={"settings": fresh},
        instance=DagsterInstance.ephemeral(),
    )

    assert result.success
    materialized = {
        event.asset_key.to_user_string()
        for event in result.get_asset_materialization_events()
        if event.asset_key is not None
    }
    assert materialized == {"processed_splits", "candidate_model", "evaluation", "champion"}
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"data_contract": True, "passes_the_gate": True}
    champion = get_tracker(fresh.tracking).get_champion()
    assert champion is not None
    _, served = model_store.load(fresh.serve.model_dir, fresh.serve.trusted_signers)
    assert served.version == champion.version
    assert (fresh.reports_dir / "model_card.md").is_file()


def test_the_sensor_requests_retraining_when_the_monitor_recommends_it(
    fresh: Settings, current_frame: pd.DataFrame, champion_dir: Path
) -> None:
    """Monitoring: once the API has served the bundled drifted batch, the sensor finds the
    drift in the logged traffic and asks for the training job."""
    serve_traffic(fresh, current_frame, champion_dir)
    context = build_sensor_context(resources={"settings": fresh})

    request = definitions.retrain_on_drift(context)

    assert isinstance(request, RunRequest), request
    assert "drifted" in request.tags["retraining_reason"]
    assert definitions.retrain_on_drift.job_name == definitions.training_job.name


def test_batch_scores_materialize_the_days_scores_of_the_champion(
    fresh: Settings, champion_dir: Path
) -> None:
    """Infrastructure 3: today's partition of `batch_scores` (what the daily schedule runs)
    scores params.yaml score.input with the champion, one row per input row."""
    pipeline.ingest(fresh)  # the day's batch: the processed current split
    served = fresh.model_copy(
        update={"serve": fresh.serve.model_copy(update={"model_dir": champion_dir})}
    )
    today = datetime.now(UTC).date().isoformat()

    result = materialize(
        [*definitions.ASSETS, definitions.batch_scores],
        selection=[definitions.batch_scores],
        partition_key=today,
        resources={"settings": served},
        instance=DagsterInstance.ephemeral(),
    )

    assert result.success
    (event,) = result.get_asset_materialization_events()
    assert event.partition == today
    scored_today(served)


def test_definitions_schedule_training_and_sense_drift() -> None:
    """The code location `dagster dev` loads holds the jobs, their schedules and the sensor."""
    defs = definitions.defs
    assert defs.resolve_job_def("training").name == "training"
    assert defs.resolve_schedule_def("weekly_training").cron_schedule == "0 3 * * 1"
    assert defs.resolve_schedule_def("batch_scoring_schedule").cron_schedule == "0 6 * * *"
    assert defs.resolve_sensor_def("retrain_on_drift").job_name == "training"
