"""ML Test Score, infrastructure: the pipeline runs for real as Metaflow flows (local
runtime, a local datastore in a temporary directory), through Metaflow's Runner API."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import yaml

# Metaflow names runs after the user: $USER is unset in many containers and CI runners.
os.environ.setdefault("METAFLOW_USER", os.environ.get("USER") or "test")

from metaflow import Run, Runner

from {{ cookiecutter.project_slug }} import pipeline
from {{ cookiecutter.project_slug }}.config import ENV_PREFIX, Settings
from {{ cookiecutter.project_slug }}.registry import model_store
from {{ cookiecutter.project_slug }}.tracking import get_tracker

from ..conftest import PROJECT_ROOT, scored_today, serve_traffic, workspace_settings

pytestmark = pytest.mark.infrastructure

FLOWS = PROJECT_ROOT / "orchestration" / "metaflow"


@pytest.fixture
def fresh(tmp_path: Path) -> Settings:
    return workspace_settings(tmp_path)


def flow_env(settings: Settings, root: Path) -> dict[str, str]:
    """The flows read their settings from a params file in the workspace, and keep their
    datastore there too."""
    params = root / "params.yaml"
    params.write_text(yaml.safe_dump(settings.model_dump(mode="json")), encoding="utf-8")
    return {
        f"{ENV_PREFIX}PARAMS": str(params),
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(root),
        "METAFLOW_USER": os.environ["METAFLOW_USER"],
    }


def test_training_flow_runs_every_step_into_a_served_champion(
    fresh: Settings, tmp_path: Path
) -> None:
    """Infrastructure 3: the Metaflow run goes through ingest, train and promote and leaves a
    served champion and its gate decision as artifacts."""
    with Runner(
        str(FLOWS / "training_flow.py"), show_output=False, env=flow_env(fresh, tmp_path)
    ) as runner:
        running = runner.run()
        run: Run = running.run  # type: ignore[attr-defined]  # not in metaflow-stubs
        assert run.successful, running.stderr
        assert [step.pathspec.split("/")[-1] for step in reversed(list(run))] == [
            "start", "ingest", "train", "promote", "end"
        ]  # fmt: skip
        artifacts = run.data
        assert artifacts is not None
        assert artifacts.promoted, artifacts.reasons
        version = artifacts.candidate_version

    champion = get_tracker(fresh.tracking).get_champion()
    assert champion is not None
    assert champion.version == version
    _, served = model_store.load(fresh.serve.model_dir, fresh.serve.trusted_signers)
    assert served.version == version


def test_monitoring_flow_recommends_retraining_on_drifted_traffic(
    fresh: Settings, tmp_path: Path, current_frame: pd.DataFrame, champion_dir: Path
) -> None:
    """Monitoring: once the API has served the bundled drifted batch, the monitoring flow
    finds the drift in the logged traffic (deployed, it then publishes the event that
    triggers the training flow)."""
    serve_traffic(fresh, current_frame, champion_dir)
    with Runner(
        str(FLOWS / "monitoring_flow.py"), show_output=False, env=flow_env(fresh, tmp_path)
    ) as runner:
        running = runner.run()
        run: Run = running.run  # type: ignore[attr-defined]  # not in metaflow-stubs
        assert run.successful, running.stderr
        assert run.data is not None
        assert run.data.retraining_recommended


def test_scoring_flow_scores_the_days_batch_with_the_champion(
    fresh: Settings, tmp_path: Path, champion_dir: Path
) -> None:
    """Infrastructure 3: the daily batch-scoring flow scores params.yaml score.input with
    the champion, one row per input row, and keeps the figures as artifacts."""
    pipeline.ingest(fresh)  # the day's batch: the processed current split
    served = fresh.model_copy(
        update={"serve": fresh.serve.model_copy(update={"model_dir": champion_dir})}
    )
    with Runner(
        str(FLOWS / "scoring_flow.py"), show_output=False, env=flow_env(served, tmp_path)
    ) as runner:
        running = runner.run()
        run: Run = running.run  # type: ignore[attr-defined]  # not in metaflow-stubs
        assert run.successful, running.stderr
        assert run.data is not None
        rows, scored = run.data.rows, run.data.scored
    assert rows == scored == len(scored_today(served))


def test_the_monitoring_event_is_the_one_training_is_triggered_by() -> None:
    """The two flows agree on the event's name (monitoring publishes, training listens)."""
    events = {
        line.split("=", 1)[1].split("#")[0].strip()
        for name in ("training_flow.py", "monitoring_flow.py")
        for line in (FLOWS / name).read_text(encoding="utf-8").splitlines()
        if line.startswith("RETRAINING_EVENT =")
    }
    assert len(events) == 1, events
