"""Operational endpoints, open without a key: liveness, readiness (Redis) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from services.api.errors import UNAVAILABLE, error_response
from services.api.models import Health
from services.api.store import Store

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses={**UNAVAILABLE},
    summary="Redis answers a PING (503 otherwise)",
)
async def readyz(request: Request) -> Health | JSONResponse:
    store: Store = request.app.state.store
    try:
        await store.ping()
    except Exception as exc:  # any failure to PING means "not ready", never a 500
        return error_response(503, "redis_unavailable", type(exc).__name__)
    return Health(status="ready")


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
    summary="Prometheus metrics",
)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
