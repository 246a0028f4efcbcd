"""The record types both halves share: a paper, a chunk of one, and a skipped input."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field, replace

_NON_WORD = re.compile(r"[\W_]+")


def normalise_title(title: str) -> str:
    """Fold case, accents and punctuation so the same paper matches across pages. Letters of
    every script count ("深度学习" is not the empty string); a title of symbols only is kept as is."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", title) if not unicodedata.combining(c))
    return _NON_WORD.sub(" ", folded.casefold()).strip() or " ".join(title.split())


def paper_id_for(title: str) -> str:
    """A stable id derived from the normalised title (12 hex digits)."""
    return hashlib.sha1(normalise_title(title).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Paper:
    """One paper: the unit of citation."""

    paper_id: str
    title: str
    abstract: str
    authors: int | None = None  # number of authors, when the page gives it
    organization: str | None = None  # the organisation line, when the page gives one instead
    date_text: str | None = None  # the date as written ("Mar 19", "Oct 1, 2025")
    date: str | None = None  # ISO date, only when the year is known
    upvotes: int | None = None
    url: str | None = None
    # "file:line" of every entry merged into this paper, as parsed; in the index, the files only, named
    # relative to the folder ingested (see index.ingest.located)
    sources: tuple[str, ...] = ()

    @property
    def text_hash(self) -> str:
        """Hash of what gets embedded: a change here means re-embedding."""
        return hashlib.sha1(f"{self.title}\n{self.abstract}".encode()).hexdigest()[:16]

    @property
    def year(self) -> int | None:
        return int(self.date[:4]) if self.date else None


@dataclass(frozen=True)
class Chunk:
    """A sentence-aligned window of one paper's abstract, prefixed with its title for embedding."""

    chunk_id: str
    paper_id: str
    index: int
    text: str  # what is embedded: title + window
    start: int  # character span of the window inside the abstract
    end: int


def chunk_id(paper_id: str, text_hash: str, index: int) -> str:
    """The id of a paper's ``index``-th chunk: the paper id, its text version, the position."""
    return f"{paper_id}:{text_hash[:8]}:{index}"


def paper_of_chunk(chunk_id: str) -> str:
    """The paper id in a chunk id (see ``chunk_id``)."""
    return chunk_id.rsplit(":", 2)[0]


@dataclass(frozen=True)
class Problem:
    """An input that was skipped, with where it was and why."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass
class ParseResult:
    """What a parser returns: the entries it read and the ones it skipped."""

    papers: list[Paper] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def extend(self, other: ParseResult) -> None:
        self.papers.extend(other.papers)
        self.problems.extend(other.problems)


def _richer(a: str | None, b: str | None) -> str | None:
    return b if (b and (not a or len(b) > len(a))) else a


def merge(entries: list[Paper]) -> list[Paper]:
    """Dedupe entries by normalised title: keep the longest abstract and merge the metadata.

    Order follows first appearance, so ids and ranks are stable across runs.
    """
    merged: dict[str, Paper] = {}
    for entry in entries:
        key = normalise_title(entry.title)
        seen = merged.get(key)
        if seen is None:
            merged[key] = entry
            continue
        dated = entry if (entry.date and not seen.date) else seen
        merged[key] = replace(
            seen,
            abstract=_richer(seen.abstract, entry.abstract) or "",
            authors=seen.authors or entry.authors,
            organization=seen.organization or entry.organization,
            date_text=dated.date_text or seen.date_text or entry.date_text,
            date=dated.date,
            upvotes=max(seen.upvotes or 0, entry.upvotes or 0) or None,
            url=seen.url or entry.url,
            sources=seen.sources + tuple(s for s in entry.sources if s not in seen.sources),
        )
    return list(merged.values())
