"""Drift with Evidently: compare a batch of current data with the training data, and the
champion's predicted probabilities on it with its predictions on the held-out split.

Each model input is tested for a change of distribution (Kolmogorov-Smirnov for numbers,
chi-square for categories; a column has drifted when the test's p-value is below
params.yaml `monitor.column_drift_threshold`). The batch has drifted when the share of
drifted inputs reaches `monitor.drift_share_threshold`. Prediction drift compares with the
held-out predictions (out-of-sample, unlike predictions on the training data).

Evidently's interactive reports (drift_report.html, prediction_drift_report.html) are
written to `monitor.reports_dir`; the summary is the entry points' to write (alerts.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.metrics import ValueDrift
from evidently.presets import DataDriftPreset

from ..config import MonitorSettings
from ..data.contract import CATEGORICAL_INPUTS, MODEL_INPUTS, NUMERIC_INPUTS
from .summary import ColumnDrift, DriftSummary

REPORT_FILE = "drift_report.html"
PREDICTION_REPORT_FILE = "prediction_drift_report.html"
PREDICTION = "prediction"  # the served value (tasks/: a probability or the predicted value)
# p-value tests, so that column_drift_threshold means the same for every column and batch
# size. For very large batches consider distance-based methods (e.g. "wasserstein" and
# "jensenshannon"); their thresholds are distances, not p-values.
NUM_METHOD = "ks"
CAT_METHOD = "chisquare"


def prediction_drift(
    expected: np.ndarray, observed: np.ndarray, settings: MonitorSettings
) -> ColumnDrift:
    """Drift of the predicted probability: `observed` (on the current batch, or as served)
    against `expected` (the champion's predictions on the held-out split), in a report of
    its own."""
    definition = DataDefinition(numerical_columns=[PREDICTION])
    test = ValueDrift(
        column=PREDICTION, method=NUM_METHOD, threshold=settings.column_drift_threshold
    )
    snapshot = Report([test], include_tests=True).run(
        Dataset.from_pandas(pd.DataFrame({PREDICTION: observed}), data_definition=definition),
        Dataset.from_pandas(pd.DataFrame({PREDICTION: expected}), data_definition=definition),
    )
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
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
    *,
    inputs: Sequence[str] = MODEL_INPUTS,
) -> DriftSummary:
    """Compare the `inputs` (default: every model input) of `current` with `reference`;
    writes Evidently's HTML report to `settings.reports_dir`."""
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
    results: dict[str, Any] = json.loads(snapshot.json())
    columns = _column_results(results)
    share = _drift_share(results)
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    report = settings.reports_dir / REPORT_FILE
    snapshot.save_html(str(report))  # Evidently writes only when given a str
    return DriftSummary(
        drift_detected=share >= settings.drift_share_threshold,
        drift_share=share,
        drift_share_threshold=settings.drift_share_threshold,
        column_drift_threshold=settings.column_drift_threshold,
        drifted_columns=[name for name, column in columns.items() if column.drifted],
        columns=columns,
        reference_rows=len(reference),
        current_rows=len(current),
        report=str(report),
    )
