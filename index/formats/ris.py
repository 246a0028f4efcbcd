"""RIS reference files (Zotero, Mendeley, EndNote, publishers' "export citation"), read with ``rispy``.

A record runs from its ``TY  - `` line to its ``ER  - `` line; each one with a title (TI/T1) and an
abstract (AB/N2) is a paper, with its authors (AU/A1, "Last, First" as "First Last"), date
(DA/PY/Y1: ``2024/03/05/`` or ``2024``), DOI (DO), url (UR; an arXiv URL gives the arXiv id) and
venue (JF/JO/T2/BT). rispy keeps no line numbers and drops a record left open silently, so the
records are cut out here, each at the line its ``TY`` is on, and given to rispy one by one: a
record never closed, one without a title or an abstract, and text outside records are problems.
"""

from __future__ import annotations

import re
from typing import Any

from index.formats import Format, storable
from index.formats.bibtex import iso_date
from index.parse import MAX_FIELD_CHARS, MAX_TITLE_CHARS, MIN_ABSTRACT_CHARS, split_lines
from index.records import Paper, ParseResult, Problem, arxiv_id_of, doi_of, paper_id_for

_TAG = re.compile(r"^([A-Z][A-Z0-9])  -(?: |$)")
_START = re.compile(r"^TY  - ")
_END = re.compile(r"^ER  -\s*$")
# a TY line, then (blank lines aside) another tag line
_SNIFF = re.compile(r"^TY  - [^\r\n]*(?:\r\n|\r|\n)(?:[ \t]*(?:\r\n|\r|\n))*[A-Z][A-Z0-9]  -", re.M)
_DATE = re.compile(r"^\s*(\d{4})(?:[/-](\d{0,2})(?:[/-](\d{0,2}))?)?")
_NOT_A_VENUE = re.compile(r"arxiv|^\s*corr\s*$", re.I)


def sniff(head: str) -> bool:
    """A ``TY  - `` line followed by another tag line."""
    return _SNIFF.search(head) is not None


