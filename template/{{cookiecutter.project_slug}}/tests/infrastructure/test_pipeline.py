"""ML Test Score, infrastructure: the whole pipeline, end to end, with the real tracker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from {{ cookiecutter.project_slug }} import model_store, pipeline
from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.tracking import get_tracker

from ..conftest import workspace_settings

pytestmark = pytest.mark.infrastructure


@pytest.fixture
def fresh(tmp_path: Path) -> Settings:
    return workspace_settings(tmp_path)


def test_pipeline_trains_gates_registers_and_exports_a_champion(fresh: Settings) -> None:
    """Infrastructure 3: the ML pipeline is integration tested (ingest -> train -> gate ->
    registry -> servable model), and Infrastructure 5: it leaves a model card and figures."""
    tracker = get_tracker(fresh.tracking)
    pipeline.ingest(fresh)
    metadata = pipeline.train_candidate(fresh, tracker)
    decision = pipeline.promote(fresh, tracker)

    assert decision.promote, decision
    champion = tracker.get_champion()
    assert champion is not None
    assert champion.version == metadata.version
    _, served = model_store.load(fresh.serve.model_dir)
    assert served.version == metadata.version
    assert (
        (fresh.reports_dir / "model_card.md")
        .read_text(encoding="utf-8")
        .startswith(f"# Model card: {metadata.name} v{metadata.version}")
    )
    assert {p.name for p in (fresh.reports_dir / "figures").iterdir()} == {
        "roc_curve.png", "confusion_matrix.png", "calibration.png", "permutation_importance.png"
    }  # fmt: skip
    promotion = json.loads((fresh.reports_dir / "promotion.json").read_text(encoding="utf-8"))
    assert promotion["promote"] is True


def test_an_identical_retrain_does_not_replace_the_champion_and_rollback_works(
    fresh: Settings,
) -> None:
    """Monitoring 7 / Infrastructure 7: a candidate that is not better keeps the champion;
    serving models can be rolled back to an earlier version."""
    tracker = get_tracker(fresh.tracking)
    pipeline.ingest(fresh)
    first = pipeline.train_candidate(fresh, tracker)
    assert pipeline.promote(fresh, tracker).promote
    second = pipeline.train_candidate(fresh, tracker)
    decision = pipeline.promote(fresh, tracker)

    assert not decision.promote
    assert "does not beat the champion" in str(decision)
    champion = tracker.get_champion()
    assert champion is not None
    assert champion.version == first.version

    pipeline.rollback(fresh, tracker, second.version)
    champion = tracker.get_champion()
    assert champion is not None
    assert champion.version == second.version
    assert model_store.load(fresh.serve.model_dir)[1].version == second.version
    pipeline.rollback(fresh, tracker, first.version)  # back to a former champion
    champion = tracker.get_champion()
    assert champion is not None
    assert champion.version == first.version
    with pytest.raises(LookupError, match="no version '99'"):
        pipeline.rollback(fresh, tracker, "99")
