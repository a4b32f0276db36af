"""Monitoring a batch file (`monitor --current <csv>`; default: the processed current
batch): data drift against the training data and, with a champion, prediction drift,
live quality when the batch carries labels beside the quality estimated without them
(estimate.py), and age."""

from __future__ import annotations

import logging
from pathlib import Path

from ..config import Settings
from ..data import ingest
from ..data.contract import TARGET
from ..data.ingest import read_batch
from ..registry import model_store
from ..tasks import TASK
from .alerts import publish
from .champion import check_champion
from .drift import detect_drift, prediction_drift
from .estimate import check_estimate
from .summary import DriftSummary

logger = logging.getLogger(__name__)


def run_monitoring(settings: Settings, current_path: Path | None = None) -> DriftSummary:
    """Check a batch (default: the processed current batch) against the training data, and
    the champion (if any) for prediction drift, live quality and age; write the summary and
    alert when retraining is recommended."""
    paths = ingest.ProcessedPaths.under(settings.data.processed_dir)
    reference = ingest.read_processed(paths.train)
    current = (
        ingest.read_processed(paths.current) if current_path is None else read_batch(current_path)
    )
    summary = detect_drift(reference, current, settings.monitor)
    summary = summary.model_copy(update={"source": str(current_path or paths.current)})
    try:
        model, metadata = model_store.load(settings.serve.model_dir, settings.serve.trusted_signers)
    except model_store.ModelNotFoundError:
        logger.info("no champion in %s: checking data drift only", settings.serve.model_dir)
    else:
        holdout = ingest.read_processed(paths.test)
        output = model_store.predict_output(model, current)
        served = TASK.served_value(output)
        expected = TASK.served_value(model_store.predict_output(model, holdout))
        summary = summary.model_copy(
            update={"prediction_drift": prediction_drift(expected, served, settings.monitor)}
        )
        labels = current[TARGET.name].to_numpy() if TARGET.name in current.columns else None
        decided = TASK.decide(output, model_store.threshold_of(model))
        summary = check_champion(
            summary, metadata, settings.monitor, labels=labels, served=served, decided=decided
        )
        summary = check_estimate(
            summary, metadata.metrics, settings.monitor, served=served, decided=decided
        )
    publish(summary, settings.monitor)
    return summary
