"""Data 5 (privacy): the inference log records every prediction with what monitoring
needs, and leaves out or hashes the inputs the configuration names; labels join later.
Monitoring 6: it does so without slowing the request path."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.project_slug }}.config import InferenceLogSettings
from {{ cookiecutter.project_slug }}.data.contract import EXAMPLE, MODEL_INPUTS, TARGET
from {{ cookiecutter.project_slug }}.serving.app import create_app
from {{ cookiecutter.project_slug }}.serving.inference_log import (
    SERVED_LABEL,
    SERVED_VALUE,
    InferenceLog,
    read_window,
    write_labels,
)

from ..contract_cases import CATEGORICAL, CONTRACT_FILE, require

pytestmark = pytest.mark.data


def served_values(compact: dict[str, Any]) -> list[float]:
    """The value the log keeps of each prediction of a compact batch answer: the
    probability (binary), the decided class's probability (multiclass) or the value."""
    if "probabilities" in compact:
        return [max(p.values()) for p in compact["probabilities"]]
    return list(compact.get("probability", compact.get("prediction", [])))


def test_predictions_round_trip_without_the_sensitive_inputs(
    champion_dir: Path, holdout_frame: pd.DataFrame, tmp_path: Path
) -> None:
    """Data 5: every prediction is logged with what monitoring needs, the configured inputs
    dropped or hashed (never in clear), and labels written later join their predictions."""
    require(len(MODEL_INPUTS) >= 3, f"{CONTRACT_FILE} declares fewer than 3 model inputs")
    # One input hashed (a categorical one if any), one dropped, one kept in clear.
    hashed = CATEGORICAL[-1].name if CATEGORICAL else MODEL_INPUTS[-1]
    dropped, clear = [name for name in MODEL_INPUTS if name != hashed][:2]
    settings = InferenceLogSettings(
        url=str(tmp_path / "log"), drop=[dropped], hash=[hashed], hash_salt="pepper"
    )
    rows = holdout_frame.head(40)
    start = datetime.now(UTC)
    with TestClient(create_app(champion_dir, InferenceLog(settings))) as client:
        responses = [
            client.post(
                "/predict/batch?compact=true",
                json={"instances": rows.iloc[i : i + 20][list(MODEL_INPUTS)].to_dict("records")},
                headers={"X-Request-ID": f"req-{i}"},
            ).json()
            for i in (0, 20)
        ]
    logged = read_window(settings.url, start, datetime.now(UTC) + timedelta(seconds=1))

    assert len(logged) == len(rows)
    assert set(logged["request_id"]) == {"req-0", "req-20"}
    assert (logged["model_version"].astype(str) == "1").all()
    answers = [value for response in responses for value in served_values(response)]
    assert logged[SERVED_VALUE].tolist() == answers
    # The decision: a classifier's label, a regressor's value itself.
    decided = [v for r in responses for v in r.get("label", r.get("prediction", []))]
    assert logged[SERVED_LABEL].tolist() == decided
    assert logged[clear].tolist() == rows[clear].tolist()
    assert dropped not in logged.columns
    assert not set(logged[hashed]) & set(rows[hashed]), f"{hashed} is logged in clear"
    assert logged[hashed].nunique() == rows[hashed].nunique()  # still countable
    text = "".join(p.read_text() for p in (tmp_path / "log").rglob("*.jsonl"))
    assert f'"{dropped}"' not in text

    first = logged[logged["request_id"] == "req-0"].assign(
        **{TARGET.name: rows.head(20)[TARGET.name].to_numpy()}
    )
    write_labels(settings.url, first, "batch-0")
    joined = read_window(settings.url, start, datetime.now(UTC) + timedelta(seconds=1))
    labelled = joined.dropna(subset=[TARGET.name])
    assert labelled["request_id"].eq("req-0").all()
    assert labelled[TARGET.name].astype(int).tolist() == rows.head(20)[TARGET.name].tolist()


# How long the test holds the log's first write, as a store that does not answer: far
# longer than answering the requests below takes, even on a saturated machine, and only
# reached when a request waits for the write.
HOLD_SECONDS = 10.0
ANSWERED_WHILE_HELD = 5


def test_requests_are_answered_while_the_log_waits_for_its_store(
    champion_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Monitoring 6: recording predictions stays off the request path. The log's first
    write is held, as by a store that does not answer; requests are answered meanwhile, and
    what they recorded is written once the store answers. (What the log costs in latency
    and throughput is measured by `make bench`, beside the API with the log off.)"""
    log = InferenceLog(InferenceLogSettings(url=str(tmp_path / "log"), flush_seconds=0.01))
    writing, store_answers = threading.Event(), threading.Event()
    released: list[bool] = []  # True: the test released the held write; False: it timed out
    write = log._write

    def first_write_held(directory: str, data: bytes) -> None:
        if not writing.is_set():
            writing.set()
            released.append(store_answers.wait(HOLD_SECONDS))
        write(directory, data)

    monkeypatch.setattr(log, "_write", first_write_held)
    start = datetime.now(UTC)
    with TestClient(create_app(champion_dir, log)) as client:
        assert client.post("/predict", json=EXAMPLE).status_code == 200
        assert writing.wait(HOLD_SECONDS), "the log wrote nothing"
        for _ in range(ANSWERED_WHILE_HELD):
            assert client.post("/predict", json=EXAMPLE).status_code == 200
        store_answers.set()
    assert released == [True], "a request waited for the inference log's store"
    logged = read_window(log.settings.url, start, datetime.now(UTC) + timedelta(seconds=1))
    assert len(logged) == 1 + ANSWERED_WHILE_HELD


def test_an_unwritable_log_never_fails_a_request_and_is_reported_once(
    champion_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    settings = InferenceLogSettings(url=str(blocked / "log"), flush_seconds=0.02)
    with (
        caplog.at_level(logging.INFO),
        TestClient(create_app(champion_dir, InferenceLog(settings))) as client,
    ):
        for _ in range(5):
            assert client.post("/predict", json=EXAMPLE).status_code == 200
            time.sleep(0.1)  # several flushes, each failing
    errors = [r for r in caplog.records if r.name.endswith("inference_log")]
    assert len(errors) == 1, [r.getMessage() for r in errors]


def test_a_day_directory_removed_between_flushes_is_made_again(tmp_path: Path) -> None:
    """The writer makes each day's directory once (on an object store that is a request);
    when it has gone (a clean-up of the local log), the next flush makes it again and loses
    nothing."""
    url = str(tmp_path / "log")
    log = InferenceLog(InferenceLogSettings(url=url))
    for request in ("first", "second"):
        log.record(request, "1", {"amount": [12]}, np.array([0.5]), np.array([1]))
        assert log.flush() == 1
        if request == "first":
            shutil.rmtree(url)
    now = datetime.now(UTC)
    logged = read_window(url, now - timedelta(hours=1), now + timedelta(minutes=1))
    assert logged["request_id"].tolist() == ["second"]
