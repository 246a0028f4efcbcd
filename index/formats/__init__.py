"""The source formats beyond Daily Papers page dumps, JSON Lines and CSV (``index.parse``).

Each format is one module exposing ``FORMAT``: a name, the file suffixes it owns, a content
sniffer and a parser. ``detect`` picks a format by content first (a ``.txt`` holding BibTeX is
BibTeX), then by suffix; ``None`` leaves the file to ``index.parse``. A format that can be
read record by record also gives ``stream``, so a multi-gigabyte file (the arXiv metadata
snapshot) is parsed in constant memory.

Every parser returns a ``ParseResult``: papers with ``sources=("file:line",)`` and a
``Problem(file, line, reason)`` for each record skipped. Identifiers go through
``index.records.arxiv_id_of`` and ``doi_of`` so every format spells them alike.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from index.records import Paper, ParseResult, Problem

SNIFF_CHARS = 65_536  # how much of a file ``sniff`` sees


@dataclass(frozen=True)
class Format:
    name: str  # "bibtex"
    suffixes: tuple[str, ...]  # (".bib", ".bibtex")
    sniff: Callable[[str], bool]  # the first SNIFF_CHARS of the text: is it this format?
    parse: Callable[[str, str], ParseResult]  # (text, source name) -> papers and problems
    # (lines, source name) -> papers and problems one by one, for files read as a stream
    stream: Callable[[Iterable[str], str], Iterator[Paper | Problem]] | None = None


# Sniffed in this order: the most specific content first (a snapshot line is also JSON Lines).
_MODULES = ("snapshot", "daily", "arxiv", "bibtex", "ris")


@functools.cache
def formats() -> tuple[Format, ...]:
    """The formats, in sniffing order (imported on first use: asking needs none of them)."""
    return tuple(importlib.import_module(f"index.formats.{name}").FORMAT for name in _MODULES)


def detect(name: str, head: str) -> Format | None:
    """The format of the file ``name`` whose text starts with ``head``, or None for index.parse."""
    known = formats()
    for fmt in known:
        if fmt.sniff(head):
            return fmt
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return next((fmt for fmt in known if suffix in fmt.suffixes), None)


def storable(text: str) -> bool:
    """Whether Chroma can store ``text``: a lone surrogate (from a ``\\ud800`` escape) cannot be."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def suffixes() -> set[str]:
    return {s for fmt in formats() for s in fmt.suffixes}
