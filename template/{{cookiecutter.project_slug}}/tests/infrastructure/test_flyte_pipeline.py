"""ML Test Score, infrastructure: the pipeline through Flyte, executed locally in this
process (as `pyflyte run` does), its outputs in a temporary workspace."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
from flyteidl.admin import launch_plan_pb2, task_pb2  # type: ignore[import-untyped]

from {{ cookiecutter.project_slug }}.config import ENV_PREFIX, Settings, get_settings
from {{ cookiecutter.project_slug }}.data import ingest
from {{ cookiecutter.project_slug }}.registry import model_store
from {{ cookiecutter.project_slug }}.registry.champion import candidate_dir
from {{ cookiecutter.project_slug }}.tracking import get_tracker

from ..conftest import PROJECT_ROOT, scored_today, serve_traffic, workspace_environment

pytestmark = pytest.mark.infrastructure

WORKFLOWS = PROJECT_ROOT / "orchestration" / "flyte" / "workflows.py"
DIGEST = "registry.example/tasks@sha256:" + "0" * 64  # an image as `make flow-deploy` names it


@pytest.fixture(scope="module")
def flyte() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flyte_workflows", WORKFLOWS)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # flytekit locates its tasks by module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("flyte")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in workspace_environment(root).items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        yield root
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def decision(flyte: ModuleType, workspace: Path) -> str:
    """The training workflow, run once for the module: the monitoring test needs its
    champion, whichever order the tests run in."""
    result: str = flyte.training()
    return result


def test_the_launch_plans_schedule_training_monitoring_and_scoring(flyte: ModuleType) -> None:
    """Continuous training, monitoring and batch scoring: cron launch plans of the three
    workflows (scoring given its scheduled time), every task in the configured image."""
    for plan, workflow in (
        (flyte.training_weekly, flyte.training),
        (flyte.monitoring_daily, flyte.monitoring),
        (flyte.batch_scoring_daily, flyte.batch_scoring),
    ):
        assert plan.workflow is workflow
        assert plan.schedule.cron_schedule.schedule == flyte.CONFIG[f"{workflow.short_name}_cron"]
    assert flyte.batch_scoring_daily.schedule.kickoff_time_input_arg == "kickoff_time"
    for task in (flyte.run_step, flyte.monitor, flyte.score):
        assert task.container_image == flyte.IMAGE


def test_pyflyte_serializes_every_task_on_the_deployed_image(
    flyte: ModuleType, tmp_path: Path
) -> None:
    """What a registration sends to Flyte's control plane, as Flyte's own CLI serializes it
    (`pyflyte package`, the serialization `pyflyte register` does): every task runs the
    image the deployment names (PIPELINE_IMAGE, pinned by digest) and finds its code in the
    module the image carries, and the three launch plans keep their schedules."""
    package = tmp_path / "flyte-package.tgz"
    packaged = subprocess.run(  # noqa: S603  # fixed arguments, no shell
        [
            Path(sys.executable).with_name("pyflyte"),
            *("--pkgs", "orchestration.flyte", "package", "--output", package),
        ],
        cwd=PROJECT_ROOT,
        # pyflyte needs a default image at start-up, which it has none of for every
        # Python (flyte.mk sets one too): one no task may end up on.
        env={**os.environ, "PIPELINE_IMAGE": DIGEST, "FLYTE_INTERNAL_IMAGE": "unused:default"},
        check=False,
        capture_output=True,
        text=True,
    )
    assert packaged.returncode == 0, packaged.stdout + packaged.stderr
    with tarfile.open(package) as archive:
        entities = {
            member.name: archive.extractfile(member).read()  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.isfile()
        }
    tasks = [
        task_pb2.TaskSpec.FromString(data).template
        for name, data in entities.items()
        if name.endswith("_1.pb")
    ]
    assert {t.id.name for t in tasks} == {
        f"orchestration.flyte.workflows.{t.name.rpartition('.')[2]}"
        for t in (flyte.run_step, flyte.monitor, flyte.keep_champion, flyte.score)
    }
    for template in tasks:
        assert template.container.image == DIGEST, template.id.name
        arguments = list(template.container.args)
        module = arguments[arguments.index("task-module") + 1]
        assert module == "orchestration.flyte.workflows", arguments
    plans = {
        plan.id.name: plan.spec
        for plan in (
            launch_plan_pb2.LaunchPlan.FromString(data)
            for name, data in entities.items()
            if name.endswith("_3.pb")
        )
    }
    for plan, workflow in (
        ("training_weekly", "training"),
        ("monitoring_daily", "monitoring"),
        ("batch_scoring_daily", "batch_scoring"),
    ):
        assert plans[plan].workflow_id.name == f"orchestration.flyte.workflows.{workflow}"
        schedule = plans[plan].entity_metadata.schedule.cron_schedule.schedule
        assert schedule == flyte.CONFIG[f"{workflow}_cron"], plan


@pytest.mark.usefixtures("decision")  # the champion that scores
def test_the_batch_scoring_workflow_scores_the_days_batch(flyte: ModuleType) -> None:
    """Infrastructure 3: the daily batch-scoring workflow scores params.yaml score.input
    with the champion, one row per input row."""
    flyte.batch_scoring(kickoff_time=datetime.now(UTC))
    scored_today(get_settings())


def test_the_training_workflow_produces_a_champion(decision: str, workspace: Path) -> None:
    """Infrastructure 3: ingest -> train -> promote through Flyte leaves a champion in the
    registry and a servable model."""
    assert decision.startswith("PROMOTE")
    settings = get_settings()
    assert str(settings.models_dir).startswith(str(workspace))
    champion = get_tracker(settings.tracking).get_champion()
    assert champion is not None
    _, served = model_store.load(settings.serve.model_dir, settings.serve.trusted_signers)
    assert served.version == champion.version


def test_monitoring_retrains_on_drifted_traffic_only(
    flyte: ModuleType, decision: str, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Monitoring 2 and 7: the monitoring workflow judges the traffic the API logged. With
    none, and with traffic like the training data (the held-out split), it keeps the
    champion; once the API has served the bundled drifted batch, it trains (and gates) a
    new candidate."""

    def candidate(settings: Settings) -> str:
        return model_store.load(candidate_dir(settings), signers=None)[1].version

    settings = get_settings()
    before = candidate(settings)
    assert flyte.monitoring() == "no retraining recommended"  # nothing logged yet
    batches = ingest.ProcessedPaths.under(settings.data.processed_dir)
    serve_traffic(settings, ingest.read_processed(batches.test))
    assert flyte.monitoring() == "no retraining recommended"
    assert candidate(get_settings()) == before

    monkeypatch.setenv(f"{ENV_PREFIX}INFERENCE_LOG__URL", str(workspace / "drifted-log"))
    get_settings.cache_clear()
    serve_traffic(get_settings(), ingest.read_processed(batches.current))
    flyte.monitoring()
    assert candidate(get_settings()) != before