def _values(record: dict, *names: str) -> list[str]:
    """The non-empty text values of rispy's ``names`` (or unknown tags), in that order."""
    found: list[str] = []
    for name in names:
        value = record.get(name) if name.islower() else (record.get("unknown_tag") or {}).get(name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item.strip() and storable(item):
                found.append(" ".join(item.split()))
    return found


def _text(record: dict, what: str, *names: str) -> str:
    text = next(iter(_values(record, *names)), "")
    if len(text) > MAX_FIELD_CHARS:
        raise ValueError(f"{what} longer than {MAX_FIELD_CHARS:,} characters, skipped")
    return text


def _name(name: str) -> str:
    """A "Last, First" (or "Last, First, Jr.") name as "First Last"; one without a comma as written."""
    last, comma, rest = name.partition(",")
    if not comma:
        return name
    first, _, suffix = rest.partition(",")
    return " ".join(" ".join(p for p in (first.strip(), last.strip(), suffix.strip()) if p).split())


def _date(record: dict) -> tuple[str | None, str | None]:
    """The most complete of DA, PY and Y1 ("2024/03/05/", "2024///", "2024")."""
    best: tuple[int, str | None, str | None] = (-1, None, None)
    for value in _values(record, "date", "year", "publication_year"):
        m = _DATE.match(value)
        if not m:
            continue
        month = int(m[2]) if m[2] and 1 <= int(m[2]) <= 12 else None
        day = int(m[3]) if m[3] and month and 1 <= int(m[3]) <= 31 else None
        iso, text = iso_date(int(m[1]), month, day)
        known = (month is not None) + (day is not None)
        if iso and known > best[0]:
            best = (known, iso, text)
    return best[1], best[2]


def record_to_paper(record: dict, where: str) -> Paper:
    """One rispy record as a Paper, or ValueError saying what is wrong."""
    title = _text(record, "title", "title", "primary_title")
    abstract = _text(record, "abstract", "abstract", "notes_abstract")
    missing = [what for what, text in (("title (TI)", title), ("abstract (AB)", abstract)) if not text]
    if missing:
        named = f" {title[:60]!r}" if title else ""
        raise ValueError(f"record{named} has no {' and no '.join(missing)}, skipped")
    if len(title) > MAX_TITLE_CHARS:
        raise ValueError(f"title longer than {MAX_TITLE_CHARS} characters, skipped")
    if len(abstract) < MIN_ABSTRACT_CHARS:
        raise ValueError(f"abstract of {title[:60]!r} too short ({len(abstract)} characters), skipped")
    names = tuple(n for n in (_name(a) for a in _values(record, "authors") or _values(record, "first_authors")) if n)
    urls = [u for u in _values(record, "urls") if re.match(r"https?://\S+$", u) and len(u) <= 2000]
    doi = next((d for d in map(doi_of, _values(record, "doi")) if d), None)
    candidates = [u for u in urls if "arxiv.org/" in u.lower()]
    if doi and doi.startswith("10.48550/arxiv."):  # arXiv's own DOIs
        candidates.append("arXiv:" + doi.removeprefix("10.48550/arxiv."))
    journals = _values(record, "journal_name", "alternate_title3", "secondary_title")
    candidates += [v for v in journals if "arxiv" in v.lower()]
    arxiv_id, version = next((found for found in map(arxiv_id_of, candidates) if found[0]), (None, None))
    venues = _values(record, "alternate_title3", "journal_name", "secondary_title", "BT")
    iso, date_text = _date(record)
    return Paper(
        paper_id=paper_id_for(title),
        title=title,
        abstract=abstract,
        authors=len(names) or None,
        date_text=date_text,
        date=iso,
        url=urls[0] if urls else None,
        author_names=names,
        arxiv_id=arxiv_id,
        version=version,
        doi=doi,
        venue=next((v for v in venues if not _NOT_A_VENUE.search(v) and len(v) <= MAX_TITLE_CHARS), None),
        sources=(where,),
    )


def _records(text: str, source: str, problems: list[Problem]) -> list[tuple[int, list[str]]]:
    """The records of ``text`` as (line of their TY, their lines up to and with ER)."""
    records: list[tuple[int, list[str]]] = []
    current: tuple[int, list[str]] | None = None
    stray: int | None = None  # first line of a run of text outside any record
    for number, line in enumerate(split_lines(text), 1):
        if _START.match(line):
            if current is not None:
                problems.append(Problem(source, current[0], "record has no ER line before the next TY, skipped"))
            if stray is not None:
                problems.append(Problem(source, stray, "text outside a RIS record (TY ... ER), ignored"))
                stray = None
            current = (number, [line])
        elif current is not None:
            current[1].append(line)
            if _END.match(line):
                records.append(current)
                current = None
        elif line.strip() and stray is None:
            stray = number
    if current is not None:
        problems.append(Problem(source, current[0], "record has no ER line (a truncated file?), skipped"))
    if stray is not None:
        problems.append(Problem(source, stray, "text outside a RIS record (TY ... ER), ignored"))
    return records


def parse(text: str, source: str) -> ParseResult:
    """Parse RIS text into papers; records that are not papers become problems."""
    import rispy

    result = ParseResult()
    for start, lines in _records(text, source, result.problems):
        try:
            parsed: list[Any] = rispy.RisParser().parse_lines(iter(lines))
            if len(parsed) != 1 or not isinstance(parsed[0], dict):
                raise ValueError("unreadable RIS record, skipped")
            result.papers.append(record_to_paper(parsed[0], f"{source}:{start}"))
        except ValueError as exc:
            result.problems.append(Problem(source, start, str(exc)))
        except (Exception, RecursionError) as exc:  # never let one odd record end the file
            result.problems.append(Problem(source, start, f"unreadable RIS record: {exc!r}"[:300]))
    result.problems.sort(key=lambda p: p.line)
    return result


FORMAT = Format("ris", (".ris",), sniff, parse)
