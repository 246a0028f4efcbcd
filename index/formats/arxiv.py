"""arXiv feeds: API responses (export.arxiv.org/api/query) and the category feeds of rss.arxiv.org.

Three shapes, all read with ``feedparser``:

- an API page: Atom with an opensearch header; each ``<entry>`` has the versioned abs URL as its
  ``<id>``, ``<published>`` (the v1 date), authors, ``arxiv:primary_category`` and ``category``
  terms, ``arxiv:doi`` and ``arxiv:journal_ref``. A failed query is a feed whose one entry has an
  ``http://arxiv.org/api/errors#...`` id: it becomes a Problem with arXiv's message;
- an RSS 2.0 category feed (rss.arxiv.org/rss/cs.LG): ``<item>`` with ``dc:creator`` naming the
  authors comma-separated and a description ``arXiv:2401.12345v1 Announce Type: new Abstract: ...``;
- the Atom category feed (rss.arxiv.org/atom/cs.LG): the same items as Atom entries.

The older RSS 1.0 feeds (titles ending ``(arXiv:2401.12345v1 [cs.LG])``) and any other RSS or Atom
feed under a ``.rss``/``.atom``/``.xml`` name are read the same way, without arXiv fields where the
feed has none. Each paper's source line is the line its ``<entry>``/``<item>`` starts on. Broken
XML is read as far as feedparser recovers it, and reported.
"""

from __future__ import annotations

import io
import re
from email.utils import parsedate_to_datetime
from typing import Any

from index.formats import Format
from index.parse import MAX_FIELD_CHARS, MAX_TITLE_CHARS, MIN_ABSTRACT_CHARS, _valid_iso
from index.records import Paper, ParseResult, Problem, arxiv_id_of, doi_of, paper_id_for

_PROLOGUE = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)", re.S | re.I)
_ROOT = re.compile(r"\s*<(?:[\w.-]+:)?(feed|rss|RDF)[\s>]")
_ARXIV_MARK = re.compile(r"arxiv\.org/schemas/atom|arxiv\.org/(?:abs|api)/|oai:arXiv\.org:", re.I)
_ENTRY = re.compile(r"<(?:[\w.-]+:)?(?:entry|item)[\s/>]")
_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*)(["'])[^"']*\2""")
# "arXiv:2401.12345v1 Announce Type: new \nAbstract: ..." (rss.arxiv.org)
_ANNOUNCE = re.compile(r"^\s*arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:\s*)?", re.I)
# "Title. (arXiv:2401.12345v1 [cs.LG] UPDATED)" (the RSS 1.0 feeds before 2024)
_OLD_TITLE = re.compile(r"\.?\s*\(arXiv:(?P<id>\S+?)\s*\[(?P<cat>[\w.-]+)\](?:\s*\w+)?\)\s*$")
_TAG = re.compile(r"</?(?:p|br|b|i|em|strong|sup|sub|a|span|div|code|tt)\b[^<>]*>", re.I)
_ISO = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})")
_AUTHOR_SPLIT = re.compile(r",\s*|\s+and\s+")


def sniff(head: str) -> bool:
    """An Atom or RSS document that names arXiv (its namespace, abs/api URLs or OAI ids)."""
    pos = 0
    text = head.removeprefix("\ufeff")
    while m := _PROLOGUE.match(text, pos):
        pos = m.end()
    return bool(_ROOT.match(text, pos)) and bool(_ARXIV_MARK.search(head))


def _clean(value: Any, html: bool = False) -> str:
    text = value if isinstance(value, str) else ""
    if html:
        text = _TAG.sub(" ", text)
    return " ".join(text.split())


def _day(entry: Any) -> str | None:
    """The ISO day of the entry's publication (else update), as the feed writes it."""
    for key in ("published", "updated"):
        raw = entry.get(key)
        if not isinstance(raw, str) or not raw.strip():
            continue
        m = _ISO.match(raw)
        if m:
            return _valid_iso(m)
        try:
            return parsedate_to_datetime(raw).date().isoformat()
        except (TypeError, ValueError, IndexError):
            parsed = entry.get(f"{key}_parsed")
            if parsed:
                return f"{parsed.tm_year:04d}-{parsed.tm_mon:02d}-{parsed.tm_mday:02d}"
    return None


def _authors(entry: Any) -> tuple[str, ...]:
    names: list[str] = []
    for author in entry.get("authors") or []:
        name = _clean(author.get("name") if hasattr(author, "get") else None, html=True)
        # rss.arxiv.org's dc:creator names every author in one element: "A. One, B. Two"
        names.extend(n for n in (p.strip() for p in _AUTHOR_SPLIT.split(name)) if n)
    return tuple(dict.fromkeys(names))


def _categories(entry: Any) -> tuple[str, ...]:
    primary = entry.get("arxiv_primary_category")
    terms = [primary.get("term")] if hasattr(primary, "get") else []
    terms += [tag.get("term") for tag in entry.get("tags") or [] if hasattr(tag, "get")]
    return tuple(dict.fromkeys(t.strip() for t in terms if isinstance(t, str) and t.strip()))


