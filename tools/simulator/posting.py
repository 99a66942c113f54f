"""Posting simulated webhooks to a running ingest service, signed at send time.

Requests go out in time order with bounded concurrency. A redelivery waits until the first
attempt under its delivery id has been answered, as a platform retries only after an attempt
ended: so ingest sees it as what it is, a delivery it already has (answered ``duplicate``).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from tools.simulator.base import SimEvent
from tools.simulator.signing import Signer, sign


@dataclass
class Summary:
    """What ingest answered: HTTP statuses, the ``status`` of 200 answers (accepted, duplicate,
    ignored, …), webhooks per platform and label, events accepted and errors."""

    statuses: Counter[int] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    by_platform: Counter[str] = field(default_factory=Counter)
    by_label: Counter[str] = field(default_factory=Counter)
    events_accepted: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())


async def post_all(
    events: list[SimEvent],
    signer: Signer,
    base_url: str,
    concurrency: int = 8,
    progress: bool = True,
) -> Summary:
    """POST every event (signed at send time) with bounded concurrency; a summary of answers."""
    import httpx
    from tqdm import tqdm

    summary = Summary()
    queue: asyncio.Queue[SimEvent] = asyncio.Queue()
    for event in events:
        queue.put_nowait(event)
    answered: dict[str, asyncio.Event] = {}  # per delivery id: its latest attempt was answered
    bar = tqdm(total=len(events), unit="webhook", disable=not progress, file=sys.stderr)
    started = time.perf_counter()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0, limits=limits) as client:

        async def post(event: SimEvent) -> None:
            request = sign(event, signer)
            try:
                response = await client.post(
                    request.path, headers=request.headers, content=request.body
                )
            except httpx.HTTPError as exc:
                summary.errors[type(exc).__name__] += 1
                return
            summary.statuses[response.status_code] += 1
            summary.by_platform[event.platform.value] += 1
            summary.by_label[f"{event.platform.value}:{event.label}"] += 1
            answer = response.json() if response.content else {}
            if response.status_code == 200:
                summary.outcomes[str(answer.get("status", "handshake"))] += 1
                summary.events_accepted += int(answer.get("events", 0))
            elif response.status_code >= 400:
                summary.errors[str(answer.get("error", response.status_code))] += 1

        async def worker() -> None:
            while not queue.empty():
                event = queue.get_nowait()
                key = f"{event.platform.value}:{event.delivery}"
                earlier = answered.get(key)
                mine = answered[key] = asyncio.Event()
                if earlier is not None:
                    await earlier.wait()
                try:
                    await post(event)
                finally:
                    mine.set()
                    bar.update()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    bar.close()
    summary.seconds = time.perf_counter() - started
    return summary
