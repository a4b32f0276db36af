"""The prediction API (FastAPI): the champion model behind a validated, observable endpoint.

* The model is loaded once per worker process, at startup, from the directory the promotion
  step exports (params.yaml `serve.model_dir`), and scored through its compiled form
  (predict.py: numpy, identical to the sklearn pipeline within 1e-6). Without a model the
  API still starts: `/ready` and the predictions answer 503 with `Retry-After` until one
  is promoted, and each request looks for it again.
* Request bodies are validated against the data contract (schema.py) in one pass of
  pydantic-core over the raw JSON (no per-row objects: a batch becomes columns), so a bad
  request is a 422 that names the offending field, and malformed JSON is a 400.
* `/metrics` exposes Prometheus metrics: traffic and latency per endpoint, predictions per
  label and the distribution of predicted probabilities (prediction drift on a dashboard),
  updated once per request. With several workers they are aggregated across processes
  (prometheus_client's multiprocess mode).
* Each prediction request is logged as one JSON line without the applicant's data; every
  prediction, with its inputs, goes to the inference log (inference_log.py), off the
  request path, for monitoring on real traffic.
* A background thread watches the model directory: a newly exported champion is loaded
  beside the served one and swapped in at once (requests in flight finish on the old one,
  none is dropped). A champion that cannot be loaded (damaged files) is never served: the
  API keeps the model it has, or stays not ready, and logs one error naming the rollback.

This module is the serving image's code: it imports neither the tracker nor the pipeline's
dependencies (evidently, matplotlib, optuna, fairlearn).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
import uvicorn
from fastapi import FastAPI, Query, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import to_json
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from . import __version__, model_store
from .config import ENV_PREFIX, Settings, configure_logging, get_settings
from .decision import BAD_RISK, GOOD_RISK, RiskDecision, threshold_of
from .inference_log import InferenceLog
from .predict import Scorer, load_scorer
from .schema import EXAMPLE, MODEL_INPUTS, Applicant

logger = logging.getLogger(__name__)

MAX_BATCH = 1000
RETRY_AFTER_SECONDS = 10  # a 503's hint: how soon a promoted model may be served
NO_MODEL = (
    "no champion model exists yet: train and promote one with `make pipeline`, "
    "then retry (the API loads it on the next request)"
)
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
JSON = "application/json"
WORKER_STARTUP_SECONDS = 60
RELOAD_SECONDS = 2.0  # how often the model directory is checked for a new champion


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    model_name: str
    model_version: str
    model_type: str
    trained_at: str
    scorer: Literal["compiled", "sklearn"] = Field(
        description="compiled: the numpy form of the pipeline (predict.py); sklearn: the "
        "pipeline itself (it could not be compiled)."
    )
    lineage: dict[str, str] = Field(description="The data and code the model was trained on.")


class NotReady(BaseModel):
    status: Literal["not ready"] = "not ready"
    detail: str
    model_dir: str


class Prediction(BaseModel):
    """One applicant's score."""

    decision: RiskDecision = Field(description="good_risk: grant credit; bad_risk: refuse")
    label: int = Field(ge=0, le=1, description="1 = good credit risk (credit granted), 0 = bad")
    probability: float = Field(ge=0, le=1, description="Probability of good credit risk")


class DecisionPolicy(BaseModel):
    """The threshold behind the decisions; it ships inside the model version that chose it."""

    model_name: str
    model_version: str
    threshold: float = Field(description="Credit is granted from this probability on")
    threshold_version: str = Field(description="The model version whose training chose it")


class PredictionResponse(Prediction, DecisionPolicy):
    pass


class BatchRequest(BaseModel):
    """Up to MAX_BATCH applicants (the request body of /predict/batch)."""

    model_config = ConfigDict(extra="forbid")
    instances: list[Applicant] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        json_schema_extra={"examples": [[EXAMPLE, EXAMPLE]]},
    )


