"""Serving at speed: the compiled scorer, the canary that guards it, the API's hardening
(malformed JSON, no model), its compact batches and metrics, and several workers."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from {{ cookiecutter.project_slug }}.config import ENV_PREFIX
from {{ cookiecutter.project_slug }}.data.contract import (
    CONTRACT,
    EXAMPLE,
    MODEL_INPUTS,
    TARGET,
)
from {{ cookiecutter.project_slug }}.data.contract import NUMERIC_INPUTS as NUMERIC
from {{ cookiecutter.project_slug }}.data.features import DERIVED, build_preprocessor
from {{ cookiecutter.project_slug }}.registry import model_store
from {{ cookiecutter.project_slug }}.registry.model_store import predict_output
from {{ cookiecutter.project_slug }}.serving import canary
from {{ cookiecutter.project_slug }}.serving.app import create_app
from {{ cookiecutter.project_slug }}.serving.metrics import Metrics
from {{ cookiecutter.project_slug }}.serving.responses import RETRY_AFTER_SECONDS
from {{ cookiecutter.project_slug }}.serving.scorer import (
    TOLERANCE,
    compile_pipeline,
    frame_columns,
    load_scorer,
)
from {{ cookiecutter.project_slug }}.tasks import TASK
from {{ cookiecutter.project_slug }}.training.train import (
    ESTIMATORS,
    TrainedModel,
    build_pipeline,
    features_and_target,
)

from ..conftest import PROJECT_ROOT
from ..contract_cases import CATEGORICAL, CONTRACT_FILE, require

pytestmark = pytest.mark.infrastructure

PACKAGE = "{{ cookiecutter.project_slug }}"
WORKERS_READY_TIMEOUT = 180  # seconds: each worker imports the stack and loads the model
SMALL: dict[str, dict[str, Any]] = {  # quick to fit; the same kinds of trees and models
    "logistic_regression": {},
    "random_forest": {"n_estimators": 20},
    "gradient_boosting": {"max_iter": 20},
    "lightgbm": {"n_estimators": 20},
    "xgboost": {"n_estimators": 20},
}


@pytest.fixture
def client(champion_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(champion_dir)) as test_client:
        yield test_client


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_compiled_scorer_matches_the_pipeline(
    name: str, train_frame: pd.DataFrame, holdout_frame: pd.DataFrame
) -> None:
    """Monitoring 3: the API's compiled scorer reproduces every model type's sklearn
    pipeline within TOLERANCE on the held-out set (no training/serving skew)."""
    fitted = build_pipeline(name, SMALL[name], seed=0).fit(*features_and_target(train_frame))
    scorer, kind = load_scorer(fitted)
    assert kind == "compiled"
    served = scorer(frame_columns(holdout_frame))
    expected = predict_output(fitted, holdout_frame)
    np.testing.assert_allclose(served, expected, rtol=0, atol=TOLERANCE)
    # Values as the API receives them (JSON lists) score the same as numpy columns.
    rows = holdout_frame[list(MODEL_INPUTS)].head(20)
    as_json = json.loads(rows.to_json(orient="records"))
    columns = {n: [row[n] for row in as_json] for n in MODEL_INPUTS}
    np.testing.assert_allclose(scorer(columns), expected[:20], rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("kept", ["numeric", "categorical"])
def test_compiled_scorer_takes_inputs_of_one_kind_only(
    kept: str, train_frame: pd.DataFrame, holdout_frame: pd.DataFrame
) -> None:
    """Monitoring 3: a contract with only numeric, or only categorical, inputs compiles
    too (sklearn leaves the empty branch unfitted; the compiled scorer skips it) and agrees
    with the pipeline within TOLERANCE."""
    inputs = {"numeric": [*NUMERIC, *DERIVED], "categorical": [c.name for c in CATEGORICAL]}
    require(inputs[kept], f"{CONTRACT_FILE} declares no {kept} model input")
    preprocessor = build_preprocessor()
    columns = preprocessor.named_steps["columns"]
    columns.transformers = [
        (name, step, names if name == kept else []) for name, step, names in columns.transformers
    ]
    linear = ESTIMATORS["logistic_regression"]({}, 0)  # the task's linear model
    fitted = Pipeline([("features", preprocessor), ("model", linear)]).fit(
        *features_and_target(train_frame)
    )
    emptied = [names for name, _, names in columns.transformers_ if name not in (kept, "remainder")]
    assert emptied
    assert not any(len(names) for names in emptied)
    scorer, kind = load_scorer(fitted)
    assert kind == "compiled"
    np.testing.assert_allclose(
        scorer(frame_columns(holdout_frame)), predict_output(fitted, holdout_frame),
        rtol=0, atol=TOLERANCE,
    )  # fmt: skip


def test_unknown_steps_are_served_by_the_pipeline_itself(
    train_frame: pd.DataFrame, holdout_frame: pd.DataFrame
) -> None:
    """Monitoring 3: a pipeline the compiler does not know (here an extra scaler) is served
    by sklearn rather than approximated."""
    custom = Pipeline(
        [
            ("features", build_preprocessor()),
            ("minmax", MinMaxScaler()),
            ("model", ESTIMATORS["logistic_regression"]({}, 0)),
        ]
    ).fit(*features_and_target(train_frame))
    scorer, kind = load_scorer(custom)
    assert kind == "sklearn"
    np.testing.assert_array_equal(
        scorer(frame_columns(holdout_frame)), predict_output(custom, holdout_frame)
    )


def test_canary_refuses_a_serving_path_that_differs_from_the_pipeline(
    trained: TrainedModel,
    holdout_frame: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Infrastructure 6: before promotion the canary scores the held-out set through the
    API's fast path and refuses it when it strays from the sklearn pipeline by > 1e-6."""
    metadata = model_store.ModelMetadata(name="m", version="1", run_id="r", model_type="x")
    directory = model_store.save(tmp_path, trained.pipeline, metadata)
    expected = predict_output(trained.pipeline, holdout_frame)
    measured = {
        TASK.primary.key: TASK.primary_value(holdout_frame[TARGET.name].to_numpy(), expected),
        **({} if trained.threshold is None else {"threshold": trained.threshold}),
    }
    assert canary.check_servable(directory, holdout_frame, measured) == []

    def drifting(pipeline: Pipeline) -> tuple[Any, str]:
        compiled = compile_pipeline(pipeline)

        def off(columns: Any) -> Any:
            # Off by 10 x TOLERANCE, towards 0.5: still probabilities, however sure the model.
            probability = compiled(columns)
            return probability + 10 * TOLERANCE * np.sign(0.5 - probability)

        return off, "compiled"

    monkeypatch.setattr(canary, "load_scorer", drifting)
    (problem,) = canary.check_servable(directory, holdout_frame, measured)
    assert "compiled serving path differs from the sklearn pipeline" in problem


