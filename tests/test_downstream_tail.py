"""``make tail`` replays the whole history every time; ``--group`` resumes like a service.

Transitions are put on ``member.transitions`` the way the classifier writes them (a compact
record expanded by :func:`invested.records.transition_json`, so the lines carry the real
wording), then ``python -m services.classifier.tail`` runs as a process, exactly as
``make tail`` starts it, and its output is read line by line with a deadline.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

from kafka import KafkaProducer

from invested.contracts import Thresholds
from invested.records import SEP, transition_json
from invested.topics import MEMBER_TRANSITIONS
from tests.backends import Backend
from tests.processes import ROOT, service_env

THRESHOLDS = Thresholds(
    enter_investment=12,
    enter_peers=2,
    enter_active_days=2,
    stay_investment=6,
    stay_peers=1,
    min_dwell_days=7,
    window_days=28,
)


def record(seq: int, segments: tuple[str, str], why: str, events: int, kinds: str) -> str:
    """A transition record as store.lua writes it (fields: invested/records.py)."""
    at_ms = int(datetime(2026, 11, 20, 9, 0, tzinfo=UTC).timestamp() * 1000) + seq * 60_000
    investment = "1500" if why == "enter" else "0"
    peers_days = ("2", "2") if why == "enter" else ("0", "1")
    fields = [str(seq), *segments, str(at_ms), f"cause-{seq}", "rules-test", why, investment]
    fields += ["100", *peers_days, str(events), kinds, ""]
    return SEP.join(fields)


def publish_history(backend: Backend, community: str) -> list[str]:
    """Three transitions of one member; returns the line prefix tail prints for each."""
    history = [
        record(1, ("dormant", "audience"), "audience", 1, "view=1"),
        record(2, ("audience", "community"), "enter", 5, "contribute=3,reply=1,view=1"),
        record(3, ("community", "audience"), "audience", 3, "view=3"),
    ]
    producer = KafkaProducer(bootstrap_servers=backend.kafka_bootstrap, acks="all")
    for text in history:
        value = transition_json(community, "erin", text, THRESHOLDS).encode()
        producer.send(MEMBER_TRANSITIONS, key=f"{community}/erin".encode(), value=value)
    producer.flush()
    producer.close()
    return [
        f"{community}/erin {s} (seq {n},"
        for n, s in (
            (1, "dormant -> audience"),
            (2, "audience -> community"),
            (3, "community -> audience"),
        )
    ]


class Tail:
    """``python -m services.classifier.tail ARGS`` with its stdout read under a deadline."""

    def __init__(self, backend: Backend, *args: str) -> None:
        env = service_env(backend.kafka_bootstrap, backend.redis_url)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.classifier.tail", *args],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.lines: list[str] = []
        self._partial = b""

    def read_until(self, wanted: list[str], timeout: float = 45) -> list[str]:
        """Lines containing one of ``wanted``, once each is seen or the deadline passes."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            while not all(any(w in line for line in self.lines) for w in wanted):
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    break
                if selector.select(min(left, 0.5)):
                    chunk = os.read(self.proc.stdout.fileno(), 65536)
                    *complete, self._partial = (self._partial + chunk).split(b"\n")
                    self.lines += [line.decode() for line in complete]
        return [line for line in self.lines if any(w in line for w in wanted)]

    def stop(self) -> None:
        """Ctrl-C, as a person stops it: the consumer leaves its group at once (no rebalance
        wait for the next run), else SIGKILL after 10 s."""
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def test_make_tail_replays_the_whole_history_every_time(backend: Backend, unique: str) -> None:
    community = f"tail-{unique}"
    expected = publish_history(backend, community)
    runs = []
    for _ in range(2):  # the second run must not resume where the first stopped
        tail = Tail(backend, "--from-beginning")
        try:
            runs.append(tail.read_until(expected))
        finally:
            tail.stop()
    for printed in runs:
        assert len(printed) == 3, f"tail printed {printed}; expected {expected}"
        for line, prefix in zip(printed, expected, strict=True):
            assert prefix in line  # in order: one member's transitions share a partition
    first, entered, back = runs[1]
    assert first.endswith(
        ": audience: 1 own event in the window, below community "
        "(investment 0, peers 0, active days 1)"
    )
    assert (
        "(3 contributions, 1 view and 1 reply, with 2 members on 2 days in the last 28 days)"
        in entered
    )
    assert "audience: 3 own events in the window" in back


def test_group_mode_resumes_where_the_group_left_off(backend: Backend, unique: str) -> None:
    community = f"tailg-{unique}"
    expected = publish_history(backend, community)
    group = f"tail-group-{unique}"
    tail = Tail(backend, "--group", group)
    try:  # a new group starts at the earliest transition
        assert len(tail.read_until(expected)) == 3
    finally:
        tail.stop()
    tail = Tail(backend, "--group", group)
    try:
        later = publish_history(backend, f"{community}-later")
        printed = tail.read_until(later)
        assert len(printed) == 3
        # Offsets are committed after each line: the first two lines of the first run are not
        # printed again (the last one may be, delivery being at-least-once).
        assert not [line for line in tail.lines if any(p in line for p in expected[:2])]
    finally:
        tail.stop()
