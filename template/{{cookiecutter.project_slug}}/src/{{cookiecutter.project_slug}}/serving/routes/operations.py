"""Operations: liveness, readiness (which model, which scorer, its lineage) and the
Prometheus exposition."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from ..deps import AppMetrics, Slot
from ..responses import NO_MODEL_RESPONSE, json_response, not_ready
from ..schemas import Health, Readiness

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health() -> Health:
    """Liveness: the process is up (it says nothing about the model)."""
    return Health()


@router.get("/ready", response_model=Readiness, responses=NO_MODEL_RESPONSE)
async def ready(slot: Slot) -> Response:
    """Readiness: a model is loaded and the API can predict."""
    served = slot.served if slot.ensure_loaded() else None
    if served is None:
        return not_ready(slot)
    readiness = Readiness(
        model_name=served.metadata.name,
        model_version=served.metadata.version,
        model_type=served.metadata.model_type,
        trained_at=served.metadata.trained_at.isoformat(),
        scorer=served.kind,
        lineage=served.metadata.lineage,
        refused=slot.problem,
    )
    return json_response(readiness.model_dump())


@router.get("/metrics", include_in_schema=False)
async def prometheus(metrics: AppMetrics) -> Response:
    """Prometheus exposition of this app's metrics (of every worker)."""
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
