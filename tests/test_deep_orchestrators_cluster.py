"""Deep tier: the cluster-native orchestrators (Airflow, Kubeflow Pipelines, Flyte) run the
rendered project's pipeline for real.

One project per orchestrator, rotating trackers, clouds, CI providers and Python versions
across them: render with Copier, install with uv (the `orchestrator` dependency group comes
with `dev`), then run the project's own orchestrator test (the whole pipeline through the
orchestrator, a champion produced, retraining on drift and only on drift) and its lint and
strict type checks, which cover the orchestration code. Airflow's test migrates a sqlite
metadata database in a temporary home and runs both DAGs with `dag.test()`; Kubeflow's
compiles both pipelines (checked by KFP's loader, as `make pipeline-compile` writes them) and
runs them with `kfp.local`; Flyte's runs both workflows locally. Wall times of the install
and of the orchestrator test appear in the summary.

The cloud-facing halves (pods on Kubernetes, KFP recurring runs, Flyte launch plans on a
cluster) need a cluster and are checked statically by the same rendered tests.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_deep import project_env, require_interpreter, run, timed

from conftest import defaults, render_copier

pytestmark = pytest.mark.deep

# orchestrator -> the other answers it is rendered with (each tracker, cloud, CI provider
# and Python version of the rotation appears at least once across the three).
ROTATION = {
    "airflow": {"tracker": "mlflow", "cloud": "aws", "ci": "github", "python_version": "3.12"},
    "kubeflow": {"tracker": "none", "cloud": "gcp", "ci": "gitlab", "python_version": "3.11"},
    "flyte": {"tracker": "mlflow", "cloud": "azure", "ci": "none", "python_version": "3.13"},
}


@pytest.mark.parametrize("orchestrator", list(ROTATION))
def test_orchestrator_runs_the_pipeline(
    orchestrator: str,
    copier_source: Path,
    tmp_path: Path,
    record_property: pytest.RecordProperty,
) -> None:
    for tool in ("uv", "make"):
        assert shutil.which(tool), f"the deep tests need `{tool}` on PATH"
    answers = {**defaults(), "orchestrator": orchestrator, **ROTATION[orchestrator]}
    project = render_copier(copier_source, answers, tmp_path / f"project-{orchestrator}")
    env = project_env(project)
    require_interpreter(answers["python_version"], project, env)

    timed(["uv", "sync"], project, env, record_property, f"{orchestrator}: uv sync")
    test = project / "tests" / "infrastructure" / f"test_{orchestrator}_pipeline.py"
    timed(
        ["uv", "run", "--no-sync", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
        project,
        env,
        record_property,
        f"{orchestrator}: pipeline through the orchestrator",
    )
    run(["make", "lint", "typecheck"], project, env)
