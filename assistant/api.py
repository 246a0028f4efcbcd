"""The public Python API: ``Assistant`` over the index, the retriever and the answering backend.

The CLI, the chat UI and the bot are thin adapters over this class.
"""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from assistant.answer import Answer, Source, Turn
from assistant.questions import Kind, read
from index.config import Config
from index.ingest import IngestReport, ingest
from index.records import Paper
from index.store import Filters, StoreError

log = logging.getLogger(__name__)


class QuestionError(ValueError):
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


class Assistant:
    """Ask questions about the indexed paper abstracts and get cited answers."""

    def __init__(self, config: Config | None = None, **overrides: Any):
        self.config = config if config is not None else Config.load(**overrides)
        self._lock = threading.Lock()
        self._search: Any = None
        self._backend: Any = None
        self._fallback: Any = None
        self._checked = 0.0  # when the store's generation was last compared with the open index's
        self._refreshing = False

    # the index
    def ingest(
        self,
        paths: Iterable[str | Path] | None = None,
        rebuild: bool = False,
        progress: bool = False,
        wait: bool = False,
    ) -> IngestReport:
        """Bring the index in line with ``paths`` (default: the configured sources). If another
        ingest into the same index is running, wait for it with ``wait``, else fail at once."""
        embedder = self._search.embedder if self._search else None
        sources = [Path(p) for p in paths] if paths else None
        report = ingest(self.config, sources, rebuild, progress, embedder, wait=wait)
        with self._lock:
            self._search = None  # reopen on next use, with the new papers
        return report

    def _ready(self):
        with self._lock:
            if self._search is None:
                try:
                    search = self._open()
                except StoreError:
                    if self.config.sources != Config.model_fields["sources"].default:
                        raise
                    ingest(self.config, wait=True)  # first use: build the bundled corpus (once, if racing)
                    search = self._open()
                self._use(search)
            elif time.monotonic() - self._checked >= self.config.refresh_seconds and not self._refreshing:
                self._checked = time.monotonic()
                try:
                    changed = self._search.store.generation() != self._search.generation
                except StoreError:
                    changed = False  # the store is unreachable or damaged: answer from what is open
                if changed:  # another process ingested: reopen in the background, answer meanwhile
                    self._refreshing = True
                    threading.Thread(target=self._refresh, args=(self._search,), daemon=True).start()
            return self._search, self._backend

    def _open(self, embedder: Any = None):
        from assistant.retrieve import HybridSearch

        self._checked = time.monotonic()
        return HybridSearch.open(self.config, embedder)

    def _use(self, search: Any) -> None:
        """Answer from ``search`` from now on (call with the lock held)."""
        from assistant.backends import make_backend

        self._backend = make_backend(self.config.llm, self.config, search)
        use_fallback = self.config.llm_fallback and self.config.llm != "extractive"
        self._fallback = make_backend("extractive", self.config, search) if use_fallback else None
        self._search = search

    def _refresh(self, old: Any) -> None:
        try:
            search = self._open(old.embedder)
            with self._lock:
                if self._search is old:  # not replaced meanwhile (by an ingest in this process)
                    self._use(search)
        except Exception:  # keep answering from the index that is open; the next check tries again
            log.warning("could not reopen the index after another process's ingest", exc_info=True)
        finally:
            self._refreshing = False

    def _engine(self, k: int | None, filters: Filters | None, described: str | None = None):
        from assistant.engine import CitedQueryEngine
        from assistant.retrieve import PaperRetriever
        from prompts import load

        search, backend = self._ready()
        return CitedQueryEngine(
            retriever=PaperRetriever(search, k, filters),
            backend=backend,
            fallback=self._fallback,
            support=search.support,
            idf=search.keyword.idf,
            refusal=load("refusal", self.config.prompts_dir),
            nothing=_nothing_matches(filters, described),
            closest=load("closest", self.config.prompts_dir),
            min_similarity=self.config.min_similarity,
            min_coverage=self.config.min_coverage,
            min_support=self.config.min_support,
        )

    # answering
    def retrieve(self, question: str, k: int | None = None, filters: Filters | None = None) -> list[Source]:
        """The top ``k`` papers for ``question``, best first."""
        search, _ = self._ready()
        return search.search(clean_question(question, self.config.max_question_chars), k, filters)

    def ask(
        self,
        question: str,
        k: int | None = None,
        filters: Filters | None = None,
        history: list[Turn] | None = None,
    ) -> Answer:
        """Answer ``question`` from the abstracts, citing papers as [n]; refuse when they don't say.

        With ``history`` (earlier turns, oldest first) a follow-up is first rewritten into a
        standalone question.
        """
        *_, answer = self.stream(question, k, filters, history)
        assert isinstance(answer, Answer)
        return answer

    def stream(
        self,
        question: str,
        k: int | None = None,
        filters: Filters | None = None,
        history: list[Turn] | None = None,
    ) -> Iterator[str | Answer]:
        """Yield the answer text as it is written, then the checked ``Answer``."""
        question = clean_question(question, self.config.max_question_chars)
        standalone = self._standalone(question, history or [])
        searched, described = standalone, None
        if filters is None and self.config.auto_filters:
            searched, filters, described = self._read_filters(standalone)
        if k is None and read(searched).kind is Kind.WHICH and not read(searched).single:
            k = max(self.config.top_k, self.config.list_top_k)  # a list must see every paper that matches
        engine = self._engine(k, filters, described)
        for item in engine.stream(searched):
            if isinstance(item, Answer):
                rewritten = standalone if standalone != question else None
                item = replace(item, question=question, standalone_question=rewritten, filters=described)
            yield item

    def _read_filters(self, question: str) -> tuple[str, Filters | None, str | None]:
        """Filters written into the question, and the question without them."""
        from assistant.nlfilters import parse

        search, _ = self._ready()
        parsed = parse(question, search.organizations)
        return parsed.question, parsed.filters, parsed.description

    def _standalone(self, question: str, history: list[Turn]) -> str:
        if not history:
            return question
        from assistant.backends import BackendError
        from assistant.followup import resolve_references

        _, backend = self._ready()
        try:
            return clean_question(backend.condense(question, history), self.config.max_question_chars)
        except (BackendError, QuestionError):
            if self._fallback is None:
                raise
            return resolve_references(question, history)

    def papers(self) -> list[Paper]:
        """Every indexed paper (title, abstract, date, authors or organisation, ...)."""
        search, _ = self._ready()
        return list(search.papers.values())

    def conversation(self) -> Conversation:
        """A chat session: each question can refer to the answers before it."""
        return Conversation(self)

    def stats(self) -> dict[str, Any]:
        """Counts and settings: papers, chunks, backend, embedding model, store location."""
        search, backend = self._ready()
        return {
            **search.store.counts(),
            "backend": backend.name,
            "llm_model": getattr(backend, "where", None),
            "fallback": self._fallback.name if self._fallback else None,
            "embed_model": self.config.embed_model,
            "store": search.store.location,
        }


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

    def ask(self, question: str, k: int | None = None, filters: Filters | None = None) -> Answer:
        *_, answer = self.stream(question, k, filters)
        assert isinstance(answer, Answer)
        return answer

    def stream(self, question: str, k: int | None = None, filters: Filters | None = None) -> Iterator[str | Answer]:
        for item in self.assistant.stream(question, k, filters, self.turns):
            if isinstance(item, Answer):
                self.turns.append(Turn.from_answer(item))
            yield item
