"""The measurements of one benchmark run, each a function of a :class:`Context`.

Every phase starts the processes it measures, measures, and stops them; results go into
``ctx.results`` (flat keys, see ``bench/run.py`` for the table and the JSON file).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import redis
from tqdm import tqdm

from bench import httpload, kafka_io
from bench.procs import (
    Child,
    Sample,
    bucket_bound,
    buckets,
    python_module,
    quantile_from_buckets,
    running,
    scrape,
    service_env,
    total,
)
from bench.workload import Workload, WorkloadConfig
from invested import metric_defs as m
from invested import state as keys
from invested.devsecrets import DEV_ENV
from invested.stack import EmbeddedStack, free_port
from invested.topics import CLASSIFIER_DEADLETTER, MEMBER_TRANSITIONS

CLASSIFIER_COUNTED = (
    m.CLASSIFIER_EVENTS_PROCESSED,
    m.CLASSIFIER_DUPLICATES,
    m.CLASSIFIER_LATE_EVENTS,
    m.CLASSIFIER_DEADLETTERED,
)
BARE_COUNTED = ("bench_bare_events_seen_total",)
API_KEY = DEV_ENV["INVESTED_API_KEYS"].split(",")[0]


@dataclass
class Sizes:
    """How big each phase is (``--quick`` shrinks everything to fit in two minutes)."""

    members: int = 20_000
    events: int = 200_000
    latency_seconds: float = 20.0
    ingest_sim_members: int = 1000
    http_seconds: float = 10.0
    http_concurrency: tuple[int, ...] = (16, 32, 64, 128)  # ingest vs empty 200, each in turn
    api_rate: float = 500.0
    memory_members: int = 440_000  # configured; about 100k of them end up known (active)
    memory_events: int = 1_000_000
    scale_members: int = 4_400_000  # configured; about 1M of them act or are acted upon
    scale_events: int = 10_000_000

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            members=4_000,
            events=30_000,
            latency_seconds=5.0,
            ingest_sim_members=200,
            http_seconds=3.0,
            memory_members=12_000,
            memory_events=50_000,
            scale_members=0,
            scale_events=0,
        )


@dataclass
class Context:
    stack: EmbeddedStack
    workdir: Path
    sizes: Sizes
    progress: bool = True
    seed: int = 7
    results: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # INVESTED_* settings for every service the run starts (``--set``), e.g. a batch size
    overrides: dict[str, str] = field(default_factory=dict)
    # how the classifier phase starts the worker: a module, or a full argv (a variant)
    classifier_argv: str | list[str] = "services.classifier"
    # --profile: py-spy samples the classifier, ingest and empty-200 processes into this folder
    profile_dir: Path | None = None

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.stack.redis_url, decode_responses=True)

    def bar(self, total: float | None, desc: str, unit: str = "ev") -> tqdm:
        return tqdm(
            total=total,
            desc=desc.ljust(22),
            unit=unit,
            unit_scale=True,
            disable=not self.progress,
            leave=True,
            dynamic_ncols=True,
        )

    def env(self, **overrides: str) -> dict[str, str]:
        merged = {**self.overrides, **overrides}
        return service_env(self.stack.kafka_bootstrap, self.stack.redis_url, **merged)


# ------------------------------------------------------------------------------- workload


def main_workload(ctx: Context) -> Workload:
    return Workload(
        WorkloadConfig(members=ctx.sizes.members, events=ctx.sizes.events, seed=ctx.seed)
    )


def preload(ctx: Context, workload: Workload, desc: str = "preload") -> int:
    bar = ctx.bar(workload.config.events, desc)
    started = time.perf_counter()
    sent = kafka_io.preload(ctx.stack.kafka_bootstrap, workload.records(), bar.update)
    bar.close()
    ctx.results.setdefault("preload_events_per_s", round(sent / (time.perf_counter() - started)))
    return sent


# ------------------------------------------------------------------------------- processors


@dataclass
class Throughput:
    events: int
    seconds: float
    counted_from: int

    @property
    def rate(self) -> float:
        return (self.events - self.counted_from) / self.seconds if self.seconds else 0.0


def wait_counted(
    ctx: Context,
    child: Child,
    names: tuple[str, ...],
    target: float,
    desc: str,
    stall_seconds: float = 90.0,
) -> Throughput:
    """Poll ``/metrics`` every 0.25 s (rarely enough not to load the worker) until the counted
    series reach ``target``. The rate runs from the first poll that saw work done to the poll
    that saw the last event (when one poll saw all of it, from the poll before: a tiny workload
    still gets a rate, an underestimate)."""
    bar = ctx.bar(target, desc)
    first: tuple[float, float] | None = None
    previous = (time.monotonic(), 0.0)
    last_change, last_value = time.monotonic(), -1.0
    url = child.base_url + "/metrics"
    try:
        while True:
            samples = scrape(url)
            now = time.monotonic()
            value = total(samples, *names) if samples else last_value
            if value > last_value:
                bar.update(value - max(last_value, 0.0))
                last_value, last_change = value, now
            if first is None and value > 0:
                first = (now, value)
            if value >= target:
                assert first is not None
                if now == first[0]:
                    first = previous
                return Throughput(int(value), now - first[0], int(first[1]))
            previous = (now, max(value, 0.0))
            if child.proc.poll() is not None:
                raise RuntimeError(f"{child.name} exited:\n{child.log_tail()}")
            if now - last_change > stall_seconds:
                raise RuntimeError(
                    f"{child.name} stalled at {last_value:.0f}/{target:.0f}:\n{child.log_tail()}"
                )
            time.sleep(0.25)
    finally:
        bar.close()


@contextlib.contextmanager
def processor(
    ctx: Context, name: str, module: str | list[str], **overrides: str
) -> Iterator[Child]:
    """A classifier-like worker (a module, or a full argv) on a fresh consumer group and an
    empty Redis."""
    ctx.redis().flushall()
    port = free_port()
    env = ctx.env(
        INVESTED_CLASSIFIER_METRICS_PORT=str(port),
        INVESTED_CLASSIFIER_GROUP=f"bench-{name}-{uuid.uuid4().hex[:8]}",
        INVESTED_CLASSIFIER_DATA_DIR=str(ctx.workdir / f"faust-{name}-{port}"),
        **overrides,
    )
    # Ready as soon as its web server answers: counting starts before the first assignment.
    with running(
        name,
        python_module(module) if isinstance(module, str) else module,
        env,
        port,
        ctx.workdir / f"{name}.log",
        ready_path="/metrics",
        timeout=120,
    ) as child:
        yield child


def bench_processor(
    ctx: Context, key: str, name: str, module: str, names: tuple[str, ...], expected: int
) -> Throughput:
    with processor(ctx, name, module) as child:
        result = wait_counted(ctx, child, names, expected, name)
    ctx.results[f"{key}_events_per_s"] = round(result.rate, 1)
    ctx.results[f"{key}_measured_events"] = result.events - result.counted_from
    ctx.results[f"{key}_seconds"] = round(result.seconds, 2)
    return result


def attach_profiler(child: Child, out_dir: Path) -> subprocess.Popen[bytes] | None:
    """py-spy on a running worker: its collapsed stacks (flamegraph.pl / speedscope input)
    appear in ``out_dir`` when the worker exits. None when py-spy is not installed."""
    py_spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if py_spy is None:
        print("bench: --profile needs py-spy (pip install py-spy)", file=sys.stderr)
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [py_spy, "record", "--pid", str(child.proc.pid), "--rate", "1000", "--nonblocking"]
    return subprocess.Popen(
        [*command, "--format", "raw", "-o", str(out_dir / f"{child.name}.txt")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def bench_classifier(
    ctx: Context,
    workload: Workload,
    expected: int,
    module: str | list[str] = "services.classifier",
) -> None:
    """Throughput from the preloaded topic, then latency at half that rate (same worker)."""
    sizes = ctx.sizes
    with processor(ctx, "classifier", module) as child:
        if ctx.profile_dir is not None:
            attach_profiler(child, ctx.profile_dir)
        result = wait_counted(ctx, child, CLASSIFIER_COUNTED, expected, "classifier")
        ctx.results["classifier_events_per_s"] = round(result.rate, 1)
        ctx.results["classifier_measured_events"] = result.events - result.counted_from
        ctx.results["classifier_seconds"] = round(result.seconds, 2)
        url = child.base_url + "/metrics"
        before = scrape(url)
        counted = total(before, *CLASSIFIER_COUNTED)
        histogram_before = buckets(before, m.CLASSIFIER_PROCESSING_LATENCY)
        rate = max(1.0, result.rate / 2)
        stream = workload.records(
            count=10**9, received_now=True, id_prefix=f"paced-{uuid.uuid4().hex[:6]}"
        )
        bar = ctx.bar(int(rate * sizes.latency_seconds), "paced @ half load")
        acks: list[float] = []
        sent = kafka_io.paced(
            ctx.stack.kafka_bootstrap,
            lambda n: list(islice(stream, n)),
            rate,
            sizes.latency_seconds,
            bar.update,
            ack_seconds=acks,
        )
        bar.close()
        wait_counted(ctx, child, CLASSIFIER_COUNTED, counted + sent, "paced: drain")
        after = scrape(url)
        histogram_after = buckets(after, m.CLASSIFIER_PROCESSING_LATENCY)
    delta = {b: histogram_after[b] - histogram_before.get(b, 0.0) for b in histogram_after}
    p50, p99 = quantile_from_buckets(delta, 0.5), quantile_from_buckets(delta, 0.99)
    ctx.results.update(
        classifier_latency_rate_events_per_s=round(rate, 1),
        classifier_latency_events=sent,
        classifier_p50_latency_ms=round(p50 * 1000, 1) if p50 is not None else None,
        classifier_p99_latency_ms=round(p99 * 1000, 1) if p99 is not None else None,
        classifier_p99_latency_bucket_ms=_ms(bucket_bound(delta, 0.99)),
        classifier_latency_histogram_delta={str(k): v for k, v in delta.items()},
        paced_producer_ack_p50_ms=_ms(_percentile(acks, 0.5)),
        paced_producer_ack_p99_ms=_ms(_percentile(acks, 0.99)),
    )


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


# ------------------------------------------------------------------------------- ingest


def _signed_webhooks(ctx: Context) -> list[httpload.Request]:
    from tools.simulator.community import generate
    from tools.simulator.config import SimConfig
    from tools.simulator.signing import Secrets, Signer, sign

    # No redeliveries: every webhook of a level is new to ingest (its dedupe keys are cleared
    # between levels), so each one costs the whole pipeline.
    config = SimConfig(seed=ctx.seed, members=ctx.sizes.ingest_sim_members, redelivery_rate=0.0)
    _, events = generate(config)
    signer = Signer(Secrets.from_env(DEV_ENV))
    out = []
    for event in events:
        signed = sign(event, signer)
        out.append(httpload.Request("POST", signed.path, signed.headers, signed.body))
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process used so far (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


WARM_UP_REQUESTS = 5000


@dataclass
class LevelLoad:
    """One concurrency level against one server: the client's result and the server's CPU."""

    clients: int
    result: httpload.Result
    cpu_us_per_request: float | None


def load_server(
    ctx: Context,
    name: str,
    argv: list[str],
    env: dict[str, str],
    port: int,
    requests: list[httpload.Request],
    ready_path: str,
    before_level: Callable[[], None] = lambda: None,
) -> tuple[list[LevelLoad], list[Sample]]:
    """Start a server once and, for each of ``http_concurrency`` in turn, send every request once
    over that many keep-alive connections (closed loop), reading the server's CPU time around
    each level; then its /metrics. ``before_level`` resets what the server remembers."""

    def ok(status: int, body: bytes) -> str | None:
        return None if status in (200, 202) else f"http_{status}"

    raw = [r.encode(f"127.0.0.1:{port}") for r in requests]
    levels = []
    with running(
        name, argv, env, port, ctx.workdir / f"{name}.log", ready_path=ready_path
    ) as child:
        if ctx.profile_dir is not None:
            attach_profiler(child, ctx.profile_dir)
        # Warm-up, not measured: a fresh process runs its first thousands of requests slower
        # (an empty 200 took 143 µs of CPU a request in its first 16 000, 120 µs after).
        before_level()
        asyncio.run(httpload.closed_loop("127.0.0.1", port, raw[:WARM_UP_REQUESTS], 32))
        for clients in ctx.sizes.http_concurrency:
            before_level()
            bar = ctx.bar(len(raw), f"{name.replace('_', ' ')} x{clients}", unit="req")
            cpu_before = cpu_seconds(child.proc.pid)
            result = asyncio.run(
                httpload.closed_loop("127.0.0.1", port, raw, clients, None, bar.update, ok)
            )
            cpu = cpu_seconds(child.proc.pid) - cpu_before
            bar.close()
            per_request = round(cpu / result.sent * 1e6, 1) if cpu > 0 and result.sent else None
            levels.append(LevelLoad(clients, result, per_request))
        metrics = scrape(child.base_url + "/metrics")
    return levels, metrics


def _all_errors(levels: list[LevelLoad]) -> Counter[str]:
    return sum((level.result.errors for level in levels), Counter[str]())


def bench_ingest(ctx: Context) -> None:
    """Signed webhooks through ingest (verify, map, dedupe, Kafka acks=all) vs an empty 200.

    Both servers get the same requests at each concurrency level of ``Sizes.http_concurrency``.
    A server's rate is its capacity, the best level's rate: ingest keeps each webhook waiting for
    a Kafka ack, so few clients leave its CPU idle between acks, where an empty 200 is CPU-bound
    from the start. Every level is kept (``ingest_levels``), with each server's CPU per request:
    the CPU ratio is what the rate ratio tends to once both are CPU-bound."""
    from services.ingest.dedupe import PREFIX as DEDUPE_PREFIX

    webhooks = _signed_webhooks(ctx)
    ctx.results["ingest_webhooks_offered"] = len(webhooks)
    client = ctx.redis()

    def forget_deliveries() -> None:  # every level sends the same deliveries: none a duplicate
        seen = list(client.scan_iter(f"{DEDUPE_PREFIX}:*", count=5000))
        for start in range(0, len(seen), 5000):
            client.unlink(*seen[start : start + 5000])

    port = free_port()
    env = ctx.env(INVESTED_INGEST_PORT=str(port))
    argv = python_module("services.ingest")
    ingest, metrics = load_server(
        ctx, "ingest", argv, env, port, webhooks, "/readyz", forget_deliveries
    )
    port = free_port()
    argv = python_module("bench.baselines.empty_200", "--port", str(port))
    empty, _ = load_server(ctx, "empty_200", argv, ctx.env(), port, webhooks, "/healthz")

    levels = []
    for mine, baseline in zip(ingest, empty, strict=True):
        levels.append(
            {
                "clients": mine.clients,
                "ingest_per_s": round(mine.result.rate, 1),
                "empty_200_per_s": round(baseline.result.rate, 1),
                "ratio": round(mine.result.rate / baseline.result.rate, 3),
                "ingest_p99_ms": _ms(mine.result.percentile(0.99)),
                "empty_200_p99_ms": _ms(baseline.result.percentile(0.99)),
                "ingest_cpu_us": mine.cpu_us_per_request,
                "empty_200_cpu_us": baseline.cpu_us_per_request,
            }
        )
    best = max(ingest, key=lambda level: level.result.rate)
    best_empty = max(empty, key=lambda level: level.result.rate)
    statuses = sum((level.result.statuses for level in ingest), Counter[int]())
    produce = buckets(metrics, m.INGEST_PRODUCE_LATENCY)
    ctx.results.update(
        ingest_webhooks_per_s=round(best.result.rate, 1),
        ingest_clients=best.clients,
        ingest_p99_ms=_ms(best.result.percentile(0.99)),
        ingest_cpu_us_per_webhook=best.cpu_us_per_request,
        empty_200_per_s=round(best_empty.result.rate, 1),
        empty_200_clients=best_empty.clients,
        empty_200_p99_ms=_ms(best_empty.result.percentile(0.99)),
        empty_200_cpu_us_per_request=best_empty.cpu_us_per_request,
        empty_200_errors=dict(_all_errors(empty)),
        ingest_levels=levels,
        ingest_statuses={str(k): v for k, v in sorted(statuses.items())},
        ingest_errors=dict(_all_errors(ingest)),
        ingest_events_published=int(total(metrics, m.INGEST_EVENTS_PUBLISHED)),
        # handing a webhook's records to the producer → last broker ack (linger included), all levels
        ingest_produce_p50_ms=_ms(quantile_from_buckets(produce, 0.5)),
        ingest_produce_p99_ms=_ms(quantile_from_buckets(produce, 0.99)),
    )


# ------------------------------------------------------------------------------- api


def known_members(client: redis.Redis, limit: int = 20_000) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for community in sorted(client.smembers(keys.COMMUNITIES)):  # type: ignore[arg-type]
        for member in client.zrange(keys.members_key(community), 0, limit):  # type: ignore[union-attr]
            out.append((community, member))
    return out


def bench_api(ctx: Context) -> None:
    """Member lookups: the maximum rate (closed loop) and p99 at a fixed 500 requests/s."""
    sizes = ctx.sizes
    members = known_members(ctx.redis())
    if not members:
        raise RuntimeError("no members in Redis: the classifier phase must run before the API")
    random.Random(ctx.seed).shuffle(members)
    port = free_port()
    host = f"127.0.0.1:{port}"
    requests = [
        httpload.Request(
            "GET",
            f"/v1/communities/{urllib.parse.quote(c, safe='')}/members/{urllib.parse.quote(mm, safe='')}",
            {"Authorization": f"Bearer {API_KEY}", "Accept": "application/json"},
        ).encode(host)
        for c, mm in members[:5000]
    ]

    def ok(status: int, body: bytes) -> str | None:
        return None if status == 200 else f"http_{status}"

    with running(
        "api",
        python_module("services.api"),
        ctx.env(INVESTED_API_PORT=str(port)),
        port,
        ctx.workdir / "api.log",
    ):
        # warm-up (connections, first-use imports), not counted
        asyncio.run(httpload.closed_loop("127.0.0.1", port, requests[:300], 8))
        bar = ctx.bar(None, "api max", unit="req")
        saturated = asyncio.run(
            httpload.closed_loop(
                "127.0.0.1", port, requests, 16, sizes.http_seconds, bar.update, ok
            )
        )
        bar.close()
        bar = ctx.bar(int(sizes.api_rate * sizes.http_seconds), f"api @ {sizes.api_rate:.0f}/s")
        paced = asyncio.run(
            httpload.open_loop(
                "127.0.0.1",
                port,
                lambda i: requests[i % len(requests)],
                sizes.api_rate,
                sizes.http_seconds,
                64,
                bar.update,
            )
        )
        bar.close()
    ctx.results.update(
        api_lookups_per_s=round(saturated.rate, 1),
        api_saturated_p99_ms=_ms(saturated.percentile(0.99)),
        api_saturated_errors=dict(saturated.errors),
        api_saturated_statuses={str(k): v for k, v in saturated.statuses.items()},
        api_rate_per_s=sizes.api_rate,
        api_p50_ms=_ms(paced.percentile(0.5)),
        api_p99_ms=_ms(paced.percentile(0.99)),
        api_paced_statuses={str(k): v for k, v in paced.statuses.items()},
        api_paced_errors=dict(paced.errors),
    )


# ------------------------------------------------------------------------------- memory, sweep


class _Publisher:
    """Transitions to Kafka (aiokafka, acks=all), as the worker publishes them."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.producer: Any = None

    async def start(self) -> None:
        from aiokafka import AIOKafkaProducer

        self.producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        await self.producer.start()

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()

    async def __call__(self, topic: str, records: list[tuple[str, bytes]]) -> None:
        futures = [
            await self.producer.send(topic, value, key=key.encode()) for key, value in records
        ]
        await asyncio.gather(*futures)


