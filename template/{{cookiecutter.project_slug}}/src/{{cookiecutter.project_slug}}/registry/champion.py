"""The champion's operations: the tracker's registry holds the versions and the `champion`
alias (the single source of truth); these keep the serving directory (params.yaml
`serve.model_dir`) in line with it, and move the alias."""

from __future__ import annotations

import logging
import shutil
import tempfile
from contextlib import suppress
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import joblib
from sklearn.pipeline import Pipeline

from ..config import Settings
from ..data.contract import MODEL_INPUTS
from ..tracking import CHALLENGER, CHAMPION, ModelVersion, Tracker
from . import deliveries, model_store, provenance

logger = logging.getLogger(__name__)


def candidate_dir(settings: Settings) -> Path:
    """Where the train step leaves the candidate it registered."""
    return settings.models_dir / "candidate"


def challenger_dir(settings: Settings) -> Path:
    """Where the shadow challenger is served from: beside the champion's directory."""
    return model_store.challenger_dir_of(settings.serve.model_dir)


def save_candidate(
    settings: Settings, pipeline: Pipeline, metadata: model_store.ModelMetadata
) -> Path:
    """Export training's candidate to its directory, signed as training's (what the
    promotion gate verifies before it judges it)."""
    signed = partial(
        provenance.sign,
        version=metadata.version,
        run_id=metadata.run_id,
        lineage=metadata.lineage,
        decision=provenance.CANDIDATE,
        decided_at=datetime.now(UTC),
        settings=settings.sign,
    )
    return model_store.save(candidate_dir(settings), pipeline, metadata, seal=signed)


def export_champion(
    settings: Settings,
    tracker: Tracker,
    version: ModelVersion,
    directory: Path | None = None,
    metadata: model_store.ModelMetadata | None = None,
) -> Path:
    """Write the signed export the registry keeps with a version to the serving directory
    (params.yaml serve.model_dir), or to `directory`, once it is verified
    (provenance.UntrustedModelError otherwise, and nothing replaced). `metadata`: what
    the promotion judged it by (else the candidate's when it is that version, else the
    registry's)."""
    if metadata is None:
        metadata = model_store.ModelMetadata(
            name=version.name,
            version=version.version,
            run_id=version.run_id,
            model_type=type(model_store.estimator_of(tracker.load_model(version))).__name__,
            inputs=list(MODEL_INPUTS),
            lineage=dict(version.lineage),
        )
        with suppress(model_store.ModelNotFoundError):  # richer metadata: the candidate's
            _, candidate = model_store.load(candidate_dir(settings), signers=None)
            if candidate.version == version.version:
                metadata = candidate
    with tempfile.TemporaryDirectory() as scratch:
        if not tracker.get_signed(version, Path(scratch)):
            raise provenance.UntrustedModelError(
                f"v{version.version} is unsigned: the registry keeps no signed export of it "
                "(the promotion gate signs what it promotes)"
            )
        signers = settings.serve.trusted_signers  # refused, and nothing replaced, unless signed
        return model_store.copy(
            Path(scratch), directory or settings.serve.model_dir, metadata, signers
        )


def sign(
    settings: Settings, tracker: Tracker, version: ModelVersion, alias: str, at: datetime
) -> None:
    """Sign the registered model of `version`, attesting its lineage and its promotion to
    `alias` at `at`, and keep the signed export with the version in the registry: what
    every later export of it copies (see provenance.py)."""
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        joblib.dump(tracker.load_model(version), directory / model_store.MODEL_FILE)
        provenance.sign(
            directory,
            version=version.version,
            run_id=version.run_id,
            lineage=version.lineage,
            decision=alias,
            decided_at=at,
            settings=settings.sign,
        )
        tracker.attach_signed(version, directory)


def sync_champion(
    settings: Settings, tracker: Tracker, *, for_training: bool = False
) -> ModelVersion | None:
    """Make the serving directory hold the registry's champion: export it when the
    directory is empty, holds another version (e.g. after a crash between an export and the
    alias move) or cannot be loaded. Returns the champion (None when there is none). A
    champion that fails verification raises provenance.UntrustedModelError, except
    `for_training` (CT): it is not exported, and CT goes on to sign the next one."""
    registered = tracker.get_champion()
    if registered is None:
        return None
    try:
        _, exported = model_store.load(settings.serve.model_dir, settings.serve.trusted_signers)
        on_disk: str | None = exported.version
    except (model_store.ModelNotFoundError, model_store.CorruptModelError):
        on_disk = None
    if on_disk != registered.version:
        try:
            export_champion(settings, tracker, registered)
        except provenance.UntrustedModelError as error:
            if not for_training:
                raise
            logger.warning("champion v%s is not served (%s)", registered.version, error)
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
    metadata: model_store.ModelMetadata,
    replaced: str | None,
    at: datetime,
) -> ModelVersion:
    """Promote a registered version at `at`, replacing champion `replaced`: sign and export
    it first, then move the alias, its note opening the probation and adding the promotion
    to the ledger (deliveries.py), so that a crash in between leaves the registry on the old
    champion (and the next `sync_champion` puts the disk back in line)."""
    champion = ModelVersion(metadata.name, metadata.version, metadata.run_id, metadata.lineage)
    sign(settings, tracker, champion, CHAMPION, at)
    export_champion(settings, tracker, champion, metadata=metadata)
    promoted = deliveries.promotion(metadata.version, metadata.lineage, replaced, at)
    probation = deliveries.ProbationRecord(replaced=replaced, promoted_at=at)
    deliveries.move_champion(tracker, champion, promoted, probation)
    return champion


def rollback(
    settings: Settings, tracker: Tracker, version: str, *, sign_first: bool = False
) -> ModelVersion:
    """Make an earlier registered version the champion again and serve it (the ledger
    records the champion it replaced as rolled back); `sign_first` signs it as a promotion
    does (e.g. a version promoted before models were signed)."""
    target = tracker.get_version(version)
    current = tracker.get_champion()
    if sign_first:
        sign(settings, tracker, target, CHAMPION, datetime.now(UTC))
    export_champion(settings, tracker, target)
    rolled_back = None
    if current is not None and current.version != target.version:
        rolled_back = deliveries.rollback(
            current.version, target.version, "rolled back by hand", datetime.now(UTC)
        )
    deliveries.move_champion(tracker, target, rolled_back)
    return target


def crown_challenger(
    settings: Settings, tracker: Tracker, metadata: model_store.ModelMetadata, at: datetime
) -> ModelVersion:
    """Make a registered version the shadow challenger at `at`: sign it and export it beside
    the champion (the API scores it too, off the request path), then move the `challenger`
    alias."""
    challenger = ModelVersion(metadata.name, metadata.version, metadata.run_id, metadata.lineage)
    sign(settings, tracker, challenger, CHALLENGER, at)
    export_champion(settings, tracker, challenger, challenger_dir(settings), metadata)
    tracker.set_alias(CHALLENGER, challenger)
    return challenger
