"""Standing questions (watches): a question kept in the data folder, and after every ingest the
papers that are new since the watch last looked and that answer it.

The watches and what each has reported live in a small SQLite file beside the index
(``watches.sqlite3`` in the data folder, WAL, one connection per call). A paper is new to a watch
when it entered the index (its ``added_at``, as the digest reads windows) at or after the watch's
last look; the papers of the second of the last look that it already saw are kept (``edge``), so
one second's papers are looked at once. A new paper answers the watch when the best cosine between
the question and one of its stored chunks (the dense similarity retrieval uses) reaches
``watch_threshold``. A check holds the ingest lock while it reads, so no ingest is half-written
under it; ``reported`` has the primary key (watch, paper), and a check reports only the rows it
inserted, so a paper is reported once per watch even when two checks run at once.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from index.errors import AssistantError
from index.store import added_text

FILE = "watches.sqlite3"
PLACES = ("python", "cli", "ui", "http", "mcp", "slack", "chat")
SCHEMA = """
CREATE TABLE IF NOT EXISTS watches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    question TEXT NOT NULL,
    created INTEGER NOT NULL,
    place TEXT NOT NULL,
    channel TEXT,
    thread TEXT,
    checked INTEGER NOT NULL,
    edge TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS reported (
    watch INTEGER NOT NULL REFERENCES watches(id) ON DELETE CASCADE,
    paper TEXT NOT NULL,
    at INTEGER NOT NULL,
    title TEXT NOT NULL,
    contribution TEXT NOT NULL,
    citation TEXT NOT NULL,
    url TEXT,
    score REAL NOT NULL,
    added INTEGER,
    delivered INTEGER,
    PRIMARY KEY (watch, paper)
);
"""


class WatchError(AssistantError, ValueError):
    """A watch that does not exist, or an id that is no watch's; the message says what to give."""


@dataclass(frozen=True)
class Watch:
    """A standing question: where it was set (``python``, ``cli``, ``ui``, ``http``, ``mcp``, or a
    chat such as ``slack`` with its channel and thread) and when it last looked for new papers."""

    id: int
    question: str
    created: str  # UTC ISO
    where: str
    checked: str  # UTC ISO: papers added from then on are new to it
    channel: str | None = None
    thread: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WatchPaper:
    """A paper a watch reported: what it does (one sentence of its abstract) and how to cite it."""

    paper_id: str
    title: str
    contribution: str
    citation: str  # the title and its byline: authors or organisation, date, venue, arXiv id, DOI
    url: str | None
    score: float  # the best cosine between the question and one of the paper's chunks
    added: str | None  # when it entered the index (UTC ISO)
    reported: str  # when the watch reported it (UTC ISO)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WatchReport:
    """A watch and papers it reported: the new ones of a check, or all of them (``papers``)."""

    watch: Watch
    papers: tuple[WatchPaper, ...] = ()

    def headline(self) -> str:
        """'watch 1: 2 new papers (LLM agents that learn reusable skills)'."""
        n = len(self.papers)
        return f"watch {self.watch.id}: {n} new paper{'' if n == 1 else 's'} ({self.watch.question})"

    def to_dict(self) -> dict[str, Any]:
        return {"watch": self.watch.to_dict(), "papers": [p.to_dict() for p in self.papers]}

    def to_text(self) -> str:
        """The headline, then a line per paper with what it does: what the command line prints."""
        lines = [self.headline()]
        for p in self.papers:
            lines.append(f"  - {p.citation}" + (f" {p.url}" if p.url else ""))
            lines.append(f"    {p.contribution}")
        return "\n".join(lines)

    def to_atom(self, link: str | None = None) -> str:
        """An Atom 1.0 feed, one entry per reported paper (newest first): id, title, link, updated,
        and a summary holding what the paper does and its citation. ``link``: the feed's own URL."""
        wid = f"urn:paper-assistant:watch:{self.watch.id}"
        papers = sorted(self.papers, key=lambda p: (p.reported, p.paper_id), reverse=True)
        updated = papers[0].reported if papers else self.watch.checked
        head = [
            '<?xml version="1.0" encoding="utf-8"?>',
            '<feed xmlns="http://www.w3.org/2005/Atom">',
            f"  <id>{wid}</id>",
            f"  <title>{escape(f'Papers for: {self.watch.question}')}</title>",
            f"  <subtitle>{escape(f'New papers that answer watch {self.watch.id}')}</subtitle>",
            f"  <updated>{updated}</updated>",
            "  <author><name>paper-assistant</name></author>",
            '  <generator uri="https://pypi.org/project/paper-assistant/">paper-assistant</generator>',
        ]
        if link:
            head.append(f'  <link rel="self" type="application/atom+xml" href={quoteattr(link)}/>')
        entries = []
        for p in papers:
            summary = _xml_text(f"{p.contribution} ({p.citation})")
            entries += [
                "  <entry>",
                f"    <id>{escape(f'{wid}:paper:{p.paper_id}')}</id>",
                f"    <title>{escape(_xml_text(p.title))}</title>",
                *([f'    <link rel="alternate" href={quoteattr(p.url)}/>'] if p.url else []),
                f"    <updated>{p.reported}</updated>",
                f"    <published>{p.added or p.reported}</published>",
                f'    <summary type="text">{escape(summary)}</summary>',
                "  </entry>",
            ]
        return "\n".join([*head, *entries, "</feed>"]) + "\n"


