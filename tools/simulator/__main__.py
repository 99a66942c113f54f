"""``python -m tools.simulator`` (``make demo``): post a simulated community to a running ingest.

Builds the community (:mod:`tools.simulator.community`), posts its webhooks signed with the
``INVESTED_*`` secrets of the environment (development values where unset) with a progress bar,
and prints what was sent and answered. ``--dry-run`` only builds and summarizes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from datetime import UTC, datetime

from invested.contracts import Platform
from tools.simulator.base import SimEvent
from tools.simulator.community import generate
from tools.simulator.config import ALL_PLATFORMS, SimConfig
from tools.simulator.model import Member
from tools.simulator.posting import Summary, post_all
from tools.simulator.signing import Secrets, Signer

BRAND_FILES = "deploy/demo/brands.yaml (brand acme), deploy/demo/roles.yaml (staff, one bot)"


def describe(
    config: SimConfig, members: list[Member], events: list[SimEvent], summary: Summary | None
) -> str:
    roles = Counter(member.role for member in members)
    by_platform = Counter(event.platform.value for event in events)
    deliveries: dict[str, set[str]] = {}
    for event in events:
        deliveries.setdefault(event.act, set()).add(event.delivery)
    paired = sum(1 for found in deliveries.values() if len(found) > 1)
    redelivered = sum(1 for event in events if event.attempt > 1)
    lines = [
        f"simulated {roles['core'] + roles['regular'] + roles['lurker']} members over "
        f"{config.days} days (seed {config.seed}): "
        + ", ".join(f"{roles[r]} {r}" for r in ("core", "regular", "lurker")),
        "staff: " + ", ".join(m.name for m in members if m.role == "staff"),
        "bots: " + ", ".join(m.name for m in members if m.role == "bot"),
        f"webhooks: {len(events)} ("
        + ", ".join(f"{platform} {count}" for platform, count in sorted(by_platform.items()))
        + f") for {len(deliveries)} acts: {paired} acts sent as two notifications, "
        f"{redelivered} redeliveries",
    ]
    labels = Counter(event.label for event in events)
    lines.append("by type: " + ", ".join(f"{label} {n}" for label, n in labels.most_common()))
    if summary is not None:
        rate = summary.sent / summary.seconds if summary.seconds else 0.0
        lines.append(
            f"posted {summary.sent} in {summary.seconds:.1f} s ({rate:.0f}/s): "
            + ", ".join(f"HTTP {code} x{n}" for code, n in sorted(summary.statuses.items()))
            + " ("
            + ", ".join(f"{outcome} {n}" for outcome, n in summary.outcomes.most_common())
            + f"); {summary.events_accepted} engagement events accepted"
        )
        if summary.errors:
            lines.append("errors: " + ", ".join(f"{e} x{n}" for e, n in summary.errors.items()))
        lines.append("communities: " + ", ".join(config.community(p) for p in config.platforms))
        lines.append(f"one brand: {BRAND_FILES}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from invested.settings import ConfigError, load_settings

    parser = argparse.ArgumentParser(
        prog="python -m tools.simulator", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--members", type=int, default=150)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument(
        "--end", default="now", help="ISO 8601 end of the simulated window (default: now)"
    )
    parser.add_argument(
        "--url",
        default=None,
        help="ingest base URL (default: from INVESTED_BIND_HOST/INVESTED_INGEST_PORT)",
    )
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--platforms", default=",".join(p.value for p in ALL_PLATFORMS))
    parser.add_argument(
        "--dry-run", action="store_true", help="generate and summarize, post nothing"
    )
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    secrets = Secrets.from_env()
    platforms = tuple(Platform(p.strip()) for p in args.platforms.split(",") if p.strip())
    if Platform.DISCORD in platforms and secrets.discord is None:
        print(
            "note: INVESTED_DISCORD_PUBLIC_KEY is not the development key; skipping Discord",
            file=sys.stderr,
        )
        platforms = tuple(p for p in platforms if p is not Platform.DISCORD)
    end = None if args.end == "now" else datetime.fromisoformat(args.end).astimezone(UTC)
    config = SimConfig(
        seed=args.seed, members=args.members, days=args.days, end=end, platforms=platforms
    )
    members, events = generate(config)
    if args.dry_run:
        print(describe(config, members, events, None))
        return 0
    url = args.url or f"http://{settings.bind_host}:{settings.ingest_port}"
    import httpx

    try:
        httpx.get(url + "/healthz", timeout=2.0).raise_for_status()
    except httpx.HTTPError:
        print(
            f"error: no ingest service answers at {url} (start it with `make run`, or pass --url)",
            file=sys.stderr,
        )
        return 2
    summary = asyncio.run(post_all(events, Signer(secrets), url, args.concurrency))
    print(describe(config, members, events, summary))
    return 0 if not summary.errors else 1


if __name__ == "__main__":
    sys.exit(main())
