"""Deep tier: every orchestrator runs the rendered project's pipeline for real.

One project per orchestrator, rotating the other answers so that every tracker, cloud, CI
provider and Python version is exercised by some orchestrator: render with Copier, install
with uv (the `orchestrator` dependency group comes with `dev`), then

* run the project's whole suite, `make test`, then once more in reverse order, so that a
  test passing only because of another's leftovers fails here: among them the orchestrator's
  own test, the whole pipeline through the orchestrator on the bundled data, a champion
  produced, retraining on drift and only on drift (Prefect in a temporary local server,
  Dagster's `materialize`, Metaflow's local runtime, Airflow's `dag.test()` on a sqlite home,
  `kfp.local` after compiling, Flyte's local execution);
* run `make flow`, what a user types, and check that it left a promoted, served champion;
* run the project's strict type checks, which cover the orchestration code (ruff checks
  every render in test_matrix.py).

The orchestrator's test runs beside the rest of the suite because they share a process:
what one test leaves in it (an exported variable, a registry) reaches the flow's tasks.
The cluster-facing halves (Kubernetes pods, work pools, recurring runs, launch plans) need a
cluster or a server and are checked statically by the same rendered tests. Install and run
wall times and the environment size of each project appear in the summary.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from support.deep import installed_project, run, suite_in_both_orders, timed
from support.rendering import defaults
from support.reporting import RecordProperty

pytestmark = pytest.mark.deep

# orchestrator -> the other answers it is rendered with.
ROTATION = {
    "prefect": {"tracker": "mlflow", "cloud": "azure", "ci": "github", "python_version": "3.12"},
    "dagster": {"tracker": "dvc", "cloud": "aws", "ci": "gitlab", "python_version": "3.11"},
    "metaflow": {"tracker": "wandb", "cloud": "gcp", "ci": "none", "python_version": "3.13"},
    "airflow": {"tracker": "mlflow", "cloud": "aws", "ci": "github", "python_version": "3.12"},
    "kubeflow": {"tracker": "none", "cloud": "gcp", "ci": "gitlab", "python_version": "3.11"},
    "flyte": {"tracker": "none", "cloud": "local", "ci": "none", "python_version": "3.13"},
}


def environment_size(project: Path) -> str:
    result = subprocess.run(
        ["du", "-sh", str(project / ".venv")], capture_output=True, text=True, check=True
    )
    return result.stdout.split()[0]


@pytest.mark.parametrize("orchestrator", list(ROTATION))
def test_orchestrator_runs_the_pipeline(
    orchestrator: str,
    copier_source: Path,
    tmp_path: Path,
    record_property: RecordProperty,
) -> None:
    for tool in ("uv", "make", "du"):
        assert shutil.which(tool), f"the deep tests need `{tool}` on PATH"
    answers = {**defaults(), "orchestrator": orchestrator, **ROTATION[orchestrator]}
    start = time.perf_counter()
    installed = installed_project(copier_source, answers, tmp_path / f"project-{orchestrator}")
    seconds = time.perf_counter() - start
    record_property("wall_time", f"{orchestrator}: render and uv sync: {seconds:.1f} s")
    project, env = installed.project, installed.env
    assert not (project / ".github" / "workflows" / "ct.yml").exists()
    record_property("wall_time", f"{orchestrator}: environment {environment_size(project)}")

    assert (project / "tests" / "infrastructure" / f"test_{orchestrator}_pipeline.py").is_file()
    suite_in_both_orders(project, env, record_property, orchestrator)
    for produced in ("models", "reports"):  # `make flow` starts from an empty registry
        shutil.rmtree(project / produced, ignore_errors=True)
    timed(["make", "flow"], project, env, record_property, f"{orchestrator}: make flow")
    assert (project / "models" / "champion" / "metadata.json").is_file(), "no served champion"
    promotion = json.loads((project / "reports" / "promotion.json").read_text("utf-8"))
    # Some flows go on to monitor and retrain: the last decision may keep the first champion.
    assert promotion["promote"] or promotion["champion_version"] == "1", promotion

    run(["make", "typecheck"], project, env)  # ruff runs on every render in test_matrix.py