async def _load_through_store(
    ctx: Context, workload: Workload, batch: int, bar: tqdm
) -> tuple[Any, Any, _Publisher]:
    import redis.asyncio as aioredis

    from services.classifier.processor import Classifier
    from services.classifier.rules import load_rules
    from services.classifier.store import Store

    client = aioredis.Redis.from_url(ctx.stack.redis_url)
    store = Store(client, load_rules(), 100)
    publisher = _Publisher(ctx.stack.kafka_bootstrap)
    await publisher.start()
    classifier = Classifier(store, publisher, MEMBER_TRANSITIONS, CLASSIFIER_DEADLETTER)
    await store.publish_rules()
    values: list[bytes] = []
    for _, value in workload.records():
        values.append(value)
        if len(values) >= batch:
            await classifier.process_batch(values)
            bar.update(len(values))
            values = []
    if values:
        await classifier.process_batch(values)
        bar.update(len(values))
    return client, classifier, publisher


def member_count(client: redis.Redis) -> int:
    communities: Any = client.smembers(keys.COMMUNITIES)
    total_members = 0
    for community in communities:
        count: Any = client.zcard(keys.members_key(community))
        total_members += int(count)
    return total_members


def key_breakdown(client: redis.Redis, sample: int = 300, seed: int = 7) -> dict[str, float]:
    """Average ``MEMORY USAGE`` per member key kind over a sample of members (bytes)."""
    from services.classifier.store import member_keys

    members = known_members(client)
    random.Random(seed).shuffle(members)
    sums: dict[str, float] = {}
    picked = members[:sample]
    for community, member in picked:
        for key in member_keys(community, member):
            kind = key.rsplit(":", 1)[-1]
            usage: Any = client.memory_usage(key, samples=0)
            sums[kind] = sums.get(kind, 0.0) + float(usage or 0)
    return {k: round(v / max(len(picked), 1), 1) for k, v in sums.items()}


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])  # type: ignore[index]


