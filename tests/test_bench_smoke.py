"""Smoke test of the benchmark harness (``bench/``) on a tiny workload, so it does not rot.

It runs the harness's pieces end to end on an embedded stack of its own — workload, preload,
the real classifier worker with its latency probe, the API lookups, the empty-200 baseline with
the HTTP load generator, the Redis memory probe and a sweep — and checks that each produced its
figures. It never asserts on speed: speed is measured by ``make bench``, not by tests.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from bench import httpload, phases, run
from bench.procs import python_module, quantile_from_buckets, running
from bench.workload import Workload, WorkloadConfig, describe
from invested.contracts import EngagementEvent
from invested.stack import EmbeddedStack, free_port


def test_workload_is_deterministic_and_valid() -> None:
    config = WorkloadConfig(members=300, events=2000, seed=3, end=datetime(2026, 1, 31, tzinfo=UTC))
    first = list(Workload(config).records())
    again = list(Workload(config).records())
    assert first == again
    kinds = set()
    for key, value in first:
        event = EngagementEvent.from_json(value)
        assert key.decode() == f"{event.community}/{event.member}"
        kinds.add(event.kind.value)
    assert {"reply", "view", "react"} <= kinds
    shape = describe(Workload(config), sample=2000)
    assert 0 < float(shape["investment_share"]) < 1  # type: ignore[arg-type]


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    delta = {0.1: 50.0, 0.5: 90.0, 1.0: 100.0, float("inf"): 100.0}
    assert quantile_from_buckets(delta, 0.5) == 0.1
    assert abs((quantile_from_buckets(delta, 0.7) or 0) - 0.3) < 1e-9
    assert quantile_from_buckets({float("inf"): 0.0}, 0.99) is None


def test_http_load_generator_against_the_empty_200_baseline(tmp_path: Path) -> None:
    port = free_port()
    with running(
        "empty_200",
        python_module("bench.baselines.empty_200", "--port", str(port)),
        phases.service_env("127.0.0.1:1", "redis://127.0.0.1:1/0"),
        port,
        tmp_path / "empty.log",
    ):
        raw = httpload.Request("POST", "/webhooks/github", {}, b"{}").encode(f"127.0.0.1:{port}")
        closed = asyncio.run(httpload.closed_loop("127.0.0.1", port, [raw] * 50, 4))
        paced = asyncio.run(httpload.open_loop("127.0.0.1", port, lambda i: raw, 100, 0.3, 4))
    assert closed.sent == 50 and closed.statuses == {200: 50} and not closed.errors
    assert paced.sent == 30 and paced.percentile(0.99) is not None


def test_harness_end_to_end_on_a_tiny_workload(tmp_path: Path) -> None:
    sizes = phases.Sizes(
        members=150,
        events=400,
        latency_seconds=1.0,
        http_seconds=0.5,
        api_rate=50,
        memory_members=200,
        memory_events=600,
        scale_members=0,
        scale_events=0,
    )
    (tmp_path / "stack").mkdir()
    with EmbeddedStack(workdir=tmp_path / "stack") as stack:
        ctx = phases.Context(stack, tmp_path, sizes, progress=False)
        workload = phases.main_workload(ctx)
        sent = phases.preload(ctx, workload)
        assert sent == sizes.events
        phases.bench_classifier(ctx, workload, sent)
        phases.bench_api(ctx)
        phases.bench_memory_and_sweep(ctx)
    results = ctx.results
    run.derive(results)
    for key in (
        "classifier_events_per_s",
        "classifier_p99_latency_ms",
        "api_lookups_per_s",
        "api_p99_ms",
        "redis_bytes_per_member",
    ):
        assert results[key] is not None and results[key] > 0, key
    assert results["api_paced_statuses"] == {"200": results["api_paced_statuses"]["200"]}
    assert "classifier_vs_bare_faust >= 0.70" in results["targets"]
    assert "classifier throughput" in run.table(results)
    json.dumps(results)  # the results file must be writable as JSON


def test_chart_marks_met_and_missed_targets() -> None:
    from xml.dom import minidom

    from bench import chart

    svg = chart.render(
        {"date": "2026-11-25", "mode": "quick", "classifier_vs_bare_faust": 0.8,
         "redis_bytes_per_member": 4096.0, "classifier_events_per_s": 8000.0,
         "bare_faust_events_per_s": 10000.0}
    )  # fmt: skip
    minidom.parseString(svg)  # well-formed
    assert svg.count(f'fill="{chart.GREEN}"') == 1  # 0.8 >= 0.7
    assert svg.count(f'fill="{chart.RED}"') == 1  # 4096 B > 2048 B
    assert svg.count("not measured") == 4 + 1  # four targets and the naive rate
