"""Drift monitoring: the detector fires on drifted data only, reports, and alerts."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.project_slug }}.config import ENV_PREFIX, MonitorSettings, Settings
from {{ cookiecutter.project_slug }}.data.contract import MODEL_INPUTS, TARGET, DataContractError
from {{ cookiecutter.project_slug }}.data.ingest import ProcessedPaths
from {{ cookiecutter.project_slug }}.monitoring.alerts import alert
from {{ cookiecutter.project_slug }}.monitoring.batch import run_monitoring
from {{ cookiecutter.project_slug }}.monitoring.champion import OFFLINE_QUALITY, check_champion
from {{ cookiecutter.project_slug }}.monitoring.drift import (
    PREDICTION_REPORT_FILE,
    REPORT_FILE,
    detect_drift,
    prediction_drift,
)
from {{ cookiecutter.project_slug }}.monitoring.summary import (
    DRIFT_EXIT_CODE,
    SUMMARY_FILE,
    ColumnDrift,
    DriftSummary,
)
from {{ cookiecutter.project_slug }}.registry.model_store import (
    ModelMetadata,
    predict_output,
    threshold_of,
)
from {{ cookiecutter.project_slug }}.tasks import TASK
from {{ cookiecutter.project_slug }}.training.train import TrainedModel

from ..conftest import PROJECT_ROOT, local_server
from ..contract_cases import BREAKABLE, CATEGORICAL, NUMERIC, invalid_value

pytestmark = pytest.mark.monitoring

PACKAGE = "{{ cookiecutter.project_slug }}"


@pytest.fixture
def monitor_settings(settings: Settings, tmp_path: Path) -> MonitorSettings:
    return settings.monitor.model_copy(update={"reports_dir": tmp_path / "monitoring"})


@pytest.fixture
def summary() -> DriftSummary:
    return DriftSummary(
        drift_detected=True,
        drift_share=0.5,
        drift_share_threshold=0.3,
        column_drift_threshold=0.05,
        drifted_columns=["column_a"],
        columns={
            "column_a": ColumnDrift(method="ks", score=0.001, drifted=True),
            "column_b": ColumnDrift(method="ks", score=0.8, drifted=False),
        },
        reference_rows=800,
        current_rows=100,
        report="drift_report.html",
    )


class Webhook(BaseHTTPRequestHandler):
    """A local webhook that records the JSON bodies it receives."""

    received: ClassVar[list[object]] = []
    status: ClassVar[int] = 200

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def webhook() -> Iterator[tuple[str, type[Webhook]]]:
    """A webhook on 127.0.0.1, served by a background thread for the test's duration."""

    class Handler(Webhook):
        received: ClassVar[list[object]] = []  # one list per test

    with local_server(Handler) as url:
        yield f"{url}/alerts", Handler


def test_drift_is_detected(
    train_frame: pd.DataFrame, current_frame: pd.DataFrame, monitor_settings: MonitorSettings
) -> None:
    """Monitoring 2: a shifted batch (ingest.shift_world: numeric inputs grown, the top two
    categories of each categorical input swapped) is flagged, column by column."""
    summary = detect_drift(train_frame, current_frame, monitor_settings)
    assert summary.drift_detected
    assert summary.drift_share >= monitor_settings.drift_share_threshold
    assert {c.name for c in NUMERIC} <= set(summary.drifted_columns)
    categorical = {c.name for c in CATEGORICAL}
    assert not categorical or categorical & set(summary.drifted_columns)
    assert set(summary.columns) == set(MODEL_INPUTS)
    for name, column in summary.columns.items():
        assert 0.0 <= column.score <= 1.0
        assert column.drifted == (name in summary.drifted_columns)
        assert column.drifted == (column.score < monitor_settings.column_drift_threshold)
    assert summary.drift_share == pytest.approx(len(summary.drifted_columns) / len(MODEL_INPUTS))
    assert summary.prediction_drift is None
    assert (summary.reference_rows, summary.current_rows) == (len(train_frame), len(current_frame))


def test_no_drift_between_samples_of_the_same_data(
    train_frame: pd.DataFrame, holdout_frame: pd.DataFrame, monitor_settings: MonitorSettings
) -> None:
    """Monitoring 2: the detector stays quiet on data from the training distribution."""
    assert not detect_drift(train_frame, holdout_frame, monitor_settings).drift_detected
    half = train_frame.sample(frac=0.5, random_state=0)
    other_half = train_frame.drop(half.index)
    assert not detect_drift(half, other_half, monitor_settings).drift_detected


