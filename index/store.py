"""The one module that talks to Chroma: client, collections, writes, reads and queries.

Two collections: ``<name>-chunks`` holds one embedding per abstract window and
``<name>-papers`` one record per paper (the abstract, its metadata, the content hashes and
a title embedding). A paper's record is written after its chunks, so it doubles as the
commit marker: chunks without a matching paper record are orphans and are swept away.

``ingest --rebuild`` writes a new pair (``<name>.r<tag>-papers`` and ``-chunks``) beside the live
one, which keeps answering; when the new pair is complete, one metadata write on the pointer
collection ``<name>.live`` makes it live. A kill at any moment therefore leaves one complete pair
live; pairs that are neither live nor just replaced are dropped by the next ingest.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import re
import shutil
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from index.config import Config
from index.embed import vector_variant
from index.errors import AssistantError
from index.records import Chunk, Paper, chunk_id, doi_of, paper_of_chunk

WRITE_BATCH = 1000
READ_PAGE = 5000  # records per get() when reading a whole collection
RETIRED_SECONDS = 600.0  # a pair a rebuild replaced is kept this long, for readers still on it


class StoreError(AssistantError, RuntimeError):
    """The store is missing, unreachable or unreadable; the message says what to do."""


def _damaged(location: str, exc: BaseException) -> StoreError:
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return StoreError(
        f"the store in {location} is damaged or unreadable ({reason}); rebuild it with `assistant ingest --rebuild`"
    )


@contextmanager
def _guard(location: str) -> Iterator[None]:
    """Turn Chroma's failures on a damaged store (its errors, or a panic of its Rust core, which is
    no Exception) into a StoreError that names the command that rebuilds the store."""
    from chromadb.errors import ChromaError

    try:
        yield
    except ChromaError as exc:
        raise _damaged(location, exc) from None
    except BaseException as exc:
        if type(exc).__name__ != "PanicException":
            raise
        raise _damaged(location, exc) from None


class _Guarded:
    """A Chroma collection whose calls fail with StoreError (see ``_guard``)."""

    def __init__(self, collection: Any, location: str):
        self._collection = collection
        self._location = location

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._collection, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with _guard(self._location):
                return attr(*args, **kwargs)

        return call


@dataclass(frozen=True)
class Hit:
    """One nearest-neighbour result."""

    paper_id: str
    similarity: float  # cosine similarity, 1 is identical


class FilterError(AssistantError, ValueError):
    """A filter value is malformed; the message names the value and the forms accepted."""


DATE_FORMS = "YYYY, YYYY-MM or YYYY-MM-DD (for example 2024, 2024-05 or 2024-05-31)"
_PARTIAL_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")


def filter_date(value: object, which: str, end: bool = False) -> str:
    """``value`` (YYYY, YYYY-MM or YYYY-MM-DD) as the ISO date that bounds a range: the first day it
    names, or with ``end`` the last one ("2024-02" -> 2024-02-29). Raises FilterError otherwise."""
    text = value.strip() if isinstance(value, str) else ""
    m = _PARTIAL_DATE.fullmatch(text)
    try:
        if not m:
            raise ValueError
        year, month = int(m[1]), int(m[2] or (12 if end else 1))
        day = int(m[3]) if m[3] else (calendar.monthrange(year, month)[1] if end else 1)
        return date(year, month, day).isoformat()
    except ValueError:  # calendar.IllegalMonthError is one too
        raise FilterError(f"the {which} date {_shown(value)} is not a date; write it as {DATE_FORMS}") from None


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_CATEGORY = re.compile(r"[a-z][a-z-]*(?:\.[a-z][a-z-]*)?", re.I)
_WORD = re.compile(r"\w+")


def category_keys(categories: Iterable[str]) -> list[str]:
    """What a category filter matches on: each category and its archive, lower case
    (``cs.LG`` gives ``cs.lg`` and ``cs``, so "cs" finds every computer-science paper)."""
    keys: dict[str, None] = {}
    for c in categories:
        keys[c.lower()] = None
        keys[c.lower().split(".")[0]] = None
    return list(keys)


def _in_category(key: str, categories: Iterable[str]) -> bool:
    """``key in category_keys(categories)``, without building the keys: run for every paper when a
    filter is evaluated in memory."""
    return any((c := cat.lower()) == key or c.split(".", 1)[0] == key for cat in categories)


def venue_words(venue: str) -> list[str]:
    """The words of a venue, lower case: a venue filter matches when all its words are there."""
    return list(dict.fromkeys(w.casefold() for w in _WORD.findall(venue)))


@dataclass(frozen=True)
class Filters:
    """Metadata filters on papers, checked when built: dates are YYYY, YYYY-MM or YYYY-MM-DD and
    are stored as the ISO day that bounds the range ("2024" from is 2024-01-01, to is 2024-12-31);
    the start is not after the end; an organisation is non-empty text; a category is an arXiv
    category or archive (``cs.LG``, ``cs``); a venue is words all found in the paper's venue
    ("NeurIPS" matches "NeurIPS 2024"); a DOI is a DOI. A bad value raises FilterError naming it.
    Papers with no known year never match a date filter. Matching ignores case."""

    date_from: str | None = None
    date_to: str | None = None
    organization: str | None = None
    category: str | None = None
    venue: str | None = None
    doi: str | None = None

    def __post_init__(self) -> None:
        if self.date_from is not None:
            object.__setattr__(self, "date_from", filter_date(self.date_from, "start"))
        if self.date_to is not None:
            object.__setattr__(self, "date_to", filter_date(self.date_to, "end", end=True))
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise FilterError(
                f"the start date {self.date_from} is after the end date {self.date_to}; give the earlier date first"
            )
        if self.organization is not None:
            if not isinstance(self.organization, str) or not self.organization.strip():
                raise FilterError(f"the organisation {_shown(self.organization)} is not a name; give it as text")
            object.__setattr__(self, "organization", self.organization.strip())
        if self.category is not None:
            if not isinstance(self.category, str) or not _CATEGORY.fullmatch(self.category.strip()):
                raise FilterError(
                    f"the category {_shown(self.category)} is not an arXiv category; write it like cs.LG or cs"
                )
            object.__setattr__(self, "category", self.category.strip())
        if self.venue is not None:
            if not isinstance(self.venue, str) or not venue_words(self.venue):
                raise FilterError(f"the venue {_shown(self.venue)} is not a name; give it as text, like NeurIPS")
            object.__setattr__(self, "venue", " ".join(self.venue.split()))
        if self.doi is not None:
            doi = doi_of(self.doi) if isinstance(self.doi, str) else None
            if not doi:
                raise FilterError(f"the DOI {_shown(self.doi)} is not a DOI; write it like 10.1145/3292500.3330701")
            object.__setattr__(self, "doi", doi)

    def __bool__(self) -> bool:
        return bool(self.date_from or self.date_to or self.organization or self.category or self.venue or self.doi)

    def where(self) -> dict[str, Any] | None:
        """The Chroma ``where`` clause for these filters."""
        clauses: list[dict[str, Any]] = []
        if self.date_from:
            clauses.append({"date_ord": {"$gte": _date_ord(self.date_from)}})
        if self.date_to:
            clauses.append({"date_ord": {"$lte": _date_ord(self.date_to)}})
        if self.date_to and not self.date_from:  # unknown dates are stored as 0
            clauses.append({"date_ord": {"$gt": 0}})
        if self.organization:
            clauses.append({"org_key": self.organization.lower()})
        if self.category:
            clauses.append({"cat_keys": {"$contains": self.category.lower()}})
        if self.venue:
            clauses.extend({"venue_words": {"$contains": w}} for w in venue_words(self.venue))
        if self.doi:
            clauses.append({"doi": self.doi})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def accepts(self, paper: Paper) -> bool:
        """The same predicate, evaluated in memory."""
        if (self.date_from or self.date_to) and not paper.date:
            return False
        if self.date_from and paper.date and paper.date < self.date_from:
            return False
        if self.date_to and paper.date and paper.date > self.date_to:
            return False
        if self.organization and (paper.organization or "").lower() != self.organization.lower():
            return False
        if self.category and not _in_category(self.category.lower(), paper.categories):
            return False
        if self.venue and not (paper.venue and set(venue_words(self.venue)) <= set(venue_words(paper.venue))):
            return False
        return not (self.doi and paper.doi != self.doi)


def _date_ord(iso: str) -> int:
    digits = iso.replace("-", "")[:8].ljust(8, "0")
    return int(digits)


def added_text(added_at: float) -> str:
    """A time the index recorded (seconds since the epoch) as UTC ISO: 2025-01-07T09:30:00Z."""
    return datetime.fromtimestamp(added_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _paper_metadata(paper: Paper, meta_hash: str, chunks: int, added_at: int | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "title": paper.title,
        "authors": paper.authors,
        "organization": paper.organization,
        "org_key": paper.organization.lower() if paper.organization else None,
        "date_text": paper.date_text,
        "date": paper.date,
        "date_ord": _date_ord(paper.date) if paper.date else 0,
        "upvotes": paper.upvotes,
        "url": paper.url,
        "author_names": json.dumps(list(paper.author_names)) if paper.author_names else None,
        "arxiv_id": paper.arxiv_id,
        "version": paper.version,
        "doi": paper.doi,
        "venue": paper.venue,
        "categories": list(paper.categories) or None,
        "sources": json.dumps(list(paper.sources)),
        "text_hash": paper.text_hash,
        "meta_hash": meta_hash,
        "chunks": chunks,  # with text_hash, names the paper's chunk ids (see Store._chunk_vectors)
        # when the paper first entered the index (unknown for papers indexed before it was kept); an
        # update or upsert without these keys keeps them, as Chroma merges a record's metadata
        "added": added_text(added_at) if added_at is not None else None,
        "added_at": added_at,
    }
    return {k: v for k, v in meta.items() if v is not None}  # Chroma rejects None


def _paper_from(paper_id: str, abstract: str, meta: dict[str, Any]) -> Paper:
    return Paper(
        paper_id=paper_id,
        title=meta["title"],
        abstract=abstract,
        authors=meta.get("authors"),
        organization=meta.get("organization"),
        date_text=meta.get("date_text"),
        date=meta.get("date"),
        upvotes=meta.get("upvotes"),
        url=meta.get("url"),
        author_names=tuple(json.loads(meta.get("author_names", "[]"))),
        arxiv_id=meta.get("arxiv_id"),
        version=meta.get("version"),
        doi=meta.get("doi"),
        venue=meta.get("venue"),
        categories=tuple(meta.get("categories") or ()),
        sources=tuple(json.loads(meta.get("sources", "[]"))),
    )


def meta_hash(paper: Paper) -> str:
    """Hash of the metadata: a change here means rewriting the record, not re-embedding."""
    fields: tuple = (paper.authors, paper.organization, paper.date_text, paper.date, paper.upvotes, paper.url)
    fields += (paper.sources,)
    extra = (paper.author_names, paper.arxiv_id, paper.version, paper.doi, paper.venue, paper.categories)
    if any(extra):  # only then: an index of papers without these fields keeps its hashes
        fields += extra
    return hashlib.sha1(repr(fields).encode()).hexdigest()[:16]


def _pair(prefix: str, tag: str) -> tuple[str, str]:
    """The (papers, chunks) collection names of a pair: the first ingest's has no tag."""
    base = f"{prefix}.r{tag}" if tag else prefix
    return f"{base}-papers", f"{base}-chunks"


