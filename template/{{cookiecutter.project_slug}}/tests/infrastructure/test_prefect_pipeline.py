"""ML Test Score, infrastructure: the pipeline runs for real as Prefect flows (ingest, train
and promote as tasks; monitoring that retrains on drift), against a temporary Prefect server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pandas as pd
import pytest
import yaml

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import orchestration.prefect.flows as flows
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import TaskRunSort
from prefect.testing.utilities import prefect_test_harness

from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.pipeline import STEPS
from {{ cookiecutter.project_slug }}.registry import model_store
from {{ cookiecutter.project_slug }}.registry.gate import PromotionDecision
from {{ cookiecutter.project_slug }}.tracking import get_tracker

from ..conftest import PROJECT_ROOT, scored_today, serve_traffic, workspace_settings

pytestmark = pytest.mark.infrastructure
SERVER_STARTUP_TIMEOUT = 180  # seconds; the temporary server migrates a fresh database


@pytest.fixture(scope="module", autouse=True)
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=SERVER_STARTUP_TIMEOUT):
        yield


def task_names(flow_run_id: UUID) -> list[str]:
    """The tasks of a flow run, in the order they started (names without the run suffix)."""
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            sort=TaskRunSort.EXPECTED_START_TIME_ASC,
        )
    return [run.name.rsplit("-", 1)[0] for run in runs]


@pytest.fixture
def fresh(tmp_path: Path) -> Settings:
    return workspace_settings(tmp_path)


def test_training_flow_runs_every_step_and_serves_a_champion(fresh: Settings) -> None:
    """Infrastructure 3: the Prefect flow runs the declared steps, in order, into a champion."""
    state = flows.training(fresh, return_state=True)

    assert state.type == StateType.COMPLETED, state
    assert state.state_details.flow_run_id is not None
    assert task_names(state.state_details.flow_run_id) == [step.name for step in STEPS]
    decision = state.result()
    assert isinstance(decision, PromotionDecision)
    assert decision.promote, decision
    champion = get_tracker(fresh.tracking).get_champion()
    assert champion is not None
    _, served = model_store.load(fresh.serve.model_dir, fresh.serve.trusted_signers)
    assert served.version == champion.version
    assert (fresh.serve.model_dir / model_store.METADATA_FILE).is_file()
    assert (fresh.reports_dir / "model_card.md").is_file()


def test_monitoring_flow_retrains_when_the_monitor_recommends_it(
    fresh: Settings, current_frame: pd.DataFrame
) -> None:
    """Monitoring: once the API has served the bundled drifted batch, the monitoring flow
    finds the drift in the logged traffic and runs the training flow."""
    flows.training(fresh)
    first = get_tracker(fresh.tracking).get_champion()
    serve_traffic(fresh, current_frame)

    summary = flows.monitoring(fresh)

    assert summary is not None, "the logged traffic was not judged"
    assert summary.retraining_recommended, summary.reasons
    retrained = model_store.load(fresh.models_dir / "candidate", signers=None)[1]
    assert first is not None
    assert retrained.version != first.version, "the monitoring flow trained no new candidate"


def test_batch_scoring_flow_scores_the_days_batch_with_the_champion(fresh: Settings) -> None:
    """Infrastructure 3: the scheduled batch-scoring flow scores params.yaml score.input
    with the champion training promoted, one row per input row."""
    flows.training(fresh)
    state = flows.batch_scoring(fresh, return_state=True)

    assert state.type == StateType.COMPLETED, state
    assert state.state_details.flow_run_id is not None
    assert task_names(state.state_details.flow_run_id) == ["score"]
    scored_today(fresh)


def test_deployments_schedule_every_flow_from_this_directory() -> None:
    """prefect.yaml points at the flows that exist here, on a cron schedule each."""
    config = yaml.safe_load((PROJECT_ROOT / "orchestration/prefect/prefect.yaml").read_text())
    names = {"training", "monitoring", "batch_scoring"}
    for deployment in config["deployments"]:
        path, name = deployment["entrypoint"].split(":")
        assert (PROJECT_ROOT / path).is_file()
        assert name in names
        assert deployment["schedules"][0]["cron"].count(" ") == 4
        assert deployment["work_pool"]["name"]
    assert {d["entrypoint"].split(":")[1] for d in config["deployments"]} == names
