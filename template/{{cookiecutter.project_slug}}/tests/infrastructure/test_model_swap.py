"""The API picks up a newly exported champion without dropping a request, and refuses a
damaged one (not ready, one log line naming the rollback) instead of crashing."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from {{ cookiecutter.project_slug }}.data.contract import EXAMPLE
from {{ cookiecutter.project_slug }}.registry import model_store
from {{ cookiecutter.project_slug }}.serving.app import create_app
from {{ cookiecutter.project_slug }}.training.train import TrainedModel

from ..conftest import export_signed

pytestmark = pytest.mark.infrastructure

CLIENTS = 4
SWAPS = 5
# How long one swap may take to reach the clients: generous, as the server shares its process
# (and, in a busy CI, its core) with the clients' threads.
SWAP_DEADLINE_SECONDS = 30


def export(directory: Path, trained: TrainedModel, version: str) -> None:
    metadata = model_store.ModelMetadata(
        name="m", version=version, run_id="r", model_type=trained.model_name
    )
    export_signed(directory, trained.pipeline, metadata)


@contextmanager
def running(directory: Path) -> Iterator[str]:
    """The API on a free port, in a thread, looking for a new champion every 50 ms."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(directory, reload_seconds=0.05)
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()


def predict(base: str) -> tuple[int, str]:
    request = urllib.request.Request(  # noqa: S310 (a local http URL)
        f"{base}/predict",
        data=json.dumps(EXAMPLE).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())["model_version"]
    except urllib.error.HTTPError as error:
        return error.code, ""
    except (urllib.error.URLError, TimeoutError):
        return 0, ""  # no answer at all: counted as a failed request


def test_a_new_champion_is_swapped_in_under_load_without_errors(
    trained: TrainedModel, tmp_path: Path
) -> None:
    """Infrastructure 7: a promotion reaches the running API without a restart, and no
    request in flight fails or sees a half-loaded model."""
    directory = tmp_path / "champion"
    export(directory, trained, "1")
    results: list[tuple[int, str]] = []
    stop = threading.Event()

    def client(base: str) -> None:
        while not stop.is_set():
            results.append(predict(base))

    with running(directory) as base:
        clients = [threading.Thread(target=client, args=(base,)) for _ in range(CLIENTS)]
        for thread in clients:
            thread.start()
        try:
            time.sleep(0.5)
            for version in map(str, range(2, SWAPS + 2)):
                export(directory, trained, version)
                deadline = time.monotonic() + SWAP_DEADLINE_SECONDS
                while not any(v == version for _, v in results[-CLIENTS:]):
                    assert time.monotonic() < deadline, f"v{version} was not swapped in"
                    time.sleep(0.02)
            time.sleep(0.3)
        finally:  # the clients stop before the server does, whatever happened
            stop.set()
            for thread in clients:
                thread.join()
    versions = [version for _, version in results]
    errors = [status for status, _ in results if status != 200]
    assert not errors, f"{len(errors)} of {len(results)} requests failed: {set(errors)}"
    first_seen = [versions.index(str(v)) for v in range(1, SWAPS + 2) if str(v) in versions]
    assert len(first_seen) == SWAPS + 1, "a promoted version was never served"
    assert first_seen == sorted(first_seen)


def test_a_damaged_champion_leaves_the_api_not_ready_with_the_rollback(
    trained: TrainedModel, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Monitoring 6: a damaged model is never served and never crashes the API: /health
    stays up, /ready and predictions answer 503, and one log line names the rollback."""
    directory = tmp_path / "champion"
    export(directory, trained, "1")
    export(directory, trained, "2")
    (directory / model_store.MODEL_FILE).write_bytes(b"truncated")
    with caplog.at_level(logging.INFO), TestClient(create_app(directory)) as client:
        assert client.get("/health").status_code == 200
        for _ in range(3):
            assert client.post("/predict", json=EXAMPLE).status_code == 503
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert "rollback 1" in ready.json()["detail"]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert "rollback 1" in errors[0]


def test_a_damaged_export_does_not_replace_the_served_model(
    trained: TrainedModel, tmp_path: Path
) -> None:
    directory = tmp_path / "champion"
    export(directory, trained, "1")
    # Version 2 is exported and damaged beside the served directory, then swapped in as
    # model_store.save swaps (two renames): the API never sees it intact, however busy
    # the host (damaged in place, a reload could come between the export and the damage).
    staging = tmp_path / "staging"
    shutil.copytree(directory, staging)
    export(staging, trained, "2")
    (staging / model_store.MODEL_FILE).write_bytes(b"truncated")
    with running(directory) as base:
        assert predict(base) == (200, "1")
        os.replace(directory, tmp_path / "retired")
        os.replace(staging, directory)
        time.sleep(0.3)  # several reload attempts
        assert predict(base) == (200, "1")