def test_prediction_drift(
    holdout_frame: pd.DataFrame,
    current_frame: pd.DataFrame,
    trained: TrainedModel,
    monitor_settings: MonitorSettings,
) -> None:
    """Monitoring 7: with a model, the distribution of its predictions on the current batch
    is compared with its predictions on the held-out split, in a report of its own."""
    expected = TASK.served_value(predict_output(trained.pipeline, holdout_frame))
    shifted = prediction_drift(
        expected,
        TASK.served_value(predict_output(trained.pipeline, current_frame)),
        monitor_settings,
    )
    assert 0.0 <= shifted.score <= 1.0
    assert (monitor_settings.reports_dir / PREDICTION_REPORT_FILE).is_file()
    same = prediction_drift(expected, expected, monitor_settings)
    assert not same.drifted
    assert same.score == pytest.approx(1.0)


def test_reports_are_written(settings: Settings, processed: ProcessedPaths) -> None:
    """Monitoring 2: each run leaves a readable report and a machine-readable summary."""
    monitor_settings = settings.monitor
    summary = run_monitoring(settings)
    html = monitor_settings.reports_dir / REPORT_FILE
    assert html.is_file()
    assert "<html" in html.read_text(encoding="utf-8")[:1000].lower()
    written = json.loads((monitor_settings.reports_dir / SUMMARY_FILE).read_text(encoding="utf-8"))
    assert {
        "generated_at",
        "drift_detected",
        "drift_share",
        "drift_share_threshold",
        "column_drift_threshold",
        "drifted_columns",
        "columns",
        "prediction_drift",
        "reference_rows",
        "current_rows",
        "model_version",
        "report",
    } <= set(written)
    assert written["drift_share"] == summary.drift_share
    assert set(written["columns"][MODEL_INPUTS[0]]) == {"method", "score", "drifted"}


