"""The public Python API: ``Assistant`` over the index, the retriever and the answering backend.

The CLI, the chat UI and the bot are thin adapters over this class.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.answer import Answer, Source, Turn
from assistant.backends.base import AnswerBackend
from assistant.questions import Kind, core, read
from index.config import Config
from index.errors import AssistantError
from index.ingest import IngestReport, ingest
from index.records import Paper
from index.store import Filters, Store, StoreError

if TYPE_CHECKING:
    from datetime import datetime

    from assistant.digest import Digest
    from assistant.retrieve import HybridSearch
    from assistant.tables import EvidenceTable, Row
    from assistant.watches import Watch, WatchReport
    from index.fetch import FetchReport

log = logging.getLogger(__name__)


class QuestionError(AssistantError, ValueError):
    """The question cannot be asked as given; the message says how to fix it."""


def _clean_char(ch: str) -> str:
    category = unicodedata.category(ch)
    if category == "Cf":  # invisible format characters (zero-width space, soft hyphen, bidi marks) join words
        return ""
    return " " if category[0] == "C" else ch


def clean_question(question: str, max_chars: int) -> str:
    """Strip control and invisible characters and spaces; reject empty or over-long questions."""
    if not isinstance(question, str):
        raise QuestionError("the question must be text")
    text = "".join(ch if ch.isprintable() else _clean_char(ch) for ch in question)
    text = " ".join(text.split())
    if not text:
        raise QuestionError("the question is empty; type a question about the indexed papers")
    if len(text) > max_chars:
        raise QuestionError(f"the question is {len(text):,} characters long; keep it under {max_chars:,}")
    return text


@dataclass(frozen=True)
class Snapshot:
    """One generation of the index and what answering needs of it, never changed once built: the
    store view, keyword index, papers and embedder (``search``) and the extractive backend over
    them. A refresh or an ingest builds a new one; every call takes one at entry and uses only it,
    so an answer never mixes two generations."""

    search: HybridSearch
    extractive: AnswerBackend

    @classmethod
    def open(cls, config: Config, embedder: Any = None) -> Snapshot:
        from assistant.backends import make_backend
        from assistant.retrieve import HybridSearch

        search = HybridSearch.open(config, embedder)
        return cls(search, make_backend("extractive", config, search))


class _Models:
    """The LLM backends by name, built on first use and shared by every snapshot (they hold no
    index state). The lock guards building one, never answering."""

    def __init__(self, config: Config):
        self.config = config
        self._built: dict[str, AnswerBackend] = {}
        self._lock = threading.Lock()

    def add(self, backend: AnswerBackend) -> None:
        self._built[backend.name] = backend

    def get(self, name: str, snapshot: Snapshot) -> AnswerBackend:
        from assistant.backends import make_backend

        backend = self._built.get(name)
        if backend is None:
            with self._lock:
                backend = self._built.get(name) or make_backend(name, self.config, snapshot.search)
                self._built[name] = backend
        return backend


class Assistant:
    """Ask questions about the indexed paper abstracts and get cited answers.

    Safe to share between threads: it holds one reference to an immutable ``Snapshot``, swapped
    whole when the index changes. No lock is held while answering or while reading the store,
    except the one that makes the very first open (and the first-use build of the bundled
    corpus) happen once.
    """

    def __init__(self, config: Config | None = None, *, llm: Any = None, **overrides: Any):
        """``llm``: the answering backend by name, as the config field (``Assistant(llm="openai",
        llm_base_url=...)``), or any LlamaIndex ``LLM`` object to answer with (the ``llamaindex``
        backend), e.g. ``Assistant(llm=Ollama(model="llama3.1"))``; its answers are checked like
        every other's. Other keywords are config fields."""
        if isinstance(llm, str):
            overrides["llm"], llm = llm, None
        if config is not None and overrides:
            config = config.model_copy(update=overrides)
        self.config = config if config is not None else Config.load(**overrides)
        if llm is not None:
            self.config = self.config.model_copy(update={"llm": "llamaindex"})
        self._snapshot: Snapshot | None = None
        self._opening = threading.Lock()
        self._refreshing = threading.Lock()
        self._checked = 0.0  # when the store's generation was last compared with the snapshot's
        self._models = _Models(self.config)
        if llm is not None:
            from assistant.backends.llamaindex_backend import LlamaIndexBackend

            self._models.add(LlamaIndexBackend(self.config, llm))
        self.first_ingest: IngestReport | None = None  # the build of the bundled corpus on first use, if any
        self._embedder: Any = None  # kept across an ingest, so reopening does not load the model again

    # the index
    def open(self) -> Snapshot:
        """The current snapshot, opening the index on first use. A missing index of the bundled
        corpus is built then (once, whoever asks first), logged and kept in ``first_ingest``."""
        snapshot = self._snapshot
        if snapshot is not None:
            self._maybe_refresh(snapshot)
            return snapshot
        with self._opening:
            if self._snapshot is None:
                try:
                    self._swap(Snapshot.open(self.config, self._embedder))
                except StoreError:
                    if self.config.sources != Config.model_fields["sources"].default:
                        raise
                    log.info("no index in %s yet: building the bundled corpus (first use)", self.config.data_dir)
                    self.first_ingest = ingest(self.config, wait=True)
                    self._swap(Snapshot.open(self.config, self._embedder))
            assert self._snapshot is not None
            return self._snapshot

    def ingest(
        self,
        paths: Iterable[str | Path] | None = None,
        rebuild: bool = False,
        progress: bool = False,
        wait: bool = False,
        filters: Filters | None = None,
        prune: bool = False,
    ) -> IngestReport:
        """Add the papers of ``paths`` (default: the configured sources) and update those already
        indexed, then answer from them; every other paper stays unless ``prune`` removes the papers
        these sources do not hold (``rebuild`` builds the index from these sources alone). With
        ``filters``, only the papers they accept (``Filters(category="cs.CL", date_from="2024")``
        makes a slice of the arXiv snapshot). If another ingest into the same index is running,
        wait for it with ``wait``, else fail at once."""
        from assistant.watches import WatchBook

        old = self._snapshot
        sources = [Path(p) for p in paths] if paths else None
        embedder = old.search.embedder if old else self._embedder
        if embedder is None and WatchBook(self.config.data_dir).exists():  # shared with the watches' check
            embedder = self._watch_embedder()
        report = ingest(self.config, sources, rebuild, progress, embedder, wait=wait, filters=filters, prune=prune)
        self._embedder = embedder
        self._snapshot = None  # the next call opens the new papers; calls running keep theirs
        try:
            report.watches = self.check_watches()  # the new papers that answer a standing question
        except Exception:  # the papers are in: a failed check is logged, and the next check catches up
            log.warning("could not check the watches after the ingest", exc_info=True)
        return report

    def fetch_arxiv(self, query: str, max_papers: int = 200, since: str | None = None) -> FetchReport:
        """Save the newest ``max_papers`` papers of an arXiv API query or category ("cs.CL",
        "cat:cs.CL AND abs:retrieval") submitted on or after ``since`` (YYYY-MM-DD, or "last":
        after the last fetch of this query) into the fetch folder, which every ingest reads. Call
        ``ingest()`` to answer from them. An unreachable or refusing service is a FetchError."""
        from index.fetch import fetch_arxiv

        return fetch_arxiv(self.config, query, max_papers=max_papers, since=since)

    def fetch_daily(
        self, date_from: str | None = None, date_to: str | None = None, since: str | None = None
    ) -> FetchReport:
        """Save the Hugging Face Daily Papers of each day from ``date_from`` (or ``since``: a day, or
        "last") to ``date_to`` (default today) into the fetch folder; then ``ingest()``."""
        from index.fetch import fetch_daily

        return fetch_daily(self.config, date_from, date_to, since=since)

    def _swap(self, snapshot: Snapshot) -> None:
        self._checked = time.monotonic()
        self._snapshot = snapshot  # one reference: calls already running keep the one they took

    def _maybe_refresh(self, snapshot: Snapshot) -> None:
        """Every ``refresh_seconds``, look in the background whether another process changed the
        papers, and if so open the new generation there; calls meanwhile answer from ``snapshot``."""
        if time.monotonic() - self._checked < self.config.refresh_seconds:
            return
        if not self._refreshing.acquire(blocking=False):
            return  # a check is already running
        self._checked = time.monotonic()
        threading.Thread(target=self._refresh, args=(snapshot,), daemon=True).start()

    def _refresh(self, old: Snapshot) -> None:
        try:
            if old.search.store.generation() == old.search.generation:
                return
            new = Snapshot.open(self.config, old.search.embedder)
            if self._snapshot is old:  # not replaced meanwhile (by an ingest in this process)
                self._swap(new)
        except Exception:  # keep answering from the snapshot that is open; the next check tries again
            log.warning("could not reopen the index after another process's ingest", exc_info=True)
        finally:
            self._refreshing.release()

    # answering
    def backends(self) -> list[str]:
        """The answering backends ``ask(..., backend=...)`` accepts."""
        from assistant.backends import BACKENDS

        return list(BACKENDS)

    def _backend(self, name: str | None, snapshot: Snapshot) -> tuple[AnswerBackend, AnswerBackend | None]:
        """The backend called ``name`` (default: the configured one) and its fallback, if any."""
        from assistant.backends import BACKENDS, BackendError

        name = name or self.config.llm
        if name not in BACKENDS:
            raise BackendError(f"unknown answering backend {name!r}; choose one of: {', '.join(BACKENDS)}")
        if name == "extractive":
            return snapshot.extractive, None
        fallback = snapshot.extractive if self.config.llm_fallback else None
        return self._models.get(name, snapshot), fallback

    def _engine(
        self,
        snapshot: Snapshot,
        backend: AnswerBackend,
        fallback: AnswerBackend | None,
        k: int | None,
        filters: Filters | None,
        described: str | None = None,
        parts: tuple[str, ...] = (),
    ):
        from assistant.engine import CitedQueryEngine
        from assistant.retrieve import PaperRetriever
        from prompts import load

        search = snapshot.search
        return CitedQueryEngine(
            retriever=PaperRetriever(search, k, filters, parts),
            backend=backend,
            fallback=fallback,
            support=search.support,
            refusal=load("refusal", self.config.prompts_dir),
            nothing=_nothing_matches(filters, described),
            closest=load("closest", self.config.prompts_dir),
            hedge=load("hedge", self.config.prompts_dir),
            idf=search.keyword.idf,
            floor=self.config.answer_floor,
            min_support=self.config.min_support,
        )

    # LlamaIndex
    def as_retriever(self, k: int | None = None, filters: Filters | None = None) -> Any:
        """A LlamaIndex ``BaseRetriever`` over the papers: one ``NodeWithScore`` per paper (the
        abstract as text, title, date, authors, scores as metadata), best first."""
        from assistant.retrieve import PaperRetriever

        return PaperRetriever(self.open().search, k, filters)

    def as_query_engine(self, k: int | None = None, filters: Filters | None = None, backend: str | None = None) -> Any:
        """A LlamaIndex query engine that answers with checked citations: ``engine.query(q)``
        returns a ``Response`` whose text cites [n], whose ``source_nodes`` are the sources and
        whose ``metadata["answer"]`` is the checked ``Answer``. It answers from the index as it is
        now; ``ask`` follows later ingests."""
        snapshot = self.open()
        writer, fallback = self._backend(backend, snapshot)
        return self._engine(snapshot, writer, fallback, k, filters)

    def retrieve(self, question: str, k: int | None = None, filters: Filters | None = None) -> list[Source]:
        """The top ``k`` papers for ``question``, best first."""
        snapshot = self.open()
        return snapshot.search.search(clean_question(question, self.config.max_question_chars), k, filters)

    def ask(
        self,
        question: str,
        k: int | None = None,
        filters: Filters | None = None,
        history: list[Turn] | None = None,
        backend: str | None = None,
    ) -> Answer:
        """Answer ``question`` from the abstracts, citing papers as [n]; refuse when they don't say.

        With ``history`` (earlier turns, oldest first) a follow-up is first rewritten into a
        standalone question. ``backend`` picks the answering backend by name (default: ``llm``).
        """
        *_, answer = self.stream(question, k, filters, history, backend)
        assert isinstance(answer, Answer)
        return answer

    def stream(
        self,
        question: str,
        k: int | None = None,
        filters: Filters | None = None,
        history: list[Turn] | None = None,
        backend: str | None = None,
    ) -> Iterator[str | Answer]:
        """Yield the answer text as it is written, then the checked ``Answer``."""
        question = clean_question(question, self.config.max_question_chars)
        snapshot = self.open()  # taken once: the whole answer comes from this generation
        writer, fallback = self._backend(backend, snapshot)
        standalone = self._standalone(question, history or [], writer, fallback)
        asked = core(standalone)  # without "Quick question: ...", "... Thanks!"
        searched, described = asked, None
        if filters is None and self.config.auto_filters:
            searched, filters, described = self._read_filters(asked, snapshot)
        reading = read(searched)
        if described and reading.kind is not Kind.WHICH and not _any_accepted(filters, snapshot):
            # "the model at the top of SuperGLUE in October 2022": in a question about a paper, a
            # date (or an organisation) no paper has describes the paper, it does not filter
            searched, filters = asked, None
            reading = read(searched)
            described = f"none: {described} would leave no paper, so those words were read as part of the question"
        search = snapshot.search
        if described and filters and (filters.date_from or filters.date_to) and search.dated < len(search.papers):
            # a date filter leaves out every paper without a date
            described += f" (only {search.dated} of the {len(search.papers)} indexed papers have a date)"
        if k is None and reading.kind is Kind.WHICH and not reading.single:
            k = max(self.config.top_k, self.config.list_top_k)  # a list must see every paper that matches
        parts = reading.parts if reading.kind is Kind.COMPARE else ()
        engine = self._engine(snapshot, writer, fallback, k, filters, described, parts)
        for item in engine.stream(reading):
            if isinstance(item, Answer):
                rewritten = standalone if standalone != question else None
                item = replace(item, question=question, standalone_question=rewritten, filters=described)
            yield item

    def _read_filters(self, question: str, snapshot: Snapshot) -> tuple[str, Filters | None, str | None]:
        """Filters written into the question, and the question without them."""
        from assistant.nlfilters import parse

        parsed = parse(question, snapshot.search.organizations)
        return parsed.question, parsed.filters, parsed.description

    def _standalone(
        self, question: str, history: list[Turn], backend: AnswerBackend, fallback: AnswerBackend | None
    ) -> str:
        if not history:
            return question
        from assistant.backends import BackendError
        from assistant.followup import resolve_references

        try:
            return clean_question(backend.condense(question, history), self.config.max_question_chars)
        except (BackendError, QuestionError):
            if fallback is None:
                raise
            return resolve_references(question, history)

    def find_paper(self, paper: str) -> Paper:
        """The indexed paper with this id, this title (in any case and spacing) or this name
        ("SkillMimic"); a QuestionError when no paper is, or when a name fits several."""
        return _find(paper, self.open().search)

    def table(
        self,
        papers: Sequence[str] | None = None,
        topic: str | None = None,
        k: int = 5,
        backend: str | None = None,
    ) -> EvidenceTable:
        """An evidence table: a row per paper, the columns problem, method, data and benchmarks,
        headline result, and code or data released; every filled cell cites the abstract sentence
        it came from, and an empty cell says why. Give ``papers`` (ids, titles or names, in the
        order wanted) or a ``topic`` (its top ``k`` papers), not both. The extractive backend
        takes the abstracts' own sentences; an LLM backend fills the cells and each is checked
        against the paper's abstract; a row the LLM fails on (an error, a reply that is not JSON)
        is filled extractively, and ``notice`` says so."""
        from assistant.tables import MAX_PAPERS, EvidenceTable, extract_row

        if papers is None and topic is None:
            raise QuestionError("give a topic or a list of papers for the table")
        if papers is not None and topic is not None:
            raise QuestionError("give a topic or a list of papers for the table, not both")
        if not 1 <= k <= MAX_PAPERS:
            raise QuestionError(f"a table holds 1 to {MAX_PAPERS} papers; ask for k between 1 and {MAX_PAPERS}")
        snapshot = self.open()
        writer, _ = self._backend(backend, snapshot)
        search, described = snapshot.search, None
        if papers is not None:
            wanted = [p.strip() for p in ([papers] if isinstance(papers, str) else papers) if p and p.strip()]
            if not wanted:
                raise QuestionError("the list of papers is empty; give the ids, titles or names of the papers")
            if len(wanted) > MAX_PAPERS:
                raise QuestionError(f"a table holds at most {MAX_PAPERS} papers; give fewer")
            found = {p.paper_id: p for p in (_find(w, search) for w in wanted)}  # a paper named twice, once
            sources = [Source.from_paper(p, 0.0) for p in found.values()]
        else:
            topic = _topic_words(topic or "", self.config.max_question_chars)
            searched, filters = topic, None
            if self.config.auto_filters:
                searched, filters, described = self._read_filters(topic, snapshot)
            sources = search.search(searched, k, filters)
            if not sources or (sources[0].similarity < self.config.answer_floor and not sources[0].named):
                raise QuestionError(f"no indexed paper is about {topic!r}; try other words, or name the papers")
        rows, backend_name, notice = [extract_row(n, s) for n, s in enumerate(sources, 1)], "extractive", None
        if writer is not snapshot.extractive:
            rows, backend_name, notice = self._llm_table(writer, sources, rows, search)
        return EvidenceTable(tuple(rows), topic, backend_name, notice, described)

    def _llm_table(
        self, writer: AnswerBackend, sources: list[Source], extracted: list[Row], search: HybridSearch
    ) -> tuple[list[Row], str, str | None]:
        """The rows as the LLM fills them; a row it fails on keeps its extractive filling."""
        from assistant.tables import llm_rows
        from prompts import load

        complete = getattr(writer, "complete", None)
        if complete is None:  # a backend that writes answers but cannot be asked for a row
            return extracted, "extractive", f"the {writer.name} backend cannot fill tables; filled extractively"
        prompt = load("table", self.config.prompts_dir)
        workers = getattr(writer, "max_concurrency", 1)
        made = llm_rows(sources, complete, prompt, search.support, self.config.min_support, workers, writer.name)
        failed = [n for n, r in enumerate(made, 1) if isinstance(r, Exception)]
        rows = [extracted[n - 1] if isinstance(r, Exception) else r for n, r in enumerate(made, 1)]
        if not failed:
            return rows, writer.name, None
        which = f"row{'s' * (len(failed) > 1)} {', '.join(map(str, failed))}"
        which = "every row" if len(failed) == len(made) else which
        notice = f"{str(made[failed[0] - 1]).rstrip('.')}; filled {which} with the extractive backend instead."
        return rows, writer.name if len(failed) < len(made) else "extractive", notice

    def related(self, paper: str, k: int = 5) -> list[Source]:
        """The ``k`` indexed papers nearest in meaning to ``paper`` (an id, a title or a name),
        best first; each ``Source`` has its abstract, so ``contribution`` gives what it does."""
        found = self.find_paper(paper)
        return self.open().search.related(found.paper_id, k)

    def export(self, papers: Answer | str | Iterable[str | Paper | Source], fmt: str = "bib") -> str:
        """The text of one export file: ``fmt`` is "bib" (BibTeX), "ris" (RIS) or "csl" (CSL-JSON).
        ``papers`` is an ``Answer`` (the papers it cites, in citation order; an answer that cites
        none gives an empty export), or papers: ids, titles or names (as ``find_paper`` reads
        them), ``Paper`` records or ``Source`` results (``related``, ``retrieve``), each written
        from its indexed record with every identifier the index holds. An unknown format, no
        papers, or a paper the index does not hold is an ``ExportError`` saying what to give."""
        from index.formats.export import ExportError, export, export_format

        export_format(fmt)  # an unknown format fails before anything is looked up
        if isinstance(papers, Answer):
            cited = sorted(papers.citations, key=lambda c: c.number)
            sources = {s.paper_id: s for s in papers.sources}
            wanted: list[str | Paper | Source] = [sources.get(c.paper_id) or c.paper_id for c in cited]
        else:
            wanted = [papers] if isinstance(papers, str) else list(papers)
            if not wanted:
                raise ExportError("there are no papers to export; give at least one paper id or title")
        return export(self._records(wanted), fmt)

    def _records(self, wanted: list[str | Paper | Source]) -> list[Paper]:
        """The indexed record of each paper wanted (an id, title or name, a Paper or a Source)."""
        from index.formats.export import ExportError

        indexed = self.open().search.papers if wanted else {}
        found: list[Paper] = []
        missing: list[tuple[str, str]] = []  # (what was given, why it is not found)
        for item in wanted:
            if isinstance(item, str):
                try:
                    found.append(self.find_paper(item))
                except QuestionError as exc:
                    missing.append((item, str(exc)))
            elif item.paper_id in indexed:
                found.append(indexed[item.paper_id])
            elif isinstance(item, Paper):
                found.append(item)  # a record of the caller's own, written as it is
            else:  # a result from before an ingest removed its paper: what it says of the paper
                found.append(Paper(**{f.name: getattr(item, f.name) for f in fields(Paper) if hasattr(item, f.name)}))
        if len(missing) == 1:
            raise ExportError(missing[0][1], [missing[0][0]])
        if missing:
            named = ", ".join(repr(given) for given, _ in missing)
            raise ExportError(
                f"{len(missing)} of the {len(wanted)} papers to export are not in the index ({named}); "
                "give each paper's id or whole title, as search shows them",
                [given for given, _ in missing],
            )
        return found

    def digest(
        self, since: str | None = "7d", until: str | None = None, by: str = "added", now: datetime | None = None
    ) -> Digest:
        """The papers of a time window grouped into topics, each paper with what it does (one
        sentence of its abstract) and how to cite it. ``by="added"``: when papers entered the
        index, the default ("what came in this week"); ``by="date"``: their own date. ``since``
        and ``until`` are 7d, 2w, 24h (that long before ``now``) or ISO dates; ``until``
        defaults to now. A bad window is a FilterError saying how to write it."""
        from assistant.digest import Window, build
        from index.keyword import last_saved

        window = Window.read(since, until, by, now)  # checked before the index is opened
        keyword = store = None
        if self._snapshot is None:  # a one-off (the command line): the store alone, not every paper
            try:
                store = Store(self.config, create=False)
                keyword = last_saved(self.config.keyword_dir)
            except StoreError:
                pass  # no index yet: opening it builds the bundled corpus, or says what to do
        if store is None or keyword is None:  # an open index (a server, the UI, a bot) reads its own
            search = self.open().search
            store, keyword = search.store, search.keyword
        return build(store, window, keyword.idf)

    # watches: standing questions, answered by the papers each ingest adds
    def watch(
        self, question: str, where: str = "python", channel: str | None = None, thread: str | None = None
    ) -> Watch:
        """Keep ``question`` as a standing question: from now on, every ingest (and
        ``check_watches``) reports the new papers that answer it, each once. ``where`` says where it
        was set (python, cli, ui, http, mcp, or a chat such as slack with its ``channel`` and
        ``thread``, where new papers are then posted)."""
        from assistant.watches import PLACES, WatchBook, WatchError

        text = clean_question(question, self.config.max_question_chars)
        if where not in PLACES:
            raise WatchError(f"a watch is set from one of {', '.join(PLACES)}, not {where!r}")
        import index.ingest

        now = int(index.ingest.clock())
        try:  # the papers of this very second are not new to it
            edge = [p.paper_id for p, _ in Store(self.config, create=False).papers_added(now, now)]
        except StoreError:
            edge = []
        return WatchBook(self.config.data_dir).add(text, where, channel, thread, now, edge)

    def watches(self) -> list[Watch]:
        """Every watch, oldest first."""
        from assistant.watches import WatchBook

        return [w for w, _, _ in WatchBook(self.config.data_dir).all()]

    def unwatch(self, watch: int | str) -> Watch:
        """Remove a watch (its id: 3, "3" or "#3") and what it reported; returns it. An unknown id
        is a WatchError."""
        from assistant.watches import WatchBook, watch_id

        return WatchBook(self.config.data_dir).remove(watch_id(watch))

    def watch_papers(self, watch: int | str) -> WatchReport:
        """A watch and every paper it has reported so far, oldest first."""
        from assistant.watches import WatchBook, watch_id

        return WatchBook(self.config.data_dir).reported(watch_id(watch))

    def check_watches(self) -> list[WatchReport]:
        """Look for papers added since each watch last looked that answer it (their best chunk's
        cosine to the question at least ``watch_threshold``); returns a report per watch that has
        new ones, best first. Each paper is reported once per watch, however many checks run. It
        waits for a running ingest, so it never sees half of one. Every ingest runs it."""
        import numpy as np

        import index.ingest
        from assistant.watches import WatchBook

        book = WatchBook(self.config.data_dir)
        watches = book.all()
        if not watches:
            return []
        embedder = self._watch_embedder()
        vectors = np.stack([embedder.embed_query(core(w.question)) for w, _, _ in watches])
        reports = []
        with index.ingest.ingest_lock(self.config.data_dir, wait=True):
            try:
                store = Store(self.config, create=False)
            except StoreError:
                return []  # nothing indexed yet
            now = int(index.ingest.clock())
            found = store.papers_added(min(checked for _, checked, _ in watches), now)
            scores = store.best_similarities(vectors, [p.paper_id for p, _ in found]) if found else {}
            edge = [p.paper_id for p, at in found if at == now]
            fresh = [(p, at) for p, at in found if at is not None and p.paper_id in scores]
            for row, (w, checked, seen) in enumerate(watches):
                new = [  # added since its last look, less that second's papers it saw then
                    (p, at, float(scores[p.paper_id][row]))
                    for p, at in fresh
                    if at > checked or (at == checked and p.paper_id not in seen)
                ]
                matches = [_watch_paper(p, at, s, now) for p, at, s in new if s >= self.config.watch_threshold]
                report = book.record(w.id, sorted(matches, key=lambda m: (-m.score, m.paper_id)), now, edge)
                if report is not None and report.papers:
                    reports.append(report)
        return reports

    def deliver_watches(self, where: str, send: Any) -> int:
        """Hand ``send`` one ``WatchReport`` per watch set in ``where`` (e.g. "slack") holding the
        papers it reported that were not delivered yet; each is delivered once, and a ``send`` that
        raises leaves its papers for the next call. Returns how many papers were delivered."""
        from assistant.watches import WatchBook

        return WatchBook(self.config.data_dir).deliver(where, send)

    def _watch_embedder(self) -> Any:
        snapshot = self._snapshot
        if snapshot is not None:
            return snapshot.search.embedder
        if self._embedder is None:
            from index.embed import make_embedder

            self._embedder = make_embedder(self.config)
        return self._embedder

    def papers(self) -> list[Paper]:
        """Every indexed paper (title, abstract, date, authors or organisation, ...)."""
        return list(self.open().search.papers.values())

    def conversation(self) -> Conversation:
        """A chat session: each question can refer to the answers before it."""
        return Conversation(self)

    def stats(self) -> dict[str, Any]:
        """Counts and settings: papers, chunks, generation, backend, embedding model, store location."""
        snapshot = self.open()
        backend, fallback = self._backend(None, snapshot)
        return {
            **snapshot.search.store.counts(),
            "generation": snapshot.search.generation,
            "backend": backend.name,
            "llm_model": getattr(backend, "where", None),
            "fallback": fallback.name if fallback else None,
            "embed_model": self.config.embed_model,
            "store": snapshot.search.store.location,
        }


