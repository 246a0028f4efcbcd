"""A local stand-in for the arXiv API and the Hugging Face Daily Papers API, on 127.0.0.1.

It answers in each service's own format, so ``assistant fetch`` is tested without the network:

* ``GET /api/query``: an arXiv API Atom feed honouring ``search_query`` (``cat:``, ``ti:``,
  ``abs:``, ``au:``, ``all:`` terms joined by ``AND``; a bare category), ``start``,
  ``max_results``, ``sortBy=submittedDate`` and ``sortOrder``, with the opensearch
  ``totalResults``/``startIndex``/``itemsPerPage``; a bad parameter gets arXiv's error feed
  (HTTP 400, one entry whose id is ``http://arxiv.org/api/errors#...``).
* ``GET /api/daily_papers?date=YYYY-MM-DD[&limit=N]``: the Daily Papers JSON array of that day.

Faults are scripted (``fail_next``: answer the next requests with 429 or 503 and a Retry-After;
``fail_always``), and every request is recorded with its arrival time and User-Agent.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

ATOM_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
    'xmlns:arxiv="http://arxiv.org/schemas/atom">\n'
)


@dataclass
class ArxivPaper:
    """One paper as the arXiv API describes it."""

    arxiv_id: str  # "2510.01234"
    title: str
    summary: str
    published: datetime  # the first version's submission time (UTC)
    authors: tuple[str, ...] = ("A. Author",)
    categories: tuple[str, ...] = ("cs.CL",)  # the primary one first
    version: int = 1
    comment: str | None = None

    def entry(self) -> str:
        when = self.published.strftime("%Y-%m-%dT%H:%M:%SZ")
        abs_url = f"http://arxiv.org/abs/{self.arxiv_id}v{self.version}"
        lines = [
            "  <entry>",
            f"    <id>{abs_url}</id>",
            f"    <title>{escape(self.title)}</title>",
            f"    <updated>{when}</updated>",
            f'    <link href="https://arxiv.org/abs/{self.arxiv_id}v{self.version}" rel="alternate" type="text/html"/>',
            f'    <link href="https://arxiv.org/pdf/{self.arxiv_id}v{self.version}" rel="related" '
            'type="application/pdf" title="pdf"/>',
            f"    <summary>  {escape(self.summary)}\n</summary>",
            *(f'    <category term="{c}" scheme="http://arxiv.org/schemas/atom"/>' for c in self.categories),
            f"    <published>{when}</published>",
            *([f"    <arxiv:comment>{escape(self.comment)}</arxiv:comment>"] if self.comment else []),
            f'    <arxiv:primary_category term="{self.categories[0]}"/>',
            *(f"    <author>\n      <name>{escape(a)}</name>\n    </author>" for a in self.authors),
            "  </entry>",
        ]
        return "\n".join(lines) + "\n"


def arxiv_feed(query_text: str, papers: list[ArxivPaper], total: int, start: int, per_page: int) -> str:
    """An arXiv API response: the feed's head, the opensearch counts and one entry per paper."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    head = [
        f"  <id>https://arxiv.org/api/{abs(hash(query_text)) % 10**12:012d}</id>",
        f"  <title>arXiv Query: {escape(query_text)}</title>",
        f"  <updated>{now}</updated>",
        f'  <link href={quoteattr("https://arxiv.org/api/query?" + query_text)} type="application/atom+xml"/>',
        f"  <opensearch:itemsPerPage>{per_page}</opensearch:itemsPerPage>",
        f"  <opensearch:totalResults>{total}</opensearch:totalResults>",
        f"  <opensearch:startIndex>{start}</opensearch:startIndex>",
    ]
    return ATOM_HEAD + "\n".join(head) + "\n" + "".join(p.entry() for p in papers) + "</feed>\n"