class BatchResponse(DecisionPolicy):
    predictions: list[Prediction]


class CompactBatchResponse(DecisionPolicy):
    """The batch's predictions as columns: one list per field of Prediction, in request
    order (smaller and faster to produce and parse than a list of objects)."""

    decision: list[RiskDecision]
    label: list[int]
    probability: list[float]


class ErrorLocation(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class InvalidRequest(BaseModel):
    """The request breaks the data contract (FastAPI's shape of validation errors)."""

    detail: list[ErrorLocation]


class MalformedRequest(BaseModel):
    """The body is not JSON."""

    detail: str


# A batch validates into plain dicts, not one model object per row, with the very
# constraints of the contract's Applicant model; the endpoint turns them into columns.
ApplicantRow = TypedDict(  # type: ignore[misc]
    "ApplicantRow",
    {name: Annotated[field.annotation, field] for name, field in Applicant.model_fields.items()},
)
ApplicantRow.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
BatchRows = TypedDict(  # noqa: UP013 (the class syntax cannot take the dynamic row type)
    "BatchRows",
    {"instances": Annotated[list[ApplicantRow], Field(min_length=1, max_length=MAX_BATCH)]},
)
BatchRows.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
BATCH_ROWS = TypeAdapter(BatchRows)


class Metrics:
    """The app's Prometheus metrics, in a registry of its own (one per app); with several
    worker processes they are collected from all of them at scrape time."""

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
            multiprocess_mode="livemax",  # 1 while any worker serves that version
        )
        self.model_loaded = Gauge(
            "model_loaded",
            "1 when a model is loaded and served (by every worker).",
            registry=self.registry,
            multiprocess_mode="livemin",
        )

    def count_predictions(self, labels: np.ndarray, probability: np.ndarray) -> None:
        """Count a request's predictions: one update per metric, whatever the batch size."""
        good = int(labels.sum())
        for label, count in (("1", good), ("0", len(labels) - good)):
            if count:
                self.predictions.labels(label).inc(count)
        # Histogram.observe takes one value; this is its bucket arithmetic for many at once
        # (buckets are stored per interval and cumulated at scrape time).
        histogram = self.probability
        bounds = np.asarray(histogram._upper_bounds)
        counts = np.bincount(
            np.searchsorted(bounds, probability, side="left"), minlength=len(bounds)
        )
        for bucket, count in zip(histogram._buckets, counts.tolist(), strict=True):
            if count:
                bucket.inc(count)
        histogram._sum.inc(float(probability.sum()))

    def exposition(self) -> bytes:
        if os.environ.get(MULTIPROCESS_DIR):  # several workers: read every process's values
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


class Served(NamedTuple):
    """A loaded model: requests take it as one value, so a swap never mixes two models."""

    scorer: Scorer
    kind: Literal["compiled", "sklearn"]
    metadata: model_store.ModelMetadata
    threshold: float  # the model's decision threshold (decision.py), swapped with it


