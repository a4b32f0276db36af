"""Monitoring on real traffic: the last `inference_log.window_days` of the inference log
(serving/inference_log.py) as the current batch.

* Input drift: every model input logged as it was received (not dropped, not hashed),
  against the training data.
* Prediction drift: the probabilities the API served, against the champion's predictions
  on the held-out split.
* Live quality: the ROC AUC of what the champion served, on the rows whose labels arrived,
  beside the quality estimated from what it served on every row, before labels
  (estimate.py).
* Model age: as for any batch (champion.py).
* Probation: a champion promoted less than `monitor.rollback.probation_days` ago that breaks
  its bounds is rolled back to the previous one (probation.py).
* The shadow challenger, when one is served beside the champion: compared on the same
  labelled rows, then promoted, retired or kept (shadow.py).
* Training/serving skew: the champion's logged inputs re-scored offline with its sklearn
  pipeline; a served probability that differs (beyond scorer.TOLERANCE) means serving
  transforms inputs differently from training: a bug to fix, not a reason to retrain.

`monitor_logged_traffic` is continuous monitoring as the CLI's `monitor` and every
orchestrator run it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ..config import Settings
from ..data import ingest
from ..data.contract import MODEL_INPUTS, TARGET
from ..registry import model_store
from ..registry.champion import sync_challenger, sync_champion
from ..registry.deliveries import record_degradation
from ..serving import inference_log
from ..serving.scorer import TOLERANCE
from ..tasks import TASK
from ..tracking import get_tracker
from .alerts import publish
from .champion import check_champion
from .delivery import report_delivery
from .drift import detect_drift, prediction_drift
from .estimate import check_estimate
from .probation import check_probation
from .shadow import judge_challenger
from .summary import DriftSummary, SkewCheck

logger = logging.getLogger(__name__)


class NotEnoughTrafficError(LookupError):
    """The log window holds too few predictions to test."""


def check_skew(model: Pipeline, logged: pd.DataFrame) -> SkewCheck:
    """Re-score logged rows (all model inputs, as received) and compare with what was served."""
    offline = TASK.served_value(model_store.predict_output(model, logged[list(MODEL_INPUTS)]))
    gap = np.abs(offline - logged[inference_log.SERVED_VALUE].to_numpy(dtype=float))
    return SkewCheck(
        rows=len(logged),
        skewed_rows=int((gap > TOLERANCE).sum()),
        max_gap=float(gap.max(initial=0.0)),
        tolerance=TOLERANCE,
    )


def monitor_traffic(settings: Settings, now: datetime | None = None) -> DriftSummary:
    """Check the log window ending `now` (default: the current time); write the summary and
    alert when retraining is recommended or serving is skewed. Raises NotEnoughTrafficError."""
    config = settings.inference_log
    end = now or datetime.now(UTC)
    start = end - timedelta(days=config.window_days)
    logged = inference_log.read_window(config.url, start, end)
    if len(logged) < config.min_rows:
        raise NotEnoughTrafficError(
            f"{len(logged)} predictions logged in {config.url} from {start:%Y-%m-%d %H:%M} to "
            f"{end:%Y-%m-%d %H:%M} UTC, fewer than inference_log.min_rows={config.min_rows}: "
            "nothing to test yet (check a file instead with `monitor --current <csv>`)"
        )
    raw = [c for c in MODEL_INPUTS if c in logged.columns and c not in config.hash]
    paths = ingest.ProcessedPaths.under(settings.data.processed_dir)
    summary = detect_drift(ingest.read_processed(paths.train), logged, settings.monitor, inputs=raw)
    summary = summary.model_copy(update={"source": f"{config.url} from {start:%Y-%m-%d %H:%M} UTC"})
    try:
        model, metadata = model_store.load(settings.serve.model_dir, settings.serve.trusted_signers)
    except model_store.ModelNotFoundError:
        logger.info("no champion in %s: checking data drift only", settings.serve.model_dir)
    else:
        holdout = ingest.read_processed(paths.test)
        served = logged[inference_log.SERVED_VALUE].to_numpy(dtype=float)
        expected = TASK.served_value(model_store.predict_output(model, holdout))
        update: dict[str, object] = {
            "prediction_drift": prediction_drift(expected, served, settings.monitor)
        }
        own = logged[logged["model_version"].astype(str) == metadata.version]
        if len(raw) == len(MODEL_INPUTS) and not own.empty:
            update["skew"] = check_skew(model, own)
        labelled = own.dropna(subset=[TARGET.name])
        summary = check_champion(
            summary.model_copy(update=update),
            metadata,
            settings.monitor,
            labels=labelled[TARGET.name].to_numpy(dtype=TARGET.dtype),
            served=labelled[inference_log.SERVED_VALUE].to_numpy(dtype=float),
            decided=labelled[inference_log.SERVED_LABEL].to_numpy(),
        )
        summary = check_estimate(  # every row the champion served, labelled or not
            summary,
            metadata.metrics,
            settings.monitor,
            served=own[inference_log.SERVED_VALUE].to_numpy(dtype=float),
            decided=own[inference_log.SERVED_LABEL].to_numpy(),
        )
        # An estimate the monitor does not trust (see estimate.py) bounds no probation either.
        trusted = summary.estimated_quality if summary.estimate_note is None else None
        summary = check_probation(settings, summary, end, trusted)  # may roll back
        if summary.retraining_recommended and summary.model_version is not None:
            # The ledger's start of an outage: the next champion ends it (delivery.py).
            record_degradation(get_tracker(settings.tracking), summary.model_version, end)
    publish(summary, settings.monitor)
    judge_challenger(logged, settings)
    return summary


def monitor_logged_traffic(settings: Settings) -> DriftSummary | None:
    """Continuous monitoring: the registry's champion (and challenger) and the reference
    splits onto disk first (a fresh CI runner or an orchestrator's pod has neither), then
    the log window ending now against them, and the delivery metrics refreshed (delivery.py).
    None, with a warning saying why, when the window holds too little traffic to judge:
    nothing to retrain on yet."""
    tracker = get_tracker(settings.tracking)
    sync_champion(settings, tracker)
    sync_challenger(settings, tracker)  # judged on the rows the API logged with its scores
    paths = ingest.ProcessedPaths.under(settings.data.processed_dir)
    if not (paths.train.is_file() and paths.test.is_file()):
        ingest.ingest(settings.data, settings.seed)
    try:
        summary = monitor_traffic(settings)
    except NotEnoughTrafficError as error:
        logger.warning("%s", error)
        summary = None
    report_delivery(settings, tracker)  # with what this run recorded: a rollback, an outage
    return summary