def arxiv_error_feed(message: str) -> str:
    """arXiv's answer to a bad request: a feed of one entry titled Error."""
    anchor = re.sub(r"\W+", "_", message)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        ATOM_HEAD
        + f"  <id>https://arxiv.org/api/errors</id>\n  <title>Error</title>\n  <updated>{now}</updated>\n"
        + "  <opensearch:itemsPerPage>1</opensearch:itemsPerPage>\n"
        + "  <opensearch:totalResults>1</opensearch:totalResults>\n"
        + "  <opensearch:startIndex>0</opensearch:startIndex>\n"
        + f"  <entry>\n    <id>http://arxiv.org/api/errors#{anchor}</id>\n    <title>Error</title>\n"
        + f"    <summary>{escape(message)}</summary>\n    <updated>{now}</updated>\n"
        + f'    <link href="http://arxiv.org/api/errors#{anchor}" rel="alternate" type="text/html"/>\n'
        + "    <author>\n      <name>arXiv api core</name>\n    </author>\n  </entry>\n</feed>\n"
    )


_FIELDS = {"ti", "au", "abs", "cat", "all", "co", "jr", "rn", "id"}
_CATEGORY = re.compile(r"[a-z-]+(\.[A-Za-z-]+)?")


def matcher(search_query: str):
    """A predicate over ArxivPaper for an arXiv search_query (terms joined by AND), or a
    ValueError naming what arXiv would reject."""
    tests = []
    for term in re.split(r"\s+AND\s+", search_query.strip()):
        term = term.strip().strip("()")
        if ":" not in term:
            if not _CATEGORY.fullmatch(term):
                raise ValueError(f"malformed search_query term {term}")
            prefix, value = "all", term
        else:
            prefix, _, value = term.partition(":")
        if prefix not in _FIELDS:
            raise ValueError(f"unknown field prefix {prefix}")
        value = value.strip('"').lower()

        def test(p: ArxivPaper, prefix=prefix, value=value) -> bool:
            if prefix == "cat":
                return value in (c.lower() for c in p.categories)
            text = {
                "ti": p.title,
                "abs": p.summary,
                "au": " ".join(p.authors),
                "id": p.arxiv_id,
            }.get(prefix, f"{p.title} {p.summary} {' '.join(p.authors)} {' '.join(p.categories)}")
            return all(word in text.lower() for word in value.split())

        tests.append(test)
    return lambda paper: all(t(paper) for t in tests)


@dataclass
class Request:
    """One request the stand-in received."""

    at: float  # time.monotonic() on arrival
    path: str
    params: dict[str, str]
    user_agent: str | None


@dataclass
class Fault:
    status: int
    retry_after: str | None = None
    path: str | None = None  # only requests to this path; None: any


