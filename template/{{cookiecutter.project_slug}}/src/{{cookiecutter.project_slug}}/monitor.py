"""Monitoring with Evidently: compare a batch of current data with the training data, and
the champion's quality and age with what it promised.

Each model input is tested for a change of distribution (Kolmogorov-Smirnov for numbers,
chi-square for categories; a column has drifted when the test's p-value is below
params.yaml `monitor.column_drift_threshold`). The batch has drifted when the share of
drifted inputs reaches `monitor.drift_share_threshold`. With a champion model, the
distribution of its predicted probabilities is compared with its predictions on the
held-out split (prediction drift; out-of-sample, unlike predictions on the training data).
When the batch carries labels, the champion's ROC AUC on it is compared with its offline
(held-out) ROC AUC; and a champion older than `monitor.max_model_age_days` is stale.
Drift, a quality drop or staleness each make the run recommend retraining.

The run writes Evidently's interactive report (drift_report.html) and a machine-readable
summary (drift_summary.json) to `monitor.reports_dir`, and alerts (a log warning, plus a
POST of the summary to `monitor.alert_webhook` when one is set) when drift is detected.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.metrics import ValueDrift
from evidently.presets import DataDriftPreset
from pydantic import BaseModel, Field, computed_field
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline

from . import data, model_store
from .config import MonitorSettings, Settings
from .predict import predict_probability
from .schema import CATEGORICAL_INPUTS, COLUMNS, MODEL_INPUTS, NUMERIC_INPUTS, TARGET, validate

logger = logging.getLogger(__name__)

DRIFT_EXIT_CODE = 3  # `monitor` exits with it when retraining is recommended
REPORT_FILE = "drift_report.html"
PREDICTION_REPORT_FILE = "prediction_drift_report.html"
SUMMARY_FILE = "drift_summary.json"
PREDICTION = "predicted_probability"
# p-value tests, so that column_drift_threshold means the same for every column and batch
# size. For very large batches consider distance-based methods (e.g. "wasserstein" and
# "jensenshannon"); their thresholds are distances, not p-values.
NUM_METHOD = "ks"
CAT_METHOD = "chisquare"
WEBHOOK_TIMEOUT = 10.0  # seconds
COLUMNS_OUTSIDE_MODEL = tuple(c.name for c in COLUMNS if not c.model_input)


class EmptyBatchError(ValueError):
    """The batch to monitor has no rows."""


class ColumnDrift(BaseModel):
    """The drift test of one column."""

    method: str
    score: float = Field(description="The test's p-value: small means the column has drifted.")
    drifted: bool


class SkewCheck(BaseModel):
    """Training/serving skew: logged inputs re-scored offline with the champion's pipeline,
    compared with the probabilities the API served for them (see traffic.py)."""

    rows: int = Field(description="Logged predictions of the champion that were re-scored.")
    skewed_rows: int = Field(description="Rows whose served probability differs.")
    max_gap: float = Field(description="Largest absolute difference of probabilities.")
    tolerance: float

    @computed_field  # type: ignore[prop-decorator]
    @property
    def detected(self) -> bool:
        return self.skewed_rows > 0


class DriftSummary(BaseModel):
    """What a monitoring run found; written as drift_summary.json and sent to the webhook."""

    generated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    drift_detected: bool
    drift_share: float = Field(description="Share of the model inputs that drifted.")
    drift_share_threshold: float
    column_drift_threshold: float
    drifted_columns: list[str]
    columns: dict[str, ColumnDrift]
    prediction_drift: ColumnDrift | None = Field(
        default=None, description="Drift of the predicted probability (with a model only)."
    )
    reference_rows: int
    current_rows: int
    model_version: str | None = None
    report: str = Field(description="Evidently's HTML report.")
    live_roc_auc: float | None = Field(
        default=None, description="The champion's ROC AUC on the batch, when it has labels."
    )
    offline_roc_auc: float | None = Field(
        default=None, description="The champion's ROC AUC on the held-out split."
    )
    quality_degraded: bool = False
    model_age_days: float | None = None
    model_stale: bool = False
    source: str = Field(default="", description="What was checked: a file or a log window.")
    skew: SkewCheck | None = Field(
        default=None, description="Training/serving skew (on logged traffic only)."
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def retraining_recommended(self) -> bool:
        return self.drift_detected or self.quality_degraded or self.model_stale

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reasons(self) -> list[str]:
        reasons = []
        if self.drift_detected:
            reasons.append(f"{round(self.drift_share * 100)}% of the inputs drifted")
        if self.quality_degraded:
            reasons.append(
                f"ROC AUC fell from {self.offline_roc_auc:.3f} to {self.live_roc_auc:.3f}"
            )
        if self.model_stale:
            reasons.append(f"the champion is {self.model_age_days:.0f} days old")
        return reasons


def prediction_drift(
    model: Pipeline,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    settings: MonitorSettings,
    served: Any = None,
) -> ColumnDrift:
    """Drift of the predicted probability, in a report of its own (its reference rows are
    the held-out ones, not the training rows of the data drift report). `served`: the
    probabilities served for `current`, when known (logged traffic)."""
    definition = DataDefinition(numerical_columns=[PREDICTION])
    snapshot = Report(
        [
            ValueDrift(
                column=PREDICTION, method=NUM_METHOD, threshold=settings.column_drift_threshold
            )
        ],
        include_tests=True,
    ).run(
        Dataset.from_pandas(
            pd.DataFrame(
                {PREDICTION: predict_probability(model, current) if served is None else served}
            ),
            data_definition=definition,
        ),
        Dataset.from_pandas(
            pd.DataFrame({PREDICTION: predict_probability(model, reference)}),
            data_definition=definition,
        ),
    )
    snapshot.save_html(str(settings.reports_dir / PREDICTION_REPORT_FILE))
    return _column_results(json.loads(snapshot.json()))[PREDICTION]


def _column_results(results: dict[str, Any]) -> dict[str, ColumnDrift]:
    """Per-column p-values (ValueDrift metrics) and Evidently's verdicts (their tests)."""
    verdicts = {
        test["metric_config"]["params"]["column"]: test["status"] == "FAIL"
        for test in results["tests"]
        if test["metric_config"]["params"]["type"].endswith(":ValueDrift")
    }
    return {
        metric["config"]["column"]: ColumnDrift(
            method=metric["config"]["method"],
            score=metric["value"],
            drifted=verdicts[metric["config"]["column"]],
        )
        for metric in results["metrics"]
        if metric["config"]["type"].endswith(":ValueDrift")
    }


