"""Fetching new papers from the arXiv API and the Hugging Face Daily Papers into source files.

``fetch_arxiv`` pages an arXiv API query newest first (``sortBy=submittedDate``) and stops at
``max_papers``, at a paper older than ``since``, or at the end of the results; ``fetch_daily``
asks the Daily Papers for each day of a range, one request a day. What arrives is saved as it
came, for ``index.formats`` to parse at ingest, so a later ingest without network reads the same
corpus: each arXiv page as ``<fetch folder>/arxiv/<query>-<UTC time>-p<page>.atom`` (the feed as
sent, less the entries already fetched, by any query, or older than ``since``; a page left with
none is not written), each day as ``<fetch folder>/daily/<YYYY-MM-DD>.json`` (replaced whole when
it changed). Nothing is written until every request has succeeded: a fetch that fails changes no
file and no state, and saying so is part of its one-sentence ``FetchError``.

What each query fetched is kept in ``<data_dir>/fetch-state.json`` (written atomically): the
files written, the arXiv ids in each and the newest submission time, so ``since="last"`` resumes
where the last fetch of that query stopped and no paper is saved twice. A file deleted from the
fetch folder no longer counts, so deleting files makes their papers fetchable again.

Politeness: a User-Agent naming the product, its version and its URL; at most one request per
``fetch_delay_s`` to a host (arXiv's 3 s kept for arXiv whatever the setting); retries after a
connection error, HTTP 429 or 5xx with exponential backoff and jitter, never sooner than the
server's Retry-After, and giving up at once when that asks for more than ``MAX_RETRY_AFTER``.
"""

from __future__ import annotations

import email.utils
import fcntl
import json
import math
import os
import random
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from index.config import Config
from index.errors import AssistantError
from index.records import arxiv_id_of

STATE_FILE = "fetch-state.json"
LOCK_FILE = "fetch.lock"
PAGE_SIZE = 100  # arXiv entries asked for per request
DAILY_LIMIT = 100  # the most papers the Daily Papers API lists in one answer
MAX_DAYS = 366  # days one daily fetch may span
MAX_RETRY_AFTER = 120.0  # seconds: a longer Retry-After is not waited for, the fetch stops and says when to retry
HOST_DELAY = {"export.arxiv.org": 3.0, "arxiv.org": 3.0}  # seconds a host asks for, whatever fetch_delay_s says
ARXIV_HELP = "https://info.arxiv.org/help/api/user-manual.html#query_details"
ATOM = "{http://www.w3.org/2005/Atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
UNCHANGED = "— nothing was changed"
_ENTRY = re.compile(r"<(?:[\w.-]+:)?entry[\s>].*?</(?:[\w.-]+:)?entry>[ \t]*\n?", re.S)
_CATEGORY = re.compile(r"[a-z-]+\.[A-Za-z-]+|[a-z]+(?:-[a-z]+)+")  # cs.LG, math.AP, hep-th, astro-ph, q-bio


class FetchError(AssistantError, RuntimeError):
    """A fetch failed and wrote nothing; the message says what happened and what to do."""


@dataclass
class Written:
    """One source file a fetch wrote (or found already as fetched)."""

    path: Path
    papers: int
    status: str  # "new", "replaced" or "unchanged"

    def line(self) -> str:
        what = {"new": "wrote", "replaced": "replaced", "unchanged": "unchanged"}[self.status]
        return f"{what} {self.path} ({_n(self.papers, 'paper')})"


@dataclass
class FetchReport:
    """What a fetch did, for the CLI's lines and for tests."""

    source: str  # "arxiv" or "daily"
    query: str  # the arXiv search_query, or the day range
    requests: int = 0
    seen: int = 0  # entries (arXiv) or papers (daily) the responses held within the bounds
    new: int = 0  # papers saved that no earlier fetch had saved
    files: list[Written] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [w.line() for w in self.files]
        if self.source == "arxiv":
            looked = f"{_n(self.requests, 'request')}, {_n(self.seen, 'paper')} looked at, {self.new} new"
            out.append(f"arXiv {self.query}: {looked}" + ("" if self.files else ", nothing written"))
        else:
            changed = sum(w.status != "unchanged" for w in self.files)
            out.append(
                f"Daily Papers {self.query}: {_n(self.requests, 'request')}, {_n(self.seen, 'paper')}, "
                f"{_n(changed, 'day file')} written or replaced"
            )
        return out + self.notes


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# dates ------------------------------------------------------------------------------------


