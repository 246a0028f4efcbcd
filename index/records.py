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
    if title.isascii():  # most titles: nothing to fold, and the fold is a third of a snapshot's parse time
        folded = title
    else:
        folded = "".join(c for c in unicodedata.normalize("NFKD", title) if not unicodedata.combining(c))
    return _NON_WORD.sub(" ", folded.casefold()).strip() or " ".join(title.split())


_ARXIV = re.compile(
    r"(?:arxiv\.org/(?:abs|pdf)/|arxiv:\s*)?(?P<id>\d{4}\.\d{4,5}|[a-z][a-z.-]*(?:\.[A-Z]{2})?/\d{7})(?:v(?P<v>\d+))?(?:\.pdf)?$",
    re.I,
)
_DOI = re.compile(r"(10\.\d{4,9}/\S+)")


def arxiv_id_of(text: str | None) -> tuple[str | None, int | None]:
    """The arXiv id and version in an id, ``arXiv:`` reference or abs/pdf URL:
    ``"http://arxiv.org/abs/2401.12345v2"`` is ``("2401.12345", 2)``; anything else ``(None, None)``."""
    if not text:
        return None, None
    m = _ARXIV.search(text.strip())
    if not m:
        return None, None
    return m["id"].lower() if "/" not in m["id"] else m["id"], int(m["v"]) if m["v"] else None


def doi_of(text: str | None) -> str | None:
    """A DOI in its plain form (``https://doi.org/10.1/X`` and ``doi:10.1/X`` are ``10.1/x``):
    DOIs are case-insensitive, so lower case is the one spelling to match on."""
    if not text:
        return None
    m = _DOI.search(text.strip())
    return m[1].rstrip(".,;").lower() if m else None


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
    author_names: tuple[str, ...] = ()  # in the source's order, when the source names them
    arxiv_id: str | None = None  # "2401.12345" or "hep-th/9901001": the version folded (see arxiv_id_of)
    version: int | None = None  # the arXiv version this abstract is from (2 for v2), when known
    doi: str | None = None  # "10.1145/3292500.3330701": lower case, no resolver prefix (see doi_of)
    venue: str | None = None  # journal, proceedings or conference
    categories: tuple[str, ...] = ()  # arXiv categories, the primary one first
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
    left_out: int = 0  # entries read but not kept (``index.ingest.read_sources``'s ``keep``)

    def extend(self, other: ParseResult) -> None:
        self.papers.extend(other.papers)
        self.problems.extend(other.problems)
        self.left_out += other.left_out


def _richer(a: str | None, b: str | None) -> str | None:
    return b if (b and (not a or len(b) > len(a))) else a


def _ids(paper: Paper) -> tuple[str | None, str | None]:
    """The paper's arXiv id and DOI, where an arXiv DOI (10.48550/arXiv.X) counts as the arXiv id X."""
    doi = paper.doi.lower() if paper.doi else None
    if doi and doi.startswith("10.48550/arxiv."):
        return paper.arxiv_id or arxiv_id_of(doi.removeprefix("10.48550/arxiv."))[0], None
    return paper.arxiv_id, doi


def identity_keys(paper: Paper) -> list[tuple[str, str]]:
    """What makes two entries one paper, strongest first: the arXiv id (versions folded), the
    DOI, the normalised title."""
    arxiv, doi = _ids(paper)
    keys = [("arxiv", arxiv)] if arxiv else []
    keys += [("doi", doi)] if doi else []
    return keys + [("title", normalise_title(paper.title))]


def _conflict(a: Paper, b: Paper) -> bool:
    """Two entries with different arXiv ids (or DOIs) are two papers, whatever their titles."""
    (arxiv_a, doi_a), (arxiv_b, doi_b) = _ids(a), _ids(b)
    return bool((arxiv_a and arxiv_b and arxiv_a != arxiv_b) or (doi_a and doi_b and doi_a != doi_b))


def _combine(seen: Paper, entry: Paper) -> Paper:
    """One paper from two entries of it: the newest abstract version (the longer abstract when
    neither is newer), the richest metadata, every source."""
    newer = (entry.version or 0) > (seen.version or 0)
    text = entry if newer or (entry.version == seen.version and len(entry.abstract) > len(seen.abstract)) else seen
    dated = entry if (entry.date and not seen.date) else seen
    names = entry.author_names if len(entry.author_names) > len(seen.author_names) else seen.author_names
    return replace(
        seen,
        title=text.title if newer else seen.title,
        abstract=text.abstract,
        version=max(seen.version or 0, entry.version or 0) or None,
        authors=len(names) if names else seen.authors or entry.authors,
        author_names=names,
        organization=seen.organization or entry.organization,
        date_text=dated.date_text or seen.date_text or entry.date_text,
        date=dated.date,
        upvotes=max(seen.upvotes or 0, entry.upvotes or 0) or None,
        url=seen.url or entry.url,
        arxiv_id=seen.arxiv_id or entry.arxiv_id,
        doi=seen.doi or entry.doi,
        venue=_richer(seen.venue, entry.venue),
        categories=tuple(dict.fromkeys(seen.categories + entry.categories)),
        sources=seen.sources + tuple(s for s in entry.sources if s not in seen.sources),
    )


def merge(entries: list[Paper]) -> list[Paper]:
    """One paper per identity (see ``identity_keys``): an entry joins the paper it shares its
    arXiv id with, else its DOI, else its normalised title, unless their arXiv ids or DOIs differ.

    The first entry of a paper gives its id; order follows first appearance, so ids and ranks are
    stable across runs.
    """
    merged: list[Paper] = []
    owner: dict[tuple[str, str], int] = {}
    for entry in entries:
        keys = identity_keys(entry)
        slot = next((owner[k] for k in keys if k in owner and not _conflict(merged[owner[k]], entry)), None)
        if slot is None:
            slot = len(merged)
            merged.append(entry)
        else:
            merged[slot] = _combine(merged[slot], entry)
        for key in identity_keys(merged[slot]) + keys:
            owner.setdefault(key, slot)
    return merged