@dataclass
class StandIn:
    """The two services on one local port; ``url`` is the base, e.g. ``http://127.0.0.1:PORT``."""

    papers: list[ArxivPaper] = field(default_factory=list)
    daily: dict[str, list[dict]] = field(default_factory=dict)  # "2025-10-01" -> the day's JSON array

    def __post_init__(self):
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.always: Fault | None = None
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                stand_in._answer(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.arxiv_url = f"{self.url}/api/query"
        self.daily_url = f"{self.url}/api/daily_papers"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # scripting
    def fail_next(self, status: int, retry_after: str | None = None, times: int = 1, path: str | None = None) -> None:
        """Answer the next ``times`` requests (to ``path``, if given) with ``status``."""
        with self.lock:
            self.faults.extend(Fault(status, retry_after, path) for _ in range(times))

    def fail_always(self, status: int, retry_after: str | None = None) -> None:
        self.always = Fault(status, retry_after)

    def to(self, path: str) -> list[Request]:
        """The requests to ``path`` so far, in order of arrival."""
        with self.lock:
            return [r for r in self.requests if r.path == path]

    # answering
    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        with self.lock:
            self.requests.append(Request(time.monotonic(), parts.path, params, handler.headers.get("User-Agent")))
            fault = next((f for f in self.faults if f.path in (None, parts.path)), None)
            if fault is not None:
                self.faults.remove(fault)
            fault = fault or self.always
        if fault is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            body = b"Rate exceeded." if fault.status == 429 else b"Service Unavailable"
            return _send(handler, fault.status, body, "text/plain", headers)
        if parts.path == "/api/query":
            status, body = self._arxiv(params)
            return _send(handler, status, body.encode(), "application/atom+xml; charset=utf-8")
        if parts.path == "/api/daily_papers":
            status, payload = self._daily(params)
            return _send(handler, status, json.dumps(payload).encode(), "application/json; charset=utf-8")
        return _send(handler, 404, b"Not Found", "text/plain")

    def _arxiv(self, params: dict[str, str]) -> tuple[int, str]:
        query_text = "&".join(f"{k}={v}" for k, v in params.items())
        try:
            start = int(params.get("start", "0"))
            per_page = int(params.get("max_results", "10"))
            if start < 0:
                raise ValueError("start must be non-negative")
            if not 0 <= per_page <= 2000:
                raise ValueError("max_results must be between 0 and 2000")
            match = matcher(params.get("search_query", ""))
            sort_by = params.get("sortBy", "relevance")
            if sort_by not in ("relevance", "lastUpdatedDate", "submittedDate"):
                raise ValueError(f"unknown sortBy {sort_by}")
            order = params.get("sortOrder", "descending")
            if order not in ("ascending", "descending"):
                raise ValueError(f"unknown sortOrder {order}")
        except ValueError as exc:
            return 400, arxiv_error_feed(str(exc))
        with self.lock:
            found = [p for p in self.papers if match(p)]
        if sort_by != "relevance":
            found.sort(key=lambda p: (p.published, p.arxiv_id), reverse=order == "descending")
        return 200, arxiv_feed(query_text, found[start : start + per_page], len(found), start, per_page)

    def _daily(self, params: dict[str, str]) -> tuple[int, object]:
        day = params.get("date", datetime.now(UTC).date().isoformat())
        try:
            datetime.strptime(day, "%Y-%m-%d")
            limit = int(params.get("limit", "50"))
            if not 1 <= limit <= 100:
                raise ValueError
        except ValueError:
            return 400, {"error": "Invalid parameters"}
        with self.lock:
            return 200, list(self.daily.get(day, []))[:limit]


def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, kind: str, headers: dict | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", kind)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def daily_item(
    arxiv_id: str,
    title: str,
    summary: str,
    day: str,
    authors: tuple[str, ...] = ("A. Author",),
    upvotes: int = 0,
    organization: str | None = None,
    comments: int = 0,
) -> dict:
    """One element of the Daily Papers array, shaped as huggingface.co/api/daily_papers answers."""
    posted = f"{day}T13:00:00.000Z"
    paper: dict = {
        "id": arxiv_id,
        "authors": [{"_id": f"{arxiv_id}-{i}", "name": name, "hidden": False} for i, name in enumerate(authors)],
        "publishedAt": f"{day}T09:00:00.000Z",
        "submittedOnDailyAt": posted,
        "title": title,
        "summary": summary,
        "upvotes": upvotes,
        "discussionId": f"d{arxiv_id}",
        "ai_summary": summary.split(".")[0] + ".",
        "ai_keywords": [],
    }
    item: dict = {
        "paper": paper,
        "publishedAt": posted,
        "title": title,
        "summary": summary,
        "thumbnail": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{arxiv_id}.png",
        "numComments": comments,
        "submittedBy": {"_id": "u1", "fullname": "A Submitter", "name": "submitter", "type": "user"},
        "isAuthorParticipating": False,
    }
    if organization:
        org = {"_id": "o1", "name": organization.lower().replace(" ", "-"), "fullname": organization}
        paper["organization"] = item["organization"] = org
    return item