def test_alert_posts_the_summary(
    summary: DriftSummary,
    webhook: tuple[str, type[Webhook]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Monitoring 1: drift notifies the team: a warning, and the summary POSTed as JSON."""
    url, handler = webhook
    with caplog.at_level(logging.WARNING):
        assert alert(summary, url)
    assert handler.received == [
        {**json.loads(summary.model_dump_json()), "reasons": summary.reasons}
    ]
    assert any("drift" in record.message for record in caplog.records)


def _dead_url() -> str:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/alerts"


def test_alert_survives_a_failing_webhook(
    summary: DriftSummary,
    webhook: tuple[str, type[Webhook]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Monitoring 1: a webhook that is down, erroring or misconfigured is logged, never a
    crash of the monitor."""
    url, handler = webhook
    handler.status = 500
    with caplog.at_level(logging.ERROR):
        assert not alert(summary, url)
        assert not alert(summary, _dead_url())
        assert not alert(summary, "file:///etc/passwd")
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 3
    assert not alert(summary, None)


def test_run_monitoring_end_to_end(
    settings: Settings, processed: ProcessedPaths, champion_dir: Path
) -> None:
    """Monitoring 2 / Monitoring 7: the scheduled check finds the drift in the current batch,
    with the champion's prediction drift, and the CLI turns it into exit code 3."""
    summary = run_monitoring(settings)
    assert summary.drift_detected
    assert summary.model_version == "1"
    assert summary.prediction_drift is not None
    assert (settings.monitor.reports_dir / SUMMARY_FILE).is_file()
    assert (settings.monitor.reports_dir / REPORT_FILE).is_file()
    assert DRIFT_EXIT_CODE == 3


def test_run_monitoring_on_a_given_batch(
    settings: Settings, processed: ProcessedPaths, tmp_path: Path
) -> None:
    """Monitoring 2: a batch from production, labelled, unlabelled or as served (inputs
    only), in CSV or Parquet, is validated against the contract and checked."""
    holdout = pd.read_parquet(processed.test)
    labelled, unlabelled = tmp_path / "labelled.csv", tmp_path / "unlabelled.csv"
    served = tmp_path / "served.csv"  # as the API logs requests: model inputs only
    holdout.to_csv(labelled, index=False)
    holdout.drop(columns=TARGET.name).to_csv(unlabelled, index=False)
    holdout[list(MODEL_INPUTS)].to_csv(served, index=False)
    in_parquet = tmp_path / "served.parquet"
    holdout[list(MODEL_INPUTS)].to_parquet(in_parquet, index=False)
    for path in (labelled, unlabelled, served, in_parquet):
        assert not run_monitoring(settings, path).drift_detected
    broken = tmp_path / "broken.csv"
    assert BREAKABLE is not None  # the target's bounds at least
    holdout.assign(**{BREAKABLE.name: invalid_value(BREAKABLE)}).to_csv(broken, index=False)
    with pytest.raises(DataContractError):
        run_monitoring(settings, broken)
    with pytest.raises(FileNotFoundError):
        run_monitoring(settings, tmp_path / "missing.csv")


def test_quality_drop_on_labelled_data_recommends_retraining(
    summary: DriftSummary,
    trained: TrainedModel,
    holdout_frame: pd.DataFrame,
    monitor_settings: MonitorSettings,
) -> None:
    """Model 2 / Monitoring 7: when labels arrive, live quality is compared with the offline
    quality the champion was promoted on; a fall beyond the bound recommends retraining."""
    quiet = summary.model_copy(update={"drift_detected": False})
    output = predict_output(trained.pipeline, holdout_frame)
    served = TASK.served_value(output)
    decided = TASK.decide(output, threshold_of(trained.pipeline))
    labels = holdout_frame[TARGET.name].to_numpy()
    offline = TASK.live_quality(labels, served, decided)
    assert offline is not None
    metadata = ModelMetadata(
        name="m", version="1", run_id="r", model_type="x", metrics={OFFLINE_QUALITY: offline}
    )
    same = check_champion(
        quiet, metadata, monitor_settings, labels=labels, served=served, decided=decided
    )
    assert same.live_quality == pytest.approx(offline)
    assert not same.quality_degraded
    assert not same.retraining_recommended

    # The bound is the line: a champion promoted on a quality the live one falls just beyond
    # max_quality_drop from is flagged, one it falls just short of is not.
    bound = monitor_settings.max_quality_drop
    for drop, degraded in ((bound * 1.05, True), (bound * 0.95, False)):
        promoted_on = offline + drop if TASK.live.higher_is_better else offline / (1 + drop)
        assert TASK.live.drop(promoted_on, offline) == pytest.approx(drop)
        promoted = ModelMetadata(
            name="m", version="1", run_id="r", model_type="x",
            metrics={OFFLINE_QUALITY: promoted_on},
        )  # fmt: skip
        near = check_champion(
            quiet, promoted, monitor_settings, labels=labels, served=served, decided=decided
        )
        assert near.quality_degraded is degraded, (drop, bound, near)

    # The outcomes turned against the model: the most confident (or highest) served value
    # now meets the lowest label.
    turned = np.sort(labels)[np.argsort(np.argsort(-served, kind="stable"))]
    worse = check_champion(
        quiet, metadata, monitor_settings, labels=turned, served=served, decided=decided
    )
    assert worse.quality_degraded
    assert worse.retraining_recommended
    went = "fell" if TASK.live.higher_is_better else "rose"
    assert f"{TASK.live.label} {went}" in worse.reasons[0]


def test_stale_champion_recommends_retraining(
    summary: DriftSummary,
    trained: TrainedModel,
    current_frame: pd.DataFrame,
    monitor_settings: MonitorSettings,
) -> None:
    """Monitoring 4 / Model 4: models are not too stale: past the age limit, retrain."""
    quiet = summary.model_copy(update={"drift_detected": False})
    metadata = ModelMetadata(name="m", version="1", run_id="r", model_type="x")
    limit = monitor_settings.max_model_age_days
    probability = predict_output(trained.pipeline, current_frame)
    fresh = check_champion(
        quiet, metadata, monitor_settings, served=probability,
        now=metadata.trained_at + timedelta(days=limit - 1),
    )  # fmt: skip
    assert not fresh.model_stale
    assert fresh.live_quality is None  # no labels, no live quality
    old = check_champion(
        quiet, metadata, monitor_settings, labels=current_frame[TARGET.name].to_numpy(),
        served=probability, now=metadata.trained_at + timedelta(days=limit + 1),
    )  # fmt: skip
    assert old.model_stale
    assert old.retraining_recommended
    assert old.reasons == [f"the champion is {limit + 1} days old"]


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("batch.csv", "", "the batch is empty"),
        ("batch.csv", ",".join(MODEL_INPUTS) + "\n", "the batch is empty"),
        ("batch.parquet", ",".join(MODEL_INPUTS) + "\n", "is not a readable Parquet file"),
    ],
    ids=["empty", "header", "not-parquet"],
)
def test_monitoring_an_empty_or_unreadable_batch_is_one_clear_error(
    settings: Settings,
    processed: ProcessedPaths,
    tmp_path: Path,
    name: str,
    content: str,
    said: str,
) -> None:
    """Monitoring 2: `monitor` on an empty or header-only CSV, or a .parquet file that is not
    Parquet, says what is wrong in one line and exits 1 (no traceback, no report)."""
    batch = tmp_path / name
    batch.write_text(content, encoding="utf-8")
    env = {
        **os.environ,
        f"{ENV_PREFIX}DATA__PROCESSED_DIR": str(settings.data.processed_dir),
        f"{ENV_PREFIX}MONITOR__REPORTS_DIR": str(tmp_path / "reports"),
        f"{ENV_PREFIX}SERVE__MODEL_DIR": str(tmp_path / "no-model"),
        # A dependency compiled without cached bytecode may warn about its own source.
        "PYTHONWARNINGS": "ignore::SyntaxWarning",
    }
    result = subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-m", PACKAGE, "monitor", "--current", str(batch)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert said in lines[0]
    assert not (tmp_path / "reports").exists()
