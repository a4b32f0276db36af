"""The delivery metrics (monitoring/delivery.py) of a ledger whose timeline is known, and
the ledger's bound on its size in the registry (registry/deliveries.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from {{ cookiecutter.project_slug }}.monitoring.delivery import delivery_metrics
from {{ cookiecutter.project_slug }}.registry.deliveries import (
    DEGRADED,
    NOTE_LIMIT,
    PROMOTED,
    ROLLED_BACK,
    ChampionNote,
    Delivery,
)

pytestmark = pytest.mark.monitoring

START = datetime(2026, 3, 2, tzinfo=UTC)


def at(days: float) -> datetime:
    return START + timedelta(days=days)


# Four weeks: v1 and v2 promoted; v2 degrades (day 10) until v3 (day 11.5); v4 is rolled
# back 6 hours after its promotion; v5 degrades on day 27 and is still serving on day 28.
LEDGER = [
    Delivery(kind=PROMOTED, version="1", at=at(0), committed_at=at(0) - timedelta(hours=2)),
    Delivery(kind=PROMOTED, version="2", at=at(7), other="1", committed_at=at(6)),
    Delivery(kind=DEGRADED, version="2", at=at(10)),
    Delivery(kind=PROMOTED, version="3", at=at(11.5), other="2", committed_at=at(11)),
    Delivery(kind=PROMOTED, version="4", at=at(20), other="3"),  # no commit: outside git
    Delivery(kind=ROLLED_BACK, version="4", at=at(20.25), other="3", reason="live AUC fell"),
    Delivery(kind=PROMOTED, version="5", at=at(21), other="3", committed_at=at(20.5)),
    Delivery(kind=DEGRADED, version="5", at=at(27)),
]


def test_the_four_metrics_follow_the_ledgers_timeline() -> None:
    """Deployment frequency, lead time, time to restore and change failure rate, each as
    the timeline above gives it."""
    metrics = delivery_metrics(LEDGER, at(28))
    assert (metrics.since, metrics.until) == (START, at(28))
    assert (metrics.promotions, metrics.rollbacks) == (5, 1)
    assert metrics.deployments_per_week == pytest.approx(5 / 4)
    # Commit to champion: 2 h, 24 h, 12 h and 12 h (v4 has no commit): the median is 12 h.
    assert metrics.lead_time_hours == pytest.approx(12)
    # Restored: v2's degradation (36 h, until v3) and v4's failed promotion (6 h); v5's
    # degradation is still open.
    assert (metrics.restored_outages, metrics.open_outages) == (2, 1)
    assert metrics.time_to_restore_hours == pytest.approx((36 + 6) / 2)
    assert metrics.change_failure_rate == pytest.approx(1 / 5)


def test_a_degradation_ended_by_its_own_rollback_is_one_outage() -> None:
    """Monitoring degrades v2 and then rolls it back: one outage, from its promotion."""
    ledger = [
        Delivery(kind=PROMOTED, version="1", at=at(0)),
        Delivery(kind=PROMOTED, version="2", at=at(1), other="1"),
        Delivery(kind=DEGRADED, version="2", at=at(1.5)),
        Delivery(kind=ROLLED_BACK, version="2", at=at(2), other="1"),
    ]
    metrics = delivery_metrics(ledger, at(7))
    assert (metrics.restored_outages, metrics.open_outages) == (1, 0)
    assert metrics.time_to_restore_hours == pytest.approx(24)


def test_no_delivery_yet_measures_nothing() -> None:
    metrics = delivery_metrics([], at(1))
    assert metrics.promotions == 0
    assert metrics.since is None
    assert metrics.deployments_per_week is None
    assert metrics.change_failure_rate is None


def test_the_ledger_keeps_its_newest_deliveries_within_a_tags_size() -> None:
    """A registry bounds a note's size (an MLflow 2 server: 5,000 characters a tag): the
    oldest deliveries go first."""
    many = [
        Delivery(kind=PROMOTED, version=str(n), at=at(n), other=str(n - 1), committed_at=at(n))
        for n in range(1, 501)
    ]
    note = ChampionNote(deliveries=many).dump()
    assert len(note) <= NOTE_LIMIT
    kept = ChampionNote.model_validate_json(note).deliveries
    assert kept[-1].version == "500"
    assert len(kept) >= 30  # months of weekly promotions
    assert [int(event.version) for event in kept] == list(range(501 - len(kept), 501))