class ModelSlot:
    """The served model: loaded at startup (or on demand until one exists) and swapped
    for a newly exported one when `refresh` sees the directory change."""

    def __init__(self, directory: Path, metrics: Metrics) -> None:
        self.directory = directory
        self.served: Served | None = None
        self.problem: str | None = None  # why the directory's model is not served
        self._metrics = metrics
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None  # the metadata file last looked at

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            stat = (self.directory / model_store.METADATA_FILE).stat()
        except OSError:
            return None
        return stat.st_ino, stat.st_mtime_ns, stat.st_size

    def ensure_loaded(self) -> bool:
        """Load the model if none is served yet; True when one is served."""
        if self.served is None:
            self.refresh()
        return self.served is not None

    def refresh(self) -> None:
        """Load the directory's model if it changed since last looked at, and swap it in."""
        signature = self._signature()
        if signature is None or signature == self._seen:
            return
        with self._lock:
            if signature == self._seen:  # another thread loaded it meanwhile
                return
            self._seen = signature
            self._load()

    def _load(self) -> None:
        try:
            pipeline, metadata = model_store.load(self.directory)
        except model_store.ModelNotFoundError:
            logger.debug("no model in %s yet", self.directory)
            return
        except model_store.CorruptModelError as error:
            target = error.previous_version or "<version>"
            self.problem = (
                f"the model in {self.directory} cannot be served ({error}); "
                f"roll back with `python -m {__package__} rollback {target}`"
            )
            state = "keeping the served model" if self.served else "not ready"
            logger.error("%s; %s", self.problem, state)
            return
        scorer, kind = load_scorer(pipeline)
        previous, self.served = (
            self.served,
            Served(
                scorer,
                "sklearn" if kind == "sklearn" else "compiled",
                metadata,
                threshold_of(pipeline),
            ),
        )
        self.problem = None
        if previous is not None:
            old = previous.metadata
            self._metrics.model_info.remove(old.name, old.version, old.model_type)
        self._metrics.model_info.labels(metadata.name, metadata.version, metadata.model_type).set(1)
        self._metrics.model_loaded.set(1)
        logger.info(
            "serving %s v%s from %s (%s scorer)%s",
            metadata.name,
            metadata.version,
            self.directory,
            self.served.kind,
            f", replacing v{previous.metadata.version}" if previous else "",
        )

    def watch(self, stop: threading.Event, interval: float) -> threading.Thread:
        """Refresh every `interval` seconds until `stop` is set (a daemon thread)."""

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    self.refresh()
                except Exception:  # the watcher must outlive any one bad export
                    logger.exception("could not reload the model from %s", self.directory)

        thread = threading.Thread(target=loop, name="model-watcher", daemon=True)
        thread.start()
        return thread


