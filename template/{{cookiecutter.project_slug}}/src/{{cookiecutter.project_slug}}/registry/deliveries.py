"""The champion's ledger: the registry's `champion` alias carries a note (`Tracker.alias_note`)
that each move of the alias rewrites and hands on to the next holder, holding

* the probation of a promoted champion (the version it replaced, and when; rollback.py), and
* the deliveries: every promotion (with when its code was committed), every rollback, and
  the first retraining recommendation monitoring made against each champion.

So the history of deliveries lives in the registry, readable on every machine that reads
it (a CI runner, an orchestrator's pod), and `delivery-metrics` computes the delivery
metrics from it (monitoring/delivery.py). A registry bounds a note's size (see NOTE_LIMIT):
past it, the oldest deliveries go first."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ValidationError

from ..tracking import CHAMPION, ModelVersion, Tracker
from .lineage import commit_time

# Characters: MLflow 2's limit on a model version tag's value (MLflow 3 allows 100,000), which
# a registry server of either version accepts.
NOTE_LIMIT = 5_000
REASON_LIMIT = 200  # characters of a rollback's reason kept in the ledger

PROMOTED = "promoted"
ROLLED_BACK = "rolled_back"
DEGRADED = "degraded"  # monitoring recommended retraining the champion


class Delivery(BaseModel):
    """One event of the ledger, about `version`, at `at`. `other` is the champion a
    promotion replaced or the one a rollback restored; `committed_at` when a promoted
    version's code was committed (its lineage's commit; None outside a repository)."""

    kind: Literal["promoted", "rolled_back", "degraded"]
    version: str
    at: datetime
    other: str | None = None
    committed_at: datetime | None = None
    reason: str | None = None


class ProbationRecord(BaseModel):
    """A promoted champion's probation: it replaced `replaced` (None: the first) then."""

    replaced: str | None = None
    promoted_at: datetime


class ChampionNote(BaseModel):
    """The note of the `champion` alias."""

    probation: ProbationRecord | None = None
    deliveries: list[Delivery] = []

    def dump(self) -> str:
        """The note as JSON within NOTE_LIMIT: the oldest deliveries go first."""
        note = self
        while len(text := note.model_dump_json(exclude_none=True)) > NOTE_LIMIT:
            note = note.model_copy(update={"deliveries": note.deliveries[1:]})
        return text


def read_note(tracker: Tracker) -> ChampionNote:
    """The champion alias's note (empty before the first promotion, or when a tool other
    than this project moved the alias with another kind of note)."""
    try:
        return ChampionNote.model_validate_json(tracker.alias_note(CHAMPION) or "{}")
    except ValidationError:
        return ChampionNote()


def promotion(
    version: str, lineage: Mapping[str, str], replaced: str | None, at: datetime
) -> Delivery:
    """The promotion of `version` (trained on the code its `lineage` names), replacing
    `replaced`, at `at`."""
    commit = lineage.get("code_commit")
    return Delivery(
        kind=PROMOTED,
        version=version,
        at=at,
        other=replaced,
        committed_at=None if commit is None else commit_time(commit),
    )


def rollback(version: str, restored: str, reason: str, at: datetime) -> Delivery:
    """The rollback of champion `version` to `restored` at `at`, and why (its first
    REASON_LIMIT characters: the ledger lives in a size-bound alias note)."""
    return Delivery(
        kind=ROLLED_BACK, version=version, at=at, other=restored, reason=reason[:REASON_LIMIT]
    )


def move_champion(
    tracker: Tracker,
    version: ModelVersion,
    delivery: Delivery | None,
    probation: ProbationRecord | None = None,
) -> None:
    """Give the champion alias to `version` (it may hold it already), its note carrying the
    ledger, with `delivery` added, and `probation` (None: on no probation)."""
    ledger = read_note(tracker).deliveries
    added = [] if delivery is None else [delivery]
    note = ChampionNote(probation=probation, deliveries=[*ledger, *added])
    tracker.set_champion(version, note.dump())


def since_crowned(ledger: list[Delivery], version: str) -> list[Delivery]:
    """The events since `version` last became the champion (promoted, or restored)."""
    for index in range(len(ledger) - 1, -1, -1):
        event = ledger[index]
        if (event.kind, event.version) == (PROMOTED, version) or (
            event.kind == ROLLED_BACK and event.other == version
        ):
            return ledger[index + 1 :]
    return ledger


def record_degradation(tracker: Tracker, version: str, at: datetime) -> bool:
    """Record that monitoring recommended retraining champion `version` at `at`, once while
    it is the champion (its replacement restores the service). Returns whether it did."""
    champion = tracker.get_champion()
    if champion is None or champion.version != version:
        return False  # a rollback in this monitoring run replaced it
    note = read_note(tracker)
    if any(event.kind == DEGRADED for event in since_crowned(note.deliveries, version)):
        return False
    degraded = Delivery(kind=DEGRADED, version=version, at=at)
    note = note.model_copy(update={"deliveries": [*note.deliveries, degraded]})
    tracker.set_champion(champion, note.dump())  # the same holder: its probation is kept
    return True