def bench_memory_and_sweep(ctx: Context) -> None:
    """Redis bytes per active member (INFO memory delta), then sweeps of 1k vs many due."""
    sizes = ctx.sizes
    client = ctx.redis()
    client.flushall()
    time.sleep(0.2)
    before = used_memory(client)
    workload = Workload(
        WorkloadConfig(
            members=sizes.memory_members, events=sizes.memory_events, seed=ctx.seed + 100
        )
    )
    bar = ctx.bar(sizes.memory_events, "memory: load 1 worker")

    async def run() -> dict[str, Any]:
        started = time.perf_counter()
        aclient, classifier, publisher = await _load_through_store(ctx, workload, 500, bar)
        loaded = time.perf_counter() - started
        try:
            members = member_count(client)
            after = used_memory(client)
            out: dict[str, Any] = {
                "redis_members": members,
                "redis_events": sizes.memory_events,
                "redis_used_memory_delta_bytes": after - before,
                "redis_bytes_per_member": round((after - before) / max(members, 1), 1),
                "redis_key_breakdown_bytes": key_breakdown(client),
                "store_inprocess_events_per_s": round(sizes.memory_events / loaded, 1),
            }
            out.update(await sweeps(client, classifier, "sweep_small", (1000,)))
            return out
        finally:
            await publisher.stop()
            await aclient.aclose()

    bar.close()
    ctx.results.update(asyncio.run(run()))