def _drift_share(results: dict[str, Any]) -> float:
    (share,) = (
        metric["value"]["share"]
        for metric in results["metrics"]
        if metric["config"]["type"].endswith(":DriftedColumnsCount")
    )
    return float(share)


def detect_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    settings: MonitorSettings,
    champion: tuple[Pipeline, model_store.ModelMetadata] | None = None,
    *,
    prediction_reference: pd.DataFrame | None = None,
    inputs: Sequence[str] = MODEL_INPUTS,
) -> DriftSummary:
    """Compare the model inputs of `current` with `reference` and, given the champion (as
    model_store.load returns it), its predictions on `current` with those on
    `prediction_reference` (default: `reference`), its live quality and its age.
    Only the `inputs` are tested (default: every model input).
    Writes the HTML reports and the JSON summary to `settings.reports_dir`."""
    inputs = list(inputs)
    definition = DataDefinition(
        numerical_columns=[c for c in NUMERIC_INPUTS if c in inputs],
        categorical_columns=[c for c in CATEGORICAL_INPUTS if c in inputs],
    )
    preset = DataDriftPreset(
        columns=inputs,
        drift_share=settings.drift_share_threshold,
        threshold=settings.column_drift_threshold,
        num_method=NUM_METHOD,
        cat_method=CAT_METHOD,
    )
    snapshot = Report([preset], include_tests=True).run(
        Dataset.from_pandas(current[inputs], data_definition=definition),
        Dataset.from_pandas(reference[inputs], data_definition=definition),
    )
    results = json.loads(snapshot.json())
    columns = _column_results(results)
    share = _drift_share(results)

    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    report = settings.reports_dir / REPORT_FILE
    snapshot.save_html(str(report))  # Evidently writes only when given a str
    prediction = None
    if champion is not None:
        baseline = reference if prediction_reference is None else prediction_reference
        prediction = prediction_drift(champion[0], baseline, current, settings)
    summary = DriftSummary(
        drift_detected=share >= settings.drift_share_threshold,
        drift_share=share,
        drift_share_threshold=settings.drift_share_threshold,
        column_drift_threshold=settings.column_drift_threshold,
        drifted_columns=[name for name, column in columns.items() if column.drifted],
        columns=columns,
        prediction_drift=prediction,
        reference_rows=len(reference),
        current_rows=len(current),
        model_version=None if champion is None else champion[1].version,
        report=str(report),
    )
    if champion is not None:
        summary = check_champion(summary, *champion, current, settings)
    (settings.reports_dir / SUMMARY_FILE).write_text(
        summary.model_dump_json(indent=2), encoding="utf-8"
    )
    return summary