def parse_day(text: str, what: str = "the date") -> date:
    """A YYYY-MM-DD date, or a FetchError saying how to write one."""
    try:
        return date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise FetchError(f"{what} {text!r} is not a date; write it as YYYY-MM-DD, e.g. 2025-10-01") from None


def _utc(text: str | None) -> datetime | None:
    try:
        when = datetime.fromisoformat((text or "").strip())
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def _today() -> date:
    return datetime.now(UTC).date()


# HTTP -------------------------------------------------------------------------------------


class Polite:
    """GET with a User-Agent, a timeout, one request per delay per host, and retries."""

    def __init__(self, config: Config):
        self.delay = config.fetch_delay_s
        self.retries = config.fetch_retries
        self.timeout = config.fetch_timeout_s
        self.client = httpx.Client(
            headers={"User-Agent": config.user_agent}, timeout=config.fetch_timeout_s, follow_redirects=True
        )
        self.requests = 0
        self._last: dict[str, float] = {}  # host -> time.monotonic() its last response ended

    def close(self) -> None:
        self.client.close()

    def _wait_turn(self, host: str) -> None:
        last = self._last.get(host)
        if last is not None:
            gap = max(self.delay, HOST_DELAY.get(host, 0.0))
            remaining = last + gap - time.monotonic()
            if remaining > 0:
                time.sleep(remaining)

    def get(self, url: str, params: dict[str, Any], service: str) -> httpx.Response:
        """The response to GET ``url``: any status below 500 but 429, after up to ``retries``
        retries; a FetchError once they are spent, or when the server asks to wait too long."""
        host = urlsplit(url).hostname or url
        wait, failure, answered = 0.0, "", False
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(wait)
            self._wait_turn(host)
            backoff = max(self.delay, HOST_DELAY.get(host, 0.0), 0.1) * 2**attempt * (1 + random.random() / 2)
            try:
                self.requests += 1
                response = self.client.get(url, params=params)
                response.read()
            except httpx.TransportError as exc:
                failure = f"cannot reach {host} ({_reason(exc, self.timeout)}); check the network or try later"
                wait, answered = backoff, False
                continue
            finally:
                self._last[host] = time.monotonic()
            status = response.status_code
            if status != 429 and status < 500:
                return response
            asked, answered = _retry_after(response.headers.get("Retry-After")), True
            if status == 429:
                failure = f"{service} asked us to slow down (HTTP 429)"
            else:
                failure = f"{host} answered HTTP {status} ({response.reason_phrase or 'server error'})"
            if asked is not None and asked > MAX_RETRY_AFTER:
                raise FetchError(f"{failure}; try again in {math.ceil(asked)} s {UNCHANGED}")
            wait = max(asked or 0.0, backoff)
        tries = f"{self.retries + 1} tries" if self.retries else "one try"
        if answered:
            raise FetchError(f"{failure} after {tries}; try again in {max(1, math.ceil(wait))} s {UNCHANGED}")
        raise FetchError(f"{failure} {UNCHANGED}")


def _reason(exc: httpx.TransportError, timeout: float) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {timeout:g} s"
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", str(exc).strip().splitlines()[0] if str(exc).strip() else "")
    return (text or type(exc).__name__).rstrip(".")[:120]


