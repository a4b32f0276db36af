"""What the routes share, injected as typed dependencies (FastAPI's `Depends`): the app
keeps one of each in its state, created with it in app.py. The providers are `async` so
that FastAPI calls them on the event loop, not through its thread pool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from .inference_log import InferenceLog
from .metrics import Metrics
from .shadow import Shadow
from .slot import ModelSlot


@dataclass(frozen=True)
class Services:
    """The app's shared objects (`app.state.services`)."""

    slot: ModelSlot
    metrics: Metrics
    inference_log: InferenceLog | None
    shadow: Shadow | None = None  # the challenger's scoring, with a challenger and a log


async def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _slot(request: Request) -> ModelSlot:
    return (await _services(request)).slot


async def _metrics(request: Request) -> Metrics:
    return (await _services(request)).metrics


async def _inference_log(request: Request) -> InferenceLog | None:
    return (await _services(request)).inference_log


Slot = Annotated[ModelSlot, Depends(_slot)]
AppMetrics = Annotated[Metrics, Depends(_metrics)]
Log = Annotated[InferenceLog | None, Depends(_inference_log)]
AppServices = Annotated[Services, Depends(_services)]  # all three in one (the predictions)
