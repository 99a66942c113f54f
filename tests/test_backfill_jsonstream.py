"""The streaming JSON reader: gh's back-to-back pages, --slurp, DiscordChatExporter's object,
values split across buffer refills, and errors that name their line."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.backfill.jsonstream import JsonStream, JsonStreamError


def stream(text: str, chunk: int = 3, limit: int = 64 << 20) -> JsonStream:
    """A stream refilled a few characters at a time, so every value crosses a refill."""
    return JsonStream(io.StringIO(text), chunk_chars=chunk, max_value_chars=limit)


RECORDS = [{"id": 1, "body": 'a [bracket] and a "quote"'}, {"id": 2, "n": 1.5e3}, {"id": 3}]


def test_pages_back_to_back_as_gh_api_paginate_writes_them() -> None:
    text = json.dumps(RECORDS[:2]) + json.dumps(RECORDS[2:])
    assert [record for record, _ in stream(text).records()] == RECORDS


def test_slurped_pages_and_a_leading_object() -> None:
    text = json.dumps({"full_name": "o/r"}) + "\n" + json.dumps([RECORDS[:2], RECORDS[2:]])
    assert [record for record, _ in stream(text).records()] == [{"full_name": "o/r"}, *RECORDS]


def test_records_know_their_lines() -> None:
    text = "[\n" + ",\n".join(json.dumps(r) for r in RECORDS) + "\n]\n[\n{}\n]"
    assert [line for _, line in stream(text).records()] == [2, 3, 4, 7]


def test_top_level_scalars_are_not_cut_at_a_refill() -> None:
    assert [value for value, _ in stream("12345 true [1] 6789", chunk=2).values()] == [
        12345,
        True,
        [1],
        6789,
    ]


def test_members_stream_one_array_and_skip_values_left_unread() -> None:
    text = json.dumps({"guild": {"id": "1"}, "skipped": [1, 2], "messages": RECORDS, "count": 3})
    reader = stream(text)
    seen: dict[str, Any] = {}
    for key in reader.members():
        if key == "guild":
            seen[key] = reader.decode()
        elif key == "messages":
            seen[key] = [message for message, _ in reader.elements()]
    assert seen == {"guild": {"id": "1"}, "messages": RECORDS}


def test_an_empty_file_has_no_records() -> None:
    assert list(stream("  \n").records()) == []


@pytest.mark.parametrize(
    ("text", "line", "detail"),
    [
        ('[{"id": 1},\n{"id": 2},\n{"id": ', 3, "Expecting value"),
        ('[{"id": 1},\n{"id": 2}\n{"id": 3}]', 3, "expected ',' or ']'"),
        ('[{"id": 1},\n{"id": 2},', 2, "the array is not closed"),
        ('[{"id": 1},\n{"id": tru}]', 2, "Expecting value"),
    ],
)
def test_errors_name_the_line(text: str, line: int, detail: str) -> None:
    with pytest.raises(JsonStreamError) as raised:
        list(stream(text).records())
    assert raised.value.line == line
    assert detail in raised.value.detail


def test_a_file_that_is_not_json_is_not_read_whole() -> None:
    with pytest.raises(JsonStreamError, match="longer than 100 characters"):
        list(stream('["' + "x" * 10_000, chunk=10, limit=100).records())


@given(
    st.lists(
        st.lists(
            st.dictionaries(
                st.text(max_size=5),
                st.recursive(
                    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3),
                    max_leaves=5,
                ),
                max_size=4,
            ),
            max_size=4,
        ),
        max_size=4,
    ),
    st.integers(min_value=1, max_value=17),
    st.sampled_from(["", "\n", " \r\n\t"]),
)
def test_any_pages_read_back_whole(pages: list[list[dict[str, Any]]], chunk: int, gap: str) -> None:
    text = gap.join(json.dumps(page, indent=1 if chunk % 2 else None) for page in pages)
    expected = [record for page in pages for record in page]
    assert [record for record, _ in stream(text, chunk=chunk).records()] == expected
