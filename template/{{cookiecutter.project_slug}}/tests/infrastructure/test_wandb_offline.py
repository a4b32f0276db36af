"""ML Test Score, infrastructure: Weights & Biases works offline, for real, and stays offline."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import wandb
from wandb.proto import wandb_internal_pb2

from {{ cookiecutter.project_slug }} import pipeline
from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.data import ingest
from {{ cookiecutter.project_slug }}.registry import model_store
from {{ cookiecutter.project_slug }}.tracking import CHAMPION, get_tracker
from {{ cookiecutter.project_slug }}.tracking.wandb_tracker.tracker import (
    ARTIFACT_TYPE,
    MODEL_FILE,
    VERSION_FILE,
    mode,
)
from {{ cookiecutter.project_slug }}.training.candidate import train_candidate

from ..conftest import workspace_settings

pytestmark = pytest.mark.infrastructure

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
# A run's transaction log (`run-<id>.wandb`, what `wandb sync` uploads): a header, then
# LevelDB's log format: 32 KiB blocks of chunks (CRC-32C, length, type), each record a
# protobuf `Record` of W&B's, split over chunks FIRST ... LAST when it is long.
LOG_HEADER = b":W&B\xe1\xbe\x00"  # magic, 0xBEE1, format version 0
BLOCK = 32 * 1024
CHUNK = struct.Struct("<IHB")
FULL, LAST = 1, 4


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


def logged_artifacts(run_log: Path) -> list[Any]:
    """The artifacts a run's transaction log records it logged, in order."""
    data = run_log.read_bytes()
    assert data.startswith(LOG_HEADER), f"{run_log}: not a W&B transaction log"
    found: list[Any] = []
    record, position = b"", len(LOG_HEADER)
    while position + CHUNK.size <= len(data):
        if BLOCK - position % BLOCK < CHUNK.size:  # a block's tail too short for a chunk
            position += BLOCK - position % BLOCK
            continue
        _, length, kind = CHUNK.unpack_from(data, position)
        position += CHUNK.size
        record += data[position : position + length]
        position += length
        if kind in (FULL, LAST):
            # W&B builds its protobuf classes when imported: mypy sees none of them.
            parsed = wandb_internal_pb2.Record.FromString(record)  # type: ignore[attr-defined]
            if parsed.WhichOneof("record_type") == "artifact":
                found.append(parsed.artifact)
            record = b""
    return found


def test_offline_runs_give_the_champion_alias_to_the_version_its_training_run_logged(
    fresh: Settings, outbound: list[str]
) -> None:
    """Infrastructure 3 (the lineage of a model is kept), offline: W&B cannot record what
    an offline run used (`use_artifact` refuses), but the logs `wandb sync` uploads keep
    the promoted model's lineage: the training run logged the model's content, and the
    promotion gives the alias `champion` to that same content, so that once synced W&B
    gives the alias to the version the training run created."""
    tracker = get_tracker(fresh.tracking)
    pipeline.ingest(fresh)
    first = train_candidate(fresh, tracker)
    assert pipeline.promote(fresh, tracker).promote
    champion = tracker.get_champion()
    assert champion is not None
    assert champion.run_id == first.run_id

    # The digest W&B gives the champion's files (its content address), computed by W&B.
    kept = Path(fresh.tracking.uri or "") / "wandb" / "registry" / fresh.tracking.model_name
    content = wandb.Artifact(fresh.tracking.model_name, type=ARTIFACT_TYPE)
    for name in (MODEL_FILE, VERSION_FILE):
        content.add_file(str(kept / champion.version / name))
    logs = sorted((Path(fresh.tracking.uri or "") / "wandb").glob("offline-run-*/run-*.wandb"))
    logged = {log.stem.removeprefix("run-"): logged_artifacts(log) for log in logs}

    trained = [a for a in logged[champion.run_id] if a.name == fresh.tracking.model_name]
    assert [a.digest for a in trained] == [content.digest]
    crowned = [
        (run_id, artifact.digest)
        for run_id, artifacts in logged.items()
        for artifact in artifacts
        if CHAMPION in artifact.aliases
    ]
    assert len(crowned) == 1, crowned
    assert crowned[0][0] != champion.run_id  # the promotion's own run
    assert crowned[0][1] == content.digest
    assert outbound == []
