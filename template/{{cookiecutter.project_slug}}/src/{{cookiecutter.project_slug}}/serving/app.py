"""The prediction API (FastAPI): the champion model behind a validated, observable endpoint.

* The model is loaded once per worker process, at startup, from the directory the promotion
  step exports (params.yaml `serve.model_dir`), and scored through its compiled form
  (scorer.py: numpy, identical to the sklearn pipeline within 1e-6). Without a model the
  API still starts: `/ready` and the predictions answer 503 with `Retry-After` until one
  is promoted, and each request looks for it again.
* Request bodies are validated against the data contract (schemas.py), so a bad request is
  a 422 that names the offending field, and malformed JSON is a 400.
* `/metrics` exposes Prometheus metrics (metrics.py); every request carries an id
  (middleware.py); every prediction goes to the inference log (inference_log.py).
* A background thread watches the model directory and hot-swaps a newly exported champion
  (slot.py), and the challenger's beside it: while one is there (params.yaml `gate.shadow`),
  every request is scored by it too, off the request path, for the inference log (shadow.py).
* Optionally (params.yaml `serve.auth`, off by default), callers need a bearer token (auth.py).

The routes (routes/) get what they share as typed dependencies (deps.py). This package is
the serving image's code: it imports neither the tracker nor training's dependencies
(evidently, matplotlib, optuna, fairlearn).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from prometheus_client import multiprocess

from .. import __version__
from ..config import get_settings
from ..registry.model_store import challenger_dir_of
from ..security import AuthSettings, TrustedSigner
from .auth import BearerCheck, RequireBearer
from .deps import Services
from .inference_log import InferenceLog
from .metrics import MULTIPROCESS_DIR, Metrics
from .middleware import Observe
from .routes import operations, predictions
from .shadow import ChallengerSlot, Shadow
from .slot import ModelSlot

logger = logging.getLogger(__name__)

RELOAD_SECONDS = 2.0  # how often the model directory is checked for a new champion


def create_app(
    model_dir: Path,
    inference_log: InferenceLog | None = None,
    reload_seconds: float = RELOAD_SECONDS,
    auth: AuthSettings | None = None,
    challenger_dir: Path | None = None,
    signers: Sequence[TrustedSigner] | None = None,
) -> FastAPI:
    """The API serving the model saved in `model_dir` (see registry/model_store.py) once
    it is verified to be signed by one of `signers` (default: params.yaml
    serve.trusted_signers), recording its predictions in `inference_log` (if given) with the
    challenger's scores (the model in `challenger_dir`, default beside `model_dir`, when
    there is one), looking for new models every `reload_seconds` and, if `auth` enables it,
    checking callers' bearer tokens."""
    metrics = Metrics()
    trusted = get_settings().serve.trusted_signers if signers is None else signers
    slot = ModelSlot(model_dir, metrics, trusted)
    challenger = ChallengerSlot(challenger_dir or challenger_dir_of(model_dir), None, trusted)
    shadow = Shadow(challenger, inference_log) if inference_log is not None else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not slot.ensure_loaded() and slot.problem is None:
            logger.warning("no model in %s yet: serving 503 until one exists", model_dir)
        stop = threading.Event()
        watcher = slot.watch(stop, reload_seconds)
        if inference_log is not None:
            inference_log.start()
        if shadow is not None:
            challenger.refresh()
            shadow_watcher = challenger.watch(stop, reload_seconds)
            shadow.start()
        yield
        stop.set()
        watcher.join()
        if shadow is not None:
            shadow_watcher.join()
            shadow.stop()  # its last scores, before the log's last flush
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
    app.state.services = Services(slot, metrics, inference_log, shadow)
    if auth is not None and auth.enabled:  # inside Observe: refusals are counted and carry an id
        app.add_middleware(RequireBearer, check=BearerCheck(auth))
    app.add_middleware(Observe, metrics=metrics)
    app.include_router(operations.router)
    app.include_router(predictions.router)
    return app
