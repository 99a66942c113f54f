"""One JSON error shape for every failure: ``{"error": <stable code>, "detail": ...}``.

FastAPI's defaults (``{"detail": ...}`` for validation and routing errors, a plain-text 500) are
replaced so clients can switch on ``error`` alone. Any Redis error (unreachable, timed out, out of
memory, ...) is a 503 ``redis_unavailable``, never a 500; too many live streams is a 503
``too_many_streams``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import redis.exceptions
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.api.live import TooManyStreams
from services.api.models import ErrorBody
from services.api.store import RulesNotPublished

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = "5"


class ApiError(Exception):
    """Raised by routes and dependencies; rendered as an :class:`ErrorBody`."""

    def __init__(
        self,
        status: int,
        error: str,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers


def error_response(
    status: int, error: str, detail: Any = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        ErrorBody(error=error, detail=detail).model_dump(mode="json"),
        status_code=status,
        headers=headers,
    )


# Which stable code a validation problem gets, by the parameter it is about.
_PARAM_CODES = {
    "community": "invalid_id",
    "member": "invalid_id",
    "limit": "invalid_limit",
    "cursor": "invalid_cursor",
    "segment": "invalid_segment",
    "Last-Event-ID": "invalid_last_event_id",
    "last_event_id": "invalid_last_event_id",
}
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}

# OpenAPI declarations so every error a route can produce is documented (schemathesis checks it).
_DESCRIPTIONS = {
    401: "Missing or invalid bearer API key.",
    404: "Unknown member or community.",
    422: "Invalid id, limit, cursor, segment or event id.",
    503: "Redis is unavailable, or (live stream) too many streams are open.",
}
Responses = dict[int | str, dict[str, Any]]
UNAUTHORIZED: Responses = {401: {"model": ErrorBody, "description": _DESCRIPTIONS[401]}}
INVALID: Responses = {422: {"model": ErrorBody, "description": _DESCRIPTIONS[422]}}
NOT_FOUND: Responses = {404: {"model": ErrorBody, "description": _DESCRIPTIONS[404]}}
UNAVAILABLE: Responses = {503: {"model": ErrorBody, "description": _DESCRIPTIONS[503]}}


def json_error_docs(*statuses: int) -> Responses:
    """Error docs for a route whose success is not JSON (SSE): FastAPI would otherwise document
    its errors with the route's media type. ``ErrorBody`` is in the components through the
    JSON routes."""
    ref = {"$ref": "#/components/schemas/ErrorBody"}
    return {
        status: {
            "description": _DESCRIPTIONS[status],
            "content": {"application/json": {"schema": ref}},
        }
        for status in statuses
    }


def validation_code(errors: list[dict[str, Any]]) -> str:
    """The stable code of the first problem (parameters are validated in declaration order)."""
    for error in errors:
        loc = error.get("loc", ())
        if len(loc) >= 2 and loc[0] in ("path", "query", "header"):
            return _PARAM_CODES.get(str(loc[1]), "invalid_request")
    return "invalid_request"


def _problems(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Only loc, msg and type: the input can be huge or hostile and is never echoed back.
    return [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": e["type"]}
        for e in errors
    ]


async def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.error, exc.detail, exc.headers)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    return error_response(422, validation_code(errors), _problems(errors))


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    return error_response(exc.status_code, code, exc.detail, exc.headers)


async def _on_redis_down(request: Request, exc: Exception) -> JSONResponse:
    log.warning("redis unavailable: %s: %s", type(exc).__name__, exc)
    return error_response(
        503,
        "redis_unavailable",
        "the state store is unavailable; retry later",
        {"Retry-After": RETRY_AFTER_SECONDS},
    )


async def _on_too_many_streams(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TooManyStreams)
    scope = "for this API key" if exc.reason == "per_key" else "on this server"
    return error_response(
        503,
        "too_many_streams",
        f"too many live streams are open {scope}; close one or retry later",
        {"Retry-After": RETRY_AFTER_SECONDS},
    )


async def _on_rules_missing(request: Request, exc: Exception) -> JSONResponse:
    log.warning("thresholds of rules version %s are not published", exc)
    return error_response(
        503, "rules_not_published", "the classifier has not published these rules yet; retry later"
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "unexpected error; it has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    # Down, overloaded, out of memory (it refuses MULTI then), read-only: retryable, 503.
    app.add_exception_handler(redis.exceptions.RedisError, _on_redis_down)
    app.add_exception_handler(TooManyStreams, _on_too_many_streams)
    app.add_exception_handler(RulesNotPublished, _on_rules_missing)
    app.add_exception_handler(Exception, _on_unexpected)
