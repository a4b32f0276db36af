"""Fixtures shared by the four ML Test Score sections: settings pointing at a temporary
workspace, the ingested data and a model trained once per session."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

from {{ cookiecutter.project_slug }}.config import ENV_PREFIX, Settings, get_settings
from {{ cookiecutter.project_slug }}.data import ingest
from {{ cookiecutter.project_slug }}.data.contract import MODEL_INPUTS, TARGET
from {{ cookiecutter.project_slug }}.registry import model_store, provenance
from {{ cookiecutter.project_slug }}.termination import exit_on_sigterm
from {{ cookiecutter.project_slug }}.tracking import get_tracker, local_store_uri
from {{ cookiecutter.project_slug }}.training.train import TrainedModel, train

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TRAFFIC_BATCH = 50  # rows per /predict/batch request in served test traffic

# The tests never reach the network, nor a tracking server configured in the shell.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture(autouse=True)
def environment_as_found() -> Iterator[None]:
    """Each test leaves os.environ as it found it, whatever it or a library it calls
    exports: the next test's subprocesses (an orchestrator's tasks) inherit this process's
    environment, and a stale variable would point them at another test's workspace."""
    before = dict(os.environ)
    yield
    for name in environment_changes(before):
        if name in before:
            os.environ[name] = before[name]
        else:
            del os.environ[name]


def environment_changes(before: Mapping[str, str]) -> dict[str, str | None]:
    """The variables set, changed or removed (None) since `before`."""
    now = dict(os.environ)
    names = before.keys() | now.keys()
    return {name: now.get(name) for name in names if before.get(name) != now.get(name)}


def workspace_settings(root: Path) -> Settings:
    """Settings for the real raw data with every output under `root`; the tests' tracker
    store lives there too, never in the project's own. A new `root` starts from a copy of
    the session's empty tracker store (see `empty_tracker_store`)."""
    if EMPTY_STORES and not (root.exists() and any(root.iterdir())):  # a new workspace
        shutil.copytree(EMPTY_STORES[0], root, dirs_exist_ok=True)
    return _settings_under(root)


def _settings_under(root: Path) -> Settings:
    base = Settings()
    return base.under(
        root, tracking_uri=local_store_uri(root), raw_path=PROJECT_ROOT / base.data.raw_path
    )


# The session's empty tracker store, once `empty_tracker_store` has made it.
EMPTY_STORES: list[Path] = []


