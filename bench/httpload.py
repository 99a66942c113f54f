"""A small HTTP/1.1 load generator: keep-alive connections over asyncio streams.

Requests are encoded once, before the clock starts, and a response is parsed only as far as its
status line and ``Content-Length`` (or chunked framing). On a 2-core machine the client shares the
CPU with the server it measures; a full HTTP client (httpx costs ~1 ms of CPU a request) would
measure itself, so this one does the least work a correct client can.

* :func:`closed_loop`: ``concurrency`` connections, each sends its next request as soon as the
  previous answer arrived — the server's maximum rate;
* :func:`open_loop`: requests start on a fixed schedule (``rate``/s) whatever the answers do; a
  request's latency runs from its *scheduled* start, so a stalled server is not hidden
  (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""

    def encode(self, host: str) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}"]
        for name, value in self.headers.items():
            if name.lower() not in ("host", "content-length", "connection"):
                lines.append(f"{name}: {value}")
        if self.body or self.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass
class Result:
    sent: int = 0
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # seconds

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
            self.writer = None

    async def roundtrip(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, chunked, close = 0, False, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(chunk[:-2])
            body = b"".join(parts)
        else:
            body = await self.reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, body


async def closed_loop(
    host: str,
    port: int,
    requests: Sequence[bytes],
    concurrency: int,
    duration: float | None = None,
    on_done: Callable[[int], None] | None = None,
    check: Callable[[int, bytes], str | None] | None = None,
) -> Result:
    """Send ``requests`` (each once, in order) over ``concurrency`` connections; with
    ``duration`` cycle through them until the time is up. ``check`` returns an error label."""
    result = Result()
    conns = [Connection(host, port) for _ in range(concurrency)]
    await asyncio.gather(*(c.open() for c in conns))
    position = 0
    started = time.perf_counter()
    deadline = started + duration if duration else None

    async def worker(conn: Connection) -> None:
        nonlocal position
        while True:
            if deadline is not None:
                if time.perf_counter() >= deadline:
                    return
                raw = requests[position % len(requests)]
            else:
                if position >= len(requests):
                    return
                raw = requests[position]
            position += 1
            begin = time.perf_counter()
            try:
                status, body = await conn.roundtrip(raw)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                result.errors[type(exc).__name__] += 1
                await conn.close()
                continue
            result.latencies.append(time.perf_counter() - begin)
            result.statuses[status] += 1
            result.sent += 1
            if check is not None:
                problem = check(status, body)
                if problem:
                    result.errors[problem] += 1
            if on_done is not None:
                on_done(1)

    await asyncio.gather(*(worker(c) for c in conns))
    result.seconds = time.perf_counter() - started
    await asyncio.gather(*(c.close() for c in conns))
    return result


async def open_loop(
    host: str,
    port: int,
    request_for: Callable[[int], bytes],
    rate: float,
    duration: float,
    max_connections: int = 64,
    on_done: Callable[[int], None] | None = None,
) -> Result:
    """Start request ``i`` at ``start + i / rate`` for ``duration`` seconds; latency counts from
    the scheduled start (a request waiting for a free connection is late, and that shows)."""
    result = Result()
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    conns = [Connection(host, port) for _ in range(max_connections)]
    await asyncio.gather(*(c.open() for c in conns))
    for conn in conns:
        pool.put_nowait(conn)
    total = int(rate * duration)
    tasks: list[asyncio.Task[None]] = []
    started = time.perf_counter()

    async def one(i: int, scheduled: float) -> None:
        raw = request_for(i)
        conn = await pool.get()
        try:
            status, _ = await conn.roundtrip(raw)
            result.latencies.append(time.perf_counter() - scheduled)
            result.statuses[status] += 1
            result.sent += 1
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            result.errors[type(exc).__name__] += 1
            await conn.close()
        finally:
            pool.put_nowait(conn)
        if on_done is not None:
            on_done(1)

    for i in range(total):
        scheduled = started + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)
    result.seconds = time.perf_counter() - started
    await asyncio.gather(*(c.close() for c in conns))
    return result
