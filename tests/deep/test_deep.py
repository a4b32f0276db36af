"""Deep tier: a rendered project really works, end to end, as a user would run it.

For the default answers (tracker=mlflow) and for tracker=none (the local-files registry):
render with Copier, install with uv, then run the project's own test suite (`make test`, for
the default: tracker=none's suite runs in the orchestrator tier, in reverse order in
Flyte's render), its pipeline
(ingest, train, promote), its API (health, readiness, single and batch predictions, Prometheus
metrics), its drift monitor (exit code 3 on the bundled drifted batch), its DVC pipeline,
its lint and type checks and its documentation build. The wall times of `make test` and
`make pipeline` appear in the summary.

The two trackers are separate tests so that pytest-xdist runs them in parallel.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from support.deep import (
    DRIFT_EXIT_CODE,
    api_server,
    check_api,
    example_applicant,
    installed_project,
    run,
    timed,
)
from support.rendering import defaults
from support.reporting import RecordProperty

pytestmark = pytest.mark.deep

TRACKERS = ("mlflow", "none")


@pytest.mark.parametrize("tracker", TRACKERS)
def test_rendered_project_runs_end_to_end(
    tracker: str,
    copier_source: Path,
    tmp_path: Path,
    record_property: RecordProperty,
) -> None:
    for tool in ("uv", "make"):
        assert shutil.which(tool), f"the deep tests need `{tool}` on PATH"
    answers = {**defaults(), "tracker": tracker}
    project, env, cli, package = installed_project(
        copier_source, answers, tmp_path / f"project-{tracker}"
    )

    if tracker == defaults()["tracker"]:
        timed(["make", "test"], project, env, record_property, f"{tracker}: make test")
    timed(["make", "pipeline"], project, env, record_property, f"{tracker}: make pipeline")
    assert (project / "models" / "champion").is_dir(), "the gate kept no champion"
    promotion = json.loads((project / "reports" / "promotion.json").read_text("utf-8"))
    assert promotion, "reports/promotion.json is empty"
    assert json.loads((project / "reports" / "metrics.json").read_text("utf-8"))["roc_auc"] > 0.5

    applicant = example_applicant(project, package, env)
    with api_server(cli, project, env, tmp_path / f"api-{tracker}.log") as base:
        check_api(base, applicant)

    drifted = "data/processed/current.parquet"  # the bundled drifted batch
    monitor = run(
        ["uv", "run", "--no-sync", cli, "monitor", "--current", drifted], project, env, check=False
    )
    assert monitor.returncode == DRIFT_EXIT_CODE, (
        f"monitor exited {monitor.returncode}, expected {DRIFT_EXIT_CODE} (drift)\n"
        f"{monitor.stdout[-3000:]}\n{monitor.stderr[-3000:]}"
    )
    summary_file = project / "reports" / "monitoring" / "drift_summary.json"
    assert json.loads(summary_file.read_text("utf-8"))["drift_detected"] is True
    assert (project / "reports" / "monitoring" / "drift_report.html").is_file()

    # The same pipeline through DVC, in a git repository as the README asks: every stage
    # runs (no dvc.lock yet), the lock records them, and nothing is left to reproduce.
    run(["git", "init", "--quiet"], project, env)
    run(["make", "repro"], project, env)
    assert (project / "dvc.lock").is_file()
    status = run(["uv", "run", "--no-sync", "dvc", "status"], project, env)
    assert "up to date" in status.stdout, status.stdout

    run(["make", "lint", "typecheck", "docs"], project, env)
    assert (project / "site" / "index.html").is_file()
