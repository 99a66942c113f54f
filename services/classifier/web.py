"""The classifier's HTTP surface: ``/metrics`` and ``/healthz``, and nothing else.

Faust's own aiohttp server also serves its table router (``/router/``, which answered 500 with a
traceback to a bad request) and has no header or body deadline. The worker serves this
two-route Starlette app instead, on uvicorn inside the worker's event loop
(``faust.contrib.asgi.serve_asgi``), with the limits every HTTP server of the project has
(:mod:`invested.httpserver`). Anything else is a JSON 404 (405 for another method); HEAD works
wherever GET does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import faust
from faust.contrib.asgi import serve_asgi
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from invested.httpserver import HttpLimits, uvicorn_options
from invested.settings import Settings

# (status, JSON body) of the health check, computed by the app that knows the worker's state.
HealthView = Callable[[], tuple[int, dict[str, Any]]]
_CODES = {404: "not_found", 405: "method_not_allowed"}


def web_app(health: HealthView) -> Starlette:
    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def healthz(request: Request) -> JSONResponse:
        status, body = health()
        return JSONResponse(body, status_code=status)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = _CODES.get(exc.status_code, "http_error")
        return JSONResponse({"error": code}, status_code=exc.status_code, headers=exc.headers)

    # A function endpoint with the default methods answers GET and HEAD.
    routes = [Route("/metrics", metrics), Route("/healthz", healthz)]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})


def serve(app: faust.App, settings: Settings, health: HealthView) -> None:
    """Make ``web_app(health)`` the worker's web server on the classifier's metrics port."""
    options = uvicorn_options(HttpLimits.from_settings(settings, "classifier"))
    options.update(log_level=settings.log_level.lower(), lifespan="off")
    serve_asgi(
        app,
        web_app(health),
        host=settings.bind_host,
        port=settings.classifier_metrics_port,
        **options,
    )