def _find(paper: str, search: HybridSearch) -> Paper:
    """The paper with this id, title (in any case and spacing) or name; a QuestionError otherwise."""
    from index.records import normalise_title

    wanted = paper.strip()
    if wanted in search.papers:
        return search.papers[wanted]
    titled = [p for p in search.papers.values() if normalise_title(p.title) == normalise_title(wanted)]
    named = titled or [search.papers[pid] for pid in search.names.find(wanted)]
    if len(named) == 1:
        return named[0]
    if named:
        raise QuestionError(f"{len(named)} indexed papers go by {wanted!r}; give the whole title or the paper's id")
    raise QuestionError(f"no indexed paper has the id, title or name {wanted!r}; search for it first")


# "Compare the papers on X", "table of papers about X": X is the topic
_TABLE_REQUEST = re.compile(
    r"^(?:please\s+)?(?:(?:compare|contrast|tabulate)\s+|(?:an?\s+)?(?:evidence\s+)?table\s+(?=(?:of|on|about|for)\b))"
    r"(?:(?:of|on|about|for)\s+)?(?:(?:the|all|these)\s+)?(?:(?:papers?|works?|studies|articles)\s+)?"
    r"(?:(?:on|about|for|in|of)\s+)?",
    re.I,
)


def _topic_words(topic: str, max_chars: int) -> str:
    """The topic as searched: cleaned like a question, without "Compare the papers on"."""
    if not isinstance(topic, str) or not " ".join(topic.split()):
        raise QuestionError("the topic is empty; give a few words on what the papers are about, or name the papers")
    if len(topic) > max_chars:
        raise QuestionError(f"the topic is {len(topic):,} characters long; keep it under {max_chars:,}")
    cleaned = clean_question(topic, max_chars)
    return _TABLE_REQUEST.sub("", cleaned, count=1).strip() or cleaned


