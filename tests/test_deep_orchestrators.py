"""Deep tier, orchestrators: a project rendered with each orchestrator installs (its
`orchestrator` dependency group included), passes its own tests (which run the pipeline
through the orchestrator), lints and type-checks, and `make flow` runs the whole pipeline
through the orchestrator into a served champion.

Trackers, clouds and CI providers rotate across the orchestrators so that each of their
values is exercised with some orchestrator. Install time, environment size and the
orchestrated run's wall time appear in the summary.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from test_deep import project_env, require_interpreter, run, timed

from conftest import defaults, render_copier

pytestmark = pytest.mark.deep

COMBINATIONS = {
    "prefect": {"tracker": "mlflow", "cloud": "azure", "ci": "github"},
    "dagster": {"tracker": "none", "cloud": "aws", "ci": "gitlab"},
    "metaflow": {"tracker": "mlflow", "cloud": "gcp", "ci": "none"},
}


def environment_size(project: Path) -> str:
    result = subprocess.run(
        ["du", "-sh", str(project / ".venv")], capture_output=True, text=True, check=True
    )
    return result.stdout.split()[0]


@pytest.mark.parametrize("orchestrator", sorted(COMBINATIONS))
def test_orchestrated_project_runs_end_to_end(
    orchestrator: str,
    copier_source: Path,
    tmp_path: Path,
    record_property: pytest.RecordProperty,
) -> None:
    for tool in ("uv", "make", "du"):
        assert shutil.which(tool), f"the deep tests need `{tool}` on PATH"
    answers = {**defaults(), "orchestrator": orchestrator, **COMBINATIONS[orchestrator]}
    project = render_copier(copier_source, answers, tmp_path / f"project-{orchestrator}")
    env = project_env(project)
    assert (project / "orchestration" / orchestrator / f"{orchestrator}.mk").is_file()
    assert not (project / ".github" / "workflows" / "ct.yml").exists()

    require_interpreter(answers["python_version"], project, env)
    timed(["uv", "sync"], project, env, record_property, f"{orchestrator}: uv sync")
    record_property("wall_time", f"{orchestrator}: environment {environment_size(project)}")

    timed(["make", "test"], project, env, record_property, f"{orchestrator}: make test")
    timed(["make", "flow"], project, env, record_property, f"{orchestrator}: make flow")
    assert (project / "models" / "champion" / "metadata.json").is_file(), "no served champion"
    promotion = json.loads((project / "reports" / "promotion.json").read_text("utf-8"))
    assert promotion["promote"] is True, promotion

    run(["make", "lint", "typecheck"], project, env)
