"""Deep tier for the trackers with adapters of their own: W&B and DVC, end to end.

Each render rotates the other answers (W&B: GitLab CI, Python 3.13; DVC: no CI, Python 3.11),
installs with uv inside a fresh git repository (the render's own suite runs in the
orchestrator tier: Dagster's render with DVC, Metaflow's with W&B), runs its pipeline, serves the
champion (whose /ready body names the data hash and commit it was trained on), then checks
what only that tracker promises:

* wandb: offline runs on disk for `wandb sync`, and the champion read back from the local
  registry, without network access (the project's own socket-guard test proves the latter);
* dvc: `dvc repro` runs the DVC pipeline and a second one is a no-op; DVCLive's metrics appear
  in `dvc exp show`, `dvc metrics diff` and `dvc plots diff` work, `dvc push`/`pull` round-trip
  through the default local remote, the GTO-tagged registry names the champion, and `make ct`
  pulls the raw data once it is tracked by DVC instead of git.

The summary records `make pipeline`'s wall time and the installed environment's size.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from support.deep import (
    api_server,
    check_api,
    example_applicant,
    http,
    installed_project,
    run,
    timed,
)
from support.rendering import defaults
from support.reporting import RecordProperty

pytestmark = pytest.mark.deep

CASES = {
    "wandb": {"tracker": "wandb", "ci": "gitlab", "python_version": "3.13"},
    "dvc": {"tracker": "dvc", "ci": "none", "python_version": "3.11"},
}


def environment_size(project: Path) -> str:
    return subprocess.run(
        ["du", "-sh", str(project / ".venv")], capture_output=True, text=True, check=True
    ).stdout.split()[0]


# The tracker's generic aliases (the shadow challenger's), through the project's own adapter.
ALIAS = """
from {package}.config import get_settings
from {package}.tracking import CHALLENGER, get_tracker
tracker = get_tracker(get_settings().tracking)
tracker.{call}
held = tracker.get_alias(CHALLENGER)
print(held.version if held else "none")
"""


def alias(project: Path, env: dict[str, str], package: str, call: str) -> str:
    """Run `call` on the project's tracker; the version then holding the challenger alias."""
    code = ALIAS.format(package=package, call=call)
    return run(["uv", "run", "--no-sync", "python", "-c", code], project, env).stdout.strip()


def check_wandb(project: Path, env: dict[str, str], package: str) -> None:
    runs = sorted((project / "models" / "wandb").glob("offline-run-*"))
    assert len(runs) == 2, f"expected a training and a promotion run, found {runs}"
    registry = next((project / "models" / "wandb" / "registry").iterdir())
    assert (registry / "champion").read_text("utf-8") == "0"
    # An alias is a pointer file offline (and the artifact's alias once synced).
    assert alias(project, env, package, 'set_alias(CHALLENGER, tracker.get_version("0"))') == "0"
    assert (registry / "challenger").read_text("utf-8") == "0"
    assert alias(project, env, package, "remove_alias(CHALLENGER)") == "none"
    assert not (registry / "challenger").exists()
    assert (registry / "champion").read_text("utf-8") == "0"