def watch_id(value: Any) -> int:
    """A watch id as given ("3", "#3", 3); anything else is a WatchError saying what to give."""
    text = str(value).strip().lstrip("#") if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not text.isdigit() or int(text) < 1:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise WatchError(f"{shown} is not a watch id; give the number the list of watches shows")
    return int(text)


class WatchBook:
    """The watches file: one connection per call, so threads and processes share it safely."""

    def __init__(self, data_dir: Path):
        self.path = data_dir / FILE

    def exists(self) -> bool:
        return self.path.exists()

    @contextmanager
    def _db(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.executescript(SCHEMA)
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def add(
        self, question: str, where: str, channel: str | None, thread: str | None, now: int, edge: list[str]
    ) -> Watch:
        with self._db(write=True) as db:
            cur = db.execute(
                "INSERT INTO watches (question, created, place, channel, thread, checked, edge) VALUES (?,?,?,?,?,?,?)",
                (question, now, where, channel, thread, now, json.dumps(edge)),
            )
            row = db.execute("SELECT * FROM watches WHERE id = ?", (cur.lastrowid,)).fetchone()
        return _watch(row)

    def all(self) -> list[tuple[Watch, int, list[str]]]:
        """Every watch, oldest first, with its last look (epoch s) and the papers of that second it saw."""
        if not self.exists():
            return []
        with self._db() as db:
            rows = db.execute("SELECT * FROM watches ORDER BY id").fetchall()
        return [(_watch(r), int(r[6]), json.loads(r[7])) for r in rows]

    def get(self, wid: int) -> Watch:
        with self._db() as db:
            row = db.execute("SELECT * FROM watches WHERE id = ?", (wid,)).fetchone()
        if row is None:
            raise _unknown(wid)
        return _watch(row)

    def remove(self, wid: int) -> Watch:
        with self._db(write=True) as db:
            row = db.execute("SELECT * FROM watches WHERE id = ?", (wid,)).fetchone()
            if row is None:
                raise _unknown(wid)
            db.execute("DELETE FROM reported WHERE watch = ?", (wid,))
            db.execute("DELETE FROM watches WHERE id = ?", (wid,))
        return _watch(row)

    def record(self, wid: int, papers: list[WatchPaper], checked: int, edge: list[str]) -> WatchReport | None:
        """Store a check's matches and move the watch's last look to ``checked``; the report holds
        only the papers not reported before (None when the watch was removed meanwhile)."""
        new = []
        with self._db(write=True) as db:
            if db.execute("SELECT 1 FROM watches WHERE id = ?", (wid,)).fetchone() is None:
                return None
            for p in papers:
                cur = db.execute(
                    "INSERT OR IGNORE INTO reported (watch, paper, at, title, contribution, citation, url, score, "
                    "added) VALUES (?,?,?,?,?,?,?,?,?)",
                    (wid, p.paper_id, _epoch(p.reported), p.title, p.contribution, p.citation, p.url, p.score,
                     _epoch(p.added) if p.added else None),
                )  # fmt: skip
                if cur.rowcount == 1:
                    new.append(p)
            db.execute("UPDATE watches SET checked = ?, edge = ? WHERE id = ?", (checked, json.dumps(edge), wid))
            row = db.execute("SELECT * FROM watches WHERE id = ?", (wid,)).fetchone()
        return WatchReport(_watch(row), tuple(new))

    def reported(self, wid: int) -> WatchReport:
        """The watch and every paper it has reported, oldest report first."""
        with self._db() as db:
            row = db.execute("SELECT * FROM watches WHERE id = ?", (wid,)).fetchone()
            if row is None:
                raise _unknown(wid)
            papers = db.execute(f"SELECT {_PAPER} FROM reported WHERE watch = ? ORDER BY at, paper", (wid,)).fetchall()
        return WatchReport(_watch(row), tuple(_paper(p) for p in papers))

    def deliver(self, where: str, send: Callable[[WatchReport], Any]) -> int:
        """Hand each watch set in ``where`` its reported papers not yet delivered, as one report;
        they are claimed first (so two deliverers never send one twice) and released again when
        ``send`` raises. Returns how many papers were delivered."""
        if not self.exists():
            return 0
        with self._db(write=True) as db:
            rows = db.execute(
                f"SELECT r.watch, {_PAPER} FROM reported r JOIN watches w ON w.id = r.watch "
                "WHERE w.place = ? AND r.delivered IS NULL ORDER BY r.watch, r.at, r.paper",
                (where,),
            ).fetchall()
            db.execute(
                "UPDATE reported SET delivered = ? WHERE delivered IS NULL AND watch IN "
                "(SELECT id FROM watches WHERE place = ?)",
                (int(time.time()), where),
            )
        groups = [(wid, tuple(_paper(r[1:]) for r in rows if r[0] == wid)) for wid in dict.fromkeys(r[0] for r in rows)]
        delivered = 0
        failed: Exception | None = None
        for wid, papers in groups:
            try:
                send(WatchReport(self.get(wid), papers))
                delivered += len(papers)
            except WatchError:  # removed meanwhile: nothing to deliver to
                pass
            except Exception as exc:  # this watch's papers wait for the next call; the others go on
                failed = failed or exc
                with self._db(write=True) as db:
                    db.executemany(
                        "UPDATE reported SET delivered = NULL WHERE watch = ? AND paper = ?",
                        [(wid, p.paper_id) for p in papers],
                    )
        if failed is not None and not delivered:
            raise failed
        return delivered


_PAPER = "paper, title, contribution, citation, url, score, added, at"
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids (a feed with one is unreadable)."""
    return _NOT_XML.sub("", text)


def _paper(row: Any) -> WatchPaper:
    return WatchPaper(
        paper_id=row[0],
        title=row[1],
        contribution=row[2],
        citation=row[3],
        url=row[4],
        score=round(float(row[5]), 4),
        added=added_text(row[6]) if row[6] is not None else None,
        reported=added_text(row[7]),
    )


def _watch(row: Any) -> Watch:
    return Watch(
        id=int(row[0]),
        question=row[1],
        created=added_text(row[2]),
        where=row[3],
        channel=row[4],
        thread=row[5],
        checked=added_text(row[6]),
    )


def _epoch(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _unknown(wid: int) -> WatchError:
    return WatchError(f"there is no watch {wid}; list the watches to see their ids")
