"""The LlamaIndex query engine: retrieve papers, let the backend write, check the citations."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.response.schema import Response
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.retrievers import BaseRetriever

from assistant.answer import Answer, Source
from assistant.backends.base import AnswerBackend, Draft
from assistant.citations import finalize
from assistant.retrieve import node_to_source

CLOSEST_SHOWN = 3


class CitedQueryEngine(CustomQueryEngine):
    """Retrieve, refuse when retrieval is weak, else answer with verified [n] citations."""

    retriever: BaseRetriever
    backend: Any  # an AnswerBackend; Any keeps pydantic from validating the ABC
    min_similarity: float
    min_coverage: float
    refusal: str  # "The indexed abstracts do not answer this question."
    closest: str  # "The closest papers are: {titles}."

    def custom_query(self, query_str: str) -> Response:
        nodes = self.retriever.retrieve(query_str)
        sources = [node_to_source(n) for n in nodes]
        top = sources[0] if sources else None
        confidence = max(top.similarity, top.coverage) if top else 0.0
        backend: AnswerBackend = self.backend
        if top is None or (top.similarity < self.min_similarity and top.coverage < self.min_coverage):
            draft = Draft("", refused=True)
        else:
            draft = backend.write(query_str, sources)
        text, citations = finalize(draft, sources)
        refused = draft.refused or not citations
        if refused:
            text, citations = self._refusal(sources), []
        meta = {"citations": citations, "refused": refused, "confidence": confidence, "backend": backend.name}
        return Response(response=text, source_nodes=nodes, metadata=meta)

    def _refusal(self, sources: list[Source]) -> str:
        if not sources:
            return self.refusal
        titles = "; ".join(s.title for s in sources[:CLOSEST_SHOWN])
        return f"{self.refusal} {self.closest.format(titles=titles)}"


def response_to_answer(question: str, response: Any) -> Answer:
    """The public Answer value from the engine's Response."""
    if not isinstance(response, Response):
        raise TypeError(f"expected a Response from the query engine, got {type(response).__name__}")
    meta = response.metadata or {}
    return Answer(
        question=question,
        text=str(response.response or ""),
        citations=list(meta.get("citations", [])),
        sources=[node_to_source(n) for n in response.source_nodes],
        refused=bool(meta.get("refused")),
        backend=str(meta.get("backend", "")),
        confidence=float(meta.get("confidence", 0.0)),
    )
