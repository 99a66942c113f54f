"""Ingest's fast paths equal the slow ones: the formatted accepted answer is the JSON answer, byte for
byte, and ``parse_json`` reads every body as ``json.loads`` does."""

from __future__ import annotations

import json
from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from services.ingest.wire import accepted, answer, parse_json


@given(st.text(max_size=60), st.lists(st.text(max_size=40), max_size=4))
def test_accepted_is_the_json_answer(delivery_id: str, ids: list[str]) -> None:
    expected = answer(
        {"status": "accepted", "delivery_id": delivery_id, "events": len(ids), "ids": ids}
    )
    got = accepted(delivery_id, ids)
    assert got.body == expected.body
    assert got.status_code == expected.status_code == 200
    assert got.raw_headers == expected.raw_headers


# --- parse_json is json.loads ---------------------------------------------------------------------

_NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["-0", "-0.0", "1e400", "-1e400", "1e-400", "1E5", "0.1e1", "NaN", "Infinity"]),
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.text(),
    _NUMBERS,
    st.sampled_from(['"\\ud800"', '"\\udfff\\ud800"', '"a\\u0000b"', '"\\u00e9"']),
)


def _render(value: object) -> str:
    if isinstance(value, str) and (value[:1] in '"-0123456789NI' and value not in ("", "-")):
        try:  # a raw JSON fragment from the sampled lists
            json.loads(value)
            return value
        except ValueError:
            pass
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


_DOCUMENTS = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


def _same(a: object, b: object) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)  # type: ignore[index]
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    if isinstance(a, float) and a != a:
        return b != b
    return a == b and repr(a) == repr(b)


def _outcome(parse: Callable[[bytes], object], body: bytes) -> tuple[str, object]:
    try:
        return "ok", parse(body)
    except (ValueError, RecursionError) as exc:
        return type(exc).__name__, None


@given(_DOCUMENTS, st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]), st.booleans())
def test_parse_json_reads_every_document_as_json_loads_does(
    document: object, encoding: str, duplicate_key: bool
) -> None:
    text = _render(document)
    if duplicate_key:
        text = '{"k": 1, "k": ' + text + "}"
    body = text.encode(encoding, errors="surrogatepass")
    expected, got = _outcome(json.loads, body), _outcome(parse_json, body)
    assert expected[0] == got[0]
    assert _same(expected[1], got[1])


def test_parse_json_rejects_what_json_loads_rejects() -> None:
    for body in (b"", b"{", b'{"a":}', b"\xff\xfe\xfd", b"[" * 100_000):
        assert _outcome(json.loads, body)[0] == _outcome(parse_json, body)[0] != "ok"


def test_parse_json_keeps_integers_past_64_bits() -> None:
    for body in (
        b"18446744073709551616",
        b" -18446744073709551616",
        b'{"id": 99999999999999999999}',
    ):
        assert _same(parse_json(body), json.loads(body))
