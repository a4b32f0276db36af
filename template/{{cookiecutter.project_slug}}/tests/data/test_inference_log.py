"""Data 5 (privacy): the inference log records every prediction with what monitoring
needs, and leaves out or hashes the inputs the configuration names; labels join later.
Monitoring 6: it does so without slowing the request path."""

from __future__ import annotations

import dataclasses
import logging
import shutil
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


# The log's cost on the request path: /predict's p99 with the log on stays within this
# ratio of its p99 with the log off. A write on the request path (a store's 10-50 ms) is
# several times a prediction's few milliseconds; serialising one line is not. Measured 0.9
# to 1.2 on 2 cores, quiet or both saturated; 26 with 50 ms written on the request path.
LOG_P99_RATIO = 1.5
WARM_UP, MEASURED = 20, 300  # requests each way


def test_the_log_keeps_the_apis_p99_within_a_ratio_of_no_log(
    champion_dir: Path, tmp_path: Path
) -> None:
    """Monitoring 6: recording predictions stays off the request path. One API, its log
    running as shipped (written every `flush_seconds`), answers requests that alternate
    between recording and not recording: everything else (event loop, threads, model) is
    shared, so a busy machine slows both alike. The p99 with the log is within
    LOG_P99_RATIO of the p99 without."""
    settings = InferenceLogSettings(url=str(tmp_path / "log"))
    app = create_app(champion_dir, InferenceLog(settings))
    latencies: dict[str, list[float]] = {"on": [], "off": []}
    start = datetime.now(UTC)
    with TestClient(app) as client:
        logged = app.state.services
        modes = [("on", logged), ("off", dataclasses.replace(logged, inference_log=None))]
        for i in range(WARM_UP + MEASURED):
            for mode, services in modes if i % 2 else modes[::-1]:
                app.state.services = services
                began = time.perf_counter()
                assert client.post("/predict", json=EXAMPLE).status_code == 200
                if i >= WARM_UP:
                    latencies[mode].append(time.perf_counter() - began)
    on, off = (float(np.percentile(latencies[mode], 99)) * 1e3 for mode in ("on", "off"))
    assert on <= LOG_P99_RATIO * off, f"p99 {on:.1f} ms with the log, {off:.1f} ms without"
    logged_rows = read_window(settings.url, start, datetime.now(UTC) + timedelta(seconds=1))
    assert len(logged_rows) == WARM_UP + MEASURED  # the log was on, for half the requests


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
