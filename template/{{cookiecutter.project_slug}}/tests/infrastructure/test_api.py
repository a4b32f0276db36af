"""The prediction API: probes, predictions, input validation, metrics and training/serving skew."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sklearn.pipeline import Pipeline

from {{ cookiecutter.project_slug }}.data.contract import (
    CONTRACT,
    EXAMPLE,
    MODEL_INPUTS,
    NEGATIVE_CLASS,
    POSITIVE_CLASS,
)
from {{ cookiecutter.project_slug }}.registry import model_store
from {{ cookiecutter.project_slug }}.registry.model_store import predict_output, threshold_of
from {{ cookiecutter.project_slug }}.security import TrustedSigner
from {{ cookiecutter.project_slug }}.serving.app import create_app
from {{ cookiecutter.project_slug }}.serving.routes.predictions import prediction_columns
from {{ cookiecutter.project_slug }}.serving.schemas import MAX_BATCH
from {{ cookiecutter.project_slug }}.tasks import TASK
from {{ cookiecutter.project_slug }}.training.train import TrainedModel

from ..conftest import PROJECT_ROOT, export_signed
from ..contract_cases import (
    INPUT_COLUMNS,
    NOT_INPUTS,
    NUMERIC,
    answered,
    distinctive_row,
    for_tasks,
)

BINARY_ONLY = for_tasks("binary", why="only a binary model decides at a threshold")
CLASSES = CONTRACT.class_names

pytestmark = pytest.mark.infrastructure


@pytest.fixture
def client(champion_dir: Path) -> Iterator[TestClient]:
    """The API serving the champion (`with` runs the startup that loads the model)."""
    with TestClient(create_app(champion_dir)) as test_client:
        yield test_client


@pytest.fixture
def load_calls(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Records every call of model_store.load (the directories loaded)."""
    calls: list[Path] = []
    original = model_store.load

    def counting_load(
        directory: Path, signers: Sequence[TrustedSigner] | None
    ) -> tuple[Pipeline, model_store.ModelMetadata]:
        calls.append(directory)
        return original(directory, signers)

    monkeypatch.setattr(model_store, "load", counting_load)
    return calls


def metric_samples(client: TestClient, name: str) -> list[tuple[dict[str, str], float]]:
    """The samples (labels, value) of one metric on /metrics."""
    response = client.get("/metrics")
    assert response.status_code == 200
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == name
    ]


def test_health(client: TestClient) -> None:
    """Infrastructure 6: the liveness probe answers, so the orchestrator can watch replicas."""
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_not_ready_without_a_model(tmp_path: Path) -> None:
    """Infrastructure 6: without a champion the API starts but is not ready, and says why."""
    with TestClient(create_app(tmp_path)) as client:
        assert client.get("/health").status_code == 200
        response = client.get("/ready")
        assert response.status_code == 503
        body = response.json()
        assert "no champion model" in body["detail"]
        assert "make pipeline" in body["detail"]
        assert client.post("/predict", json=EXAMPLE).status_code == 503
        batch = client.post("/predict/batch", json={"instances": [EXAMPLE]})
        assert batch.status_code == 503


def test_ready_once_a_model_is_promoted(
    tmp_path: Path, trained: TrainedModel, load_calls: list[Path]
) -> None:
    """Infrastructure 6: a replica becomes ready when a model appears, without a restart,
    and stops looking for it once loaded."""
    with TestClient(create_app(tmp_path)) as client:
        assert client.get("/ready").status_code == 503
        metadata = model_store.ModelMetadata(
            name="candidate", version="7", run_id="run", model_type=trained.model_name
        )
        export_signed(tmp_path, trained.pipeline, metadata)
        response = client.get("/ready")
        assert response.status_code == 200
        assert response.json()["model_version"] == "7"
        attempts = len(load_calls)
        for _ in range(3):
            assert client.get("/ready").status_code == 200
            assert client.post("/predict", json=EXAMPLE).json()["model_version"] == "7"
        assert len(load_calls) == attempts


def test_ready_reports_the_model(client: TestClient) -> None:
    """Infrastructure 6: readiness names the model version being served."""
    response = client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["model_version"] == "1"
    assert body["model_name"]


@BINARY_ONLY
def test_predict_one(client: TestClient, trained: TrainedModel) -> None:
    """Infrastructure 3: the serving path scores a valid request end to end, and returns the
    decision with its meaning, the probability and the threshold with its version."""
    response = client.post("/predict", json=EXAMPLE)
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == "1"
    assert body["model_name"]
    assert 0.0 <= body["probability"] <= 1.0
    assert body["threshold"] == threshold_of(trained.pipeline)
    assert body["threshold_version"] == "1"
    granted = body["probability"] >= body["threshold"]
    assert body["decision"] == (POSITIVE_CLASS if granted else NEGATIVE_CLASS)
    assert body["label"] == int(granted)
    assert response.headers["X-Request-ID"]


