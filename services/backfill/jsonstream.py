"""JSON values read one at a time from a text stream, never the whole file at once.

``gh api --paginate`` writes each page's array right after the previous one (``[...][...]``),
``--slurp`` wraps the pages in one array, a Discourse dump may hold several responses back to
back, and DiscordChatExporter writes one object whose ``messages`` array can hold millions of
messages. :class:`JsonStream` reads all of these with the standard library's decoder
(``raw_decode`` at a position), refilling its buffer when a value runs past the end of it, and
counts lines so that an error names the line a record starts on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, TextIO

_NOT_WHITESPACE = re.compile(r"[^ \t\n\r]")
# An error this close to the end of the buffer may only mean the value continues in the file.
_TRUNCATION_MARGIN = 8


class JsonStreamError(ValueError):
    """The stream is not the JSON expected; ``line`` is where the problem is (1-based)."""

    def __init__(self, detail: str, line: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.line = line


class JsonStream:
    """Values, array elements and object members of a JSON text, read incrementally.

    ``max_value_chars`` bounds one value (a record): a file that is not JSON at all is refused
    once that much of it failed to parse, instead of being read whole into memory.
    """

    def __init__(
        self, stream: TextIO, chunk_chars: int = 1 << 20, max_value_chars: int = 64 << 20
    ) -> None:
        self._stream = stream
        self._chunk = chunk_chars
        self._max_value = max_value_chars
        self._decoder = json.JSONDecoder()
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._value_pending = False
        self.line = 1  # the line of the read position

    def _fill(self, at_least: int = 0) -> bool:
        """Read more text; False at the end of the stream."""
        if self._eof:
            return False
        text = self._stream.read(max(self._chunk, at_least))
        if not text:
            self._eof = True
            return False
        self._buf = self._buf[self._pos :] + text
        self._pos = 0
        return True

    def _advance(self, end: int) -> None:
        self.line += self._buf.count("\n", self._pos, end)
        self._pos = end

    def _peek(self) -> str | None:
        """The next character that is not whitespace (not consumed), None at the end."""
        while True:
            found = _NOT_WHITESPACE.search(self._buf, self._pos)
            if found is not None:
                self._advance(found.start())
                return found.group()
            self._advance(len(self._buf))
            if not self._fill():
                return None

    def _expect(self, char: str, what: str) -> None:
        found = self._peek()
        if found != char:
            shown = "the end of the file" if found is None else repr(found)
            raise JsonStreamError(f"expected {what}, found {shown}", self.line)
        self._advance(self._pos + 1)

    def decode(self) -> Any:
        """The next whole value."""
        self._value_pending = False
        if self._peek() is None:
            raise JsonStreamError("expected a value, found the end of the file", self.line)
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                truncated = exc.pos >= len(self._buf) - _TRUNCATION_MARGIN or exc.msg.startswith(
                    "Unterminated string"
                )
                pending = len(self._buf) - self._pos
                if truncated and pending < self._max_value and self._fill(at_least=pending):
                    continue
                line = self.line + self._buf.count("\n", self._pos, exc.pos)
                if truncated and not self._eof:
                    raise JsonStreamError(
                        f"a value longer than {self._max_value} characters (or not JSON)", line
                    ) from None
                raise JsonStreamError(exc.msg, line) from None
            # A number or literal ending exactly at the buffer's end may continue after it.
            if end == len(self._buf) and not isinstance(value, dict | list | str) and self._fill():
                continue
            self._advance(end)
            return value

    def values(self) -> Iterator[tuple[Any, int]]:
        """Every top-level value with the line it starts on (``[...][...]`` gives two)."""
        while self._peek() is not None:
            line = self.line
            yield self.decode(), line

    def elements(self) -> Iterator[tuple[Any, int]]:
        """The elements of the array at the read position, each with its line."""
        self._value_pending = False
        self._expect("[", "'['")
        return self._elements()

    def _elements(self) -> Iterator[tuple[Any, int]]:
        first = True
        while True:
            found = self._peek()
            if found == "]":
                self._advance(self._pos + 1)
                return
            if not first:
                self._expect(",", "',' or ']'")
            elif found is None:
                raise JsonStreamError("the array is not closed", self.line)
            first = False
            if self._peek() is None:
                raise JsonStreamError("the array is not closed", self.line)
            line = self.line
            yield self.decode(), line

    def records(self) -> Iterator[tuple[Any, int]]:
        """Records of API list responses: the elements of every top-level array, flattening
        one level of nesting (``--slurp`` puts the pages in an array); a top-level object is one
        record."""
        while (found := self._peek()) is not None:
            if found != "[":
                line = self.line
                yield self.decode(), line
                continue
            for element, line in self.elements():
                if isinstance(element, list):
                    for item in element:
                        yield item, line
                else:
                    yield element, line

    def members(self) -> Iterator[str]:
        """The keys of the object at the read position. After each key the caller reads its
        value with :meth:`decode` or :meth:`elements`; a value left unread is skipped."""
        self._expect("{", "'{'")
        first = True
        while True:
            if self._peek() == "}":
                self._advance(self._pos + 1)
                return
            if not first:
                self._expect(",", "',' or '}'")
            first = False
            line = self.line
            key = self.decode()
            if not isinstance(key, str):
                raise JsonStreamError("expected a member name", line)
            self._expect(":", "':'")
            self._value_pending = True
            yield key
            if self._value_pending:
                self.decode()
