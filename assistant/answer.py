"""The values the public API returns: an answer, its citations and its sources."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from index.records import Paper

MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def _authors(n: int) -> str:
    return "1 author" if n == 1 else f"{n} authors"


@dataclass(frozen=True)
class Source:
    """A retrieved paper, ranked: the thing a citation points at."""

    paper_id: str
    title: str
    score: float  # fused retrieval score; higher is better
    abstract: str = ""
    date: str | None = None
    date_text: str | None = None
    authors: int | None = None
    organization: str | None = None
    url: str | None = None
    upvotes: int | None = None
    arxiv_id: str | None = None
    doi: str | None = None
    venue: str | None = None
    categories: tuple[str, ...] = ()
    author_names: tuple[str, ...] = ()
    similarity: float = 0.0  # best cosine similarity of a chunk of this paper to the question
    keyword_score: float = 0.0  # BM25 score of the paper
    coverage: float = 0.0  # idf-weighted share of the question's terms found in title and abstract
    named: bool = False  # the question names this paper ("SkillMimic", its title)

    @classmethod
    def from_paper(
        cls,
        paper: Paper,
        score: float,
        similarity: float = 0.0,
        keyword_score: float = 0.0,
        coverage: float = 0.0,
        named: bool = False,
    ) -> Source:
        return cls(
            paper_id=paper.paper_id,
            title=paper.title,
            score=score,
            abstract=paper.abstract,
            date=paper.date,
            date_text=paper.date_text,
            authors=paper.authors,
            organization=paper.organization,
            url=paper.url,
            upvotes=paper.upvotes,
            arxiv_id=paper.arxiv_id,
            doi=paper.doi,
            venue=paper.venue,
            categories=paper.categories,
            author_names=paper.author_names,
            similarity=similarity,
            keyword_score=keyword_score,
            coverage=coverage,
            named=named,
        )

    def contribution(self) -> str:
        """What the paper does, in one sentence of its abstract: the sentence that states its
        contribution, else the first."""
        from assistant.roles import contribution
        from index.text import sentences

        return contribution(self.abstract) or next(iter(sentences(self.abstract)), "")

    def listed(self, name: str) -> Any:
        """The value of the listing field ``name`` (``assistant.questions.METADATA_FIELDS``), or None
        when the listing does not give it: no text, no names, no authors; zero upvotes is a value."""
        value = getattr(self, "date_text" if name == "date" else name)
        if value in ("", ()) or (value == 0 and name != "upvotes"):
            return None
        return value

    def byline(self) -> str:
        """'9 authors · Sep 17, 2024' or 'ByteDance Seed · Dec 23, 2025', then what an arXiv or
        reference-manager source adds: 'NeurIPS 2024 · cs.LG, cs.AI · arXiv:2401.12345 · doi:10.1/x'."""
        who = self.organization or (_authors(self.authors) if self.authors else None)
        where = ", ".join(self.categories)
        ids = (f"arXiv:{self.arxiv_id}" if self.arxiv_id else None, f"doi:{self.doi}" if self.doi else None)
        return " · ".join(x for x in (who, self.date_text, self.venue, where, *ids) if x)

    def listing(self) -> str:
        """What the listing says of the paper, in words a claim about it would use."""
        parts = [
            f"{self.authors} authors" if self.authors else "",
            f"organisation {self.organization}" if self.organization else "",
            f"listed with the date {self.date_text}" if self.date_text else "",
            f"{self.upvotes} upvotes in the listing" if self.upvotes is not None else "",
            f"links to {self.url}" if self.url else "",
            f"authors {', '.join(self.author_names)}" if self.author_names else "",
            f"published in {self.venue}" if self.venue else "",
            f"arXiv categories {', '.join(self.categories)}" if self.categories else "",
            f"arXiv id {self.arxiv_id}" if self.arxiv_id else "",
            f"DOI {self.doi}" if self.doi else "",
        ]
        return "; ".join(p for p in parts if p)


@dataclass(frozen=True)
class Citation:
    """One numbered citation in an answer's text, pointing at one source."""

    number: int
    paper_id: str
    title: str
    quotes: tuple[str, ...] = ()  # the abstract sentences that support the cited claims
    marks: tuple[str, ...] = ()  # the spans of those quotes that hold what was asked ("61.68 hours")


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation, as much as a follow-up needs of it."""

    question: str
    answer: str
    cited_titles: tuple[str, ...] = ()  # in citation-number order; the sources' when none were cited

    @classmethod
    def from_answer(cls, answer: Answer) -> Turn:
        cited = [c.title for c in sorted(answer.citations, key=lambda c: c.number)]
        titles = cited or [s.title for s in answer.sources]
        return cls(answer.standalone_question or answer.question, answer.text, tuple(titles))


@dataclass(frozen=True)
class Answer:
    """An answer: text with [n] markers, the citations they resolve to, and the ranked sources."""

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    refused: bool = False
    backend: str = "extractive"
    confidence: float = 0.0
    unsupported: int = 0  # sentences of the text that carry no supported citation
    standalone_question: str | None = None  # a follow-up, rewritten for retrieval
    notice: str | None = None  # e.g. that the LLM failed and the extractive backend answered
    filters: str | None = None  # filters read from the question, in words ("papers dated 2024-01-01 or later")
    kind: str = "other"  # the kind of question (assistant.questions.Kind): fact, which, compare, ...
    gaps: tuple[str, ...] = ()  # what the question asks that the abstracts do not hold ("batch size")
    hedged: bool = False  # no abstract answers directly: the text gives the closest match and says so

    def notes(self) -> list[str]:
        """What a reader should know besides the text, one plain sentence each, in a fixed order:
        the rewritten follow-up, filters read from the question, the backend's notice (a fallback,
        sources left out to fit the model), uncited sentences. Every adapter shows these."""
        notes = []
        if self.standalone_question:
            notes.append(f"Searched for: {self.standalone_question}")
        if self.filters:
            notes.append(f"Filters read from the question: {self.filters}")
        if self.notice:
            notes.append(f"Note: {self.notice}")
        if self.unsupported:
            notes.append(f"{self.unsupported} sentence(s) carry no supported citation.")
        return notes

    def citation(self, number: int) -> Citation | None:
        """The citation with this number, if any."""
        return next((c for c in self.citations if c.number == number), None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``assistant ask --json``."""
        return {
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "backend": self.backend,
            "confidence": round(self.confidence, 4),
            "unsupported_sentences": self.unsupported,
            "standalone_question": self.standalone_question,
            "notice": self.notice,
            "filters": self.filters,
            "kind": self.kind,
            "gaps": list(self.gaps),
            "hedged": self.hedged,
            "citations": [
                {
                    "number": c.number,
                    "paper_id": c.paper_id,
                    "title": c.title,
                    "quotes": list(c.quotes),
                    "marks": list(c.marks),
                }
                for c in self.citations
            ],
            "sources": [
                {k: v for k, v in asdict(replace(s, score=round(s.score, 6))).items() if k != "abstract"}
                for s in self.sources
            ],
        }
