"""Probation: for `monitor.rollback.probation_days` after a promotion (registry/rollback.py
records it), each monitoring run holds the new champion to the bounds of params.yaml
`monitor.rollback`:

* its live quality on the labelled rows it served, against its offline figure (the task's
  live metric, as check_champion measures it);
* the error rate of the API's prediction requests (5xx), from its Prometheus endpoint
  (`metrics_url`: counts since its processes started), when one is set;
* its quality estimated before labels arrive, when the monitor estimates one and the bound
  `max_estimated_quality_drop` is set.

A breach restores the previous champion (`rollback.roll_back`: the API hot-swaps back, the
version is marked rolled back for the gate) and the summary, the log and the alert say what
happened and why. Outside probation, or within bounds, nothing changes."""

from __future__ import annotations

import logging
import urllib.request
from datetime import datetime

from prometheus_client.parser import text_string_to_metric_families

from ..config import RollbackSettings, Settings
from ..registry.rollback import read_probation, roll_back
from ..tasks import TASK
from ..tracking import get_tracker
from .summary import DriftSummary, ProbationCheck

REQUESTS = "http_requests_total"  # serving/metrics.py's counter of requests
PREDICTIONS = "/predict"  # the endpoints whose failures count: /predict and /predict/batch
METRICS_TIMEOUT = 10.0  # seconds

logger = logging.getLogger(__name__)


def error_rate(metrics: str) -> float | None:
    """The share of prediction requests that failed (5xx) in the API's Prometheus text
    exposition `metrics` (None when it counts no prediction request)."""
    total = failed = 0.0
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == REQUESTS and sample.labels["endpoint"].startswith(PREDICTIONS):
                total += sample.value
                failed += sample.value if sample.labels["status"].startswith("5") else 0.0
    return failed / total if total else None


def read_error_rate(url: str | None) -> float | None:
    """The API's error rate from its Prometheus endpoint `url` (None when not set, or
    unreachable: the other bounds are still judged, and the log says why this one is not)."""
    if url is None:
        return None
    try:
        with urllib.request.urlopen(url, timeout=METRICS_TIMEOUT) as response:  # noqa: S310
            return error_rate(response.read().decode("utf-8"))
    except (OSError, ValueError) as error:  # URLError, HTTPError and timeouts are OSErrors
        logger.warning("probation: the error rate is not judged: %s: %s", url, error)
        return None


def breaches(
    summary: DriftSummary,
    bounds: RollbackSettings,
    *,
    errors: float | None = None,
    estimated: float | None = None,
) -> list[str]:
    """The probation bounds the champion breaks, given what the summary measured, the API's
    error rate `errors` and the quality `estimated` before labels arrive (each if known)."""
    found = []
    if errors is not None and errors > bounds.max_error_rate:
        found.append(f"error rate {errors * 100:.1f}% > {bounds.max_error_rate * 100:.1f}%")
    offline, metric = summary.offline_quality, summary.quality_metric
    for what, value, bound in (
        ("live", summary.live_quality, bounds.max_quality_drop),
        ("estimated", estimated, bounds.max_estimated_quality_drop),
    ):
        if offline is None or value is None or bound is None:
            continue
        drop = TASK.live.drop(offline, value)
        if drop > bound:
            found.append(
                f"{what} {metric} {value:.3f} vs {offline:.3f} offline: a drop of {drop:.3f} "
                f"> {bound:.3f}"
            )
    return found


def check_probation(
    settings: Settings, summary: DriftSummary, now: datetime, estimated: float | None = None
) -> DriftSummary:
    """The summary with the probation of its champion judged (and acted on) at `now`, when
    the last promotion's champion is the one monitored and its probation is not over."""
    tracker = get_tracker(settings.tracking)
    probation = read_probation(tracker)
    bounds = settings.monitor.rollback
    if probation is None or probation.version != summary.model_version:
        return summary
    days = probation.days_at(now)
    if days > bounds.probation_days:
        return summary
    found = breaches(
        summary, bounds, errors=read_error_rate(bounds.metrics_url), estimated=estimated
    )
    rolled_back = bool(found) and probation.previous is not None
    if rolled_back:
        outcome = str(roll_back(settings, tracker, probation, "; ".join(found), now))
    elif found:
        outcome = f"v{probation.version} breaks its probation, but was the first champion"
    else:
        outcome = f"v{probation.version} holds its probation bounds"
    check = ProbationCheck(
        version=probation.version,
        previous=probation.previous,
        days=round(days, 2),
        breaches=found,
        rolled_back=rolled_back,
        outcome=outcome,
    )
    return summary.model_copy(update={"probation": check})
