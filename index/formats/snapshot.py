"""Placeholder: being written (issue 15). Recognises nothing yet."""

from __future__ import annotations

from index.formats import Format
from index.records import ParseResult


def parse(text: str, source: str) -> ParseResult:
    raise NotImplementedError("the snapshot format is not written yet")


FORMAT = Format("snapshot", (), lambda head: False, parse)
