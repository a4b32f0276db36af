"""Probation and rollback: each promotion puts the new champion on probation (the one it
replaced, and when, as the note of the registry's `champion` alias: a monitor on any machine
that reads the registry finds it), and a champion that breaks its probation bounds
(monitoring/probation.py judges them) is replaced by the one it replaced.

`roll_back` is atomic as `champion.crown` is: it exports the previous champion to the
serving directory first (as the promotion kept it, else from the registry; the API
hot-swaps it), then moves the registry's alias, then marks
the bad version rolled back in the registry (`Tracker.mark_rolled_back`), so the gate never
promotes it again. A crash between two of these leaves a state the next run completes:
`sync_champion` puts the disk back in line with the alias, and a second `roll_back` finds
the alias already moved, marks the version if it was not yet, and says so. Running it twice
changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..config import Settings
from ..tracking import ModelVersion, Tracker
from . import deliveries, model_store
from .champion import export_champion, sync_champion
from .deliveries import move_champion, read_note


@dataclass(frozen=True)
class Probation:
    """A promotion on probation: `version` replaced `previous` (None: the first champion,
    which has nothing to roll back to) at `promoted_at`."""

    version: str
    previous: str | None
    promoted_at: datetime

    def days_at(self, now: datetime) -> float:
        return (now - self.promoted_at).total_seconds() / 86400


@dataclass(frozen=True)
class RollbackResult:
    """What `roll_back` did: `changed` is False when the champion already was `restored`."""

    restored: ModelVersion
    rolled_back: str
    changed: bool

    def __str__(self) -> str:
        if not self.changed:
            return f"v{self.rolled_back} already rolled back: v{self.restored.version} serves"
        return f"rolled back v{self.rolled_back}: v{self.restored.version} serves again"


def previous_dir(settings: Settings) -> Path:
    """Where a promotion keeps the champion it replaces, as it served (its metrics, which
    monitoring holds it to, included): what a rollback restores."""
    return settings.models_dir / "previous"


def keep_previous(settings: Settings) -> None:
    """Copy the serving directory's champion, if any, to `previous_dir` (pipeline.promote
    calls it before it crowns a candidate)."""
    try:
        model_store.load(settings.serve.model_dir, settings.serve.trusted_signers)
    except (model_store.ModelNotFoundError, model_store.CorruptModelError):
        return
    model_store.copy(settings.serve.model_dir, previous_dir(settings))  # signature and all


def read_probation(tracker: Tracker) -> Probation | None:
    """The champion's probation, from the note its promotion gave the alias (None before
    the first promotion, or for a champion a rollback or `rollback` restored)."""
    probation = read_note(tracker).probation
    champion = None if probation is None else tracker.get_champion()
    if probation is None or champion is None:
        return None
    return Probation(champion.version, probation.replaced, probation.promoted_at)


def roll_back(
    settings: Settings, tracker: Tracker, probation: Probation, reason: str, at: datetime
) -> RollbackResult:
    """Restore `probation.previous` as the champion at `at` (see the module's docstring);
    raises LookupError when there is no previous champion to restore."""
    if probation.previous is None:
        raise LookupError(f"v{probation.version} was the first champion: nothing to roll back to")
    previous = tracker.get_version(probation.previous)
    current = tracker.get_champion()
    changed = current is None or current.version != previous.version
    if changed:  # the API hot-swaps what is exported here
        try:
            _, kept = model_store.load(previous_dir(settings), settings.serve.trusted_signers)
        except (model_store.ModelNotFoundError, model_store.CorruptModelError):
            kept = None
        if kept is not None and kept.version == previous.version:  # with its metrics
            model_store.copy(previous_dir(settings), settings.serve.model_dir)
        else:
            export_champion(settings, tracker, previous)
        # The ledger records it; the restored champion is on no probation.
        rolled_back = deliveries.rollback(probation.version, previous.version, reason, at)
        move_champion(tracker, previous, rolled_back)
    else:
        sync_champion(settings, tracker)  # a crash after the export may have left either
    if tracker.rollback_reason(probation.version) is None:
        tracker.mark_rolled_back(tracker.get_version(probation.version), reason)
    return RollbackResult(previous, probation.version, changed)