async def sweeps(
    client: redis.Redis, classifier: Any, prefix: str, due_counts: tuple[int, ...]
) -> dict[str, Any]:
    """Run ``Classifier.sweep`` at the instant when exactly ``k`` members are due, for each k."""
    from services.classifier.store import DUE

    out: dict[str, Any] = {f"{prefix}_members": member_count(client)}
    out[f"{prefix}_due_index"] = int(client.zcard(DUE))  # type: ignore[arg-type]
    for k in due_counts:
        row = client.zrange(DUE, k - 1, k - 1, withscores=True)
        if not row:
            continue
        now_ms = int(row[0][1])  # type: ignore[index]
        due = int(client.zcount(DUE, "-inf", now_ms))  # type: ignore[arg-type]
        started = time.perf_counter()
        outcome = await classifier.sweep(now_ms)
        seconds = time.perf_counter() - started
        out[f"{prefix}_{k}_due"] = due
        out[f"{prefix}_{k}_swept"] = outcome.processed
        out[f"{prefix}_{k}_transitions"] = len(outcome.transitions)
        out[f"{prefix}_{k}_seconds"] = round(seconds, 3)
    return out


# ------------------------------------------------------------------------------- scale


def bench_scale(ctx: Context, workers: int = 1) -> None:
    """1M members / 10M events through real workers on a fresh stack, then sweeps (1k, 100k)."""
    sizes = ctx.sizes
    workload = Workload(
        WorkloadConfig(members=sizes.scale_members, events=sizes.scale_events, seed=ctx.seed + 1)
    )
    started = time.perf_counter()
    sent = preload(ctx, workload, "scale: preload")
    ctx.results["scale_preload_seconds"] = round(time.perf_counter() - started, 1)
    with contextlib.ExitStack() as stack:
        children = [
            stack.enter_context(processor(ctx, f"scale-{i}", "services.classifier"))
            for i in range(workers)
        ]
        # One group for all workers would need the same group id; the scale run uses one worker.
        result = wait_counted(
            ctx, children[0], CLASSIFIER_COUNTED, sent, "scale: classify", stall_seconds=300
        )
    client = ctx.redis()
    ctx.results.update(
        scale_events=sent,
        scale_classify_seconds=round(result.seconds, 1),
        scale_events_per_s=round(result.rate, 1),
        scale_used_memory_bytes=used_memory(client),
    )

    async def run() -> dict[str, Any]:
        import redis.asyncio as aioredis

        from services.classifier.processor import Classifier
        from services.classifier.rules import load_rules
        from services.classifier.store import Store

        aclient = aioredis.Redis.from_url(ctx.stack.redis_url)
        publisher = _Publisher(ctx.stack.kafka_bootstrap)
        await publisher.start()
        try:
            classifier = Classifier(
                Store(aclient, load_rules(), 100),
                publisher,
                MEMBER_TRANSITIONS,
                CLASSIFIER_DEADLETTER,
            )
            return await sweeps(client, classifier, "scale_sweep", (1000, 100_000))
        finally:
            await publisher.stop()
            await aclient.aclose()

    ctx.results.update(asyncio.run(run()))


def timed(ctx: Context, name: str, fn: Callable[[], object]) -> None:
    started = time.perf_counter()
    fn()
    ctx.results.setdefault("phase_seconds", {})[name] = round(time.perf_counter() - started, 1)