def _abs_link(entry: Any) -> str | None:
    links = [link for link in entry.get("links") or [] if hasattr(link, "get") and link.get("href")]
    for link in links:
        if "/abs/" in link["href"]:
            return link["href"]
    for link in links:
        if link.get("rel") == "alternate":
            return link["href"]
    return entry.get("link") or None


def _paper(entry: Any, source: str, line: int) -> Paper:
    """One entry as a Paper, or ValueError saying why it is skipped."""
    title = _clean(entry.get("title"))
    summary = _clean(entry.get("summary"), html=True)
    arxiv_id, version = None, None
    announce = _ANNOUNCE.match(summary)
    if announce:
        arxiv_id, version = arxiv_id_of(announce["id"])
        summary = summary[announce.end() :]
    old = _OLD_TITLE.search(title)
    categories = _categories(entry)
    if old:
        arxiv_id, version = arxiv_id_of(old["id"])
        title = title[: old.start()]
        categories = tuple(dict.fromkeys((old["cat"], *categories)))
    link = _abs_link(entry)
    if arxiv_id is None:
        for candidate in (entry.get("id"), link):
            arxiv_id, version = arxiv_id_of(candidate) if isinstance(candidate, str) else (None, None)
            if arxiv_id:
                break
    if not title:
        raise ValueError("entry without a title")
    if len(title) > MAX_TITLE_CHARS:
        raise ValueError(f"title longer than {MAX_TITLE_CHARS} characters")
    if len(summary) < MIN_ABSTRACT_CHARS:
        raise ValueError(f"abstract missing or too short under {title[:60]!r}")
    if len(summary) > MAX_FIELD_CHARS:
        raise ValueError(f"abstract longer than {MAX_FIELD_CHARS:,} characters under {title[:60]!r}")
    names = _authors(entry)
    day = _day(entry)
    doi = doi_of(entry.get("arxiv_doi")) or next(
        (doi_of(link.get("href")) for link in entry.get("links") or [] if link.get("title") == "doi"), None
    )
    venue = _clean(entry.get("arxiv_journal_ref") or entry.get("arxiv_journal_reference")) or None
    return Paper(
        paper_id=paper_id_for(title),
        title=title,
        abstract=summary,
        authors=len(names) or None,
        date_text=day,
        date=day,
        url=link,
        author_names=names,
        arxiv_id=arxiv_id,
        version=version,
        doi=doi,
        venue=venue,
        categories=categories,
        sources=(f"{source}:{line}",),
    )


def _feed(text: str) -> Any:
    import feedparser

    # the text is already decoded: whatever encoding the declaration names, it is UTF-8 now
    data = _ENCODING.sub(r"\1\2utf-8\2", text, count=1).encode("utf-8", errors="replace")
    return feedparser.parse(io.BytesIO(data), sanitize_html=True, resolve_relative_uris=False)


def _entry_lines(text: str) -> list[int]:
    """The line each ``<entry>``/``<item>`` starts on, in order (counted on, not from the top)."""
    lines, line, last = [], 1, 0
    for m in _ENTRY.finditer(text):
        line += text.count("\n", last, m.start())
        last = m.start()
        lines.append(line)
    return lines


def parse(text: str, source: str = "<arxiv>") -> ParseResult:
    """Parse an arXiv API page or category feed (or any RSS/Atom feed) into papers."""
    result = ParseResult()
    starts = _entry_lines(text)
    feed = _feed(text)
    if feed.get("bozo"):
        exc = feed.get("bozo_exception")
        import feedparser

        if not isinstance(exc, feedparser.ThingsNobodyCaresAboutButMe):
            where = min(getattr(exc, "getLineNumber", lambda: None)() or 1, text.count("\n") + 1)
            message = getattr(exc, "getMessage", lambda: str(exc))() if exc else "unknown error"
            got = len(feed.entries)
            reason = f"malformed XML ({message}); read {got} {'entry' if got == 1 else 'entries'} as far as it goes"
            result.problems.append(Problem(source, where, reason))
    for index, entry in enumerate(feed.entries):
        line = starts[index] if index < len(starts) else (starts[-1] if starts else 1)
        entry_id = entry.get("id") or ""
        if isinstance(entry_id, str) and "arxiv.org/api/errors" in entry_id:
            message = _clean(entry.get("summary")) or entry_id.partition("#")[2].replace("_", " ")
            result.problems.append(Problem(source, line, f"arXiv API error: {message}"))
            continue
        try:
            result.papers.append(_paper(entry, source, line))
        except (ValueError, TypeError, AttributeError) as exc:
            result.problems.append(Problem(source, line, str(exc)))
    if not feed.entries and not result.problems and feed.get("version") == "":
        result.problems.append(Problem(source, 1, "not an RSS or Atom feed"))
    return result


FORMAT = Format("arxiv", (".atom", ".rss", ".xml"), sniff, parse)