def check_dvc(project: Path, env: dict[str, str], cli: str, package: str) -> None:
    dvc = ["uv", "run", "--no-sync", "dvc"]
    first = run([*dvc, "repro"], project, env)
    assert "Running stage 'train'" in first.stdout, first.stdout
    second = run([*dvc, "repro"], project, env)
    assert "Running stage" not in second.stdout, f"the second `dvc repro` ran:\n{second.stdout}"
    run(["git", "add", "--all"], project, env)
    run(["git", "commit", "--quiet", "--message", "first run"], project, env)

    experiment = run([*dvc, "exp", "run", "--set-param", "train.model=random_forest"], project, env)
    assert "Ran experiment" in experiment.stdout, experiment.stdout
    shown = json.loads(run([*dvc, "exp", "show", "--json"], project, env).stdout)
    assert "dvclive/metrics.json" in json.dumps(shown), "DVCLive's metrics are not in exp show"
    diff = json.loads(run([*dvc, "metrics", "diff", "--json"], project, env).stdout)
    assert diff["dvclive/metrics.json"]["roc_auc"]["diff"] != 0, diff
    run([*dvc, "plots", "diff", "--out", "plots"], project, env)
    assert (project / "plots" / "index.html").is_file()

    run([*dvc, "push"], project, env)
    shutil.rmtree(project / ".dvc" / "cache")
    shutil.rmtree(project / "models" / "candidate")
    run([*dvc, "pull"], project, env)
    assert (project / "models" / "candidate" / "metadata.json").is_file()

    # The registry: GTO tags in its own repository; rollback assigns the stage again.
    registry = project / "models" / "registry"
    tags = run(["git", "tag", "--list"], registry, env).stdout.split()
    assert {f"{package}@v1.0.0", f"{package}#champion#1"} <= set(tags), tags
    run(["uv", "run", "--no-sync", cli, "rollback", "1"], project, env)
    shown = run(["uv", "run", "--no-sync", "gto", "show", "--json"], registry, env).stdout
    assert json.loads(shown)[package]["stage"]["champion"] == "v1.0.0", shown
    # Any alias is a GTO stage: assigned, then unassigned; the champion's stays.
    assert alias(project, env, package, 'set_alias(CHALLENGER, tracker.get_version("2"))') == "2"
    shown = run(["uv", "run", "--no-sync", "gto", "show", "--json"], registry, env).stdout
    assert json.loads(shown)[package]["stage"]["challenger"] == "v2.0.0", shown
    assert alias(project, env, package, "remove_alias(CHALLENGER)") == "none"
    shown = run(["uv", "run", "--no-sync", "gto", "show", "--json"], registry, env).stdout
    assert json.loads(shown)[package]["stage"]["champion"] == "v1.0.0", shown

    # Continuous training trains on the data version the commit names: the raw data moved
    # from git to DVC, then gone from the working tree and the cache, comes back through
    # `make ct` (run by hand: CI unset).
    raw = Path("data", "raw", "german_credit.csv")
    run(["git", "rm", "--cached", "--quiet", str(raw)], project, env)
    run([*dvc, "add", str(raw)], project, env)
    run([*dvc, "push"], project, env)
    run(["git", "add", "--all"], project, env)
    run(["git", "commit", "--quiet", "--message", "raw data through DVC"], project, env)
    (project / raw).unlink()
    shutil.rmtree(project / ".dvc" / "cache")
    run(["make", "ct"], project, {**env, "CI": "false"})
    assert (project / raw).is_file(), "make ct did not pull the data version the commit names"


@pytest.mark.parametrize("tracker", CASES)
def test_tracker_project_runs_end_to_end(
    tracker: str,
    copier_source: Path,
    tmp_path: Path,
    record_property: RecordProperty,
) -> None:
    for tool in ("uv", "make", "git"):
        assert shutil.which(tool), f"the deep tests need `{tool}` on PATH"
    answers = {**defaults(), **CASES[tracker]}
    project, env, cli, package = installed_project(
        copier_source, answers, tmp_path / f"project-{tracker}"
    )
    record_property("env_size", f"{tracker}: .venv {environment_size(project)}")
    run(["git", "init", "--quiet"], project, env)
    run(["git", "add", "--all"], project, env)
    run(["git", "commit", "--quiet", "--message", "rendered"], project, env)
    commit = run(["git", "rev-parse", "HEAD"], project, env).stdout.strip()

    # The render's whole suite runs in the orchestrator tier (dvc: Dagster's render, wandb:
    # Metaflow's, each in reverse order); here, what only this tracker does.
    timed(["make", "pipeline"], project, env, record_property, f"{tracker}: make pipeline")
    applicant = example_applicant(project, package, env)
    with api_server(cli, project, env, tmp_path / f"api-{tracker}.log") as base:
        check_api(base, applicant)
        status, body = http("GET", f"{base}/ready")
    assert status == 200, body
    lineage = json.loads(body)["lineage"]
    assert lineage["code_commit"] == commit, lineage
    assert lineage["code_dirty"] == "false", lineage

    if tracker == "wandb":
        check_wandb(project, env, package)
    else:
        check_dvc(project, env, cli, package)
        lock = (project / "dvc.lock").read_text("utf-8")
        assert f"md5: {lineage['data_md5']}" in lock, "the data hash is not DVC's"

    run(["make", "lint", "typecheck"], project, env)