def _watch_paper(paper: Paper, added_at: int, score: float, now: int) -> Any:
    """A paper a watch reports: what it does, its citation and link."""
    from assistant.digest import paper_link
    from assistant.watches import WatchPaper
    from index.store import added_text

    source = Source.from_paper(paper, score)
    byline = source.byline()
    return WatchPaper(
        paper_id=paper.paper_id,
        title=paper.title,
        contribution=source.contribution(),
        citation=paper.title + (f" ({byline})" if byline else ""),
        url=paper.url or paper_link(paper),
        score=round(score, 4),
        added=added_text(added_at),
        reported=added_text(now),
    )


def _any_accepted(filters: Filters | None, snapshot: Snapshot) -> bool:
    return filters is None or any(filters.accepts(p) for p in snapshot.search.papers.values())


def _nothing_matches(filters: Filters | None, described: str | None) -> str | None:
    """What to say when the filters leave no paper to answer from."""
    if not filters:
        return None
    if described:
        return f"No indexed paper matches the filters read from the question ({described}); ask without them."
    return "No indexed paper matches the filters; widen or remove them."


class Conversation:
    """Questions that build on each other; the turns so far are kept here."""

    def __init__(self, assistant: Assistant):
        self.assistant = assistant
        self.turns: list[Turn] = []

    def ask(
        self, question: str, k: int | None = None, filters: Filters | None = None, backend: str | None = None
    ) -> Answer:
        *_, answer = self.stream(question, k, filters, backend)
        assert isinstance(answer, Answer)
        return answer

    def stream(
        self, question: str, k: int | None = None, filters: Filters | None = None, backend: str | None = None
    ) -> Iterator[str | Answer]:
        for item in self.assistant.stream(question, k, filters, self.turns, backend):
            if isinstance(item, Answer):
                self.turns.append(Turn.from_answer(item))
            yield item
