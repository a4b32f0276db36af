"""Alerts: a log warning, plus a POST of the summary to `monitor.alert_webhook` when one is
set; `publish` is what every monitoring entry point ends with."""

from __future__ import annotations

import logging
import urllib.parse
import urllib.request
from pathlib import Path

from ..config import MonitorSettings
from .summary import SUMMARY_FILE, DriftSummary

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT = 10.0  # seconds


def publish(summary: DriftSummary, settings: MonitorSettings) -> Path:
    """Write the summary (SUMMARY_FILE) and alert when retraining is recommended, serving
    is skewed or a champion on probation was rolled back. Returns the summary's path."""
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    path = settings.reports_dir / SUMMARY_FILE
    path.write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    if summary.skew is not None and summary.skew.detected:
        logger.error(
            "training/serving skew: %d of %d served probabilities differ from the champion's "
            "offline scores (by up to %.3g): serving transforms the inputs differently",
            summary.skew.skewed_rows,
            summary.skew.rows,
            summary.skew.max_gap,
        )
    if summary.probation is not None and summary.probation.breaches:
        logger.error("probation: %s", summary.reasons[-1])
    if summary.retraining_recommended or (summary.probation and summary.probation.rolled_back):
        alert(summary, settings.alert_webhook)
    return path


def alert(summary: DriftSummary, webhook: str | None) -> bool:
    """Warn in the log and POST the summary as JSON to the webhook, if one is configured.
    Never raises: a monitor must report drift even when the webhook is down. Returns
    whether the webhook accepted the alert."""
    logger.warning(
        "%s: %s (drifted inputs: %s); report in %s",
        "retraining recommended" if summary.retraining_recommended else "alert",
        "; ".join(summary.reasons),
        ", ".join(summary.drifted_columns) or "none",
        summary.report,
    )
    return notify(summary.model_dump_json(), webhook, "drift alert")


def notify(body: str, webhook: str | None, what: str) -> bool:
    """POST `body` (JSON) to the webhook, if one is configured, saying `what` was sent.
    Never raises; returns whether the webhook accepted it."""
    if not webhook:
        return False
    # The URL is not logged: webhook URLs often embed a secret token.
    if urllib.parse.urlsplit(webhook).scheme not in ("http", "https"):
        logger.error("the alert webhook is not an http(s) URL; the %s was not sent", what)
        return False
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        webhook,
        data=body.encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:  # noqa: S310
            logger.info("%s sent to the webhook (HTTP %s)", what, response.status)
    except (OSError, ValueError) as error:  # URLError, HTTPError and timeouts are OSErrors
        logger.error("could not send the %s to the webhook: %s", what, error)
        return False
    return True
