"""Predictions: one row, or a batch of up to MAX_BATCH, scored by the served model's
compiled scorer and decided at the threshold that ships with it. Each request is counted in
the metrics, logged as one JSON line without the row's data, and recorded with its
inputs in the inference log (off the request path) for monitoring on real traffic."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError
from pydantic_core import to_json

from ...data.contract import CONTRACT, MODEL_INPUTS, ROWS, Row
from ...tasks import TASK
from ..deps import AppServices, Services
from ..responses import (
    BAD_REQUEST_RESPONSES,
    NO_MODEL_RESPONSE,
    invalid,
    json_response,
    not_ready,
    request_body,
)
from ..schemas import (
    BATCH_ROWS,
    MAX_BATCH,
    BatchRequest,
    BatchResponse,
    CompactBatchResponse,
    PredictionResponse,
)
from ..slot import decision_names

CLASS_NAMES = CONTRACT.class_names
TASK_ANSWER = {
    "binary": "the decision at the model's threshold, its label and the probability of "
    f"{CONTRACT.positive_class}",
    "multiclass": "the decision (the class of least expected cost), its label and each "
    "class's probability",
    "regression": f"the predicted {CONTRACT.target.name}",
}[TASK.name]


def prediction_columns(output: np.ndarray, decided: np.ndarray) -> dict[str, list[Any]]:
    """The predictions as columns, one list per field of the task's Prediction."""
    if TASK.kind == "regressor":
        return {"prediction": output.tolist()}
    columns: dict[str, list[Any]] = {
        "decision": decision_names(decided).tolist(),
        "label": decided.tolist(),
    }
    if output.ndim == 1:  # binary: P(positive)
        return columns | {"probability": output.tolist()}
    return columns | {
        "probabilities": [dict(zip(CLASS_NAMES, row, strict=True)) for row in output.tolist()]
    }


logger = logging.getLogger(__name__)
router = APIRouter(tags=["predictions"])
Columns = Mapping[str, list[Any]]


def _rows(columns: Columns) -> list[dict[str, Any]]:
    """Columns of equal length as one dict per row."""
    return [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]


def _score(
    request: Request, services: Services, columns: Columns
) -> tuple[dict[str, Any], dict[str, list[Any]]] | None:
    """Score the columns, decide (the task's policy), count and log the predictions.
    Returns the decision policy (DecisionPolicy's fields) and the predictions as columns:
    one list per field of Prediction, in request order (None without a model)."""
    start = time.perf_counter()
    slot = services.slot
    served = slot.served if slot.ensure_loaded() else None
    if served is None:
        return None
    output = served.scorer(columns)
    decided = served.decide(output)
    value = TASK.served_value(output)
    classifier = TASK.kind == "classifier"
    services.metrics.count_predictions(decided if classifier else None, value)
    if services.inference_log is not None:
        logged_at = services.inference_log.record(
            request.state.request_id, served.metadata.version, columns, value, decided
        )
        if services.shadow is not None:  # the challenger scores it later, off this path
            services.shadow.submit(request.state.request_id, logged_at, columns, len(decided))
    # How many rows were decided each class (none for a regressor).
    counts = {name: int((decided == label).sum()) for label, name in enumerate(CLASS_NAMES)}
    record = {
        "event": "prediction",
        "request_id": request.state.request_id,
        "endpoint": request.url.path,
        "model_version": served.metadata.version,
        "instances": len(decided),
        **(counts if classifier else {}),
        "mean_served": round(float(value.mean()), 4),
        "latency_ms": round((time.perf_counter() - start) * 1000, 2),
    }
    logger.info(to_json(record).decode())
    policy = {
        "model_name": served.metadata.name,
        "model_version": served.metadata.version,
        "threshold": served.threshold,
        "threshold_version": served.metadata.version,
    }
    return policy, prediction_columns(output, decided)


@router.post(
    "/predict",
    response_model=PredictionResponse,
    responses={**NO_MODEL_RESPONSE, **BAD_REQUEST_RESPONSES},
    openapi_extra=request_body(Row),
    description=f"Score one {CONTRACT.row_noun}: {TASK_ANSWER}.",
)
async def predict(request: Request, services: AppServices) -> Response:
    """Score one row."""
    try:
        row = Row.model_validate_json(await request.body())
    except ValidationError as error:
        return invalid(error)
    scored = _score(request, services, {name: [value] for name, value in row})
    if scored is None:
        return not_ready(services.slot)
    policy, (prediction,) = scored[0], _rows(scored[1])
    return json_response({**policy, **prediction})


@router.post(
    "/predict/batch",
    response_model=BatchResponse | CompactBatchResponse,
    responses={**NO_MODEL_RESPONSE, **BAD_REQUEST_RESPONSES},
    openapi_extra=request_body(BatchRequest),
    description=f"Score 1 to {MAX_BATCH} {ROWS} in one request.",
)
async def predict_batch(
    request: Request,
    services: AppServices,
    compact: Annotated[
        bool, Query(description="Answer with one list per field (CompactBatchResponse).")
    ] = False,
) -> Response:
    """Score 1 to MAX_BATCH rows in one request."""
    try:
        body = BATCH_ROWS.validate_json(await request.body())
    except ValidationError as error:
        return invalid(error)
    instances: Sequence[Mapping[str, Any]] = body["instances"]
    columns = {name: [row[name] for row in instances] for name in MODEL_INPUTS}
    scored = _score(request, services, columns)
    if scored is None:
        return not_ready(services.slot)
    policy, predictions = scored
    if compact:
        return json_response({**policy, **predictions})
    return json_response({**policy, "predictions": _rows(predictions)})