@pytest.fixture(scope="session", autouse=True)
def empty_tracker_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding the tracker's store, created and empty, made once per session:
    creating a store can take seconds (MLflow migrates its database schema), copying one
    takes milliseconds, and every test workspace starts with one."""
    root = tmp_path_factory.mktemp("empty-tracker-store")
    get_tracker(_settings_under(root).tracking)  # the adapter creates its store
    EMPTY_STORES[:] = [root]
    return root


def workspace_environment(root: Path) -> dict[str, str]:
    """`workspace_settings(root)` as environment variables, for code that reads the settings
    itself (an orchestrator's tasks, a subprocess)."""
    settings = workspace_settings(root)
    return {
        f"{ENV_PREFIX}{name}": str(value)
        for name, value in {
            "DATA__RAW_PATH": settings.data.raw_path,
            "DATA__PROCESSED_DIR": settings.data.processed_dir,
            "MODELS_DIR": settings.models_dir,
            "REPORTS_DIR": settings.reports_dir,
            "MONITOR__REPORTS_DIR": settings.monitor.reports_dir,
            "SERVE__MODEL_DIR": settings.serve.model_dir,
            "INFERENCE_LOG__URL": settings.inference_log.url,
            "SCORE__INPUT": settings.score.input,
            "SCORE__OUTPUT": settings.score.output,
            "TRACKING__URI": settings.tracking.uri,
        }.items()
    }


def serve_traffic(
    settings: Settings, rows: pd.DataFrame, model_dir: Path | None = None, labelled: bool = True
) -> None:
    """Serve `rows` through the API (the model in `model_dir`, default the champion's
    directory), which logs them in `settings.inference_log.url`, and let their labels
    arrive (unless not `labelled`: see label_traffic): the traffic that monitoring checks."""
    from fastapi.testclient import TestClient

    from {{ cookiecutter.project_slug }}.serving.app import create_app
    from {{ cookiecutter.project_slug }}.serving.inference_log import (
        InferenceLog,
        read_window,
    )

    log = InferenceLog(settings.inference_log)
    app = create_app(model_dir or settings.serve.model_dir, log)
    with TestClient(app) as client:
        for i in range(0, len(rows), TRAFFIC_BATCH):
            chunk = rows.iloc[i : i + TRAFFIC_BATCH]
            response = client.post(
                "/predict/batch",
                json={"instances": chunk[list(MODEL_INPUTS)].to_dict("records")},
                headers={"X-Request-ID": f"r{i}"},
            )
            assert response.status_code == 200, response.text
    now = datetime.now(UTC)
    assert len(read_window(settings.inference_log.url, now - timedelta(hours=1), now)) == len(rows)
    if labelled:
        label_traffic(settings, rows)


def label_traffic(settings: Settings, rows: pd.DataFrame) -> None:
    """The labels of `rows`, served by serve_traffic, join the inference log."""
    from {{ cookiecutter.project_slug }}.serving.inference_log import write_labels

    ids = pd.DataFrame({"request_id": [f"r{i - i % TRAFFIC_BATCH}" for i in range(len(rows))]})
    ids["row"] = [i % TRAFFIC_BATCH for i in range(len(rows))]
    labels = ids.assign(**{TARGET.name: rows[TARGET.name].to_numpy()})
    write_labels(settings.inference_log.url, labels, "all")


def run_make(
    *arguments: str, env: Mapping[str, str] | None = None, succeed: bool = True
) -> subprocess.CompletedProcess[str]:
    """`make ARGUMENTS` in the project, as a user types it, its output captured; unless told
    otherwise, it must succeed (its output's end is the failure's message)."""
    make = shutil.which("make")
    assert make, "make is not on PATH"
    ran = subprocess.run(  # noqa: S603  # make from PATH, the caller's arguments, no shell
        [make, *arguments],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert ran.returncode == 0 or not succeed, ran.stdout[-3000:] + ran.stderr[-3000:]
    return ran


def terraform_outputs(bin_dir: Path, outputs: Mapping[str, str]) -> Path:
    """A `terraform` in `bin_dir` (made if missing; returned, for PATH) that prints these
    outputs as an applied state would to `terraform -chdir=<root> output -raw NAME`, the
    make files' tf_output, and fails on anything else, as it does with no state."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    cases = ""
    for name, value in outputs.items():
        (bin_dir / f"{name}.output").write_text(value, encoding="utf-8")
        cases += f"  '{name}') exec cat '{bin_dir / name}.output' ;;\n"
    terraform = bin_dir / "terraform"
    terraform.write_text(
        f'#!/bin/sh\n[ "$2 $3" = "output -raw" ] || exit 1\n'
        f'case "$4" in\n{cases}  *) exit 1 ;;\nesac\n',
        encoding="utf-8",
    )
    terraform.chmod(0o755)
    return bin_dir


@contextmanager
def local_server(handler: Callable[..., BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler` answering on 127.0.0.1, on a port the system picks, from a thread, for the
    block's duration: the server's base URL (http://127.0.0.1:PORT)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    serving = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    serving.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        serving.join(timeout=5)


def kustomized(directory: Path) -> tuple[str, dict[tuple[str, str], dict[str, Any]]]:
    """What the kustomization in `directory` makes on the cluster: its namespace, and its
    objects by kind and name (before kustomize adds the namespace and labels)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text("utf-8"))
    made = {
        (document["kind"], document["metadata"]["name"]): document
        for resource in kustomization["resources"]
        for document in yaml.safe_load_all((directory / resource).read_text("utf-8"))
    }
    return kustomization["namespace"], made


def terminate() -> None:
    """SIGTERM to this process: os.kill runs its handler before it returns."""
    os.kill(os.getpid(), signal.SIGTERM)


@pytest.fixture
def sigterm_announced(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """SIGTERM handled as the CLI handles it, during one test: what it announced."""
    monkeypatch.setattr(sys, "unraisablehook", sys.unraisablehook)  # restored after the test
    previous_handler = signal.getsignal(signal.SIGTERM)
    announced: list[str] = []
    exit_on_sigterm(lambda: announced.append("terminated"))
    try:
        yield announced
    finally:
        signal.signal(signal.SIGTERM, previous_handler)


@pytest.fixture(scope="session", autouse=True)
def one_thread_per_process() -> Iterator[None]:
    """Native thread pools (OpenMP, BLAS) use one thread in the test process. `make test`
    already runs one worker process per CPU: a pool per CPU in each of them only spins
    against the others (gradient boosting's fit took 40x longer on a busy 2-core host).
    Results do not depend on it; subprocesses the tests start keep their defaults."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("workspace")


@pytest.fixture(scope="session")
def settings(workspace: Path) -> Settings:
    return workspace_settings(workspace)


@pytest.fixture(scope="session")
def processed(settings: Settings) -> ingest.ProcessedPaths:
    return ingest.ingest(settings.data, settings.seed)


@pytest.fixture(scope="session")
def train_frame(processed: ingest.ProcessedPaths) -> pd.DataFrame:
    return ingest.read_processed(processed.train)


@pytest.fixture(scope="session")
def holdout_frame(processed: ingest.ProcessedPaths) -> pd.DataFrame:
    return ingest.read_processed(processed.test)


def scored_today(settings: Settings) -> pd.DataFrame:
    """The scheduled batch scoring's output for today (UTC), checked against its input: one
    scored row per input row (the bundled batch keeps the contract), by the champion."""
    from {{ cookiecutter.project_slug }}.serving.batch import rejects_path

    source, output = settings.score.for_day(datetime.now(UTC).date())
    scores: pd.DataFrame = pq.read_table(output).to_pandas()
    assert len(scores) == len(pd.read_parquet(source)) > 0
    assert pq.read_table(rejects_path(output)).num_rows == 0
    _, champion = model_store.load(settings.serve.model_dir, settings.serve.trusted_signers)
    assert set(scores["model_version"]) == {champion.version}
    return scores


@pytest.fixture(scope="session")
def current_frame(processed: ingest.ProcessedPaths) -> pd.DataFrame:
    return ingest.read_processed(processed.current)


@pytest.fixture(scope="session")
def trained(train_frame: pd.DataFrame, settings: Settings) -> TrainedModel:
    return train(train_frame, settings.train, settings.seed)


def without_search(settings: Settings, found: TrainedModel) -> Settings:
    """`settings` training the model the shipped search found (`found`: the session's
    `trained`) without searching again: the same hyper-parameters, cross-validation,
    threshold and final fit, in a fraction of the time. For tests of what happens around
    training (pipeline, registry, lineage, CT/CD); the search itself is tested on the
    shipped configuration (tests/model/test_quality.py, tests/infrastructure/test_training.py)."""
    replayed = settings.train.model_copy(
        update={"tune": False, "hyperparameters": found.hyperparameters}
    )
    return settings.model_copy(update={"train": replayed})


@pytest.fixture
def fresh_workspace(tmp_path: Path, trained: TrainedModel) -> Settings:
    """An empty workspace of the test's own (data splits, tracker store, models, reports)
    that trains the shipped model without repeating its search (see `without_search`)."""
    return without_search(workspace_settings(tmp_path), trained)


@pytest.fixture(scope="session")
def champion_dir(trained: TrainedModel, settings: Settings) -> Path:
    """A servable model directory, as the promotion step exports it."""
    metadata = model_store.ModelMetadata(
        name=settings.tracking.model_name,
        version="1",
        run_id="test-run",
        model_type=trained.model_name,
        metrics=trained.cv_metrics(),
        hyperparameters=trained.hyperparameters,
    )
    return export_signed(settings.serve.model_dir, trained.pipeline, metadata)


def export_signed(directory: Path, pipeline: Pipeline, metadata: model_store.ModelMetadata) -> Path:
    """Export a model the test made itself to `directory`, signed with the project's key
    and attested as CT signs a promotion (registry/provenance.py): what the API, batch
    scoring and monitoring load. Swapped in whole, as an export is (model_store.copy)."""
    with tempfile.TemporaryDirectory() as scratch:
        staged = model_store.save(Path(scratch) / "model", pipeline, metadata)
        attested = provenance.statement(
            staged,
            metadata.version,
            metadata.run_id,
            metadata.lineage,
            "champion",
            datetime.now(UTC),
        )
        provenance.seal(staged, attested, get_settings().sign)
        return model_store.copy(staged, directory)
