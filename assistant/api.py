"""The public Python API: ``Assistant`` over the index, the retriever and the answering backend.

The CLI, the chat UI and the bot are thin adapters over this class.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from assistant.answer import Answer, Source
from index.config import Config
from index.ingest import IngestReport, ingest
from index.store import Filters, StoreError


class QuestionError(ValueError):
    """The question cannot be asked as given; the message says how to fix it."""


def clean_question(question: str, max_chars: int) -> str:
    """Strip control characters and spaces; reject empty or over-long questions."""
    if not isinstance(question, str):
        raise QuestionError("the question must be text")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in question)
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
        self._search = None
        self._backend = None

    # the index
    def ingest(
        self, paths: Iterable[str | Path] | None = None, rebuild: bool = False, progress: bool = False
    ) -> IngestReport:
        """Bring the index in line with ``paths`` (default: the configured sources)."""
        embedder = self._search.embedder if self._search else None
        report = ingest(self.config, [Path(p) for p in paths] if paths else None, rebuild, progress, embedder)
        with self._lock:
            self._search = None  # reopen on next use, with the new papers
        return report

    def _ready(self):
        with self._lock:
            if self._search is None:
                from assistant.backends import make_backend
                from assistant.retrieve import HybridSearch

                try:
                    search = HybridSearch.open(self.config)
                except StoreError:
                    if self.config.sources != Config.model_fields["sources"].default:
                        raise
                    ingest(self.config)  # first use: build the bundled corpus
                    search = HybridSearch.open(self.config)
                self._backend = make_backend(self.config, search)
                self._search = search
            return self._search, self._backend

    # answering
    def retrieve(self, question: str, k: int | None = None, filters: Filters | None = None) -> list[Source]:
        """The top ``k`` papers for ``question``, best first."""
        search, _ = self._ready()
        return search.search(clean_question(question, self.config.max_question_chars), k, filters)

    def ask(self, question: str, k: int | None = None, filters: Filters | None = None) -> Answer:
        """Answer ``question`` from the abstracts, citing papers as [n]; refuse when they don't say."""
        from assistant.engine import CitedQueryEngine, response_to_answer
        from assistant.retrieve import PaperRetriever
        from prompts import load

        question = clean_question(question, self.config.max_question_chars)
        search, backend = self._ready()
        engine = CitedQueryEngine(
            retriever=PaperRetriever(search, k, filters),
            backend=backend,
            min_similarity=self.config.min_similarity,
            min_coverage=self.config.min_coverage,
            refusal=load("refusal", self.config.prompts_dir),
            closest=load("closest", self.config.prompts_dir),
        )
        return response_to_answer(question, engine.query(question))

    def stats(self) -> dict[str, Any]:
        """Counts and settings: papers, chunks, backend, embedding model, store location."""
        search, backend = self._ready()
        return {
            **search.store.counts(),
            "backend": backend.name,
            "embed_model": self.config.embed_model,
            "store": search.store.location,
        }
