"""MLflow runs end with the process: a training step that fails or is stopped leaves its run
FAILED, never RUNNING forever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mlflow import MlflowClient

from {{ cookiecutter.project_slug }}.config import ENV_PREFIX, ConfigurationError, Settings
from {{ cookiecutter.project_slug }}.data.contract import MODEL_INPUTS
from {{ cookiecutter.project_slug }}.data.ingest import ProcessedPaths
from {{ cookiecutter.project_slug }}.tracking import Tracker, get_tracker
from {{ cookiecutter.project_slug }}.training.train import TrainedModel

from ..conftest import PROJECT_ROOT, terminate, workspace_settings

pytestmark = pytest.mark.infrastructure

PACKAGE = "{{ cookiecutter.project_slug }}"
RUN_START_TIMEOUT = 180  # seconds for the CLI to import the stack and open its run


def _empty_store(root: Path) -> str:
    """The URI of an empty MLflow store under `root` (a copy of the session's)."""
    uri = workspace_settings(root).tracking.uri
    assert uri is not None
    return uri


def _statuses(uri: str, experiment: str) -> list[str]:
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    return [run.info.status for run in client.search_runs([found.experiment_id])]


def test_a_failing_step_ends_its_run_as_failed(settings: Settings, tmp_path: Path) -> None:
    """Infrastructure 3: an exception inside a run marks it FAILED."""
    uri = _empty_store(tmp_path)
    tracking = settings.tracking.model_copy(update={"uri": uri, "experiment": "failing"})
    with pytest.raises(RuntimeError), get_tracker(tracking).start_run("train"):
        raise RuntimeError("training broke")
    assert _statuses(uri, "failing") == ["FAILED"]


def test_a_model_is_registered_without_a_warning(
    settings: Settings,
    trained: TrainedModel,
    holdout_frame: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a user reads: registering a model warns of nothing (MLflow infers a signature
    from an example with integer columns, and warns twice, unless one is declared)."""
    uri = _empty_store(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # MLflow exports it: restored after
    tracker = get_tracker(settings.tracking.model_copy(update={"uri": uri}))
    example = holdout_frame[list(MODEL_INPUTS)].head(5)
    with warnings.catch_warnings(record=True) as caught, tracker.start_run("train"):
        warnings.simplefilter("always")
        tracker.register_model(trained.pipeline, example, {})
    assert [str(warning.message) for warning in caught] == []


def test_a_terminated_training_ends_its_run_as_failed(
    settings: Settings, processed: ProcessedPaths, tmp_path: Path
) -> None:
    """Infrastructure 3: SIGTERM (a cancelled CI job, an orchestrator stopping a task) during
    `train` ends the MLflow run as FAILED and exits 143, instead of leaving it RUNNING."""
    uri = _empty_store(tmp_path)
    env = {
        **os.environ,
        f"{ENV_PREFIX}DATA__PROCESSED_DIR": str(settings.data.processed_dir),
        f"{ENV_PREFIX}MODELS_DIR": str(tmp_path / "models"),
        f"{ENV_PREFIX}REPORTS_DIR": str(tmp_path / "reports"),
        f"{ENV_PREFIX}TRACKING__URI": uri,
    }
    experiment = settings.tracking.experiment
    training = subprocess.Popen(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-m", PACKAGE, "train"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + RUN_START_TIMEOUT
        while "RUNNING" not in _statuses(uri, experiment):
            assert training.poll() is None, "train ended before its run was seen"
            assert time.monotonic() < deadline, "no RUNNING run appeared"
            time.sleep(0.1)
        training.send_signal(signal.SIGTERM)
        output, _ = training.communicate(timeout=120)
    finally:
        if training.poll() is None:
            training.kill()
            training.wait()
    assert training.returncode == 128 + signal.SIGTERM, output
    assert _statuses(uri, experiment) == ["FAILED"]


@pytest.mark.usefixtures("sigterm_announced")
def test_sigterm_during_a_store_call_lets_it_complete(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM in the middle of MLflow writing its store waits for the write to end (cut
    short, sqlite's lock outlived it and the run could not be marked FAILED), then ends the
    run FAILED."""
    uri = _empty_store(tmp_path)
    _terminated_as_mlflow_calls(monkeypatch, "log_batch")  # log_params' write
    with pytest.raises(SystemExit):
        _train_step(get_tracker(settings.tracking.model_copy(update={"uri": uri})))
    [run] = MlflowClient(tracking_uri=uri).search_runs([_experiment_id(uri, settings)])
    assert run.data.params == {"seed": "42"}
    assert run.info.status == "FAILED"


@pytest.mark.usefixtures("sigterm_announced")
def test_sigterm_as_a_run_starts_ends_it_failed(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM while MLflow creates the run: the exit follows the creation, and the run it
    created ends FAILED, not RUNNING forever."""
    uri = _empty_store(tmp_path)
    _terminated_as_mlflow_calls(monkeypatch, "create_run")
    with pytest.raises(SystemExit):
        _train_step(get_tracker(settings.tracking.model_copy(update={"uri": uri})))
    assert _statuses(uri, settings.tracking.experiment) == ["FAILED"]


def _terminated_as_mlflow_calls(monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """SIGTERM arrives as `MlflowClient.<method>` starts its call to the store."""
    call = getattr(MlflowClient, method)

    def terminated(client: MlflowClient, *args: Any, **kwargs: Any) -> Any:
        terminate()
        return call(client, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, method, terminated)


def _train_step(tracker: Tracker) -> None:
    """A step that logs its parameters first: SIGTERM stops it before its end."""
    with tracker.start_run("train"):
        tracker.log_params({"seed": 42})
        pytest.fail("the step went on after SIGTERM")


def _experiment_id(uri: str, settings: Settings) -> str:
    found = MlflowClient(tracking_uri=uri).get_experiment_by_name(settings.tracking.experiment)
    assert found is not None
    return str(found.experiment_id)


def test_a_store_mlflow_refuses_is_one_error_naming_the_setting(
    settings: Settings, tmp_path: Path
) -> None:
    """A tracking URI MLflow refuses (a plain directory: MLflow 3 no longer opens file
    stores) is a configuration error naming tracking.uri: the CLI prints it as its one line."""
    directory = str(tmp_path / "mlruns")
    with pytest.raises(ConfigurationError, match=r"^tracking\.uri '.*mlruns': "):
        get_tracker(settings.tracking.model_copy(update={"uri": directory}))
