"""The LlamaIndex query engine: retrieve papers, let the backend write, check the citations."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llama_index.core.base.response.schema import Response
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.retrievers import BaseRetriever

from assistant.answer import Answer, Source
from assistant.backends.base import AnswerBackend, BackendError
from assistant.citations import check_citations
from assistant.retrieve import node_to_source, source_to_node

CLOSEST_SHOWN = 3


class CitedQueryEngine(CustomQueryEngine):
    """Retrieve; refuse when retrieval is weak; else stream the backend's answer and keep only
    the citations the cited abstracts support."""

    retriever: BaseRetriever
    backend: Any  # AnswerBackend (Any keeps pydantic from validating the ABC)
    fallback: Any = None  # AnswerBackend used when `backend` fails, if configured
    support: Any  # citations.Support: (claim, source) -> (score, quote)
    refusal: str  # "The indexed abstracts do not answer this question."
    closest: str  # "The closest papers are: {titles}."
    min_similarity: float
    min_coverage: float
    min_support: float

    def custom_query(self, query_str: str) -> Response:
        answer = self.answer(query_str)
        nodes = [source_to_node(s) for s in answer.sources]
        return Response(response=answer.text, source_nodes=nodes, metadata={"answer": answer})

    def answer(self, question: str) -> Answer:
        """The whole answer at once."""
        *_, last = self.stream(question)
        assert isinstance(last, Answer)
        return last

    def stream(self, question: str) -> Iterator[str | Answer]:
        """Yield text as the backend writes it, then the checked Answer."""
        sources = [node_to_source(n) for n in self.retriever.retrieve(question)]
        top = sources[0] if sources else None
        confidence = max(top.similarity, top.coverage) if top else 0.0
        backend: AnswerBackend = self.backend
        base: dict[str, Any] = {"question": question, "sources": sources, "confidence": confidence}
        if top is None or (top.similarity < self.min_similarity and top.coverage < self.min_coverage):
            text = self._refusal(sources)
            yield text
            yield Answer(text=text, refused=True, backend=backend.name, **base)
            return
        pieces: list[str] = []
        notice = None
        try:
            for piece in backend.stream(question, sources):
                pieces.append(piece)
                yield piece
        except BackendError as exc:
            if self.fallback is None:
                raise
            notice = f"{exc} Answered with the {self.fallback.name} backend instead."
            backend = self.fallback
            pieces = [backend.write(question, sources)]
            yield "\n\n" + pieces[0]
        text = backend.scrub("".join(pieces)).strip()
        checked = check_citations(text, sources, self.support, self.min_support)
        if text.startswith(self.refusal) or not checked.citations:
            text = self._refusal(sources)
            yield Answer(text=text, refused=True, backend=backend.name, notice=notice, **base)
            return
        yield Answer(
            text=checked.text,
            citations=checked.citations,
            unsupported=checked.unsupported,
            backend=backend.name,
            notice=notice,
            **base,
        )

    def _refusal(self, sources: list[Source]) -> str:
        if not sources:
            return self.refusal
        titles = "; ".join(s.title for s in sources[:CLOSEST_SHOWN])
        return f"{self.refusal} {self.closest.format(titles=titles)}"
