"""The champion's operations: the tracker's registry holds the versions and the `champion`
alias (the single source of truth); these keep the serving directory (params.yaml
`serve.model_dir`) in line with it, and move the alias."""

from __future__ import annotations

import shutil
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

from sklearn.pipeline import Pipeline

from ..config import Settings
from ..data.contract import MODEL_INPUTS
from ..tracking import CHALLENGER, ModelVersion, Tracker
from . import deliveries, model_store


def candidate_dir(settings: Settings) -> Path:
    """Where the train step leaves the candidate it registered."""
    return settings.models_dir / "candidate"


def challenger_dir(settings: Settings) -> Path:
    """Where the shadow challenger is served from: beside the champion's directory."""
    return model_store.challenger_dir_of(settings.serve.model_dir)


def export_champion(
    settings: Settings, tracker: Tracker, version: ModelVersion, directory: Path | None = None
) -> Path:
    """Write a registered version to the serving directory (params.yaml serve.model_dir), or
    to `directory`."""
    pipeline = tracker.load_model(version)
    metadata = model_store.ModelMetadata(
        name=version.name,
        version=version.version,
        run_id=version.run_id,
        model_type=type(model_store.estimator_of(pipeline)).__name__,
        inputs=list(MODEL_INPUTS),
        lineage=dict(version.lineage),
    )
    with suppress(model_store.ModelNotFoundError):  # richer metadata when it is the candidate
        _, candidate = model_store.load(candidate_dir(settings))
        if candidate.version == version.version:
            metadata = candidate
    return model_store.save(directory or settings.serve.model_dir, pipeline, metadata)


def sync_champion(settings: Settings, tracker: Tracker) -> ModelVersion | None:
    """Make the serving directory hold the registry's champion: export it when the
    directory is empty, holds another version (e.g. after a crash between an export and the
    alias move) or cannot be loaded. Returns the champion (None when there is none)."""
    registered = tracker.get_champion()
    if registered is None:
        return None
    try:
        _, exported = model_store.load(settings.serve.model_dir)
        on_disk: str | None = exported.version
    except (model_store.ModelNotFoundError, model_store.CorruptModelError):
        on_disk = None
    if on_disk != registered.version:
        export_champion(settings, tracker, registered)
    return registered


def sync_challenger(settings: Settings, tracker: Tracker) -> ModelVersion | None:
    """Make the challenger's directory hold the registry's `challenger` alias, or nothing
    when no version holds it (retired or promoted elsewhere, e.g. by a CI runner's
    monitor). Returns the challenger."""
    registered = tracker.get_alias(CHALLENGER)
    directory = challenger_dir(settings)
    if registered is None:
        shutil.rmtree(directory, ignore_errors=True)  # the API stops scoring it
    elif model_store.current_version(directory) != registered.version:
        export_champion(settings, tracker, registered, directory)
    return registered


def ship_champion(settings: Settings, tracker: Tracker) -> tuple[ModelVersion, ModelVersion | None]:
    """Export the registry's champion, resolved by its alias, and its shadow challenger if
    it has one, for serving: what CD builds into the image. It never trains: with no
    champion in the registry it raises LookupError."""
    champion = sync_champion(settings, tracker)
    if champion is None:
        raise LookupError(
            "the registry has no champion: CD ships only a version that CT's promotion gate "
            "promoted there. Point the tracker at the shared store CT writes to (params.yaml "
            "tracking.uri, or the tracker's CI/CD variables) and run CT first."
        )
    return champion, sync_challenger(settings, tracker)


def crown(
    settings: Settings,
    tracker: Tracker,
    pipeline: Pipeline,
    metadata: model_store.ModelMetadata,
    replaced: str | None,
    at: datetime,
) -> ModelVersion:
    """Promote a registered version at `at`, replacing champion `replaced`: export it
    first, then move the alias, its note opening the probation and adding the promotion to
    the ledger (deliveries.py), so that a crash in between leaves the registry on the old
    champion (and the next `sync_champion` puts the disk back in line)."""
    model_store.save(settings.serve.model_dir, pipeline, metadata)
    champion = ModelVersion(metadata.name, metadata.version, metadata.run_id)
    promoted = deliveries.promotion(metadata.version, metadata.lineage, replaced, at)
    probation = deliveries.ProbationRecord(replaced=replaced, promoted_at=at)
    deliveries.move_champion(tracker, champion, promoted, probation)
    return champion


def rollback(settings: Settings, tracker: Tracker, version: str) -> ModelVersion:
    """Make an earlier registered version the champion again and serve it (the ledger
    records the champion it replaced as rolled back)."""
    target = tracker.get_version(version)
    current = tracker.get_champion()
    export_champion(settings, tracker, target)
    rolled_back = None
    if current is not None and current.version != target.version:
        rolled_back = deliveries.Delivery(
            kind=deliveries.ROLLED_BACK,
            version=current.version,
            at=datetime.now(UTC),
            other=target.version,
            reason="rolled back by hand",
        )
    deliveries.move_champion(tracker, target, rolled_back)
    return target


def crown_challenger(
    settings: Settings,
    tracker: Tracker,
    pipeline: Pipeline,
    metadata: model_store.ModelMetadata,
) -> ModelVersion:
    """Make a registered version the shadow challenger: export it beside the champion (the
    API scores it too, off the request path), then move the `challenger` alias."""
    model_store.save(challenger_dir(settings), pipeline, metadata)
    challenger = ModelVersion(metadata.name, metadata.version, metadata.run_id)
    tracker.set_alias(CHALLENGER, challenger)
    return challenger
