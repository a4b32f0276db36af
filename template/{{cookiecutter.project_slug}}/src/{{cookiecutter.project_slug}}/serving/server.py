"""Running the API: uvicorn with one worker in this process, or several worker processes
(each builds the app from the settings) sharing their Prometheus metrics through files."""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from ..config import ENV_PREFIX, Settings, configure_logging, get_settings
from .app import create_app
from .inference_log import InferenceLog
from .metrics import MULTIPROCESS_DIR

WORKER_STARTUP_SECONDS = 60


def app_from_settings() -> FastAPI:
    """The app for this process's settings (what each worker process builds; its logging is
    set up as the command line's)."""
    configure_logging()
    return app_for(get_settings())


def app_for(settings: Settings) -> FastAPI:
    """The app these settings describe: its model, inference log and bearer-token check."""
    return create_app(
        settings.serve.model_dir,
        inference_log_for(settings),
        auth=settings.serve.auth,
        signers=settings.serve.trusted_signers,
    )


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
        app = app_for(settings)
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