def check_champion(
    summary: DriftSummary,
    model: Pipeline,
    metadata: model_store.ModelMetadata,
    current: pd.DataFrame,
    settings: MonitorSettings,
    now: datetime | None = None,
) -> DriftSummary:
    """Add the champion's live quality (when the batch has labels) and its age."""
    age = ((now or datetime.now(UTC)) - metadata.trained_at).total_seconds() / 86400
    update: dict[str, Any] = {
        "model_age_days": round(age, 2),
        "model_stale": age > settings.max_model_age_days,
    }
    offline = metadata.metrics.get("roc_auc")
    labels = current.get(TARGET.name)
    if offline is not None and labels is not None and labels.nunique() == 2:
        live = float(roc_auc_score(labels, predict_probability(model, current)))
        update |= {
            "live_roc_auc": live,
            "offline_roc_auc": offline,
            "quality_degraded": offline - live > settings.max_quality_drop,
        }
    return summary.model_copy(update=update)


def alert(summary: DriftSummary, webhook: str | None) -> bool:
    """Warn in the log and POST the summary as JSON to the webhook, if one is configured.
    Never raises: a monitor must report drift even when the webhook is down. Returns
    whether the webhook accepted the alert."""
    logger.warning(
        "retraining recommended: %s (drifted inputs: %s); report in %s",
        "; ".join(summary.reasons),
        ", ".join(summary.drifted_columns) or "none",
        summary.report,
    )
    if not webhook:
        return False
    # The URL is not logged: webhook URLs often embed a secret token.
    if urllib.parse.urlsplit(webhook).scheme not in ("http", "https"):
        logger.error("the alert webhook is not an http(s) URL; the alert was not sent")
        return False
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        webhook,
        data=summary.model_dump_json().encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:  # noqa: S310
            logger.info("drift alert sent to the webhook (HTTP %s)", response.status)
    except (OSError, ValueError) as error:  # URLError, HTTPError and timeouts are OSErrors
        logger.error("could not send the drift alert to the webhook: %s", error)
        return False
    return True


def read_batch(path: Path) -> pd.DataFrame:
    """A batch to check, validated against the data contract: labelled, unlabelled, or
    model inputs only (e.g. logged API requests, which carry no protected attributes)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise EmptyBatchError(f"the batch is empty: {path} has no header and no rows") from None
    if frame.empty:
        raise EmptyBatchError(f"the batch is empty: {path} has a header but no rows")
    labelled = TARGET.name in frame.columns
    inputs_only = not set(COLUMNS_OUTSIDE_MODEL) & set(frame.columns)
    return validate(frame, with_target=labelled, inputs_only=inputs_only, source=path)


def run_monitoring(settings: Settings, current_path: Path | None = None) -> DriftSummary:
    """Check a batch (default: the processed current batch) against the training data, and
    the champion (if any) for prediction drift, live quality and age; alert when
    retraining is recommended."""
    paths = data.ProcessedPaths.under(settings.data.processed_dir)
    reference = data.read_processed(paths.train)
    current = (
        data.read_processed(paths.current) if current_path is None else read_batch(current_path)
    )
    try:
        champion = model_store.load(settings.serve.model_dir)
    except model_store.ModelNotFoundError:
        logger.info("no champion in %s: checking data drift only", settings.serve.model_dir)
        summary = detect_drift(reference, current, settings.monitor)
    else:
        summary = detect_drift(
            reference,
            current,
            settings.monitor,
            champion,
            prediction_reference=data.read_processed(paths.test),
        )
    if summary.retraining_recommended:
        alert(summary, settings.monitor.alert_webhook)
    return summary
