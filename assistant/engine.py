"""The LlamaIndex query engine: retrieve papers, let the backend decide and write, check the citations."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from llama_index.core.base.response.schema import Response
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.retrievers import BaseRetriever

from assistant.answer import Answer, Citation, Source
from assistant.answerability import Focus, Gap, assess
from assistant.backends.base import AnswerBackend, BackendError
from assistant.citations import check_citations
from assistant.questions import Question, answer_marks, read
from assistant.retrieve import node_to_source, source_to_node

CLOSEST_SHOWN = 3


class CitedQueryEngine(CustomQueryEngine):
    """Retrieve; refuse only when nothing retrieved is usable; let the backend decide and write;
    keep only the citations the cited abstracts support."""

    retriever: BaseRetriever
    backend: Any  # AnswerBackend (Any keeps pydantic from validating the ABC)
    fallback: Any = None  # AnswerBackend used when `backend` fails, if configured
    support: Any  # citations.Support: (claim, source) -> (score, quote)
    refusal: str  # "The indexed abstracts do not answer this question."
    nothing: str | None = None  # what to say when filters leave no paper: "No indexed paper matches ..."
    closest: str  # "The closest papers are: {titles}."
    hedge: str  # "No abstract answers this directly; the closest match is below."
    idf: Any  # term -> inverse document frequency in the corpus
    floor: float  # below this cosine of the best paper nothing retrieved is usable
    min_support: float

    def custom_query(self, query_str: str) -> Response:
        answer = self.answer(query_str)
        nodes = [source_to_node(s) for s in answer.sources]
        return Response(response=answer.text, source_nodes=nodes, metadata={"answer": answer})

    def answer(self, question: str | Question) -> Answer:
        """The whole answer at once."""
        *_, last = self.stream(question)
        assert isinstance(last, Answer)
        return last

    def stream(self, question: str | Question) -> Iterator[str | Answer]:
        """Yield text as the backend writes it, then the checked Answer."""
        asked = read(question) if isinstance(question, str) else question
        sources = [node_to_source(n) for n in self.retriever.retrieve(asked.text)]
        top = sources[0] if sources else None
        backend: AnswerBackend = self.backend
        base: dict[str, Any] = {
            "question": asked.text,
            "sources": sources,
            "confidence": top.similarity if top else 0.0,
            "kind": asked.kind.value,
        }
        if top is None or (top.similarity < self.floor and not top.named):  # nothing usable, for any reader
            text = self.nothing if top is None and self.nothing else self._refusal(sources)
            yield text
            yield Answer(text=text, refused=True, backend=backend.name, **base)
            return
        verdict = backend.judge(asked, sources)
        if verdict is not None and verdict.gaps and not verdict.answered:
            answer = self._gap_answer(verdict.gaps, sources, backend.name, base)
            yield answer.text
            yield answer
            return
        hedge = verdict is not None and verdict.hedge
        if hedge:
            yield self.hedge + "\n"
        pieces: list[str] = []
        notice = None
        try:
            sent, notice = backend.fit(asked, sources)  # an LLM reads only the sources that fit its window
            for piece in backend.stream(asked, sent):
                pieces.append(piece)
                yield piece
        except BackendError as exc:
            if self.fallback is None:
                raise
            notice = f"{str(exc).rstrip('.')}. Answered with the {self.fallback.name} backend instead."
            backend = self.fallback
            pieces = [backend.write(asked, sources)]
            yield "\n\n" + pieces[0]
        text = backend.scrub("".join(pieces)).strip()
        focus = verdict.focus if verdict is not None and verdict.focus else assess(asked.text, asked, sources, self.idf)
        checked = check_citations(text, sources, self._focused_support(focus), self.min_support)
        if text.startswith(self.refusal) or not checked.citations:
            text = self._refusal(sources)
            yield Answer(text=text, refused=True, backend=backend.name, notice=notice, **base)
            return
        text, citations = checked.text, _marked(checked.citations, asked)
        if hedge:
            text = f"{self.hedge}\n{text}"
        gaps = verdict.gaps if verdict is not None else ()
        if gaps:  # a question in several parts: the parts the abstracts do not answer, named
            said = " ".join(g.sentence(sources) for g in gaps)
            yield "\n" + said
            text = f"{text}\n{said}"
            citations = _with_gap_citations(citations, gaps, sources)
        yield Answer(
            text=text,
            citations=citations,
            unsupported=checked.unsupported,
            backend=backend.name,
            notice=notice,
            gaps=tuple(g.what for g in gaps),
            hedged=hedge,
            **base,
        )

    def _focused_support(self, focus: Focus):
        """The citation check, plus: a sentence that pins a focus term on a paper whose abstract
        does not hold it loses that citation (for every backend)."""

        def support(claim: str, source: Source) -> tuple[float, str]:
            if not focus.supported(claim, source):
                return 0.0, ""
            return self.support(claim, source)

        return support

    def _gap_answer(self, gaps: tuple[Gap, ...], sources: list[Source], backend: str, base: dict) -> Answer:
        """Say plainly what the abstracts lack: of the paper asked about, or of all of them."""
        text = " ".join(g.sentence(sources) if g.what else self.refusal for g in gaps)
        if all(g.source is None for g in gaps):
            titles = "; ".join(s.title for s in sources[:CLOSEST_SHOWN])
            text = f"{text} {self.closest.format(titles=titles)}"
        return Answer(
            text=text,
            citations=_with_gap_citations([], gaps, sources),
            refused=True,
            backend=backend,
            gaps=tuple(g.what for g in gaps if g.what),
            **base,
        )

    def _refusal(self, sources: list[Source]) -> str:
        if not sources:
            return self.refusal
        titles = "; ".join(s.title for s in sources[:CLOSEST_SHOWN])
        return f"{self.refusal} {self.closest.format(titles=titles)}"


def _marked(citations: list[Citation], question: Question) -> list[Citation]:
    """Citations with the spans of their quotes that hold what a fact question asks."""
    out = []
    for c in citations:
        marks = tuple(m for q in c.quotes for m in answer_marks(question.text, question, q))
        out.append(replace(c, marks=marks[:2]) if marks else c)
    return out


def _with_gap_citations(citations: list[Citation], gaps: tuple[Gap, ...], sources: list[Source]) -> list[Citation]:
    """A gap said of one paper cites that paper (with no quote: nothing in it supports a claim)."""
    numbers = {c.number for c in citations}
    extra = [
        Citation(number=g.source, paper_id=sources[g.source - 1].paper_id, title=sources[g.source - 1].title)
        for g in gaps
        if g.source is not None and g.source not in numbers
    ]
    return sorted([*citations, *{c.number: c for c in extra}.values()], key=lambda c: c.number)
