"""Monitoring on logged traffic: drift, live quality where labels arrived, and
training/serving skew, which fires when serving transforms inputs unlike training."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.pipeline import Pipeline

from {{ cookiecutter.project_slug }} import serve
from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.inference_log import InferenceLog, read_window, write_labels
from {{ cookiecutter.project_slug }}.predict import Scorer, load_scorer
from {{ cookiecutter.project_slug }}.schema import MODEL_INPUTS, TARGET
from {{ cookiecutter.project_slug }}.traffic import monitor_traffic

pytestmark = pytest.mark.monitoring


def log_traffic(settings: Settings, rows: pd.DataFrame) -> None:
    """Serve `rows` through the API, which logs them, and let their labels arrive."""
    log = InferenceLog(settings.inference_log)
    with TestClient(serve.create_app(settings.serve.model_dir, log)) as client:
        for i in range(0, len(rows), 50):
            chunk = rows.iloc[i : i + 50]
            response = client.post(
                "/predict/batch",
                json={"instances": chunk[list(MODEL_INPUTS)].to_dict("records")},
                headers={"X-Request-ID": f"r{i}"},
            )
            assert response.status_code == 200
    logged = read_window(
        settings.inference_log.url, datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC)
    )
    ids = pd.DataFrame({"request_id": [f"r{i - i % 50}" for i in range(len(rows))]})
    ids["row"] = [i % 50 for i in range(len(rows))]
    labels = ids.assign(**{TARGET.name: rows[TARGET.name].to_numpy()})
    assert len(logged) == len(rows)
    write_labels(settings.inference_log.url, labels, "all")


@pytest.fixture
def traffic_settings(settings: Settings, champion_dir: Path, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={
            "inference_log": settings.inference_log.model_copy(
                update={"url": str(tmp_path / "log"), "min_rows": 50}
            ),
            "monitor": settings.monitor.model_copy(update={"reports_dir": tmp_path / "reports"}),
        }
    )


def test_clean_traffic_shows_no_skew_and_its_live_quality(
    traffic_settings: Settings, holdout_frame: pd.DataFrame
) -> None:
    log_traffic(traffic_settings, holdout_frame)
    summary = monitor_traffic(traffic_settings)
    assert summary.current_rows == len(holdout_frame)
    assert summary.skew is not None
    assert summary.skew.rows == len(holdout_frame)
    assert not summary.skew.detected
    assert summary.live_roc_auc is not None
    assert summary.live_roc_auc > 0.6
    assert summary.prediction_drift is not None
    assert not summary.drift_detected


def test_skew_fires_on_a_serving_transform(
    traffic_settings: Settings, holdout_frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Monitoring 3: serving that reads one input in other units (thousands of DM) than
    training did is caught by re-scoring the logged inputs offline."""

    def skewed_scorer(pipeline: Pipeline) -> tuple[Scorer, str]:
        scorer, kind = load_scorer(pipeline)

        def score(columns: Mapping[str, Any]) -> np.ndarray:
            amounts = np.asarray(columns["credit_amount"]) / 1000
            return scorer({**columns, "credit_amount": amounts})

        return score, kind

    monkeypatch.setattr(serve, "load_scorer", skewed_scorer)
    log_traffic(traffic_settings, holdout_frame)
    summary = monitor_traffic(traffic_settings)
    assert summary.skew is not None
    assert summary.skew.detected
    assert summary.skew.skewed_rows > len(holdout_frame) // 2
