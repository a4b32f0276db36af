"""The four delivery metrics of the principles (Accelerate's, for ML delivery), from the
registry's ledger of deliveries (registry/deliveries.py), over its span (its first event to
now, at least a day):

* deployment frequency: promotions per week;
* lead time: from the commit of a promoted version's code to its promotion (the median);
* time to restore: from the start of an outage to the change of champion that ends it (the
  median): a rolled-back version's outage runs from its promotion to its rollback; a
  retraining recommendation's from the monitoring run that made it to the next promotion
  or rollback (an outage still open is counted apart);
* change failure rate: rollbacks per promotion.

`delivery-metrics` prints them and writes reports/delivery.json, which every continuous
monitoring run refreshes (traffic.monitor_logged_traffic: the CM schedule, an orchestrator's
monitoring flow) and the docs site shows."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, Field
from rich.table import Table

from ..config import Settings
from ..registry.deliveries import DEGRADED, PROMOTED, ROLLED_BACK, Delivery, read_note
from ..tracking import Tracker

DELIVERY_FILE = "delivery.json"  # under reports_dir
HOUR = timedelta(hours=1)


class DeliveryMetrics(BaseModel):
    """The delivery metrics of the ledger's span (None: no event to measure it on)."""

    since: datetime | None = Field(description="The ledger's first event.")
    until: datetime
    promotions: int
    rollbacks: int
    deployments_per_week: float | None
    lead_time_hours: float | None = Field(description="Median, commit to champion.")
    time_to_restore_hours: float | None = Field(description="Median, over restored outages.")
    restored_outages: int
    open_outages: int
    change_failure_rate: float | None = Field(description="Rollbacks per promotion.")


def _median_hours(spans: list[timedelta]) -> float | None:
    return round(statistics.median(span / HOUR for span in spans), 2) if spans else None


def outages(ledger: list[Delivery]) -> tuple[list[timedelta], int]:
    """The restored outages' durations, and how many are still open."""
    restored: list[timedelta] = []
    still_open = 0
    for index, event in enumerate(ledger):
        if event.kind == ROLLED_BACK:
            promoted = [
                e for e in ledger[:index] if (e.kind, e.version) == (PROMOTED, event.version)
            ]
            if promoted:
                restored.append(event.at - promoted[-1].at)
        elif event.kind == DEGRADED:
            ended = [e for e in ledger[index + 1 :] if e.kind in (PROMOTED, ROLLED_BACK)]
            if ended and (ended[0].kind, ended[0].version) == (ROLLED_BACK, event.version):
                continue  # the same outage as that rollback's, counted from the promotion
            if ended:
                restored.append(ended[0].at - event.at)
            else:
                still_open += 1
    return restored, still_open


def delivery_metrics(ledger: list[Delivery], now: datetime) -> DeliveryMetrics:
    """The metrics of `ledger` (oldest event first) at `now`."""
    promotions = [event for event in ledger if event.kind == PROMOTED]
    rollbacks = sum(event.kind == ROLLED_BACK for event in ledger)
    since = ledger[0].at if ledger else None
    weeks = None if since is None else max(now - since, timedelta(days=1)) / timedelta(weeks=1)
    leads = [e.at - e.committed_at for e in promotions if e.committed_at is not None]
    restored, still_open = outages(ledger)
    return DeliveryMetrics(
        since=since,
        until=now,
        promotions=len(promotions),
        rollbacks=rollbacks,
        deployments_per_week=None if weeks is None else round(len(promotions) / weeks, 2),
        lead_time_hours=_median_hours(leads),
        time_to_restore_hours=_median_hours(restored),
        restored_outages=len(restored),
        open_outages=still_open,
        change_failure_rate=round(rollbacks / len(promotions), 3) if promotions else None,
    )


def report_delivery(
    settings: Settings, tracker: Tracker, now: datetime | None = None, directory: Path | None = None
) -> DeliveryMetrics:
    """The metrics of the ledger in `tracker`'s registry at `now` (default: the current
    time), written to DELIVERY_FILE in `directory` (default: reports_dir)."""
    metrics = delivery_metrics(read_note(tracker).deliveries, now or datetime.now(UTC))
    directory = directory or settings.reports_dir
    directory.mkdir(parents=True, exist_ok=True)
    (directory / DELIVERY_FILE).write_text(metrics.model_dump_json(indent=2), encoding="utf-8")
    return metrics


def delivery_table(metrics: DeliveryMetrics) -> Table:
    """The metrics as a table for the terminal."""

    def shown(value: float | None, unit: str = "") -> str:
        return "-" if value is None else f"{value:g}{unit}"

    def count(number: int, what: str) -> str:
        return f"{number} {what}{'' if number == 1 else 's'}"

    until = f"{metrics.until:%Y-%m-%d %H:%M} UTC"
    span = f"{metrics.since:%Y-%m-%d %H:%M} to {until}" if metrics.since else f"none yet, {until}"
    table = Table(title=f"Delivery metrics ({span})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("from")
    rate = metrics.change_failure_rate
    rows = (
        ("deployment frequency", shown(metrics.deployments_per_week, " / week"),
         count(metrics.promotions, "promotion")),
        ("lead time (median)", shown(metrics.lead_time_hours, " h"), "commit to champion"),
        ("time to restore (median)", shown(metrics.time_to_restore_hours, " h"),
         f"{metrics.restored_outages} restored, {metrics.open_outages} open"),
        ("change failure rate", "-" if rate is None else f"{rate * 100:.0f}%",
         count(metrics.rollbacks, "rollback")),
    )  # fmt: skip
    for row in rows:
        table.add_row(*row)
    return table
