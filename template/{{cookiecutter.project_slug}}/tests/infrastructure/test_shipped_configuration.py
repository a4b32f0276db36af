"""ML Test Score, infrastructure: the configuration the project ships serves what the gate
vetted. Every other test points the settings at a workspace of its own, so none of them would
notice a shipped params.yaml whose API serves the unvetted candidate: these read params.yaml
and dvc.yaml as a fresh clone does, with no workspace and no variable of ours."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.project_slug }}.config import ENV_PREFIX, Settings
from {{ cookiecutter.project_slug }}.registry.champion import candidate_dir

from ..conftest import PROJECT_ROOT

pytestmark = pytest.mark.infrastructure


@pytest.fixture
def shipped(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings the CLI reads from the project's root with nothing overridden."""
    for name in [name for name in os.environ if name.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(PROJECT_ROOT)
    return Settings()


def stage_outputs(stage: str) -> set[Path]:
    """The paths a stage of the shipped dvc.yaml declares it writes."""
    pipeline = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    outputs = pipeline["stages"][stage]["outs"]
    return {Path(next(iter(out)) if isinstance(out, dict) else out) for out in outputs}


def test_the_api_serves_what_promote_exports_never_the_candidate(shipped: Settings) -> None:
    served, candidate = shipped.serve.model_dir, candidate_dir(shipped)
    assert served != candidate, f"params.yaml serves {served}, the gate's unvetted candidate"
    assert served in stage_outputs("promote"), f"promote (dvc.yaml) does not write {served}"
    assert candidate in stage_outputs("train"), f"train (dvc.yaml) does not write {candidate}"
    assert candidate not in stage_outputs("promote"), "promote (dvc.yaml) writes the candidate"
