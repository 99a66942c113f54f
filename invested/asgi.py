"""ASGI middleware every HTTP service uses: HEAD answered like GET, without a body.

Routes are declared for GET; HTTP requires HEAD wherever GET works (probes, link checkers and
proxies send it) and FastAPI answers 405 instead. The request goes on as a GET, marked
(:func:`is_head`) so a streaming answer can send its headers without opening the stream; the
body is dropped here (uvicorn drops it too, in-process test clients do not).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEAD_MARK = "invested.head"


def is_head(scope: Scope) -> bool:
    """Whether this request came in as a HEAD (its method now reads GET)."""
    return bool(scope.get(HEAD_MARK))


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        ended = False

        async def send_without_body(message: Message) -> None:
            nonlocal ended
            if message["type"] == "http.response.body":
                if ended or message.get("more_body", False):
                    return
                ended = True
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET", HEAD_MARK: True}, receive, send_without_body)