def _tag_of(name: str, prefix: str) -> str | None:
    """The tag of a collection of one of ``prefix``'s pairs, or None for any other collection."""
    m = re.fullmatch(rf"{re.escape(prefix)}(?:\.r([0-9a-f]{{12}}))?-(?:papers|chunks)", name)
    return (m[1] or "") if m else None


class Store:
    """Chroma, embedded on disk or behind a server, as the config says."""

    def __init__(self, config: Config, create: bool = True):
        self.config = config
        self._chunks: dict[str, tuple[str, int]] = {}  # paper id -> (text hash, chunk count), from snapshot()
        self._client = _connect(config, create)
        self._replaces: str | None = None  # for a rebuilt store: the tag of the live pair publish() replaces
        try:
            self._open(self._pointer().get("live", ""), create)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"no paper index in {self.location}; build it with `assistant ingest`") from exc

    def _open(self, tag: str, create: bool) -> None:
        self.tag = tag
        papers, chunks = _pair(self.config.collection, tag)
        get = self._collection if create else self._existing
        self.papers, self.chunks = get(papers), get(chunks)

    @classmethod
    def rebuilt(cls, config: Config) -> Store:
        """An empty store for ``ingest --rebuild``: new collections beside the live ones, which go
        on answering until ``publish``. An embedded store too damaged to open is deleted first."""
        if not config.chroma_host and not _sound(config.chroma_dir):
            _discard(config.chroma_dir)
        try:
            store = cls(config)
            if store.papers.count():  # an empty live pair has nothing to keep answering
                store._replaces = store.tag
                store._open(uuid.uuid4().hex[:12], create=True)
            return store
        except StoreError:
            if config.chroma_host:
                raise
        _discard(config.chroma_dir)
        return cls(config)

    # the pointer: which pair is live
    @property
    def _pointer_name(self) -> str:
        return f"{self.config.collection}.live"

    def _pointer(self) -> dict[str, Any]:
        """The pointer's metadata: ``live`` (the live pair's tag), ``retired`` and ``retired_at`` (the
        pair the last rebuild replaced, and when); {} before the first rebuild."""
        from chromadb.errors import NotFoundError

        with _guard(self.location):
            try:
                return dict(self._client.get_collection(self._pointer_name, embedding_function=None).metadata or {})
            except NotFoundError:
                return {}

    def publish(self) -> None:
        """Make a rebuilt store's pair the live one, in one metadata write (a no-op for any other
        store), then drop the pairs nobody reads."""
        if self._replaces is None:
            return
        from chromadb.errors import NotFoundError

        pointer = {"live": self.tag, "retired": self._replaces, "retired_at": time.time()}
        with _guard(self.location):
            try:
                self._client.get_collection(self._pointer_name, embedding_function=None).modify(metadata=pointer)
            except NotFoundError:
                self._client.create_collection(self._pointer_name, metadata=pointer, embedding_function=None)
        self._replaces = None
        self.drop_stale()

    def drop_stale(self) -> None:
        """Delete the pairs left by killed rebuilds, and the one a rebuild replaced once readers
        have had ``RETIRED_SECONDS`` to reopen. Call with the ingest lock held."""
        pointer = self._pointer()
        keep = {self.tag, pointer.get("live", ""), *([self._replaces] if self._replaces is not None else [])}
        if time.time() - float(pointer.get("retired_at", 0)) < RETIRED_SECONDS:
            keep.add(pointer.get("retired", ""))
        dropped = set(self.pairs()) - keep
        for tag in dropped:
            for name in _pair(self.config.collection, tag):
                try:
                    with _guard(self.location):
                        self._client.delete_collection(name)
                except StoreError:  # a damaged or half-deleted leftover: the next ingest tries again
                    pass
        if dropped and not self.config.chroma_host:
            _sweep_segment_folders(self.config.chroma_dir)

    def pairs(self) -> list[str]:
        """The tags of the collection pairs in the store, the live one among them ("" names the
        first ingest's pair)."""
        with _guard(self.location):
            names = [getattr(c, "name", c) for c in self._client.list_collections()]
        tags = (_tag_of(name, self.config.collection) for name in names)
        return sorted({tag for tag in tags if tag is not None})

    @property
    def location(self) -> str:
        c = self.config
        return f"the Chroma server at {c.chroma_host}:{c.chroma_port}" if c.chroma_host else str(c.chroma_dir)

    @property
    def signature(self) -> str:
        """What the stored vectors depend on besides the text: model, chunk size and, for a
        backend whose vectors differ from the float32 model's, its variant (``|int8``)."""
        variant = vector_variant(self.config.embed_backend)
        return f"{self.config.embed_model}|{self.config.chunk_tokens}" + (f"|{variant}" if variant else "")

    def check_signature(self) -> None:
        """Refuse to mix vectors of another model or chunking into this index."""
        built = (self.papers.metadata or {}).get("signature")
        if built and built != self.signature and self.papers.count():
            raise StoreError(
                f"the index in {self.location} was built with {built!r} (model|chunk tokens[|vector variant]) "
                f"but the config says {self.signature!r}; rebuild it with `assistant ingest --rebuild`"
            )

    def _collection(self, name: str) -> Any:
        with _guard(self.location):
            collection = self._client.get_or_create_collection(
                name,
                metadata={"signature": self.signature},
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine", "ef_construction": 200, "ef_search": 256}},
            )
        return _Guarded(collection, self.location)

    def _existing(self, name: str) -> Any:
        from chromadb.errors import NotFoundError

        with _guard(self.location):
            try:
                return _Guarded(self._client.get_collection(name, embedding_function=None), self.location)
            except NotFoundError:
                raise StoreError(f"no paper index in {self.location}; build it with `assistant ingest`") from None

    # the generation: changes whenever an ingest changes the papers, so readers can reopen
    def generation(self) -> str:
        """The live pair's current generation ("" before the first ingest that set one). Read fresh
        from Chroma each call (~1 ms), so another process's ingest or rebuild shows."""
        tag = self.tag if self._replaces is not None else self._pointer().get("live", "")
        with _guard(self.location):
            papers = self._client.get_collection(_pair(self.config.collection, tag)[0], embedding_function=None)
        generation = str((papers.metadata or {}).get("generation", ""))
        return f"{tag}:{generation}" if tag else generation

    def new_generation(self) -> None:
        """Mark the papers as changed (the end of an ingest that changed something)."""
        self.papers.modify(metadata={"signature": self.signature, "generation": uuid.uuid4().hex})

    # reads
    def _get_all(self, collection: Any, include: list[str]) -> dict[str, list[Any]]:
        """``collection.get`` of every record, a page at a time: one unpaged get of more than
        ~32k records fails in Chroma ("too many SQL variables")."""
        out: dict[str, list[Any]] = {"ids": [], **{key: [] for key in include}}
        offset = 0
        while True:
            got = collection.get(include=include, limit=READ_PAGE, offset=offset)
            for key in out:
                out[key].extend(got[key])
            if len(got["ids"]) < READ_PAGE:
                return out
            offset += READ_PAGE

    def paper_hashes(self) -> dict[str, tuple[str, str]]:
        """paper_id -> (text_hash, meta_hash) of every committed paper."""
        got = self._get_all(self.papers, ["metadatas"])
        return {i: (m["text_hash"], m["meta_hash"]) for i, m in zip(got["ids"], got["metadatas"])}

    def load_papers(self) -> list[Paper]:
        """Every paper in the store, in id order."""
        return self.snapshot()[0]

    def snapshot(self) -> tuple[list[Paper], str]:
        """Every paper in the store, in id order, and the fingerprint of exactly those papers
        (one read, so an ingest in another process cannot come between the two)."""
        got = self._get_all(self.papers, ["metadatas", "documents"])
        rows = sorted(zip(got["ids"], got["documents"], got["metadatas"]))
        self._chunks = {i: (m["text_hash"], m["chunks"]) for i, _, m in rows if m.get("chunks")}
        return [_paper_from(i, d, m) for i, d, m in rows], _fingerprint((i, m["text_hash"]) for i, _, m in rows)

    def counts(self) -> dict[str, int]:
        return {"papers": self.papers.count(), "chunks": self.chunks.count()}

    def fingerprint(self) -> str:
        """Changes whenever the set of papers or their text changes."""
        return _fingerprint((pid, th) for pid, (th, _) in self.paper_hashes().items())

    def search_chunks(self, vector: np.ndarray, n: int, filters: Filters | None = None) -> list[Hit]:
        """Nearest chunks to ``vector``, filtered by paper metadata, best first.

        Only ids and distances are fetched (a chunk's id starts with its paper's id): reading the
        metadata of 200 hits costs five times the vector search itself at 100k papers.
        """
        res = self.chunks.query(  # fewer than n chunks (or none) simply return fewer hits
            query_embeddings=[np.asarray(vector, dtype=np.float32)],
            n_results=n,
            where=filters.where() if filters else None,
            include=["distances"],
        )
        return [Hit(paper_of_chunk(i), 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0])]

    def chunk_similarity(self, vector: np.ndarray, paper_ids: Iterable[str]) -> dict[str, float]:
        """Each paper's best cosine between ``vector`` and its chunks, computed exactly; for
        papers a nearest-neighbour search did not return."""
        best: dict[str, float] = {}
        for got in self._chunk_vectors(paper_ids):
            sims = np.asarray(got["embeddings"], dtype=np.float32) @ np.asarray(vector, dtype=np.float32)
            for cid, sim in zip(got["ids"], sims):
                pid = paper_of_chunk(cid)
                best[pid] = max(best.get(pid, -1.0), float(sim))
        return best

    def best_similarities(self, vectors: np.ndarray, paper_ids: Iterable[str]) -> dict[str, np.ndarray]:
        """For each paper, the best cosine between each row of ``vectors`` and one of its chunks
        (what ``chunk_similarity`` gives for one vector), its chunks read once for every row."""
        rows = np.asarray(vectors, dtype=np.float32).reshape(-1, vectors.shape[-1])
        wanted = sorted(set(paper_ids))
        best: dict[str, np.ndarray] = {}
        for s in range(0, len(wanted), READ_PAGE // 4):  # a few chunks a paper: under Chroma's variable limit
            for got in self._chunk_vectors(wanted[s : s + READ_PAGE // 4]):
                sims = np.asarray(got["embeddings"], dtype=np.float32) @ rows.T
                for cid, row in zip(got["ids"], sims):
                    pid = paper_of_chunk(cid)
                    best[pid] = np.maximum(best[pid], row) if pid in best else row
        return best

    def paper_vectors(self, paper_id: str) -> np.ndarray:
        """The stored vectors of one paper: its chunks and its title."""
        rows: list[Any] = [v for got in self._chunk_vectors([paper_id]) for v in got["embeddings"]]
        title = self._vectors(self.papers, ids=[paper_id])
        if title is not None and title["embeddings"] is not None:
            rows.extend(title["embeddings"])
        return np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)

    def papers_added(self, low: int, high: int) -> list[tuple[Paper, int | None]]:
        """The papers first added between ``low`` and ``high`` (epoch s, both included), in id order,
        each with that time: a Chroma ``where`` on the number, so only they are read."""
        return self._papers_where({"$and": [{"added_at": {"$gte": low}}, {"added_at": {"$lte": high}}]})

    def papers_dated(self, first: str, last: str) -> list[tuple[Paper, int | None]]:
        """The papers whose own date lies between the ISO days ``first`` and ``last`` (both
        included), in id order, each with when it was added (None when not recorded)."""
        return self._papers_where(Filters(date_from=first, date_to=last).where() or {})

    def count_timed(self) -> int:
        """How many papers have a recorded time added."""
        return self._count_where({"added_at": {"$gte": 0}})

    def count_dated(self) -> int:
        """How many papers have a date of their own (a date filter can keep them)."""
        return self._count_where({"date_ord": {"$gt": 0}})

    def _papers_where(self, where: dict[str, Any]) -> list[tuple[Paper, int | None]]:
        rows: list[tuple[str, str, dict[str, Any]]] = []
        offset = 0
        while True:
            got = self.papers.get(where=where, include=["metadatas", "documents"], limit=READ_PAGE, offset=offset)
            rows.extend(zip(got["ids"], got["documents"], got["metadatas"]))
            if len(got["ids"]) < READ_PAGE:
                break
            offset += READ_PAGE
        rows.sort()
        self._chunks.update({i: (m["text_hash"], m["chunks"]) for i, _, m in rows if m.get("chunks")})
        return [(_paper_from(i, d, m), int(m["added_at"]) if "added_at" in m else None) for i, d, m in rows]

    def _count_where(self, where: dict[str, Any]) -> int:
        """How many papers match ``where``: one read when all do, else their ids a page at a time."""
        total = self.papers.count()
        if not total or self.papers.get(where=where, include=[], limit=1, offset=total - 1)["ids"]:
            return total
        count = offset = 0
        while True:
            got = len(self.papers.get(where=where, include=[], limit=READ_PAGE, offset=offset)["ids"])
            count += got
            if got < READ_PAGE:
                return count
            offset += READ_PAGE

    def paper_centres(self, paper_ids: Iterable[str]) -> dict[str, np.ndarray]:
        """The centre of each paper's stored chunk vectors (their mean, unit length), read by id a
        page of papers at a time; a paper whose chunks cannot be read now has none."""
        wanted = sorted(set(paper_ids))
        sums: dict[str, np.ndarray] = {}
        for s in range(0, len(wanted), READ_PAGE // 4):  # a few chunks a paper: under Chroma's variable limit
            for got in self._chunk_vectors(wanted[s : s + READ_PAGE // 4]):
                for cid, vector in zip(got["ids"], got["embeddings"]):
                    pid = paper_of_chunk(cid)
                    row = np.asarray(vector, dtype=np.float32)
                    sums[pid] = sums[pid] + row if pid in sums else row
        return {pid: v / (np.linalg.norm(v) or 1.0) for pid, v in sums.items()}

    def added_times(self, paper_ids: Iterable[str]) -> dict[str, int | None]:
        """When each of these papers that the index holds was first added (epoch s; None for a paper
        indexed before that was kept). For a rebuild, from the index it replaces, so rebuilding
        keeps the times. Papers the index does not hold are left out."""
        ids = list(dict.fromkeys(paper_ids))
        collection = self.papers
        if self._replaces is not None:
            try:
                collection = self._existing(_pair(self.config.collection, self._replaces)[0])
            except StoreError:  # gone meanwhile: nothing to carry over
                return {}
        out: dict[str, int | None] = {}
        for s in range(0, len(ids), READ_PAGE):
            got = collection.get(ids=ids[s : s + READ_PAGE], include=["metadatas"])
            for pid, meta in zip(got["ids"], got["metadatas"]):
                at = (meta or {}).get("added_at")
                out[pid] = int(at) if at is not None else None
        return out

    def _chunk_vectors(self, paper_ids: Iterable[str]) -> Iterator[dict[str, Any]]:
        """The stored chunks (ids and vectors) of some papers: by id where the last ``snapshot``
        (or window read) told how many chunks a paper has, else by a metadata filter (slower: it
        scans the chunks' metadata, ~30 ms at 100k papers)."""
        ids: list[str] = []
        unknown: list[str] = []
        for pid in sorted(set(paper_ids)):
            if pid in self._chunks:
                text_hash, count = self._chunks[pid]
                ids.extend(chunk_id(pid, text_hash, n) for n in range(count))
            else:
                unknown.append(pid)
        selections = ([{"ids": ids}] if ids else []) + ([{"where": {"paper_id": {"$in": unknown}}}] if unknown else [])
        for selection in selections:
            got = self._vectors(self.chunks, **selection)
            if got is not None and got["embeddings"] is not None and len(got["embeddings"]):
                yield got

    def _vectors(self, collection: Any, **selection: Any) -> dict[str, Any] | None:
        """``collection.get`` with embeddings, or None while an ingest in another process is
        writing some of them (Chroma: "Error finding id"); callers then go on without."""
        try:
            return collection.get(include=["embeddings"], **selection)
        except StoreError as exc:
            if "Error finding id" in str(exc):
                return None
            raise

    # writes
    def write(
        self,
        papers: list[Paper],
        chunks: list[Chunk],
        chunk_vectors: np.ndarray,
        title_vectors: np.ndarray,
        added: Mapping[str, int | None] | None = None,
    ) -> None:
        """Write a group of papers: their chunks first, then the paper records, which commit them
        (chunks without a committed record are orphans the next ingest sweeps away). ``added``:
        when each paper first entered the index (epoch s), where known; a record rewritten without
        one keeps the time it has."""
        added = added or {}
        by_id = {p.paper_id: p for p in papers}
        for s in range(0, len(chunks), WRITE_BATCH):
            batch = chunks[s : s + WRITE_BATCH]
            self.chunks.upsert(
                ids=[c.chunk_id for c in batch],
                embeddings=chunk_vectors[s : s + WRITE_BATCH],
                documents=[c.text for c in batch],
                metadatas=[_chunk_metadata(c, by_id[c.paper_id]) for c in batch],
            )
        counts = Counter(c.paper_id for c in chunks)
        for s in range(0, len(papers), WRITE_BATCH):
            part = papers[s : s + WRITE_BATCH]
            self.papers.upsert(
                ids=[p.paper_id for p in part],
                embeddings=title_vectors[s : s + WRITE_BATCH],
                documents=[p.abstract for p in part],
                metadatas=[_paper_metadata(p, meta_hash(p), counts[p.paper_id], added.get(p.paper_id)) for p in part],
            )

    def update_metadata(self, papers: list[Paper]) -> None:
        """Rewrite metadata only (no re-embedding), on the paper and its chunks."""
        for p in papers:  # chunks first: the paper's meta_hash marks the rewrite as done
            got = self.chunks.get(where={"paper_id": p.paper_id}, include=["metadatas"])
            metas = [{**m, **_filter_fields(p)} for m in got["metadatas"]]
            if got["ids"]:
                self.chunks.update(ids=got["ids"], metadatas=metas)
            self.papers.update(ids=[p.paper_id], metadatas=[_paper_metadata(p, meta_hash(p), len(got["ids"]))])

    def delete_papers(self, paper_ids: Iterable[str]) -> None:
        """Remove papers: their record first, then their chunks."""
        ids = list(paper_ids)
        for s in range(0, len(ids), WRITE_BATCH):
            part = ids[s : s + WRITE_BATCH]
            self.papers.delete(ids=part)
            self.chunks.delete(where={"paper_id": {"$in": part}})

    def sweep_orphans(self, hashes: dict[str, tuple[str, str]] | None = None) -> int:
        """Delete chunks whose paper record is missing or holds another text; return how many.
        ``hashes`` is ``paper_hashes()`` when the caller has just read it."""
        committed = {pid: th for pid, (th, _) in (self.paper_hashes() if hashes is None else hashes).items()}
        got = self._get_all(self.chunks, ["metadatas"])
        orphans = [
            cid for cid, m in zip(got["ids"], got["metadatas"]) if committed.get(m["paper_id"]) != m.get("text_hash")
        ]
        for s in range(0, len(orphans), WRITE_BATCH):
            self.chunks.delete(ids=orphans[s : s + WRITE_BATCH])
        return len(orphans)


def _fingerprint(pairs: Iterable[tuple[str, str]]) -> str:
    """A short hash of (paper id, text hash) pairs, whatever their order."""
    return hashlib.sha1(repr(sorted(pairs)).encode()).hexdigest()[:16]


def _filter_fields(paper: Paper) -> dict[str, Any]:
    """The paper metadata copied onto each chunk so Chroma can filter chunks. None removes a key
    in an update; Chroma takes no empty lists, so a paper without categories has no key."""
    return {
        "date_ord": _date_ord(paper.date) if paper.date else 0,
        "org_key": paper.organization.lower() if paper.organization else "",
        "cat_keys": category_keys(paper.categories) or None,
        "venue_words": venue_words(paper.venue) if paper.venue else None,
        "doi": paper.doi,
    }


def _chunk_metadata(chunk: Chunk, paper: Paper) -> dict[str, Any]:
    return {
        "paper_id": chunk.paper_id,
        "index": chunk.index,
        "start": chunk.start,
        "end": chunk.end,
        "text_hash": paper.text_hash,
        **{k: v for k, v in _filter_fields(paper).items() if v is not None},
    }


def _connect(config: Config, create: bool):
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    if config.chroma_host:
        try:
            return chromadb.HttpClient(host=config.chroma_host, port=config.chroma_port, settings=settings)
        except Exception as exc:
            raise StoreError(
                f"cannot reach the Chroma server at {config.chroma_host}:{config.chroma_port} ({exc}); "
                "start it with `chroma run` or unset chroma_host"
            ) from None
    if not create and not config.chroma_dir.exists():
        raise StoreError(f"no paper index in {config.chroma_dir}; build it with `assistant ingest`")
    location = str(config.chroma_dir)
    try:
        config.chroma_dir.mkdir(parents=True, exist_ok=True)
        with _guard(location):
            return chromadb.PersistentClient(path=location, settings=settings)
    except StoreError:
        raise
    except Exception as exc:
        raise _damaged(location, exc) from None


_SEGMENT_FOLDER = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _sweep_segment_folders(chroma_dir: Path) -> None:
    """Delete the vector folders of collections Chroma has dropped: Chroma 1.x forgets a dropped
    collection's segments in its database but leaves their HNSW folders on disk
    (chroma-core/chroma#5259), so each rebuild would leave a copy of the index behind."""
    try:
        with closing(sqlite3.connect(f"file:{chroma_dir / 'chroma.sqlite3'}?mode=ro", uri=True)) as conn:
            known = {str(row[0]) for row in conn.execute("SELECT id FROM segments")}
    except sqlite3.Error:
        return
    if not known:  # the live collections have segments: an empty answer is no answer
        return
    for folder in chroma_dir.iterdir():
        if folder.is_dir() and _SEGMENT_FOLDER.fullmatch(folder.name) and folder.name not in known:
            shutil.rmtree(folder, ignore_errors=True)


def _sound(chroma_dir: Path) -> bool:
    """Whether an embedded store's folder and database pass SQLite's own quick check (or are absent)."""
    if not chroma_dir.exists():
        return True
    db = chroma_dir / "chroma.sqlite3"
    if not chroma_dir.is_dir():
        return False
    if not db.exists():
        return True
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    except sqlite3.Error:
        return False


def release(chroma_dir: Path) -> None:
    """Stop and forget this process's Chroma client of an embedded store (Chroma keeps one per
    path), so that the next open reads the disk afresh."""
    from chromadb.api.client import SharedSystemClient

    for table in ("_identifier_to_system", "_identifier_to_refcount"):
        entry = getattr(SharedSystemClient, table, {}).pop(str(chroma_dir), None)
        if hasattr(entry, "stop"):
            try:
                entry.stop()
            except Exception:  # a client whose open failed half-way has nothing to stop
                pass


def _discard(chroma_dir: Path) -> None:
    """Delete an embedded store from disk, and forget any client of it this process holds."""
    release(chroma_dir)
    if chroma_dir.is_dir() and not chroma_dir.is_symlink():
        shutil.rmtree(chroma_dir)
    elif chroma_dir.exists() or chroma_dir.is_symlink():
        chroma_dir.unlink()
