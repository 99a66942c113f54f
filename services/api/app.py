"""Api service wiring (placeholder until its issue lands: health and metrics only)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from invested.settings import Settings


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "service": "api"})


async def metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def create_app(settings: Settings) -> Starlette:
    return Starlette(
        routes=[Route("/healthz", healthz), Route("/readyz", healthz), Route("/metrics", metrics)]
    )
