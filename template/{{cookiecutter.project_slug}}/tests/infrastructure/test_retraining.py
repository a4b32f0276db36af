"""Continuous training trains only when it can keep what it trains (a shared registry in
CI) and when something changed since the champion was trained."""

from __future__ import annotations

from pathlib import Path

import pytest

from {{ cookiecutter.project_slug }} import pipeline
from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.registry import lineage
from {{ cookiecutter.project_slug }}.registry.retraining import (
    NoSharedStoreError,
    require_shared_store,
    unchanged_since_champion,
)
from {{ cookiecutter.project_slug }}.tracking import get_tracker
from {{ cookiecutter.project_slug }}.training.candidate import train_candidate

pytestmark = pytest.mark.infrastructure


def test_ct_in_ci_without_a_shared_registry_says_what_to_configure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tracker = get_tracker(Settings().tracking.model_copy(update={"uri": None}))
    monkeypatch.delenv("CI", raising=False)
    require_shared_store(tracker)  # a laptop keeps its local registry
    monkeypatch.setenv("CI", "true")
    with pytest.raises(NoSharedStoreError) as error:
        require_shared_store(tracker)
    assert tracker.shared_store_setup() in str(error.value)


def test_nothing_changed_means_no_retraining(
    tmp_path: Path, fresh_workspace: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Infrastructure 2 / Monitoring 7: retraining on the same data, code and parameters
    would reproduce the champion, so CT skips it; a change of any of them retrains."""
    monkeypatch.setattr(lineage, "code_version", lambda: ("abc123", False))
    settings = fresh_workspace
    tracker = get_tracker(settings.tracking)
    assert unchanged_since_champion(settings, tracker) is None  # no champion yet
    pipeline.ingest(settings)
    train_candidate(settings, tracker)
    assert pipeline.promote(settings, tracker).promote
    reason = unchanged_since_champion(settings, tracker)
    assert reason is not None
    assert "nothing changed" in reason

    other_seed = settings.model_copy(update={"seed": settings.seed + 1})
    assert unchanged_since_champion(other_seed, tracker) is None
    monkeypatch.setattr(lineage, "code_version", lambda: ("def456", False))
    assert unchanged_since_champion(settings, tracker) is None
    monkeypatch.setattr(lineage, "code_version", lambda: ("abc123", True))
    assert unchanged_since_champion(settings, tracker) is None  # uncommitted changes
    monkeypatch.setattr(lineage, "code_version", lambda: ("abc123", False))
    new_data = tmp_path / "raw.csv"
    new_data.write_bytes(settings.data.raw_path.read_bytes() + b"\n")
    changed = settings.model_copy(
        update={"data": settings.data.model_copy(update={"raw_path": new_data})}
    )
    assert unchanged_since_champion(changed, tracker) is None
