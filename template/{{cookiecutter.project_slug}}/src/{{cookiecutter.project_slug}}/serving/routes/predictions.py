"""Predictions: one row, or a batch of up to MAX_BATCH, scored by the served model's
compiled scorer and decided at the threshold that ships with it. Each request is counted in
the metrics, logged as one JSON line without the row's data, and recorded with its
inputs in the inference log (off the request path) for monitoring on real traffic."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError
from pydantic_core import to_json

from ...data.contract import CONTRACT, MODEL_INPUTS, NEGATIVE_CLASS, POSITIVE_CLASS, ROWS, Row
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
    """Score the columns, decide at the model's threshold, count and log the predictions.
    Returns the decision policy (DecisionPolicy's fields) and the predictions as columns:
    one list per field of Prediction, in request order (None without a model)."""
    start = time.perf_counter()
    slot = services.slot
    served = slot.served if slot.ensure_loaded() else None
    if served is None:
        return None
    probability = served.scorer(columns)
    granted = served.grants(probability)
    labels = granted.astype(int)
    services.metrics.count_predictions(labels, probability)
    if services.inference_log is not None:
        services.inference_log.record(
            request.state.request_id, served.metadata.version, columns, probability, labels
        )
    record = {
        "event": "prediction",
        "request_id": request.state.request_id,
        "endpoint": request.url.path,
        "model_version": served.metadata.version,
        "instances": len(labels),
        POSITIVE_CLASS: int(labels.sum()),  # how many were decided the positive class
        "mean_probability": round(float(probability.mean()), 4),
        "latency_ms": round((time.perf_counter() - start) * 1000, 2),
    }
    logger.info(to_json(record).decode())
    policy = {
        "model_name": served.metadata.name,
        "model_version": served.metadata.version,
        "threshold": served.threshold,
        "threshold_version": served.metadata.version,
    }
    predictions = {
        "decision": decision_names(granted).tolist(),
        "label": labels.tolist(),
        "probability": probability.tolist(),
    }
    return policy, predictions


@router.post(
    "/predict",
    response_model=PredictionResponse,
    responses={**NO_MODEL_RESPONSE, **BAD_REQUEST_RESPONSES},
    openapi_extra=request_body(Row),
    description=f"Score one {CONTRACT.row_noun}: the decision ({POSITIVE_CLASS} or "
    f"{NEGATIVE_CLASS}) at the model's threshold, the label and the probability of "
    f"{POSITIVE_CLASS}.",
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