@pytest.mark.parametrize("name", ["lightgbm", "xgboost"])
def test_the_canary_passes_each_booster_on_its_compiled_path(
    name: str, train_frame: pd.DataFrame, holdout_frame: pd.DataFrame, tmp_path: Path
) -> None:
    """Monitoring 3 / Infrastructure 6: a boosted model (LightGBM, XGBoost) exported and
    loaded as the API loads it is served by the compiled path, its library's booster called
    directly, and passes the canary: the held-out metrics training measured, the task's
    output (probabilities for a classifier) within TOLERANCE of the sklearn pipeline."""
    fitted = build_pipeline(name, SMALL[name], seed=0).fit(*features_and_target(train_frame))
    metadata = model_store.ModelMetadata(name="m", version="1", run_id="r", model_type=name)
    directory = model_store.save(tmp_path, fitted, metadata)
    loaded, _ = model_store.load(directory, signers=None)
    assert load_scorer(loaded)[1] == "compiled"
    threshold = model_store.threshold_of(fitted)
    expected = predict_output(fitted, holdout_frame)
    measured = TASK.metrics(holdout_frame[TARGET.name].to_numpy(), expected, threshold)
    assert canary.check_servable(directory, holdout_frame, measured) == []


@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
def test_malformed_json_is_a_documented_400(client: TestClient, path: str) -> None:
    """Infrastructure 3: a body that is not JSON gets 400 (not a 422 or 500), and the
    OpenAPI schema declares it, as it declares the 422 of a contract violation."""
    for body in (b'{"row": ', b"\xff\xfe", b""):
        response = client.post(path, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, body
        assert "not valid JSON" in response.json()["detail"]
    responses = client.get("/openapi.json").json()["paths"][path]["post"]["responses"]
    assert {"200", "400", "422", "503"} <= set(responses)


def test_without_a_model_503_says_when_to_retry_and_logs_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Monitoring 6: with no model every prediction is a 503 carrying Retry-After, and the
    log says so once, not once per request."""
    with caplog.at_level(logging.INFO), TestClient(create_app(tmp_path)) as client:
        for _ in range(5):
            response = client.post("/predict", json=EXAMPLE)
            assert response.status_code == 503
            assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
        assert client.get("/ready").headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]


def test_compact_batch_has_the_same_predictions_as_columns(
    client: TestClient, holdout_frame: pd.DataFrame
) -> None:
    """Infrastructure 3: `?compact=true` answers a batch with one list per field, the same
    decisions and predictions in the same order as the default list of objects, under the
    same threshold and its version."""
    instances = json.loads(holdout_frame[list(MODEL_INPUTS)].head(50).to_json(orient="records"))
    rows = client.post("/predict/batch", json={"instances": instances}).json()
    compact = client.post("/predict/batch?compact=true", json={"instances": instances}).json()
    assert compact["model_version"] == rows["model_version"]
    fields = list(rows["predictions"][0])  # the task's Prediction fields
    assert fields
    for name in fields:
        assert compact[name] == [p[name] for p in rows["predictions"]], name
    if "decision" in fields:  # a classifier's: in the contract's class names, not one class
        assert 1 < len(set(compact["decision"])) <= len(CONTRACT.class_names)
        assert set(compact["decision"]) <= set(CONTRACT.class_names)
    assert (compact["threshold"], compact["threshold_version"]) == (
        rows["threshold"],
        rows["threshold_version"],
    )
    assert len(json.dumps(compact)) < len(json.dumps(rows))


def test_batch_metrics_equal_one_observation_per_prediction() -> None:
    """Monitoring 6: a batch updates the metrics once, with the counts and probability
    buckets that observing each prediction would give (a value on a bucket bound counts
    in that bucket)."""
    probability = np.array([0.05, 0.1, 0.5, 0.55, 1.0, 0.3])
    labels = (probability >= 0.5).astype(int)
    batched, one_by_one = Metrics(), Metrics()
    batched.count_predictions(labels, probability)
    for label, value in zip(labels, probability, strict=True):
        one_by_one.predictions.labels(str(label)).inc()
        one_by_one.probability.observe(value)
    assert _samples(batched) == _samples(one_by_one)


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the app's metrics but their creation times."""
    text = generate_latest(metrics.registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (local)
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def _predict(url: str) -> int:
    request = urllib.request.Request(  # noqa: S310 (local)
        url, data=json.dumps(EXAMPLE).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (local)
        return int(response.status)


def test_several_workers_count_every_request(champion_dir: Path, tmp_path: Path) -> None:
    """Monitoring 6: with several worker processes, /metrics (answered by any one of them)
    counts the requests and predictions of all of them (Prometheus multiprocess mode)."""
    port = _free_port()
    env = {
        **os.environ,
        f"{ENV_PREFIX}SERVE__MODEL_DIR": str(champion_dir),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    # --verbose: uvicorn's own lines, "Application startup complete" once a worker, are shown.
    command = [
        sys.executable, "-m", PACKAGE, "--verbose", "serve", "--port", str(port), "--workers", "2"
    ]  # fmt: skip
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        server = subprocess.Popen(  # noqa: S603 (our own interpreter and code)
            command, cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WORKERS_READY_TIMEOUT
        # Both workers have started (the first one answers /ready on its own).
        while log.read_text().count("Application startup complete") < 2:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert _get(f"{base}/ready")[0] == 200
        total = 60
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda _: _predict(f"{base}/predict"), range(total)))
        assert statuses == [200] * total
        key = (
            "http_requests_total",
            (("endpoint", "/predict"), ("method", "POST"), ("status", "200")),
        )
        # A request is counted once its response has been sent, so the client may see the
        # last response a moment before its count: wait (bounded) for the counts to settle.
        settle = time.monotonic() + 10
        while True:
            _, text = _get(f"{base}/metrics")
            samples = {
                (sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples
            }
            if samples.get(key, 0) >= total or time.monotonic() > settle:
                break
            time.sleep(0.1)
        assert sum(v for (n, _), v in samples.items() if n == "model_predictions_total") == total
        assert samples[key] == total
        assert samples[("model_loaded", ())] == 1
    finally:
        server.terminate()
        server.wait(timeout=60)
