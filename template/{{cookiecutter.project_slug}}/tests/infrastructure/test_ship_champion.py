"""CD ships the champion the registry names, never a model of its own: a runner with an
empty serving directory, pointed at the store CT wrote to, exports that very version, and
the shadow challenger beside it while the registry names one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from {{ cookiecutter.project_slug }} import pipeline
from {{ cookiecutter.project_slug }}.registry import model_store
from {{ cookiecutter.project_slug }}.registry.champion import challenger_dir, ship_champion, sign
from {{ cookiecutter.project_slug }}.tracking import CHALLENGER, get_tracker
from {{ cookiecutter.project_slug }}.training.candidate import train_candidate
from {{ cookiecutter.project_slug }}.training.train import TrainedModel

from ..conftest import without_search, workspace_settings

pytestmark = pytest.mark.infrastructure


def test_ship_champion_exports_the_registry_champion_and_refuses_an_empty_registry(
    tmp_path: Path, trained: TrainedModel
) -> None:
    """Infrastructure 4 and Model 2: the image serves the version the gate promoted, and
    shadows the challenger the registry names, so that it is judged on live traffic."""
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

    shipped, challenger = ship_champion(cd, get_tracker(cd.tracking))
    assert shipped.version == first.version
    assert challenger is None
    _, served = model_store.load(cd.serve.model_dir, cd.serve.trusted_signers)
    assert served.version == first.version
    assert not challenger_dir(cd).exists()

    # Shadowed (signed as the gate's shadow promotion signs it): the image scores the
    # challenger too; retired, a stale export goes.
    shadowed = tracker.get_version(second.version)
    sign(ct, tracker, shadowed, CHALLENGER, datetime.now(UTC))
    tracker.set_alias(CHALLENGER, shadowed)
    _, challenger = ship_champion(cd, get_tracker(cd.tracking))
    assert challenger is not None
    assert challenger.version == second.version
    assert model_store.current_version(challenger_dir(cd)) == second.version
    assert model_store.current_version(cd.serve.model_dir) == first.version
    tracker.remove_alias(CHALLENGER)
    assert ship_champion(cd, get_tracker(cd.tracking))[1] is None
    assert not challenger_dir(cd).exists()
