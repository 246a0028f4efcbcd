"""Pure parsers: text in, papers and problems out. Reading files is the caller's job.

Three layouts of Hugging Face Daily Papers page dumps are understood, plus JSON Lines and CSV:

1. title and abstract as blank-line separated blocks;
2. the same, each abstract followed by a metadata block (``• N authors`` or an organisation
   line, then ``·``, then a date with or without year and an optional upvote count);
3. a compact page with titles and abstracts on alternating lines, the first title glued to a
   header word (``SubscribeTowards Understanding ...``).

The page parser handles all three with one pass: drop the page chrome, pull out the metadata
blocks, then read the remaining lines as title/abstract pairs.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date as Date
from typing import Any

from index.records import Paper, ParseResult, Problem, arxiv_id_of, doi_of, paper_id_for

PAGE_CHROME = {
    "new",
    "Get trending papers in your email inbox!",
    "Get trending papers in your email inbox once a day!",
    "Subscribe",
    "Daily Papers",
    "byAK and the research community",
}
GLUED_PREFIXES = ("Subscribe", "Daily Papers")
MAX_TITLE_CHARS = 400
MIN_ABSTRACT_CHARS = 40
MAX_FIELD_CHARS = 100_000

_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
_DATE = re.compile(
    r"^(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (?P<day>\d{1,2})"
    r"(?:, (?P<year>\d{4}))?(?: (?P<up>\d+))?$"
)
_AUTHORS = re.compile(r"^•?\s*(\d+)\s+authors?$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
MAX_COUNT = 2**31 - 1  # authors and upvotes beyond this (or negative) are dropped


def split_lines(text: str) -> list[str]:
    """Lines as editors number them: only CR, LF and CRLF end a line (``str.splitlines`` also
    splits at U+2028, form feeds and other characters that JSON strings may hold)."""
    lines = _LINE_BREAK.split(text)
    return lines[:-1] if lines and lines[-1] == "" else lines


def parse_date(text: str) -> tuple[str | None, int | None]:
    """Parse ``Oct 1, 2025 3`` into (ISO date or None when the year is unknown, upvotes)."""
    m = _DATE.match(text.strip())
    if not m:
        return None, None
    up = int(m["up"]) if m["up"] else None
    if not m["year"]:
        return None, up
    try:
        iso = Date(int(m["year"]), _MONTHS[m["mon"]], int(m["day"])).isoformat()
    except ValueError:
        return None, up
    return iso, up


def _strip_chrome(line: str) -> str:
    """Remove page chrome; a header word glued to a title leaves the title."""
    if line in PAGE_CHROME:
        return ""
    for prefix in GLUED_PREFIXES:
        rest = line[len(prefix) :]
        if line.startswith(prefix) and rest[:1].isupper():
            return rest
    return line


def _content_lines(text: str) -> list[tuple[int, str]]:
    """Non-empty lines with their 1-based numbers, page chrome removed."""
    lines = []
    for number, raw in enumerate(split_lines(text), 1):
        line = _strip_chrome(raw.strip())
        if line:
            lines.append((number, line))
    return lines


def _metadata(owner: str, date_line: str) -> dict[str, Any]:
    """Fields from a metadata block: its authors/organisation line and its date line."""
    fields: dict[str, Any] = {}
    authors = _AUTHORS.match(owner.lstrip("• ").strip()) or _AUTHORS.match(owner)
    if authors:
        fields["authors"] = int(authors.group(1))
    else:
        # "ByteDance-Seed ByteDance Seed": an org handle, then its display name
        handle, _, name = owner.partition(" ")
        fields["organization"] = name.strip() or handle
    m = _DATE.match(date_line)
    if m:
        fields["date_text"] = date_line[: m.end("year") if m["year"] else m.end("day")]
        fields["date"], fields["upvotes"] = parse_date(date_line)
    return fields


def _split_metadata(lines: list[tuple[int, str]]) -> tuple[list[tuple[int, str]], dict[int, dict]]:
    """Separate text lines from metadata blocks; metadata is keyed by the index of the text
    line it follows. Stand-alone date lines (the page's own date) are dropped."""
    text: list[tuple[int, str]] = []
    meta: dict[int, dict] = {}
    i = 0
    while i < len(lines):
        number, line = lines[i]
        nxt = lines[i + 1][1] if i + 1 < len(lines) else ""
        if nxt == "·":
            date_line = lines[i + 2][1] if i + 2 < len(lines) else ""
            meta[len(text) - 1] = _metadata(line, date_line)
            i += 3 if _DATE.match(date_line) else 2
            continue
        if line == "·" or _DATE.match(line) or _AUTHORS.match(line.lstrip("• ")):
            i += 1
            continue
        text.append((number, line))
        i += 1
    return text, meta


def _looks_like_title(line: str) -> bool:
    return len(line) <= MAX_TITLE_CHARS


def parse_page(text: str, source: str = "<page>") -> ParseResult:
    """Parse a Daily Papers page dump (any of the three layouts) into paper entries."""
    result = ParseResult()
    lines, meta = _split_metadata(_content_lines(text))
    i = 0
    while i < len(lines):
        number, title = lines[i]
        if not _looks_like_title(title):
            result.problems.append(Problem(source, number, "paragraph without a title, skipped"))
            i += 1
            continue
        if i + 1 >= len(lines):
            result.problems.append(Problem(source, number, f"title without an abstract: {title[:60]!r}"))
            break
        abstract = lines[i + 1][1]
        if len(abstract) < MIN_ABSTRACT_CHARS:
            result.problems.append(Problem(source, number, f"abstract missing or too short under {title[:60]!r}"))
            i += 1
            continue
        if len(abstract) > MAX_FIELD_CHARS:
            reason = f"abstract longer than {MAX_FIELD_CHARS:,} characters under {title[:60]!r}, skipped"
            result.problems.append(Problem(source, number, reason))
            i += 2
            continue
        fields = meta.get(i + 1, {})
        result.papers.append(Paper(paper_id_for(title), title, abstract, sources=(f"{source}:{number}",), **fields))
        i += 2
    return result


def _count(value: Any) -> int | None:
    """A count (authors, upvotes) if it is a plausible one, else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT else None


def _count_authors(value: Any) -> int | None:
    if isinstance(value, bool):
        raise ValueError("authors must be a number or a list of names")
    if isinstance(value, int):
        return _count(value)
    if isinstance(value, list):
        return len(value)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.isdecimal():
            return _count(int(text)) if len(text) < 12 else None
        m = _AUTHORS.match(text)
        return _count(int(m.group(1))) if m else len([a for a in re.split(r",|;| and ", text) if a.strip()])
    return None


def _text_field(record: dict, name: str, required: bool) -> str | None:
    value = record.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValueError(f"missing {name!r}")
        return None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError(f"{name!r} must be text, not {type(value).__name__}")
    text = " ".join(str(value).split())
    if len(text) > MAX_FIELD_CHARS:
        raise ValueError(f"{name!r} is longer than {MAX_FIELD_CHARS:,} characters")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # "\ud800" escapes in JSON give lone surrogates
            raise ValueError(f"{name!r} holds invalid Unicode (a lone surrogate)") from None
    return text


def record_to_paper(record: Any, source: str) -> Paper:
    """Turn one JSON/CSV record into a Paper, or raise ValueError saying what is wrong."""
    if not isinstance(record, dict):
        raise ValueError(f"expected an object with 'title' and 'abstract', got {type(record).__name__}")
    title = _text_field(record, "title", True) or ""
    abstract = _text_field(record, "abstract", True) or ""
    if len(title) > MAX_TITLE_CHARS:
        raise ValueError(f"title longer than {MAX_TITLE_CHARS} characters")
    date_text = _text_field(record, "date", False)
    iso = None
    if date_text:
        m = _ISO.match(date_text)
        iso = _valid_iso(m) if m else parse_date(date_text)[0]
    org = _text_field(record, "organization", False) or _text_field(record, "organisation", False)
    arxiv_id, version = arxiv_id_of(_text_field(record, "arxiv_id", False) or _text_field(record, "arxiv", False))
    listed = record.get("authors")
    names = (
        tuple(" ".join(n.split()) for n in listed if isinstance(n, str) and n.strip())
        if isinstance(listed, list)
        else ()
    )
    return Paper(
        paper_id=_text_field(record, "id", False) or paper_id_for(title),
        title=title,
        abstract=abstract,
        authors=_count_authors(record.get("authors")),
        organization=org,
        date_text=date_text,
        date=iso,
        upvotes=_count(record.get("upvotes")),
        url=_text_field(record, "url", False),
        author_names=names,
        arxiv_id=arxiv_id,
        version=version,
        doi=doi_of(_text_field(record, "doi", False)),
        venue=_text_field(record, "venue", False) or _text_field(record, "journal", False),
        categories=_categories(record.get("categories")),
        sources=(source,),
    )


def _categories(value: Any) -> tuple[str, ...]:
    """arXiv categories given as a list or as text ("cs.LG stat.ML", "cs.LG, stat.ML")."""
    items = value if isinstance(value, list) else re.split(r"[\s,;]+", value) if isinstance(value, str) else []
    return tuple(dict.fromkeys(c.strip() for c in items if isinstance(c, str) and c.strip()))


def _valid_iso(m: re.Match) -> str | None:
    try:
        return Date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    except ValueError:
        return None


def parse_jsonl(text: str, source: str = "<jsonl>") -> ParseResult:
    """Parse JSON Lines, one paper per line; a bad line is reported and skipped."""
    result = ParseResult()
    for number, line in enumerate(split_lines(text), 1):
        if not line.strip():
            continue
        try:
            result.papers.append(record_to_paper(json.loads(line), f"{source}:{number}"))
        except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
            result.problems.append(Problem(source, number, _reason(exc)))
    return result


def parse_json(text: str, source: str = "<json>") -> ParseResult:
    """Parse a JSON array of paper records (or an object holding one under "papers" or "data");
    each record is reported by the line it starts on."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return ParseResult(problems=[Problem(source, 1, _reason(exc))])
    if isinstance(data, dict):
        data = next((data[k] for k in ("papers", "data") if isinstance(data.get(k), list)), None)
    if not isinstance(data, list):
        reason = "expected a JSON array of objects with 'title' and 'abstract'"
        return ParseResult(problems=[Problem(source, 1, reason)])
    result = ParseResult()
    starts = _element_lines(text, len(data))
    for record, line in zip(data, starts):
        try:
            result.papers.append(record_to_paper(record, f"{source}:{line}"))
        except ValueError as exc:
            result.problems.append(Problem(source, line, _reason(exc)))
    return result


def _element_lines(text: str, n: int) -> list[int]:
    """The line each of the ``n`` elements of a top-level JSON array starts on."""
    decoder = json.JSONDecoder()
    lines: list[int] = []
    at = text.index("[") + 1
    line = text.count("\n", 0, at) + 1
    while len(lines) < n:
        while text[at] in " \t\r\n,":
            line += text[at] == "\n"
            at += 1
        lines.append(line)
        _, end = decoder.raw_decode(text, at)
        line += text.count("\n", at, end)
        at = end
    return lines


def parse_csv(text: str, source: str = "<csv>") -> ParseResult:
    """Parse CSV with a header row naming at least 'title' and 'abstract'. Each record is
    reported by the line it starts on (blank lines and quoted line breaks included)."""
    result = ParseResult()
    csv.field_size_limit(MAX_FIELD_CHARS * 10)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next((row for row in reader if row), [])
    except csv.Error as exc:
        return ParseResult(problems=[Problem(source, reader.line_num or 1, f"unreadable CSV header: {exc}")])
    header = [h.strip().lower() for h in header]
    missing = {"title", "abstract"} - set(header)
    if missing:
        found = ", ".join(header)[:200] or "nothing"
        reason = f"CSV header lacks {', '.join(sorted(missing))} (found: {found})"
        return ParseResult(problems=[Problem(source, max(1, reader.line_num), reason)])
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            result.problems.append(Problem(source, line, f"unreadable CSV row: {exc}"))
            continue
        if not row:
            continue
        record = {name: value for name, value in zip(header, row) if name}
        try:
            result.papers.append(record_to_paper(record, f"{source}:{line}"))
        except ValueError as exc:
            result.problems.append(Problem(source, line, _reason(exc)))
    return result


def _reason(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON ({exc.msg})"
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    return str(exc)


PARSERS = {".jsonl": parse_jsonl, ".ndjson": parse_jsonl, ".csv": parse_csv, ".json": parse_json}


def parse_source(name: str, text: str) -> ParseResult:
    """Parse one source: a format of ``index.formats`` recognised by content or suffix, else by
    its file name: .jsonl/.ndjson, .csv, anything else as a page dump."""
    from index.formats import SNIFF_CHARS, detect

    fmt = detect(name, text[:SNIFF_CHARS])
    if fmt is not None:
        return fmt.parse(text, name)
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return PARSERS.get(suffix, parse_page)(text, name)
