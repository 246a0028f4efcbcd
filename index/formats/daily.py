"""Hugging Face Daily Papers as the API gives them (``/api/daily_papers?date=YYYY-MM-DD``).

The response is a JSON array of listing items, each holding the arXiv paper under ``"paper"``
(``id``, ``authors`` as ``{"name": ...}`` objects, ``publishedAt``, ``title``, ``summary``,
``upvotes``, sometimes ``organization``) beside the listing's own copy of the title and summary.
A bare array of paper objects and an object with the array under ``"papers"`` or ``"data"`` are
read too. Each paper's source line is the line its array element starts on; an element that is
no paper is reported and skipped, and a file that is not valid JSON is one problem (the elements
before the error are kept).
"""

from __future__ import annotations

import json
import re
from typing import Any

from index.formats import Format
from index.parse import MAX_TITLE_CHARS, MIN_ABSTRACT_CHARS, _count, _text_field, _valid_iso
from index.records import Paper, ParseResult, Problem, arxiv_id_of, paper_id_for

_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\r\n]*")
_LIST_KEY = re.compile(r'"(?:papers|data)"\s*:\s*\[')
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
LIST_KEYS = ("papers", "data")


def _is_item(value: Any) -> bool:
    return isinstance(value, dict) and (
        isinstance(value.get("paper"), dict) or ("summary" in value and "publishedAt" in value)
    )


def _skip(text: str, pos: int) -> int:
    """The position of the first non-space character at or after ``pos``."""
    m = _WS.match(text, pos)
    return m.end() if m else pos


def _first(text: str, pos: int) -> Any:
    try:
        return _DECODER.raw_decode(text, _skip(text, pos))[0]
    except (ValueError, RecursionError):
        return None


def sniff(head: str) -> bool:
    """A JSON array (or an object with one under "papers"/"data") whose first element is a Daily
    Papers item (``"paper": {...}``) or paper (``"summary"`` and ``"publishedAt"``)."""
    text = head.lstrip("\ufeff \t\r\n")
    if text.startswith("["):
        return _is_item(_first(text, 1))
    if text.startswith("{"):
        m = _LIST_KEY.search(text)
        return m is not None and _is_item(_first(text, m.end()))
    return False


def _line(text: str, offset: int, counted: list[int]) -> int:
    """The 1-based line of ``offset``; ``counted`` carries (offset, line) forward between calls."""
    last, line = counted
    counted[:] = [offset, line + text.count("\n", last, offset)]
    return counted[1]


def _array(text: str, source: str, result: ParseResult) -> list[tuple[int, Any]]:
    """The elements of the papers array with the offsets they start at; a JSON error ends it."""
    pos = _skip(text, 0)
    try:
        if text.startswith("{", pos):
            document = json.loads(text)
            key = next((k for k in LIST_KEYS if isinstance(document.get(k), list)), None)
            if key is None:
                raise ValueError(f"expected a list of papers under {' or '.join(map(repr, LIST_KEYS))}")
            m = re.compile(r'"' + key + r'"\s*:\s*\[').search(text)
            if m is None:  # the key was written with escapes: no offsets, only the elements
                return [(pos, item) for item in document[key]]
            pos = m.end() - 1
        if not text.startswith("[", pos):
            raise ValueError("expected a JSON array of papers")
    except json.JSONDecodeError as exc:
        result.problems.append(Problem(source, exc.lineno, f"not valid JSON ({exc.msg})"))
        return []
    except (ValueError, RecursionError) as exc:
        result.problems.append(
            Problem(source, 1, str(exc) if isinstance(exc, ValueError) else "JSON nested too deeply")
        )
        return []
    elements: list[tuple[int, Any]] = []
    pos = _skip(text, pos + 1)
    if text.startswith("]", pos):
        return elements
    while True:
        try:
            value, end = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            result.problems.append(Problem(source, exc.lineno, f"not valid JSON ({exc.msg})"))
            return elements
        except RecursionError:
            result.problems.append(Problem(source, text.count("\n", 0, pos) + 1, "JSON nested too deeply"))
            return elements
        elements.append((pos, value))
        pos = _skip(text, end)
        if text.startswith(",", pos):
            pos = _skip(text, pos + 1)
            continue
        if not text.startswith("]", pos):
            line = text.count("\n", 0, pos) + 1
            result.problems.append(Problem(source, line, "not valid JSON (expected ',' or ']' between papers)"))
        return elements


def _organization(*holders: dict) -> str | None:
    for holder in holders:
        org = holder.get("organization")
        if isinstance(org, dict):
            name = _text_field(org, "fullname", False) or _text_field(org, "name", False)
            if name:
                return name
        elif isinstance(org, str) and org.strip():
            return " ".join(org.split())
    return None


def _names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    names = []
    for author in value:
        if isinstance(author, dict):
            author = author.get("name")
        if isinstance(author, str) and author.strip():
            names.append(" ".join(author.split()))
    return tuple(names)


def to_paper(item: Any, source: str) -> Paper:
    """One listing item (or bare paper object) as a Paper, or ValueError saying what is wrong."""
    if not isinstance(item, dict):
        raise ValueError(f"expected a Daily Papers item (an object), got {type(item).__name__}")
    paper = item.get("paper", item)
    if not isinstance(paper, dict):
        raise ValueError(f"'paper' must be an object, not {type(paper).__name__}")
    merged = {**{k: v for k, v in item.items() if k != "paper"}, **{k: v for k, v in paper.items() if v is not None}}
    title = _text_field(merged, "title", True) or ""
    if len(title) > MAX_TITLE_CHARS:
        raise ValueError(f"title longer than {MAX_TITLE_CHARS} characters")
    abstract = _text_field(merged, "summary", False) or ""
    if len(abstract) < MIN_ABSTRACT_CHARS:
        raise ValueError(f"summary missing or too short under {title[:60]!r}")
    hf_id = _text_field(paper, "id", False)
    arxiv_id, version = arxiv_id_of(hf_id)
    published = _text_field(merged, "publishedAt", False)
    m = _ISO.match(published or "")
    day = _valid_iso(m) if m else None
    names = _names(paper.get("authors"))
    return Paper(
        paper_id=paper_id_for(title),
        title=title,
        abstract=abstract,
        authors=len(names) or None,
        organization=_organization(paper, item),
        date_text=day,
        date=day,
        upvotes=_count(paper.get("upvotes", item.get("upvotes"))),
        url=f"https://huggingface.co/papers/{hf_id}" if hf_id else None,
        author_names=names,
        arxiv_id=arxiv_id,
        version=version,
        sources=(source,),
    )


def parse(text: str, source: str = "<daily>") -> ParseResult:
    """Parse a Daily Papers API response into papers."""
    result, read = ParseResult(), ParseResult()
    counted = [0, 1]
    for offset, item in _array(text, source, read):
        line = _line(text, offset, counted)
        try:
            result.papers.append(to_paper(item, f"{source}:{line}"))
        except ValueError as exc:
            result.problems.append(Problem(source, line, str(exc)))
    result.problems.extend(read.problems)  # where the JSON broke off comes after what was read
    return result


FORMAT = Format("daily", (), sniff, parse)