class Observe:
    """ASGI middleware: a request id (the caller's, bounded, or a fresh one; echoed as
    X-Request-ID) and the traffic and latency of each endpoint."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"")
        request_id = given[:64].decode("latin-1") or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        start = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                message["headers"] = [*headers, (b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            endpoint = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self.metrics.requests.labels(endpoint, method, str(status)).inc()
            self.metrics.latency.labels(endpoint, method).observe(time.perf_counter() - start)


def _json(
    content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(to_json(content), status_code=status_code, headers=headers, media_type=JSON)


def _invalid(error: ValidationError) -> Response:
    """400 for a body that is not JSON, else 422 naming each offending field."""
    errors = error.errors(include_url=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return _json({"detail": f"the body is not valid JSON: {errors[0]['msg']}"}, 400)
    detail = [{**e, "loc": ["body", *e["loc"]]} for e in errors]
    return Response(to_json({"detail": detail}, fallback=str), status_code=422, media_type=JSON)


def _rows(columns: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    """Columns of equal length as one dict per row."""
    return [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]


def _body(model: type[BaseModel]) -> dict[str, Any]:
    """An OpenAPI request body for `model`, with its definitions inlined (the endpoints
    parse the body themselves, so FastAPI does not list the model's schema)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    media_type = {"schema": inline(schema)}
    return {"requestBody": dict(required=True, content={JSON: media_type})}


def create_app(
    model_dir: Path,
    inference_log: InferenceLog | None = None,
    reload_seconds: float = RELOAD_SECONDS,
) -> FastAPI:
    """The API serving the model saved in `model_dir` (see model_store.py), recording its
    predictions in `inference_log` (if given) and looking for a new champion every
    `reload_seconds`."""
    metrics = Metrics()
    slot = ModelSlot(model_dir, metrics)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not slot.ensure_loaded() and slot.problem is None:
            logger.warning("no model in %s yet: serving 503 until one exists", model_dir)
        stop = threading.Event()
        watcher = slot.watch(stop, reload_seconds)
        if inference_log is not None:
            inference_log.start()
        yield
        stop.set()
        watcher.join()
        if inference_log is not None:
            inference_log.stop()
        if os.environ.get(MULTIPROCESS_DIR):  # this worker's live gauges end with it
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    app = FastAPI(
        title="{{ cookiecutter.project_name }}",
        description="Predictions of the champion model; requests follow the data contract.",
        version=__version__,
        lifespan=lifespan,
    )
    app.add_middleware(Observe, metrics=metrics)

    def not_ready() -> Response:
        body = NotReady(detail=slot.problem or NO_MODEL, model_dir=str(model_dir))
        return _json(body.model_dump(), 503, {"Retry-After": str(RETRY_AFTER_SECONDS)})

    def score(
        request: Request, columns: Mapping[str, list[Any]]
    ) -> tuple[dict[str, Any], dict[str, list[Any]]] | None:
        """Score the columns, decide at the model's threshold, count and log the
        predictions. Returns the decision policy (DecisionPolicy's fields) and the
        predictions as columns: one list per field of Prediction, in request order (None
        without a model)."""
        start = time.perf_counter()
        served = slot.served if slot.ensure_loaded() else None
        if served is None:
            return None
        probability = served.scorer(columns)
        granted = probability >= served.threshold
        labels = granted.astype(int)
        metrics.count_predictions(labels, probability)
        if inference_log is not None:
            inference_log.record(
                request.state.request_id, served.metadata.version, columns, probability, labels
            )
        record = {
            "event": "prediction",
            "request_id": request.state.request_id,
            "endpoint": request.url.path,
            "model_version": served.metadata.version,
            "instances": len(labels),
            "good_risk": int(labels.sum()),
            "mean_probability": round(float(probability.mean()), 4),
            "latency_ms": round((time.perf_counter() - start) * 1000, 2),
        }
        logger.info(to_json(record).decode())
        decisions = [GOOD_RISK if g else BAD_RISK for g in granted.tolist()]
        policy = {
            "model_name": served.metadata.name,
            "model_version": served.metadata.version,
            "threshold": served.threshold,
            "threshold_version": served.metadata.version,
        }
        predictions = {
            "decision": decisions,
            "label": labels.tolist(),
            "probability": probability.tolist(),
        }
        return policy, predictions

    no_model: dict[int | str, dict[str, Any]] = {
        503: {
            "model": NotReady,
            "description": "No model to serve yet.",
            "headers": {
                "Retry-After": {
                    "description": "Seconds after which to try again.",
                    "schema": {"type": "integer"},
                }
            },
        }
    }
    bad_request: dict[int | str, dict[str, Any]] = {
        400: {"model": MalformedRequest, "description": "The body is not valid JSON."},
        422: {"model": InvalidRequest, "description": "The body breaks the data contract."},
    }

    @app.get("/health", tags=["operations"])
    async def health() -> Health:
        """Liveness: the process is up (it says nothing about the model)."""
        return Health()

    @app.get("/ready", tags=["operations"], response_model=Readiness, responses=no_model)
    async def ready() -> Response:
        """Readiness: a model is loaded and the API can predict."""
        served = slot.served if slot.ensure_loaded() else None
        if served is None:
            return not_ready()
        readiness = Readiness(
            model_name=served.metadata.name,
            model_version=served.metadata.version,
            model_type=served.metadata.model_type,
            trained_at=served.metadata.trained_at.isoformat(),
            scorer=served.kind,
            lineage=served.metadata.lineage,
        )
        return _json(readiness.model_dump())

    @app.post(
        "/predict",
        tags=["predictions"],
        response_model=PredictionResponse,
        responses={**no_model, **bad_request},
        openapi_extra=_body(Applicant),
    )
    async def predict(request: Request) -> Response:
        """Score one applicant: the decision (good_risk or bad_risk) at the model's threshold,
        the label and the probability of good credit risk."""
        try:
            applicant = Applicant.model_validate_json(await request.body())
        except ValidationError as error:
            return _invalid(error)
        scored = score(request, {name: [value] for name, value in applicant})
        if scored is None:
            return not_ready()
        policy, (prediction,) = scored[0], _rows(scored[1])
        return _json({**policy, **prediction})

    @app.post(
        "/predict/batch",
        tags=["predictions"],
        response_model=BatchResponse | CompactBatchResponse,
        responses={**no_model, **bad_request},
        openapi_extra=_body(BatchRequest),
    )
    async def predict_batch(
        request: Request,
        compact: Annotated[
            bool, Query(description="Answer with one list per field (CompactBatchResponse).")
        ] = False,
    ) -> Response:
        """Score 1 to 1000 applicants in one request."""
        try:
            instances: Sequence[Mapping[str, Any]] = BATCH_ROWS.validate_json(await request.body())[
                "instances"
            ]
        except ValidationError as error:
            return _invalid(error)
        columns = {name: [row[name] for row in instances] for name in MODEL_INPUTS}
        scored = score(request, columns)
        if scored is None:
            return not_ready()
        policy, predictions = scored
        if compact:
            return _json({**policy, **predictions})
        return _json({**policy, "predictions": _rows(predictions)})

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def prometheus() -> Response:
        """Prometheus exposition of this app's metrics (of every worker)."""
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return app


def app_from_settings() -> FastAPI:
    """The app for this process's settings (what each worker process builds; its logging is
    set up as the command line's)."""
    configure_logging()
    settings = get_settings()
    return create_app(settings.serve.model_dir, inference_log_for(settings))


def inference_log_for(settings: Settings) -> InferenceLog | None:
    """The inference log params.yaml configures (None when it is disabled)."""
    return InferenceLog(settings.inference_log) if settings.inference_log.enabled else None


def available_cpus() -> int:
    """CPUs this process may use: its affinity, capped by a cgroup v2 CPU quota (e.g. a
    container's or a Kubernetes pod's CPU limit)."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    count = count or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text(encoding="utf-8").split()
    except (OSError, ValueError):
        return count
    if quota == "max":
        return count
    return max(1, min(count, math.ceil(int(quota) / int(period))))


def run(settings: Settings, workers: int = 1) -> None:
    """Serve the champion with uvicorn on params.yaml's `serve.host` and `serve.port`.

    One worker serves in this process. Several are separate processes (uvicorn's
    supervisor restarts any that dies), each building the app from the settings
    (`app_from_settings`); their Prometheus metrics are shared through files in
    PROMETHEUS_MULTIPROC_DIR (a fresh temporary directory unless set). uvicorn's access
    log is off: the app logs each prediction, and counts every request in /metrics.
    """
    serve = settings.serve
    if workers == 1:
        app = create_app(serve.model_dir, inference_log_for(settings))
        uvicorn.run(app, host=serve.host, port=serve.port, access_log=False, log_config=None)
        return
    os.environ[f"{ENV_PREFIX}SERVE__MODEL_DIR"] = str(serve.model_dir)
    given = os.environ.get(MULTIPROCESS_DIR)
    directory = Path(given) if given else Path(tempfile.mkdtemp(prefix="prometheus-"))
    for stale in directory.glob("*.db"):  # values of an earlier run are not this run's
        stale.unlink()
    os.environ[MULTIPROCESS_DIR] = str(directory)
    try:
        uvicorn.run(
            f"{__name__}:app_from_settings",
            factory=True,
            host=serve.host,
            port=serve.port,
            workers=workers,
            access_log=False,
            log_config=None,  # uvicorn logs as the project does (configure_logging)
            log_level=logging.getLogger("uvicorn").getEffectiveLevel(),  # in workers too
            # A worker imports the scientific stack and loads the model before it answers
            # the supervisor's health checks: give it more than uvicorn's 5 s on a busy host.
            timeout_worker_healthcheck=WORKER_STARTUP_SECONDS,
        )
    finally:
        if not given:
            shutil.rmtree(directory, ignore_errors=True)
