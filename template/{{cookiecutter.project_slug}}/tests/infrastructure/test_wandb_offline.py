"""ML Test Score, infrastructure: Weights & Biases works offline, for real, and stays offline."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from {{ cookiecutter.project_slug }} import pipeline
from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.data import ingest
from {{ cookiecutter.project_slug }}.registry import model_store
from {{ cookiecutter.project_slug }}.tracking import get_tracker
from {{ cookiecutter.project_slug }}.tracking.wandb_tracker.tracker import mode
from {{ cookiecutter.project_slug }}.training.candidate import train_candidate

from ..conftest import workspace_settings

pytestmark = pytest.mark.infrastructure

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture
def outbound(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every outbound connection attempted, by this process or by W&B's service process.

    In this process, a socket guard refuses (and records) connections to any address but
    the loopback one (W&B's own service listens there). Child processes are pointed at a
    local proxy that records (and drops) whatever they try to reach.
    """
    attempts: list[str] = []
    real_connect = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOOPBACK:
            attempts.append(f"socket to {address}")
            raise ConnectionRefusedError(f"test guard: no outbound connection to {address}")
        real_connect(sock, address)

    trap = socket.create_server(("127.0.0.1", 0))
    trap.settimeout(0.2)
    stop = threading.Event()

    def record() -> None:
        while not stop.is_set():
            try:
                connection, _ = trap.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(1)
                attempts.append(f"via proxy: {connection.recv(200)!r}")

    recorder = threading.Thread(target=record, daemon=True)
    recorder.start()
    proxy = f"http://127.0.0.1:{trap.getsockname()[1]}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, proxy)
    for name in ("NO_PROXY", "no_proxy", "WANDB_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)  # offline must be the default
    monkeypatch.setattr(socket.socket, "connect", guarded)
    try:
        yield attempts
    finally:
        stop.set()
        recorder.join()
        trap.close()


@pytest.fixture
def fresh(tmp_path: Path) -> Settings:
    return workspace_settings(tmp_path)


def test_wandb_runs_registers_and_promotes_offline_without_any_connection(
    fresh: Settings, outbound: list[str], capfd: pytest.CaptureFixture[str]
) -> None:
    """Infrastructure 3: without an API key, W&B logs runs, their reports and model
    artifacts offline, the registry still reads the champion back, nothing leaves the
    machine and W&B prints nothing of its own."""
    assert mode() == "offline"
    tracker = get_tracker(fresh.tracking)
    holdout = ingest.read_processed(pipeline.ingest(fresh).test)
    first = train_candidate(fresh, tracker)
    assert pipeline.promote(fresh, tracker).promote

    champion = tracker.get_champion()
    assert champion is not None
    assert champion.version == first.version
    assert champion.lineage == first.lineage
    served, _ = model_store.load(fresh.serve.model_dir, fresh.serve.trusted_signers)
    np.testing.assert_allclose(
        model_store.predict_output(tracker.load_model(champion), holdout),
        model_store.predict_output(served, holdout),
    )
    runs = sorted((Path(fresh.tracking.uri or "") / "wandb").glob("offline-run-*"))
    assert len(runs) == 2, runs  # the training run, and the promotion that moved the alias
    assert all(list(run.glob("*.wandb")) for run in runs), "no run log for `wandb sync`"
    assert (runs[0] / "files" / "model_card.md").is_file()  # the training run's report
    assert "wandb:" not in capfd.readouterr().err
    assert outbound == []
