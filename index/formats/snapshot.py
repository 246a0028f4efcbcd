"""The arXiv metadata snapshot (Kaggle's ``arxiv-metadata-oai-snapshot.json``).

JSON Lines, one arXiv paper a line: ``id`` ("0704.0001" or "hep-th/9901001"), ``authors`` as one
string and ``authors_parsed`` as ``[["Last", "First", "Suffix"], ...]``, ``title``, ``abstract``,
``categories`` (space-separated, the primary first), ``doi``, ``journal-ref``, ``versions``
(``[{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}, ...]``) and ``update_date``.

The whole file is several gigabytes, so ``stream`` reads it line by line in constant memory and
``parse`` only wraps it. Titles and abstracts keep their LaTeX (``$\\alpha$``) as arXiv shows it,
whitespace normalised: turning it into plain text costs more than the rest of the parse
(bench/parse_scale.py). ``orjson`` decodes the lines when it is installed.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from index.formats import Format
from index.parse import MAX_FIELD_CHARS, MAX_TITLE_CHARS, MIN_ABSTRACT_CHARS
from index.records import Paper, ParseResult, Problem, arxiv_id_of, doi_of, paper_id_for

try:
    import orjson

    _loads: Any = orjson.loads
except ImportError:  # pragma: no cover - orjson comes with chromadb
    _loads = json.loads

_MONTH_DIGITS = {m: f"{i:02d}" for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
_DAY_DIGITS = {**{str(d): f"{d:02d}" for d in range(1, 32)}, **{f"{d:02d}": f"{d:02d}" for d in range(1, 32)}}
_AUTHOR_SPLIT = re.compile(r",\s*|\s+and\s+")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}$")


_ASCII_SPACES = "\t\r\x0b\x0c\x1c\x1d\x1e\x1f"  # what str.split() splits ASCII at, beside space and LF


def squash(text: str) -> str:
    """``" ".join(text.split())``, twice as fast on the usual abstract: ASCII, wrapped at ~80
    characters with single newlines (the snapshot's layout)."""
    flat = text.strip().replace("\n", " ")
    if flat.isascii() and "  " not in flat and not any(c in flat for c in _ASCII_SPACES):
        return flat
    return " ".join(flat.split())


def sniff(head: str) -> bool:
    """The first non-blank line is a snapshot record: an object with "id" and "abstract", and
    "versions" or both "categories" and "update_date"."""
    for line in io.StringIO(head.removeprefix("\ufeff"), newline=""):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            return False
        return (
            isinstance(record, dict)
            and "id" in record
            and "abstract" in record
            and ("versions" in record or ("categories" in record and "update_date" in record))
        )
    return False


def _text(record: dict, name: str) -> str:
    value = record.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{name!r} must be text, not {type(value).__name__}")
    return squash(value)


def _created_day(versions: Any) -> str | None:
    """The ISO day of the first version ("Mon, 2 Apr 2007 19:18:42 GMT" is "2007-04-02")."""
    try:
        _, day, month, year = versions[0]["created"].split(" ", 4)[:4]
        iso = f"{year}-{_MONTH_DIGITS[month]}-{_DAY_DIGITS[day]}"
    except (TypeError, KeyError, IndexError, ValueError, AttributeError):
        return None
    return iso if len(year) == 4 and year.isdigit() and year >= "1990" else None


def _last_version(versions: Any) -> int | None:
    try:
        label = versions[-1]["version"]
        return int(label[1:]) if label[:1] in "vV" else int(label)
    except (TypeError, KeyError, IndexError, ValueError, AttributeError):
        return None


def _names(record: dict) -> tuple[str, ...]:
    parsed = record.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = []
        for parts in parsed:  # ["Last", "First", "Suffix"]: "First Last Suffix"
            if type(parts) is not list or not parts:
                continue
            last, first, suffix = parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else ""
            if type(last) is str and type(first) is str and type(suffix) is str:
                name = squash(f"{first} {last} {suffix}")
                if name:
                    names.append(name)
        if names:
            return tuple(names)
    authors = record.get("authors")
    if isinstance(authors, str):
        return tuple(n for n in (" ".join(a.split()) for a in _AUTHOR_SPLIT.split(authors)) if n)
    return ()


def to_paper(record: Any, source: str) -> Paper:
    """One snapshot record as a Paper, or ValueError saying why it is skipped."""
    if not isinstance(record, dict):
        raise ValueError(f"expected an arXiv metadata object, got {type(record).__name__}")
    raw_id = record.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise ValueError("missing 'id'")
    title = _text(record, "title")
    if not title:
        raise ValueError(f"missing 'title' in {raw_id[:40]!r}")
    if len(title) > MAX_TITLE_CHARS:
        raise ValueError(f"title longer than {MAX_TITLE_CHARS} characters in {raw_id[:40]!r}")
    abstract = _text(record, "abstract")
    if len(abstract) < MIN_ABSTRACT_CHARS:
        raise ValueError(f"abstract missing or too short in {raw_id[:40]!r}")
    if len(abstract) > MAX_FIELD_CHARS:
        raise ValueError(f"abstract longer than {MAX_FIELD_CHARS:,} characters in {raw_id[:40]!r}")
    arxiv_id, _ = arxiv_id_of(raw_id)
    if arxiv_id is None:
        raise ValueError(f"not an arXiv id: {raw_id[:40]!r}")
    versions = record.get("versions")
    day = _created_day(versions)
    if day is None:
        update = record.get("update_date")
        day = update if isinstance(update, str) and _ISO.match(update) else None
    names = _names(record)
    categories = record.get("categories")
    doi = record.get("doi")
    venue = record.get("journal-ref")
    return Paper(
        paper_id=paper_id_for(title),
        title=title,
        abstract=abstract,
        authors=len(names) or None,
        date_text=day,
        date=day,
        url=f"https://arxiv.org/abs/{arxiv_id}",
        author_names=names,
        arxiv_id=arxiv_id,
        version=_last_version(versions),
        doi=doi_of(doi) if isinstance(doi, str) else None,
        venue=(" ".join(venue.split()) or None) if isinstance(venue, str) else None,
        categories=tuple(dict.fromkeys(categories.split())) if isinstance(categories, str) else (),
        sources=(source,),
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):  # orjson's error is one too
        return f"not valid JSON ({exc.msg.split(':')[0]})"
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    return str(exc)


def stream(lines: Iterable[str], source: str = "<snapshot>") -> Iterator[Paper | Problem]:
    """Papers and problems one line at a time: nothing but the current line is held."""
    for number, line in enumerate(lines, 1):
        if not line or line.isspace():
            continue
        try:
            yield to_paper(_loads(line), f"{source}:{number}")
        except (ValueError, TypeError, RecursionError) as exc:
            yield Problem(source, number, _reason(exc))


def parse(text: str, source: str = "<snapshot>") -> ParseResult:
    """Parse a snapshot held in memory (``stream`` over its lines)."""
    result = ParseResult()
    for item in stream(io.StringIO(text, newline=""), source):
        if isinstance(item, Paper):
            result.papers.append(item)
        else:
            result.problems.append(item)
    return result


FORMAT = Format("snapshot", (), sniff, parse, stream)
