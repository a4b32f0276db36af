"""Probation and rollback: each promotion opens a probation record (the new champion, the
one it replaced, when), and a champion that breaks its probation bounds (monitoring/
probation.py judges them) is replaced by the one it replaced.

`roll_back` is atomic as `champion.crown` is: it exports the previous champion to the
serving directory first (as the promotion kept it, else from the registry; the API
hot-swaps it), then moves the registry's alias, then marks
the bad version rolled back in the registry (`Tracker.mark_rolled_back`), so the gate never
promotes it again. A crash between two of these leaves a state the next run completes:
`sync_champion` puts the disk back in line with the alias, and a second `roll_back` finds
the alias already moved, marks the version if it was not yet, and says so. Running it twice
changes nothing."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from ..config import Settings
from ..tracking import ModelVersion, Tracker
from . import model_store
from .champion import export_champion, sync_champion

PROBATION_FILE = "probation.json"  # under reports_dir: the last promotion's record


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
        pipeline, metadata = model_store.load(settings.serve.model_dir)
    except (model_store.ModelNotFoundError, model_store.CorruptModelError):
        return
    model_store.save(previous_dir(settings), pipeline, metadata)


def open_probation(reports_dir: Path, probation: Probation) -> Path:
    """Record a promotion (pipeline.promote calls it when it crowns a candidate)."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / PROBATION_FILE
    record = asdict(probation) | {"promoted_at": probation.promoted_at.isoformat()}
    path.write_text(json.dumps(record, indent=2), encoding="utf-8")
    return path


def read_probation(reports_dir: Path) -> Probation | None:
    """The last promotion's record (None when this machine has none)."""
    path = reports_dir / PROBATION_FILE
    if not path.is_file():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    return Probation(
        str(record["version"]),
        None if record["previous"] is None else str(record["previous"]),
        datetime.fromisoformat(record["promoted_at"]),
    )


def roll_back(
    settings: Settings, tracker: Tracker, probation: Probation, reason: str
) -> RollbackResult:
    """Restore `probation.previous` as the champion (see the module's docstring); raises
    LookupError when there is no previous champion to restore."""
    if probation.previous is None:
        raise LookupError(f"v{probation.version} was the first champion: nothing to roll back to")
    previous = tracker.get_version(probation.previous)
    current = tracker.get_champion()
    changed = current is None or current.version != previous.version
    if changed:  # the API hot-swaps what is exported here
        try:
            pipeline, kept = model_store.load(previous_dir(settings))
        except (model_store.ModelNotFoundError, model_store.CorruptModelError):
            kept = None
        if kept is not None and kept.version == previous.version:  # with its metrics
            model_store.save(settings.serve.model_dir, pipeline, kept)
        else:
            export_champion(settings, tracker, previous)
        tracker.set_champion(previous)
    else:
        sync_champion(settings, tracker)  # a crash after the export may have left either
    if tracker.rollback_reason(probation.version) is None:
        tracker.mark_rolled_back(tracker.get_version(probation.version), reason)
    return RollbackResult(previous, probation.version, changed)