def _retry_after(value: str | None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# state ------------------------------------------------------------------------------------


@contextmanager
def _fetching(config: Config) -> Iterator[dict]:
    """One fetch at a time per data dir; yields the state, saved on a clean exit only."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(config.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FetchError(
                f"another fetch into {config.data_dir} is running; wait for it to finish, then run this again"
            ) from None
        path = config.data_dir / STATE_FILE
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = {}
        if not isinstance(state, dict):
            state = {}
        if not isinstance(state.get("arxiv"), dict):
            state["arxiv"] = {}
        before = json.dumps(state, sort_keys=True)
        yield state
        if json.dumps(state, sort_keys=True) != before:
            _write_atomic(path, json.dumps(state, sort_keys=True).encode())
    finally:
        os.close(fd)


def _live_files(state: dict, folder: Path) -> Iterator[tuple[str, dict]]:
    """(query, file record) of every arXiv file the state names that still exists."""
    for query, record in state["arxiv"].items():
        for name, info in record.get("files", {}).items():
            if (folder / name).is_file():
                yield query, info


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all: a hidden temporary file, then a rename
    (the hidden name keeps a crashed write out of every ingest)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# arXiv ------------------------------------------------------------------------------------


def arxiv_query(text: str) -> str:
    """The arXiv API search_query for what the user typed: a bare category is ``cat:<it>``."""
    text = " ".join(text.split())
    if not text:
        raise FetchError(
            "the arXiv query is empty; give a category (cs.CL) or a search such as 'cat:cs.CL AND abs:rag'"
        )
    return f"cat:{text}" if _CATEGORY.fullmatch(text) else text


def slug(query: str) -> str:
    """A file-name form of a query: ``cat:cs.CL AND abs:rag`` is ``cat-cs-cl-and-abs-rag``."""
    return re.sub(r"[^a-z0-9]+", "-", query.lower()).strip("-")[:60].rstrip("-") or "query"


@dataclass
class _Entry:
    key: str  # the arXiv id, version folded; the entry's id when it has none
    published: datetime | None


def _read_feed(text: str, host: str, query: str) -> tuple[int | None, list[_Entry]]:
    """totalResults and the entries' ids and submission times; a FetchError for arXiv's error
    feed or for anything that is not an Atom feed."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise FetchError(
            f"{host} sent something that is not an Atom feed ({exc}); check arxiv_api_url {UNCHANGED}"
        ) from None
    if root.tag != f"{ATOM}feed":
        raise FetchError(f"{host} sent XML that is not an Atom feed; check arxiv_api_url {UNCHANGED}")
    entries = []
    for node in root.iter(f"{ATOM}entry"):
        entry_id = (node.findtext(f"{ATOM}id") or "").strip()
        if "/api/errors" in entry_id:
            message = " ".join((node.findtext(f"{ATOM}summary") or "unknown error").split()).rstrip(".")
            raise FetchError(f"arXiv rejected the query {query!r}: {message}; fix it (see {ARXIV_HELP}) {UNCHANGED}")
        arxiv_id, _ = arxiv_id_of(entry_id)
        entries.append(_Entry(arxiv_id or entry_id, _utc(node.findtext(f"{ATOM}published"))))
    total = (root.findtext(f"{OPENSEARCH}totalResults") or "").strip()
    return (int(total) if total.isdigit() else None), entries


def _arxiv_page(response: httpx.Response, host: str, search: str, url: str) -> tuple[int | None, list[_Entry]]:
    """The page's totalResults and entries; a FetchError for an error answer."""
    if response.status_code == 200:
        return _read_feed(response.text, host, search)
    try:
        _read_feed(response.text, host, search)  # arXiv's error feed says what was wrong with the query
    except FetchError as exc:
        if "arXiv rejected" in str(exc):
            raise
    raise FetchError(
        f"{host} answered HTTP {response.status_code} for {urlsplit(url).path}; check arxiv_api_url {UNCHANGED}"
    )


def _trimmed(text: str, keep: list[bool]) -> str:
    """The feed's text without the entries whose ``keep`` is False, everything else as sent."""
    spans = [m.span() for m in _ENTRY.finditer(text)]
    if len(spans) != len(keep):  # an entry this cannot find: keep the page whole
        return text
    out, pos = [], 0
    for (start, end), kept in zip(spans, keep):
        out.append(text[pos:start])
        if kept:
            out.append(text[start:end])
        pos = end
    out.append(text[pos:])
    return "".join(out)


