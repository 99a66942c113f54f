"""Raw HTTP over loopback sockets: what a hostile or broken client sends, byte by byte.

httpx cannot send a malformed request or hold a half-sent one open; these helpers can. Every
loop is bounded in time and ends by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


def parse(raw: bytes) -> RawAnswer:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1]) if lines and lines[0].startswith("HTTP/") else 0
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawAnswer(status, headers, body)


def exchange(port: int, request: bytes, timeout: float = 10) -> RawAnswer:
    """Send ``request`` as is and read until the server closes (or ``timeout``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    return parse(b"".join(chunks))


@dataclass
class SlowOutcome:
    closed_after: float | None  # seconds until the server closed the connection; None: never
    answer: bytes


async def dribble(
    port: int, prefix: bytes, drip: bytes, every: float = 0.25, give_up: float = 20
) -> SlowOutcome:
    """Send ``prefix`` at once, then ``drip`` one byte every ``every`` seconds (cycling), until the
    server closes the connection or ``give_up`` seconds passed. ``drip`` empty: stay silent."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    except (OSError, TimeoutError):
        return SlowOutcome(0.0, b"")
    received = b""
    position = 0
    try:
        if prefix:
            writer.write(prefix)
        while loop.time() - started < give_up:
            if drip:
                writer.write(drip[position % len(drip) : position % len(drip) + 1])
                position += 1
            with contextlib.suppress(TimeoutError):
                data = await asyncio.wait_for(reader.read(65536), every)
                if not data:
                    return SlowOutcome(loop.time() - started, received)
                received += data
        return SlowOutcome(None, received)
    except (ConnectionError, OSError):
        return SlowOutcome(loop.time() - started, received)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()
