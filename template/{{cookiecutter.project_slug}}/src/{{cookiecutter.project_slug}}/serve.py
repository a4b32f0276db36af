"""The prediction API (FastAPI): the champion model behind a validated, observable endpoint.

* The model is loaded once, at startup, from the directory the promotion step exports
  (params.yaml `serve.model_dir`). Without a model the API still starts: `/ready` answers
  503 until one is promoted, and retries loading it at most once per request.
* Request bodies are validated by the pydantic model generated from the data contract
  (schema.py), so a bad request is a 422 that names the offending field.
* `/metrics` exposes Prometheus metrics: traffic and latency per endpoint, predictions per
  label and the distribution of predicted probabilities (prediction drift on a dashboard).
* Each prediction request is logged as one JSON line without the applicant's data.

This module is the serving image's code: it imports neither the tracker nor the pipeline's
dependencies (evidently, matplotlib, optuna, fairlearn).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, Field
from sklearn.pipeline import Pipeline

from . import __version__, model_store
from .config import Settings
from .schema import DECISION_THRESHOLD, EXAMPLE, MODEL_INPUTS, Applicant

logger = logging.getLogger(__name__)

MAX_BATCH = 1000
NO_MODEL = (
    "no champion model exists yet: train and promote one with `make pipeline`, "
    "then retry (the API loads it on the next request)"
)


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    model_name: str
    model_version: str
    model_type: str
    trained_at: str
    lineage: dict[str, str] = Field(description="The data and code the model was trained on.")


class NotReady(BaseModel):
    status: Literal["not ready"] = "not ready"
    detail: str
    model_dir: str


class Prediction(BaseModel):
    """One applicant's score."""

    label: int = Field(ge=0, le=1, description="1 = good credit risk (credit granted), 0 = bad")
    probability: float = Field(ge=0, le=1, description="Probability of good credit risk")


class PredictionResponse(Prediction):
    model_name: str
    model_version: str


class BatchRequest(BaseModel):
    instances: list[Applicant] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        json_schema_extra={"examples": [[EXAMPLE, EXAMPLE]]},
    )


class BatchResponse(BaseModel):
    model_name: str
    model_version: str
    predictions: list[Prediction]


