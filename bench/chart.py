"""A results file as a picture: one SVG, no plotting library.

Top: each target as a bar of "how far past the target" (measured / target for "at least"
targets, target / measured for "at most" ones), so every bar that crosses the 1.0 line is met.
Bottom: the throughputs that the ratios come from, side by side. ``python -m bench`` writes it
next to the JSON (``latest.json`` → ``latest.svg``); ``python -m bench.chart results.json``
redraws one.
"""

from __future__ import annotations

import json
import sys
from html import escape
from pathlib import Path
from typing import Any

# (label, result key, target, "ge" | "le", unit)
TARGETS: list[tuple[str, str, float, str, str]] = [
    ("classifier / bare Faust", "classifier_vs_bare_faust", 0.70, "ge", ""),
    ("classifier / naive", "classifier_vs_naive", 3.0, "ge", "×"),
    ("p99 latency at half load", "classifier_p99_latency_ms", 500.0, "le", " ms"),
    ("ingest / empty 200", "ingest_vs_empty_200", 0.50, "ge", ""),
    ("API p99 at 500 req/s", "api_p99_ms", 10.0, "le", " ms"),
    ("Redis per member", "redis_bytes_per_member", 2048.0, "le", " B"),
]
# (group, [(label, key)]) of absolute rates
RATES: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "events/s",
        [
            ("classifier", "classifier_events_per_s"),
            ("bare Faust", "bare_faust_events_per_s"),
            ("naive", "naive_events_per_s"),
        ],
    ),
    ("requests/s", [("ingest", "ingest_webhooks_per_s"), ("empty 200", "empty_200_per_s")]),
]

WIDTH, LABEL_W, BAR_W, ROW_H = 900, 200, 420, 26
GREEN, RED, GREY, BLUE = "#2e7d32", "#c62828", "#9e9e9e", "#1565c0"


def _text(x: float, y: float, text: str, anchor: str = "start", weight: str = "normal") -> str:
    return (
        f'<text x="{x:.0f}" y="{y:.0f}" text-anchor="{anchor}" font-weight="{weight}">'
        f"{escape(text)}</text>"
    )


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def render(results: dict[str, Any]) -> str:
    parts: list[str] = []
    y = 30
    title = f"Invested bench — {results.get('date', '')[:10]} ({results.get('mode', '')})"
    machine = results.get("machine", {})
    parts.append(_text(10, y, title, weight="bold"))
    y += 18
    parts.append(_text(10, y, f"{machine.get('cpu_model', '')}, {machine.get('cores', '')} cores"))
    y += 24
    parts.append(_text(10, y, "targets: bar length = how far past the target (1.0 = target)"))
    y += 10
    scale = BAR_W / 2.0  # the axis runs 0 .. 2x the target
    one = LABEL_W + scale
    top = y
    for label, key, target, direction, unit in TARGETS:
        y += ROW_H
        value = results.get(key)
        parts.append(_text(10, y, label))
        if value is None:
            parts.append(_text(LABEL_W, y, "not measured"))
            continue
        ratio = value / target if direction == "ge" else (target / value if value else 0.0)
        met = ratio >= 1.0
        length = min(ratio, 2.0) * scale
        parts.append(
            f'<rect x="{LABEL_W}" y="{y - 14}" width="{length:.1f}" height="16" '
            f'fill="{GREEN if met else RED}"/>'
        )
        sign = "≥" if direction == "ge" else "≤"
        note = f"{_fmt(value)}{unit} (target {sign} {_fmt(target)}{unit})"
        parts.append(_text(LABEL_W + BAR_W + 8, y, note))
    parts.append(
        f'<line x1="{one:.0f}" y1="{top}" x2="{one:.0f}" y2="{y + 6}" stroke="black" '
        'stroke-dasharray="4 3"/>'
    )
    for group, items in RATES:
        values = [(label, results.get(key)) for label, key in items]
        known = [v for _, v in values if v]
        if not known:
            continue
        y += 34
        parts.append(_text(10, y, group, weight="bold"))
        top_value = max(known)
        for label, value in values:
            y += ROW_H
            parts.append(_text(10, y, label))
            if not value:
                parts.append(_text(LABEL_W, y, "not measured"))
                continue
            length = BAR_W * value / top_value
            parts.append(
                f'<rect x="{LABEL_W}" y="{y - 14}" width="{length:.1f}" height="16" '
                f'fill="{BLUE if label in ("classifier", "ingest") else GREY}"/>'
            )
            parts.append(_text(LABEL_W + length + 8, y, _fmt(value)))
    height = y + 20
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'font-family="sans-serif" font-size="13">'
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>' + "".join(parts) + "</svg>\n"
    )


def write(results: dict[str, Any], json_path: Path) -> Path:
    svg_path = json_path.with_suffix(".svg")
    svg_path.write_text(render(results))
    return svg_path


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: python -m bench.chart RESULTS.json", file=sys.stderr)
        return 2
    path = Path(args[0])
    print(write(json.loads(path.read_text()), path))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
