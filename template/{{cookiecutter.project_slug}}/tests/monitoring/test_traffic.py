"""Monitoring on logged traffic: drift, live quality where labels arrived, and
training/serving skew, which fires when serving transforms inputs unlike training."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.data.ingest import ProcessedPaths
from {{ cookiecutter.project_slug }}.monitoring.delivery import DELIVERY_FILE
from {{ cookiecutter.project_slug }}.monitoring.traffic import (
    monitor_logged_traffic,
    monitor_traffic,
)
from {{ cookiecutter.project_slug }}.serving import slot
from {{ cookiecutter.project_slug }}.serving.scorer import Scorer, load_scorer
from {{ cookiecutter.project_slug }}.tasks import TASK

from ..conftest import label_traffic, serve_traffic, workspace_settings
from ..contract_cases import NO_NUMERIC, NUMERIC, require

pytestmark = pytest.mark.monitoring


@pytest.fixture
def traffic_settings(
    settings: Settings, champion_dir: Path, tmp_path: Path, holdout_frame: pd.DataFrame
) -> Settings:
    rows = min(50, len(holdout_frame))  # the held-out rows are the traffic
    return settings.model_copy(
        update={
            "inference_log": settings.inference_log.model_copy(
                update={"url": str(tmp_path / "log"), "min_rows": rows}
            ),
            "monitor": settings.monitor.model_copy(update={"reports_dir": tmp_path / "reports"}),
        }
    )


def test_clean_traffic_shows_no_skew_and_its_live_quality(
    traffic_settings: Settings, holdout_frame: pd.DataFrame
) -> None:
    serve_traffic(traffic_settings, holdout_frame)
    summary = monitor_traffic(traffic_settings)
    assert summary.current_rows == len(holdout_frame)
    assert summary.skew is not None
    assert summary.skew.rows == len(holdout_frame)
    assert not summary.skew.detected
    assert summary.live_quality is not None
    assert summary.live_quality > 0.6
    assert summary.prediction_drift is not None
    assert not summary.drift_detected


def test_quality_is_estimated_before_labels_and_set_beside_the_realized_one(
    traffic_settings: Settings, holdout_frame: pd.DataFrame
) -> None:
    """Monitoring 7: before any label arrives, the monitor reports the quality expected
    from what the champion served on every logged row (a regressor's: said not estimated);
    once the labels join, the realized quality stands beside the same estimate."""
    serve_traffic(traffic_settings, holdout_frame, labelled=False)
    before = monitor_traffic(traffic_settings)
    assert before.live_quality is None
    assert before.estimate_rows == len(holdout_frame)
    if not TASK.served_confidence:
        assert before.estimated_quality is None
        assert before.estimate_note is not None
        assert "not estimated" in before.estimate_note
        return
    assert before.estimated_quality is not None
    assert f"estimated {before.estimated_quality:.3f}" in before.verdict()
    label_traffic(traffic_settings, holdout_frame)
    after = monitor_traffic(traffic_settings)
    assert after.estimated_quality == before.estimated_quality
    assert after.live_quality is not None
    assert f"realized {after.live_quality:.3f}" in after.verdict()


def test_skew_fires_on_a_serving_transform(
    traffic_settings: Settings, holdout_frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Monitoring 3: serving that reads one input in other units (thousands) than training
    did is caught by re-scoring the logged inputs offline."""
    require(NUMERIC, NO_NUMERIC)
    name = NUMERIC[0].name

    def skewed_scorer(pipeline: Pipeline) -> tuple[Scorer, str]:
        scorer, kind = load_scorer(pipeline)

        def score(columns: Mapping[str, Any]) -> np.ndarray:
            amounts = np.asarray(columns[name]) / 1000
            return scorer({**columns, name: amounts})

        return score, kind

    monkeypatch.setattr(slot, "load_scorer", skewed_scorer)  # what the API loads
    serve_traffic(traffic_settings, holdout_frame)
    summary = monitor_traffic(traffic_settings)
    assert summary.skew is not None
    assert summary.skew.detected
    assert summary.skew.skewed_rows > len(holdout_frame) // 2


def test_a_fresh_worker_with_too_little_traffic_recommends_nothing(tmp_path: Path) -> None:
    """Continuous monitoring as the CLI and every orchestrator run it, on a fresh worker
    (no reference splits, nothing logged): the splits are ingested, and with too little
    traffic to judge nothing is recommended (None, not a crash or a retraining); the
    delivery metrics are refreshed all the same (a registry with no delivery yet)."""
    fresh = workspace_settings(tmp_path)

    assert monitor_logged_traffic(fresh) is None
    assert ProcessedPaths.under(fresh.data.processed_dir).train.is_file()
    delivery = json.loads((fresh.reports_dir / DELIVERY_FILE).read_text(encoding="utf-8"))
    assert (delivery["promotions"], delivery["since"]) == (0, None)