@BINARY_ONLY
def test_decisions_follow_the_threshold_on_both_sides(
    client: TestClient, trained: TrainedModel, holdout_frame: pd.DataFrame
) -> None:
    """Model 1 / Infrastructure 3: the API decides at the model's cost-chosen threshold, the
    right way round: the held-out row the model scores highest is decided the positive
    class, the lowest the negative one."""
    ranked = holdout_frame.iloc[np.argsort(predict_output(trained.pipeline, holdout_frame))]
    rows = ranked.iloc[[-1, 0]][list(MODEL_INPUTS)]
    body = client.post("/predict/batch", json={"instances": json.loads(rows.to_json(
        orient="records"))}).json()  # fmt: skip
    assert [p["decision"] for p in body["predictions"]] == [POSITIVE_CLASS, NEGATIVE_CLASS]
    assert [p["label"] for p in body["predictions"]] == [1, 0]
    for prediction in body["predictions"]:
        assert (prediction["probability"] >= body["threshold"]) == (prediction["label"] == 1)


def test_prediction_logs_carry_no_row_data(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Data 5: request logs record the request, never the row's data."""
    row = distinctive_row()
    with caplog.at_level(logging.DEBUG):
        assert client.post("/predict", json=row).status_code == 200
        batch = client.post("/predict/batch", json={"instances": [row]})
        assert batch.status_code == 200
    lines = [r for r in caplog.records if r.name.endswith(".routes.predictions")]
    records = [json.loads(r.getMessage()) for r in lines]
    assert [r["event"] for r in records] == ["prediction", "prediction"]  # logged, but ...
    logged = json.dumps(records)
    for name, value in row.items():  # ... without any input, by name or by value
        assert name not in logged
        assert value not in [v for r in records for v in r.values()], name
    for value in row.values():  # no value, not even as text (numbers of 3+ digits)
        assert len(str(value)) < 3 or str(value) not in logged, value


def test_predict_one_answers_in_the_task_s_fields(client: TestClient) -> None:
    """Infrastructure 3: a valid request is scored end to end, in the fields of the
    contract's task (a decision in the contract's class names for a classifier)."""
    response = client.post("/predict", json=EXAMPLE)
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == "1"
    fields = {
        "binary": {"decision", "label", "probability"},
        "multiclass": {"decision", "label", "probabilities"},
        "regression": {"prediction"},
    }[TASK.name]
    assert fields <= set(body)
    if TASK.kind == "classifier":
        assert body["decision"] == CONTRACT.class_names[body["label"]]


# The CD canary asks the image for the contract's example request (python -c "..."): CI
# files cannot run here (they need Docker), so their snippet is run against this package.
CANARY_FILES = (".github/workflows/cd.yml", ".gitlab-ci.yml")
CANARY_SNIPPET = re.compile(r'python -c\s*\\?\s*"(?P<code>[^"]*EXAMPLE[^"]*)"')


def test_the_delivery_canary_posts_an_example_the_api_accepts(client: TestClient) -> None:
    files = [PROJECT_ROOT / name for name in CANARY_FILES if (PROJECT_ROOT / name).is_file()]
    if not files:
        pytest.skip("no CI delivery to check (the project was rendered with ci: none)")
    package = create_app.__module__.split(".")[0]
    for path in files:
        snippets = CANARY_SNIPPET.findall(path.read_text(encoding="utf-8"))
        assert snippets, f"{path.name}: no canary snippet printing the example request"
        for code in snippets:
            printed = subprocess.run(  # noqa: S603 (our interpreter, the project's own CI files)
                [sys.executable, "-c", code.replace("$PACKAGE", package)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            assert printed.returncode == 0, f"{path.name}: {printed.stderr.strip()[-300:]}"
            response = client.post("/predict", json=json.loads(printed.stdout))
            assert response.status_code == 200, (path.name, response.json())


def test_predict_batch(client: TestClient) -> None:
    """Infrastructure 3: a batch is scored in order, one prediction per instance."""
    instances = [EXAMPLE, distinctive_row(), EXAMPLE]
    response = client.post("/predict/batch", json={"instances": instances})
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == "1"
    predictions = body["predictions"]
    assert len(predictions) == 3
    assert answered(predictions[0]) == pytest.approx(answered(predictions[2]))
    assert answered(predictions[0]) != answered(predictions[1])


def _without(field: str) -> dict[str, Any]:
    return {key: value for key, value in EXAMPLE.items() if key != field}


def _bad_requests() -> list[Any]:
    """Requests breaking the serving contract, each with the field the 422 must name."""
    first = INPUT_COLUMNS[0].name
    cases = [pytest.param(_without(first), first, id="missing-field")]
    if NUMERIC:
        cases.append(pytest.param({**EXAMPLE, NUMERIC[0].name: "a lot"}, NUMERIC[0].name,
                                  id="wrong-type"))  # fmt: skip
    for column in INPUT_COLUMNS:
        if column.categories:
            cases.append(pytest.param({**EXAMPLE, column.name: "castle"}, column.name,
                                      id=f"unknown-category-{column.name}"))  # fmt: skip
        if column.ge is not None:
            cases.append(pytest.param({**EXAMPLE, column.name: column.ge - 1}, column.name,
                                      id=f"below-the-contract-{column.name}"))  # fmt: skip
        if column.le is not None:
            cases.append(pytest.param({**EXAMPLE, column.name: column.le + 1}, column.name,
                                      id=f"above-the-contract-{column.name}"))  # fmt: skip
    for column in NOT_INPUTS:  # protected attributes and every other column outside the model
        valid = column.categories[0] if column.categories else column.ge or 1
        cases.append(pytest.param({**EXAMPLE, column.name: valid}, column.name,
                                  id=f"not-a-model-input-{column.name}"))  # fmt: skip
    return cases


@pytest.mark.parametrize(("payload", "field"), _bad_requests())
def test_bad_request_is_refused(client: TestClient, payload: dict[str, Any], field: str) -> None:
    """Monitoring 2: serving inputs must meet the data contract; a violation is a 422 that
    names the field (and a protected attribute is never accepted)."""
    response = client.post("/predict", json=payload)
    assert response.status_code == 422
    assert any(field in error["loc"] for error in response.json()["detail"])
    batch = client.post("/predict/batch", json={"instances": [EXAMPLE, payload]})
    assert batch.status_code == 422


@pytest.mark.parametrize(
    "instances", [pytest.param([], id="empty"), pytest.param([EXAMPLE] * (MAX_BATCH + 1), id="big")]
)
def test_batch_size_is_bounded(client: TestClient, instances: list[dict[str, Any]]) -> None:
    """Monitoring 2: a batch holds 1 to MAX_BATCH instances."""
    response = client.post("/predict/batch", json={"instances": instances})
    assert response.status_code == 422


def test_metrics_count_predictions(client: TestClient) -> None:
    """Monitoring 6: traffic, latency, predicted labels and probabilities and the served
    version are exposed to Prometheus."""
    client.post("/predict", json=EXAMPLE)
    client.post("/predict/batch", json={"instances": [EXAMPLE, EXAMPLE]})
    predictions = metric_samples(client, "model_predictions_total")
    assert sum(value for _, value in predictions) == 3
    labels = {"value"} if TASK.kind == "regressor" else {str(i) for i in range(len(CLASSES))}
    assert {sample["label"] for sample, _ in predictions} <= labels
    (probabilities,) = metric_samples(client, "model_prediction_probability_count")
    assert probabilities[1] == (0 if TASK.kind == "regressor" else 3)  # a value is no probability
    (info,) = metric_samples(client, "model_info")
    assert info[0]["version"] == "1"
    assert info[1] == 1
    requests = metric_samples(client, "http_requests_total")
    assert ({"endpoint": "/predict", "method": "POST", "status": "200"}, 1.0) in requests
    latency = metric_samples(client, "http_request_duration_seconds_count")
    assert any(labels["endpoint"] == "/predict/batch" for labels, _ in latency)


def test_apps_have_separate_metrics(champion_dir: Path) -> None:
    """Monitoring 6: each app counts its own traffic (no global registry to collide in)."""
    with TestClient(create_app(champion_dir)) as first, TestClient(create_app(champion_dir)):
        first.post("/predict", json=EXAMPLE)
        assert sum(value for _, value in metric_samples(first, "model_predictions_total")) == 1


def test_model_is_loaded_once(champion_dir: Path, load_calls: list[Path]) -> None:
    """Monitoring 6: the model is loaded at startup, never per request (latency)."""
    with TestClient(create_app(champion_dir)) as client:
        for _ in range(3):
            assert client.post("/predict", json=EXAMPLE).status_code == 200
            assert client.get("/ready").status_code == 200
        batch = client.post("/predict/batch", json={"instances": [EXAMPLE] * 5})
        assert batch.status_code == 200
    assert load_calls == [champion_dir]


def test_serving_matches_training(
    client: TestClient, trained: TrainedModel, holdout_frame: pd.DataFrame
) -> None:
    """Monitoring 3: the API and the trained pipeline score the same rows identically (no
    training/serving skew)."""
    rows = holdout_frame.head(100)
    instances = rows[list(MODEL_INPUTS)].to_dict(orient="records")
    response = client.post("/predict/batch", json={"instances": instances})
    assert response.status_code == 200
    served = response.json()["predictions"]
    output = predict_output(trained.pipeline, rows)
    expected = prediction_columns(output, TASK.decide(output, threshold_of(trained.pipeline)))
    for name, values in expected.items():
        answered = [p[name] for p in served]
        if name == "probabilities":  # multiclass: one probability per class
            answered = [[row[c] for c in CONTRACT.class_names] for row in answered]
            values = [[row[c] for c in CONTRACT.class_names] for row in values]
        if name in ("probability", "probabilities", "prediction"):
            np.testing.assert_allclose(answered, values, rtol=0, atol=1e-12)
        else:
            assert answered == values, name


def test_serving_needs_no_pipeline_dependencies() -> None:
    """Infrastructure 3: the API imports nothing from the `pipeline` dependency group, so the
    serving image installs only the project's runtime dependencies."""
    code = (
        "import json, sys, {{ cookiecutter.project_slug }}.serving.server; "
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))"
    )
    result = subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    imported = set(json.loads(result.stdout))
    assert not imported & {"evidently", "fairlearn", "matplotlib", "mlflow", "optuna", "wandb"}
