"""Placeholder: being written (issue 15). Recognises nothing yet."""

from __future__ import annotations

from index.formats import Format
from index.records import ParseResult


def parse(text: str, source: str) -> ParseResult:
    raise NotImplementedError("the daily format is not written yet")


FORMAT = Format("daily", (), lambda head: False, parse)
