"""ML Test Score, infrastructure: the pipeline runs for real as Metaflow flows (local
runtime, a local datastore in a temporary directory), through Metaflow's Runner API."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

# Metaflow names runs after the user: $USER is unset in many containers and CI runners.
os.environ.setdefault("METAFLOW_USER", os.environ.get("USER") or "test")

from metaflow import Run, Runner
from metaflow.plugins.environment_decorator import EnvironmentDecorator
from metaflow.plugins.kubernetes.kubernetes_decorator import KubernetesDecorator
from orchestration.metaflow.argo import step_options

from {{ cookiecutter.project_slug }} import pipeline
from {{ cookiecutter.project_slug }}.config import ENV_PREFIX, Settings
from {{ cookiecutter.project_slug }}.registry import model_store
from {{ cookiecutter.project_slug }}.tracking import get_tracker

from ..conftest import PROJECT_ROOT, scored_today, serve_traffic, workspace_settings

pytestmark = pytest.mark.infrastructure

FLOWS = PROJECT_ROOT / "orchestration" / "metaflow"


@pytest.fixture
def fresh(tmp_path: Path) -> Settings:
    return workspace_settings(tmp_path)


def flow_env(settings: Settings, root: Path) -> dict[str, str]:
    """The flows read their settings from a params file in the workspace, and keep their
    datastore there too."""
    params = root / "params.yaml"
    params.write_text(yaml.safe_dump(settings.model_dump(mode="json")), encoding="utf-8")
    return {
        f"{ENV_PREFIX}PARAMS": str(params),
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(root),
        "METAFLOW_USER": os.environ["METAFLOW_USER"],
    }


def test_training_flow_runs_every_step_into_a_served_champion(
    fresh: Settings, tmp_path: Path
) -> None:
    """Infrastructure 3: the Metaflow run goes through ingest, train and promote and leaves a
    served champion and its gate decision as artifacts."""
    with Runner(
        str(FLOWS / "training_flow.py"), show_output=False, env=flow_env(fresh, tmp_path)
    ) as runner:
        running = runner.run()
        run: Run = running.run  # type: ignore[attr-defined]  # not in metaflow-stubs
        assert run.successful, running.stderr
        assert [step.pathspec.split("/")[-1] for step in reversed(list(run))] == [
            "start", "ingest", "train", "promote", "end"
        ]  # fmt: skip
        artifacts = run.data
        assert artifacts is not None
        assert artifacts.promoted, artifacts.reasons
        version = artifacts.candidate_version

    champion = get_tracker(fresh.tracking).get_champion()
    assert champion is not None
    assert champion.version == version
    _, served = model_store.load(fresh.serve.model_dir, fresh.serve.trusted_signers)
    assert served.version == version


def test_monitoring_flow_recommends_retraining_on_drifted_traffic(
    fresh: Settings, tmp_path: Path, current_frame: pd.DataFrame, champion_dir: Path
) -> None:
    """Monitoring: once the API has served the bundled drifted batch, the monitoring flow
    finds the drift in the logged traffic (deployed, it then publishes the event that
    triggers the training flow)."""
    serve_traffic(fresh, current_frame, champion_dir)
    with Runner(
        str(FLOWS / "monitoring_flow.py"), show_output=False, env=flow_env(fresh, tmp_path)
    ) as runner:
        running = runner.run()
        run: Run = running.run  # type: ignore[attr-defined]  # not in metaflow-stubs
        assert run.successful, running.stderr
        assert run.data is not None
        assert run.data.retraining_recommended


def test_scoring_flow_scores_the_days_batch_with_the_champion(
    fresh: Settings, tmp_path: Path, champion_dir: Path
) -> None:
    """Infrastructure 3: the daily batch-scoring flow scores params.yaml score.input with
    the champion, one row per input row, and keeps the figures as artifacts."""
    pipeline.ingest(fresh)  # the day's batch: the processed current split
    served = fresh.model_copy(
        update={"serve": fresh.serve.model_copy(update={"model_dir": champion_dir})}
    )
    with Runner(
        str(FLOWS / "scoring_flow.py"), show_output=False, env=flow_env(served, tmp_path)
    ) as runner:
        running = runner.run()
        run: Run = running.run  # type: ignore[attr-defined]  # not in metaflow-stubs
        assert run.successful, running.stderr
        assert run.data is not None
        rows, scored = run.data.rows, run.data.scored
    assert rows == scored == len(scored_today(served))


def test_the_monitoring_event_is_the_one_training_is_triggered_by() -> None:
    """The two flows agree on the event's name (monitoring publishes, training listens)."""
    events = {
        line.split("=", 1)[1].split("#")[0].strip()
        for name in ("training_flow.py", "monitoring_flow.py")
        for line in (FLOWS / name).read_text(encoding="utf-8").splitlines()
        if line.startswith("RETRAINING_EVENT =")
    }
    assert len(events) == 1, events


def decorator_attributes(decorator: type[Any], spec: str) -> dict[str, Any]:
    """The attributes of a `--with NAME:SPEC` option, as Metaflow parses SPEC."""
    _, attributes = decorator.extract_args_kwargs_from_decorator_spec(spec)
    return dict(attributes)


def test_deployed_steps_share_the_workspace_volume() -> None:
    """Infrastructure 3: deployed (`make flow-deploy`: argo.py), every step is a pod of its
    own, yet the steps hand each other files: each mounts kubernetes.yaml's volume, gets its
    Secrets and settings that put the files it reads and writes on that volume (the raw
    data at params.yaml's path there), the cloud's settings over them, all as Metaflow's own
    parser reads the `--with` options."""
    cluster = yaml.safe_load((FLOWS / "kubernetes.yaml").read_text(encoding="utf-8"))
    workspace = cluster["workspace"]
    scores = "gs://bucket/scores/{date}.parquet"
    options = step_options({"SCORE__OUTPUT": scores})
    assert options[0::2] == ["--with", "--with"]
    specs = dict(option.split(":", 1) for option in options[1::2])
    kubernetes = decorator_attributes(KubernetesDecorator, specs["kubernetes"])
    environment = decorator_attributes(EnvironmentDecorator, specs["environment"])
    assert kubernetes["persistent_volume_claims"] == {cluster["workspace_claim"]: workspace}
    assert kubernetes.get("secrets", []) == cluster["secrets"]
    env = environment["vars"]
    assert env[f"{ENV_PREFIX}DATA__RAW_PATH"] == f"{workspace}/{Settings().data.raw_path}"
    assert env[f"{ENV_PREFIX}SCORE__OUTPUT"] == scores
    on_disk = {name: value for name, value in env.items() if "://" not in value}
    for name in ("DATA__PROCESSED_DIR", "MODELS_DIR", "REPORTS_DIR", "SERVE__MODEL_DIR"):
        assert f"{ENV_PREFIX}{name}" in on_disk, name
    assert all(value.startswith(f"{workspace}/") for value in on_disk.values()), on_disk
