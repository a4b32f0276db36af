"""ML Test Score, infrastructure: the pipeline through Kubeflow Pipelines.

The pipelines compile to KFP's pipeline YAML and load back with KFP's own loader; then they
run locally with `kfp.local` (each component a subprocess of this environment, as
`make kubeflow-run` does), their outputs in a temporary workspace.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from {{ cookiecutter.project_slug }}.config import ENV_PREFIX, Settings, get_settings
from {{ cookiecutter.project_slug }}.data import ingest
from {{ cookiecutter.project_slug }}.pipeline import STEPS
from {{ cookiecutter.project_slug }}.registry import model_store
from {{ cookiecutter.project_slug }}.registry.champion import candidate_dir
from {{ cookiecutter.project_slug }}.tracking import get_tracker

from ..conftest import PROJECT_ROOT, scored_today, serve_traffic, workspace_environment

pytestmark = pytest.mark.infrastructure

PIPELINE = PROJECT_ROOT / "orchestration" / "kubeflow" / "pipeline.py"


@pytest.fixture(scope="module")
def kubeflow() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kubeflow_pipeline", PIPELINE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The steps' settings (in this process and the components' subprocesses) point at a
    temporary workspace; kfp.local runs the components in this environment."""
    from kfp import local  # type: ignore[import-untyped]

    root = tmp_path_factory.mktemp("kubeflow")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in workspace_environment(root).items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root / "kfp"))
        yield root
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def trained(kubeflow: ModuleType, workspace: Path) -> Path:
    """The training pipeline, run once for the module: the monitoring test needs its
    champion, whichever order the tests run in."""
    kubeflow.training()
    return workspace


def test_the_pipelines_compile_to_specs_kfp_loads(kubeflow: ModuleType, tmp_path: Path) -> None:
    """`make pipeline-compile`'s YAML is a valid pipeline spec: every component runs the
    configured image, training has one task per declared step."""
    from kfp import components

    paths = kubeflow.compile_to(tmp_path)
    assert [p.name for p in paths] == ["training.yaml", "monitoring.yaml", "batch_scoring.yaml"]
    for path in paths:
        spec = components.load_component_from_file(str(path)).pipeline_spec
        executors = spec.deployment_spec["executors"].values()
        assert {e["container"]["image"] for e in executors} == {kubeflow.IMAGE}
    training = components.load_component_from_file(str(paths[0])).pipeline_spec
    assert len(training.root.dag.tasks) == len(STEPS)


@pytest.mark.parametrize(
    "pod",
    [
        "{",  # not JSON
        '["demo-workspace"]',
        '{"workspace_claim": "demo-workspace"}',  # mounted nowhere
        '{"workspace_claim": "demo-workspace", "workspace": "/w", "volume": "x"}',
        '{"workspace_claim": "demo-workspace", "workspace": "/w", "labels": ["a"]}',
        '{"labels": {"a": 1}, "workspace_claim": "demo-workspace", "workspace": "/w"}',
    ],
)
def test_a_pod_setting_the_cluster_cannot_use_is_refused(kubeflow: ModuleType, pod: str) -> None:
    with pytest.raises(SystemExit, match="PIPELINE_POD must be a JSON object of workspace_claim"):
        kubeflow.read_pod(pod)


def test_a_pod_setting_is_read_as_given(kubeflow: ModuleType) -> None:
    pod = {"labels": {"a": "b"}, "workspace_claim": "demo-workspace", "workspace": "/w"}
    assert kubeflow.read_pod(json.dumps(pod)) == pod
    assert kubeflow.read_pod("") == {}  # no cluster: the components as they are


def test_the_training_pipeline_produces_a_champion(trained: Path) -> None:
    """Infrastructure 3: ingest -> train -> promote through KFP leaves a champion in the
    registry and a servable model."""
    settings = get_settings()
    assert str(settings.models_dir).startswith(str(trained))
    champion = get_tracker(settings.tracking).get_champion()
    assert champion is not None
    _, served = model_store.load(settings.serve.model_dir, settings.serve.trusted_signers)
    assert served.version == champion.version


def test_the_batch_scoring_pipeline_scores_the_days_batch(
    kubeflow: ModuleType, trained: Path
) -> None:
    """Infrastructure 3: the daily batch-scoring pipeline scores params.yaml score.input with
    the champion, one row per input row."""
    kubeflow.batch_scoring()
    scored_today(get_settings())


def test_monitoring_retrains_on_drifted_traffic_only(
    kubeflow: ModuleType, trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Monitoring 2 and 7: the monitoring pipeline judges the traffic the API logged. With
    traffic like the training data (the held-out split) it stops after the check; once the
    API has served the bundled drifted batch, it trains (and gates) a new candidate."""

    def candidate(settings: Settings) -> str:
        return model_store.load(candidate_dir(settings), signers=None)[1].version

    settings = get_settings()
    before = candidate(settings)
    batches = ingest.ProcessedPaths.under(settings.data.processed_dir)
    serve_traffic(settings, ingest.read_processed(batches.test))
    kubeflow.monitoring()
    assert candidate(settings) == before

    monkeypatch.setenv(f"{ENV_PREFIX}INFERENCE_LOG__URL", str(trained / "drifted-log"))
    get_settings.cache_clear()
    serve_traffic(get_settings(), ingest.read_processed(batches.current))
    kubeflow.monitoring()
    assert candidate(settings) != before
