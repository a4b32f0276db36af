"""ML Test Score, infrastructure: every model version names the data and code it came from."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.project_slug }} import pipeline
from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.registry.champion import rollback, sign
from {{ cookiecutter.project_slug }}.serving.app import create_app
from {{ cookiecutter.project_slug }}.tracking import CHAMPION, get_tracker
from {{ cookiecutter.project_slug }}.training.candidate import train_candidate

from ..conftest import PROJECT_ROOT

pytestmark = pytest.mark.infrastructure


def _commit() -> str:
    """The commit the project is checked out at ("none" without git or a repository)."""
    git = shutil.which("git")
    if git is None:
        return "none"
    found = subprocess.run(  # noqa: S603  # fixed arguments, no shell
        [git, "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    )
    return found.stdout.strip() if found.returncode == 0 else "none"


@pytest.fixture
def own_data(tmp_path: Path, fresh_workspace: Settings) -> Settings:
    """A workspace with its own copy of the raw data, free to change."""
    settings = fresh_workspace
    raw = tmp_path / "raw" / settings.data.raw_path.name
    raw.parent.mkdir()
    shutil.copyfile(settings.data.raw_path, raw)
    return settings.model_copy(update={"data": settings.data.model_copy(update={"raw_path": raw})})


def test_changed_data_gives_a_version_with_another_data_hash_everywhere(
    own_data: Settings,
) -> None:
    """Infrastructure 1 (training is reproducible): each registered version records the hash of its
    raw data (DVC's MD5) and the git commit of its code; the tracker returns them per version,
    and the model card and the API's /ready show them. Changing the data changes the hash."""
    raw = own_data.data.raw_path
    tracker = get_tracker(own_data.tracking)
    pipeline.ingest(own_data)
    first = train_candidate(own_data, tracker)

    rows = raw.read_text(encoding="utf-8").splitlines(keepends=True)
    fewer = rows[: len(rows) - len(rows) // 10]  # new data: a tenth of the rows fewer
    raw.write_text("".join(fewer), encoding="utf-8")
    pipeline.ingest(own_data)
    second = train_candidate(own_data, tracker)

    assert first.lineage["data_md5"] != second.lineage["data_md5"]
    assert second.lineage["data_md5"] == hashlib.md5(raw.read_bytes()).hexdigest()  # noqa: S324
    assert second.lineage["code_commit"] == _commit()
    assert second.lineage["code_dirty"] in {"true", "false"}
    # The tracker keeps each version's lineage, whatever was trained since.
    assert tracker.get_version(first.version).lineage == first.lineage
    assert tracker.get_version(second.version).lineage == second.lineage
    card = (own_data.reports_dir / "model_card.md").read_text(encoding="utf-8")
    assert second.lineage["data_md5"] in card
    assert second.lineage["code_commit"] in card

    # Serve the first version (rollback exports it from the tracker, signed as a promotion
    # signs it): /ready names its data.
    sign(own_data, tracker, tracker.get_version(first.version), CHAMPION, datetime.now(UTC))
    rollback(own_data, tracker, first.version)
    with TestClient(create_app(own_data.serve.model_dir)) as client:
        ready = client.get("/ready").json()
    assert ready["model_version"] == first.version
    assert ready["lineage"] == first.lineage