class Metrics:
    """The app's Prometheus metrics, in a registry of its own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by endpoint, method and status code.",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by endpoint and method.",
            ["endpoint", "method"],
            registry=self.registry,
        )
        self.predictions = Counter(
            "model_predictions_total",
            "Predictions served, by predicted label (1 = good credit risk).",
            ["label"],
            registry=self.registry,
        )
        self.probability = Histogram(
            "model_prediction_probability",
            "Predicted probability of good credit risk (watch its shape for prediction drift).",
            buckets=[i / 10 for i in range(1, 11)],
            registry=self.registry,
        )
        self.model_info = Gauge(
            "model_info",
            "The model being served (value 1).",
            ["name", "version", "model_type"],
            registry=self.registry,
        )
        self.model_loaded = Gauge(
            "model_loaded", "1 when a model is loaded and served.", registry=self.registry
        )


class ModelSlot:
    """The served model: loaded once, or retried on demand until it exists."""

    def __init__(self, directory: Path, metrics: Metrics) -> None:
        self.directory = directory
        self.pipeline: Pipeline | None = None
        self.metadata: model_store.ModelMetadata | None = None
        self._metrics = metrics
        self._lock = threading.Lock()

    def ensure_loaded(self) -> bool:
        """Load the model if it is not loaded yet; True when one is served."""
        if self.pipeline is not None:
            return True
        with self._lock:
            if self.pipeline is not None:  # another request loaded it meanwhile
                return True
            try:
                pipeline, metadata = model_store.load(self.directory)
            except model_store.ModelNotFoundError:
                logger.warning("no model in %s yet: serving 503 until one exists", self.directory)
                return False
            self.pipeline, self.metadata = pipeline, metadata
        self._metrics.model_info.labels(metadata.name, metadata.version, metadata.model_type).set(1)
        self._metrics.model_loaded.set(1)
        logger.info("serving %s v%s from %s", metadata.name, metadata.version, self.directory)
        return True

    def score(self, applicants: list[Applicant]) -> tuple[np.ndarray, np.ndarray]:
        """Predicted labels and probabilities of good credit risk."""
        if self.pipeline is None:
            raise RuntimeError("no model loaded")
        frame = pd.DataFrame([a.model_dump() for a in applicants], columns=list(MODEL_INPUTS))
        probability = model_store.predict_probability(self.pipeline, frame)
        labels = (probability >= DECISION_THRESHOLD).astype(int)
        return labels, probability


def _not_ready(directory: Path) -> JSONResponse:
    body = NotReady(detail=NO_MODEL, model_dir=str(directory))
    return JSONResponse(status_code=503, content=body.model_dump())


def create_app(model_dir: Path) -> FastAPI:
    """The API serving the model saved in `model_dir` (see model_store.py)."""
    metrics = Metrics()
    slot = ModelSlot(model_dir, metrics)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        slot.ensure_loaded()
        yield

    app = FastAPI(
        title="{{ cookiecutter.project_name }}",
        description="Predictions of the champion model; requests follow the data contract.",
        version=__version__,
        lifespan=lifespan,
    )

    @app.middleware("http")
    async def observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # A caller's id (bounded: it is logged) or a fresh one; echoed in the response.
        request.state.request_id = request.headers.get("x-request-id", "")[:64] or uuid.uuid4().hex
        start = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
        finally:
            route = request.scope.get("route")
            endpoint = getattr(route, "path", "unmatched")
            metrics.requests.labels(endpoint, request.method, str(status)).inc()
            metrics.latency.labels(endpoint, request.method).observe(time.perf_counter() - start)
        response.headers["X-Request-ID"] = request.state.request_id
        return response

    def serve(
        request: Request, applicants: list[Applicant]
    ) -> tuple[model_store.ModelMetadata, list[Prediction]] | None:
        """Score the applicants, count and log the predictions; None without a model."""
        start = time.perf_counter()
        if not slot.ensure_loaded() or slot.metadata is None:
            return None
        labels, probability = slot.score(applicants)
        for label, value in zip(labels, probability, strict=True):
            metrics.predictions.labels(str(label)).inc()
            metrics.probability.observe(value)
        record: dict[str, Any] = {
            "event": "prediction",
            "request_id": request.state.request_id,
            "endpoint": request.url.path,
            "model_version": slot.metadata.version,
            "instances": len(applicants),
            "good_risk": int(labels.sum()),
            "mean_probability": round(float(probability.mean()), 4),
            "latency_ms": round((time.perf_counter() - start) * 1000, 2),
        }
        logger.info(json.dumps(record, sort_keys=True))
        predictions = [
            Prediction(label=int(label), probability=float(value))
            for label, value in zip(labels, probability, strict=True)
        ]
        return slot.metadata, predictions

    @app.get("/health", tags=["operations"])
    def health() -> Health:
        """Liveness: the process is up (it says nothing about the model)."""
        return Health()

    no_model: dict[int | str, dict[str, Any]] = {
        503: {"model": NotReady, "description": "No model to serve yet."}
    }

    @app.get("/ready", tags=["operations"], response_model=Readiness, responses=no_model)
    def ready() -> Readiness | JSONResponse:
        """Readiness: a model is loaded and the API can predict."""
        if not slot.ensure_loaded() or slot.metadata is None:
            return _not_ready(model_dir)
        return Readiness(
            model_name=slot.metadata.name,
            model_version=slot.metadata.version,
            model_type=slot.metadata.model_type,
            trained_at=slot.metadata.trained_at.isoformat(),
            lineage=slot.metadata.lineage,
        )

    @app.post(
        "/predict", tags=["predictions"], response_model=PredictionResponse, responses=no_model
    )
    def predict(applicant: Applicant, request: Request) -> PredictionResponse | JSONResponse:
        """Score one applicant: the label and the probability of good credit risk."""
        served = serve(request, [applicant])
        if served is None:
            return _not_ready(model_dir)
        metadata, (prediction,) = served
        return PredictionResponse(
            model_name=metadata.name,
            model_version=metadata.version,
            label=prediction.label,
            probability=prediction.probability,
        )

    @app.post(
        "/predict/batch", tags=["predictions"], response_model=BatchResponse, responses=no_model
    )
    def predict_batch(batch: BatchRequest, request: Request) -> BatchResponse | JSONResponse:
        """Score 1 to 1000 applicants in one request."""
        served = serve(request, batch.instances)
        if served is None:
            return _not_ready(model_dir)
        metadata, predictions = served
        return BatchResponse(
            model_name=metadata.name, model_version=metadata.version, predictions=predictions
        )

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    def prometheus() -> Response:
        """Prometheus exposition of this app's metrics."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def run(settings: Settings) -> None:
    """Serve the champion with uvicorn on params.yaml's `serve.host` and `serve.port`."""
    app = create_app(settings.serve.model_dir)
    uvicorn.run(app, host=settings.serve.host, port=settings.serve.port)
