"""Promotion is atomic: the registry is the source of truth, the serving directory follows
it, a crash between the export and the alias move is healed by the next run, and an export
never leaves a half-written model where the API reads it."""

from __future__ import annotations

from pathlib import Path

import joblib
import pytest

from {{ cookiecutter.project_slug }} import pipeline
from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.registry import model_store
from {{ cookiecutter.project_slug }}.registry.champion import sync_champion
from {{ cookiecutter.project_slug }}.tracking import Tracker, get_tracker
from {{ cookiecutter.project_slug }}.training.candidate import train_candidate
from {{ cookiecutter.project_slug }}.training.train import TrainedModel

pytestmark = pytest.mark.infrastructure


@pytest.fixture
def fresh(fresh_workspace: Settings) -> Settings:
    settings = fresh_workspace
    # Any candidate beats the champion, so that a second version is promoted.
    return settings.model_copy(
        update={"gate": settings.gate.model_copy(update={"min_improvement": -1.0})}
    )


def served_version(settings: Settings) -> str:
    return model_store.load(settings.serve.model_dir, settings.serve.trusted_signers)[1].version


def registered_champion(tracker: Tracker) -> str:
    champion = tracker.get_champion()
    assert champion is not None
    return champion.version


def test_a_crash_between_export_and_alias_is_healed_by_the_next_run(
    fresh: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Infrastructure 7: the alias moves only after the export; when the process dies in
    between, registry and disk disagree until the next run puts the disk back in line."""
    tracker = get_tracker(fresh.tracking)
    pipeline.ingest(fresh)
    first = train_candidate(fresh, tracker)
    assert pipeline.promote(fresh, tracker).promote
    second = train_candidate(fresh, tracker)

    def killed(*_: object) -> None:
        raise SystemExit("killed between the export and the alias move")

    with monkeypatch.context() as patch:
        patch.setattr(type(tracker), "set_champion", killed)
        with pytest.raises(SystemExit):
            pipeline.promote(fresh, tracker)
    assert registered_champion(tracker) == first.version  # the alias never moved
    assert served_version(fresh) == second.version  # but the export happened

    next_run = get_tracker(fresh.tracking)
    assert sync_champion(fresh, next_run) is not None
    assert served_version(fresh) == first.version  # disk follows the registry again
    assert pipeline.promote(fresh, next_run).promote
    assert registered_champion(next_run) == served_version(fresh) == second.version
    assert not list(fresh.serve.model_dir.parent.glob(".champion.*")), "stray export left"


def test_a_damaged_champion_on_disk_is_exported_again(fresh: Settings) -> None:
    tracker = get_tracker(fresh.tracking)
    pipeline.ingest(fresh)
    train_candidate(fresh, tracker)
    assert pipeline.promote(fresh, tracker).promote
    (fresh.serve.model_dir / model_store.MODEL_FILE).write_bytes(b"not a model")
    with pytest.raises(model_store.CorruptModelError):
        model_store.load(fresh.serve.model_dir, fresh.serve.trusted_signers)
    sync_champion(fresh, tracker)
    assert served_version(fresh) == registered_champion(tracker)


def test_an_interrupted_export_leaves_the_served_model_whole(
    trained: TrainedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export that dies while writing (full disk, kill) never damages the model being
    served: the new files are written beside it and swapped in only when complete."""
    served = tmp_path / "champion"
    metadata = model_store.ModelMetadata(name="m", version="1", run_id="r", model_type="x")
    model_store.save(served, trained.pipeline, metadata)

    def dies_half_way(value: object, filename: Path) -> None:
        Path(filename).write_bytes(b"half a model")
        raise OSError("No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(joblib, "dump", dies_half_way)
        with pytest.raises(OSError, match="No space"):
            model_store.save(served, trained.pipeline, metadata.model_copy(update={"version": "2"}))
    assert model_store.load(served, signers=None)[1].version == "1"

    model_store.save(served, trained.pipeline, metadata.model_copy(update={"version": "2"}))
    _, exported = model_store.load(served, signers=None)
    assert (exported.version, exported.previous_version) == ("2", "1")
    assert [p.name for p in tmp_path.iterdir()] == ["champion"], "stray export left"