@dataclass
class _Page:
    data: bytes  # what is saved: the response as sent, less the entries not kept
    new: list[str]  # the arXiv ids no earlier fetch saved
    newest: datetime | None  # the newest submission time among the entries looked at


def fetch_arxiv(
    config: Config,
    query: str,
    max_papers: int = 200,
    since: str | None = None,
    page_size: int = PAGE_SIZE,
    http: Polite | None = None,
) -> FetchReport:
    """Fetch the newest ``max_papers`` papers of an arXiv API query (or category) submitted on or
    after ``since`` (a YYYY-MM-DD date, or "last": after the newest paper the last fetch of this
    query looked at; a first "last" fetches the newest ``max_papers``), and save the pages holding
    papers no fetch saved before."""
    search = arxiv_query(query)
    if max_papers < 1:
        raise FetchError(f"--max {max_papers} fetches nothing; give a number of papers of at least 1")
    page_size = max(1, min(page_size, 2000))
    host = urlsplit(config.arxiv_api_url).hostname or config.arxiv_api_url
    folder = config.fetch_folder
    report = FetchReport("arxiv", search)
    client = http or Polite(config)
    try:
        with _fetching(config) as state:
            known = {key for _, info in _live_files(state, folder) for key in info.get("ids", ())}
            floor = _since_arxiv(since, search, state, folder)
            pages: list[_Page] = []
            seen: set[str] = set()
            start, total, older = 0, None, False
            while report.seen < max_papers and not older:
                params = {
                    "search_query": search,
                    "start": start,
                    "max_results": min(page_size, max_papers - report.seen),
                    "sortBy": "submittedDate",
                    "sortOrder": "descending",
                }
                response = client.get(config.arxiv_api_url, params, "arXiv")
                total, entries = _arxiv_page(response, host, search, config.arxiv_api_url)
                keep: list[bool] = []
                page = _Page(response.content, [], None)
                for entry in entries:
                    older = older or bool(floor and entry.published and entry.published < floor)
                    if older or entry.key in seen or report.seen >= max_papers:
                        keep.append(False)  # seen: arXiv's pages shift when papers arrive meanwhile
                        continue
                    seen.add(entry.key)
                    report.seen += 1
                    if entry.published and (page.newest is None or entry.published > page.newest):
                        page.newest = entry.published
                    keep.append(entry.key not in known)
                    if keep[-1]:
                        page.new.append(entry.key)
                if page.new:
                    if not all(keep):
                        page.data = _trimmed(response.text, keep).encode("utf-8")
                    pages.append(page)
                start += len(entries)
                if not entries and total is not None and start < total:
                    report.notes.append(
                        f"arXiv sent an empty page at {start} of {total} results (it sometimes does); "
                        "run this again to fetch the rest"
                    )
                if not entries or (total is not None and start >= total):
                    break
            more = total is None or start < total
            if floor and not older and more and report.seen >= max_papers:
                report.notes.append(
                    f"stopped at --max {max_papers} before reaching papers submitted before "
                    f"{floor:%Y-%m-%d %H:%M} UTC; to fetch those too, run again with a larger --max"
                )
            report.requests = client.requests
            report.new = sum(len(page.new) for page in pages)
            _save_pages(state, search, folder, pages, report)
    finally:
        if http is None:
            client.close()
    return report


def _since_arxiv(since: str | None, search: str, state: dict, folder: Path) -> datetime | None:
    if not since:
        return None
    if since.strip().lower() != "last":
        day = parse_day(since, "--since")
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    record = state["arxiv"].get(search, {})
    times = [
        _utc(info.get("newest"))
        for name, info in record.get("files", {}).items()
        if info.get("newest") and (folder / name).is_file()
    ]
    return max((t for t in times if t), default=None)


