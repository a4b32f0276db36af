"""CD ships the champion the registry names, never a model of its own: a runner with an
empty serving directory, pointed at the store CT wrote to, exports that very version."""

from __future__ import annotations

from pathlib import Path

import pytest

from {{ cookiecutter.project_slug }} import pipeline
from {{ cookiecutter.project_slug }}.registry import model_store
from {{ cookiecutter.project_slug }}.registry.champion import ship_champion
from {{ cookiecutter.project_slug }}.tracking import get_tracker
from {{ cookiecutter.project_slug }}.training.candidate import train_candidate
from {{ cookiecutter.project_slug }}.training.train import TrainedModel

from ..conftest import without_search, workspace_settings

pytestmark = pytest.mark.infrastructure


def test_ship_champion_exports_the_registry_champion_and_refuses_an_empty_registry(
    tmp_path: Path, trained: TrainedModel
) -> None:
    ct = without_search(workspace_settings(tmp_path / "ct"), trained)
    cd = ct.model_copy(
        update={"serve": ct.serve.model_copy(update={"model_dir": tmp_path / "cd" / "champion"})}
    )
    with pytest.raises(LookupError, match="the registry has no champion"):
        ship_champion(cd, get_tracker(cd.tracking))
    assert not cd.serve.model_dir.exists()

    tracker = get_tracker(ct.tracking)
    pipeline.ingest(ct)
    train_candidate(ct, tracker)
    assert pipeline.promote(ct, tracker).promote
    first = tracker.get_champion()
    assert first is not None
    second = train_candidate(ct, tracker)  # registered, not promoted
    assert second.version != first.version

    shipped = ship_champion(cd, get_tracker(cd.tracking))
    assert shipped.version == first.version
    _, served = model_store.load(cd.serve.model_dir)
    assert served.version == first.version
