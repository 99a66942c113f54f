"""Baseline: Starlette + uvicorn answering an empty 200 to every webhook route.

The same framework, server and server options as ingest (``invested.service.serve_http``:
uvicorn with the project's HTTP limits, one process, no access log, the same garbage-collector
tuning), the same routes, and nothing else: no body read, no signature, no Kafka. Ingest's rate is
reported as a share of this one.
Run: ``python -m bench.baselines.empty_200 --port P``.
"""

from __future__ import annotations

import argparse

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from invested.contracts import Platform
from invested.httpserver import HttpLimits, server
from invested.service import tune_gc_for_requests


async def empty(request: Request) -> Response:
    return Response(status_code=200)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_app() -> Starlette:
    routes = [Route(f"/webhooks/{p.value}", empty, methods=["POST"]) for p in Platform]
    return Starlette(routes=[*routes, Route("/healthz", healthz)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    tune_gc_for_requests()  # as ingest's __main__ does: the same process tuning on both sides
    server(create_app(), "127.0.0.1", args.port, HttpLimits("bench"), "warning").run()


if __name__ == "__main__":
    main()