def _save_pages(state: dict, search: str, folder: Path, pages: list[_Page], report: FetchReport) -> None:
    now = datetime.now(UTC)
    record = state["arxiv"].setdefault(search, {"files": {}})
    record["fetched"] = now.isoformat(timespec="seconds")
    prefix = f"{slug(search)}-{now:%Y%m%dT%H%M%SZ}"
    taken = {p.name.rpartition("-p")[0] for p in (folder / "arxiv").glob(f"{prefix}*.atom")}
    n = 1
    while (prefix if n == 1 else f"{prefix}-{n}") in taken:  # the same query earlier in the same second
        n += 1
    prefix = prefix if n == 1 else f"{prefix}-{n}"
    for number, page in enumerate(pages, 1):
        name = f"arxiv/{prefix}-p{number}.atom"
        _write_atomic(folder / name, page.data)
        record["files"][name] = {"ids": page.new, "newest": page.newest.isoformat() if page.newest else None}
        report.files.append(Written(folder / name, len(page.new), "new"))
    record["files"] = {name: info for name, info in record["files"].items() if (folder / name).is_file()}


# Daily Papers -----------------------------------------------------------------------------


def fetch_daily(
    config: Config,
    date_from: str | None = None,
    date_to: str | None = None,
    since: str | None = None,
    http: Polite | None = None,
) -> FetchReport:
    """Fetch the Daily Papers of each day from ``date_from`` (or ``since``: a date, or "last":
    the newest day fetched before, asked again since its list grows through the day) to
    ``date_to`` (default: today, UTC), and save each day that lists papers."""
    folder = config.fetch_folder / "daily"
    last = parse_day(date_to, "--to") if date_to else _today()
    if since and date_from:
        raise FetchError("give --from or --since, not both; --since last resumes from the newest day fetched")
    if since and since.strip().lower() == "last":
        fetched = sorted(p.stem for p in folder.glob("*.json") if re.fullmatch(r"\d{4}-\d\d-\d\d", p.stem))
        first = date.fromisoformat(fetched[-1]) if fetched else last
    elif since or date_from:
        first = parse_day(since or date_from or "", "--since" if since else "--from")
    else:
        raise FetchError("say which days to fetch: --from YYYY-MM-DD [--to YYYY-MM-DD], or --since last")
    if first > last:
        raise FetchError(f"the range starts on {first} after it ends on {last}; give the earlier day first")
    days = (last - first).days + 1
    if days > MAX_DAYS:
        raise FetchError(f"{first} to {last} is {days} days; fetch at most {MAX_DAYS} days at once")
    report = FetchReport("daily", f"{first} to {last}" if days > 1 else str(first))
    host = urlsplit(config.daily_papers_url).hostname or config.daily_papers_url
    client = http or Polite(config)
    try:
        with _fetching(config):
            answers: list[tuple[date, bytes, int]] = []
            for offset in range(days):
                day = first + timedelta(days=offset)
                params = {"date": day.isoformat(), "limit": DAILY_LIMIT}
                response = client.get(config.daily_papers_url, params, "Hugging Face")
                if response.status_code != 200:
                    raise FetchError(
                        f"{host} answered HTTP {response.status_code} for the Daily Papers of {day}; "
                        f"check daily_papers_url {UNCHANGED}"
                    )
                try:
                    listed = response.json()
                except ValueError:
                    listed = None
                if not isinstance(listed, list):
                    raise FetchError(
                        f"{host} sent something that is not a Daily Papers list for {day}; "
                        f"check daily_papers_url {UNCHANGED}"
                    )
                answers.append((day, response.content, len(listed)))
                if len(listed) >= DAILY_LIMIT:
                    report.notes.append(f"{day}: {len(listed)} papers, the most one answer lists; some may be missing")
            report.requests = client.requests
            for day, data, count in answers:
                report.seen += count
                if not count:
                    report.notes.append(f"{day}: no papers listed")
                    continue
                path = folder / f"{day}.json"
                old = path.read_bytes() if path.is_file() else None
                if old == data:
                    report.files.append(Written(path, count, "unchanged"))
                    continue
                _write_atomic(path, data)
                report.files.append(Written(path, count, "replaced" if old is not None else "new"))
                report.new += count if old is None else 0
    finally:
        if http is None:
            client.close()
    return report
