"""The default backend: no generative model. It answers with the abstract sentences that best
match the question, each followed by the [n] of the paper it comes from, and refuses when no
sentence covers what the question asks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from assistant.answer import Source
from assistant.backends.base import AnswerBackend
from assistant.citations import defuse
from index.config import Config
from index.text import sentences, terms

MAX_SOURCES = 5  # sources read for sentences
MIN_SUPPORT = 0.3  # below this share of the question's terms a sentence does not answer it...
MIN_GAIN = 0.1  # a further sentence must add this share of the question's terms
NUMBER_BONUS = 0.15  # "how many" questions prefer sentences with numbers in them
RELATED_SHARE = 0.6  # a further source is quoted if its score is this close to the top one

_AUTHORS_Q = re.compile(r"\bhow many (?:authors|people|researchers|co-?authors)\b|\bauthor count\b", re.I)
_DATE_Q = re.compile(r"\b(?:when (?:was|were|did|is)|what (?:year|date)|which year|published when)\b", re.I)
_LIST_Q = re.compile(r"\b(?:which|what|any|list|find)\b.*\b(?:papers|works|studies|approaches|methods)\b", re.I)
_COMPARE_Q = re.compile(r"\b(?:compare|comparison|differ|difference|versus|vs\.?|both)\b", re.I)
_NUMERIC_Q = re.compile(
    r"\b(?:how (?:many|much|large|long|big|fast)|what (?:improvement|percentage|share|number))\b", re.I
)
_DIGIT = re.compile(r"\d")
QUESTION_WORDS = {"mani", "much", "took", "take", "part", "get"}


@dataclass(frozen=True)
class Scored:
    source: int  # 1-based source number
    sentences: tuple[str, ...]  # the quoted sentences, in abstract order
    support: float  # idf-weighted share of question terms the best sentence covers


class ExtractiveBackend(AnswerBackend):
    """Quote the best-matching sentences of the top papers."""

    name = "extractive"

    def __init__(self, config: Config, idf: Callable[[str], float]):
        from prompts import load

        self.config = config
        self.idf = idf
        self.refusal = load("refusal", config.prompts_dir)

    def stream(self, question: str, sources: list[Source]) -> Iterator[str]:
        """One piece per quoted paper, or the refusal wording."""
        parts = self._compose(question, sources)
        if not parts:
            yield self.refusal
            return
        for i, part in enumerate(parts):
            yield part if i == 0 else "\n" + part

    def _compose(self, question: str, sources: list[Source]) -> list[str]:
        if not sources:
            return []
        meta = _metadata_answer(question, sources[0])
        if meta:
            return [meta]
        weights = {t: self.idf(t) for t in set(terms(question)) if t not in QUESTION_WORDS}
        if not weights:
            return []
        numeric = bool(_NUMERIC_Q.search(question))
        best = [self._quote(i, s, weights, numeric) for i, s in enumerate(sources[:MAX_SOURCES], 1)]
        # ...unless retrieval itself is sure of the paper (paraphrased questions share few words)
        if best[0].support < self.config.min_coverage and sources[0].similarity < self.config.min_similarity:
            return []
        return [  # the abstracts' own [n] markers are defused, so only ours cite
            f"{defuse(sources[c.source - 1].title)}: "
            + " ".join(f"{defuse(s.strip())} [{c.source}]" for s in c.sentences)
            for c in self._choose(question, sources, best)
        ]

    def _quote(self, number: int, source: Source, weights: dict[str, float], numeric: bool) -> Scored:
        """The sentences of ``source`` that together cover most of the question, greedily:
        the best one, then a second if it covers enough of what the first left out."""
        total = sum(weights.values())
        covered = set(terms(source.title)) & set(weights)  # the title answers "which paper"
        base = sum(weights[t] for t in covered) / total

        def gain(candidate: tuple[int, str, set[str]]) -> float:
            return sum(w for t, w in weights.items() if t in candidate[2] and t not in covered) / total

        def score(candidate: tuple[int, str, set[str]]) -> float:
            return gain(candidate) + (NUMBER_BONUS if numeric and _DIGIT.search(candidate[1]) else 0.0)

        candidates = [(i, s, set(terms(s))) for i, s in enumerate(sentences(source.abstract))]
        if not candidates:
            return Scored(number, (), base)
        first = max(candidates, key=score)
        support = base + gain(first)
        covered |= first[2]
        picked = [first]
        second = max((c for c in candidates if c is not first), key=score, default=None)
        if second is not None and score(second) >= MIN_GAIN:
            picked.append(second)
        return Scored(number, tuple(s for _, s, _ in sorted(picked)), support)

    def _choose(self, question: str, sources: list[Source], best: list[Scored]) -> list[Scored]:
        """The top paper's quote, plus close runners-up for list and comparison questions."""
        top = best[0]
        chosen = [top]
        wide = bool(_LIST_Q.search(question) or _COMPARE_Q.search(question))
        for cand in best[1:]:
            close = sources[cand.source - 1].score >= RELATED_SHARE * sources[0].score
            if cand.sentences and close and cand.support >= MIN_SUPPORT and (wide or cand.support >= top.support):
                chosen.append(cand)
        return chosen[: 4 if wide else 2]


def _metadata_answer(question: str, top: Source) -> str | None:
    """Answer 'how many authors' and 'when was it published' from the listing's metadata."""
    if _AUTHORS_Q.search(question):
        if top.authors:
            return f"{top.title} lists {top.authors} authors [1]."
        if top.organization:
            return f"The listing for {top.title} names the organisation {top.organization}, not its authors [1]."
    elif _DATE_Q.search(question) and top.date_text:
        return f"{top.title} is listed with the date {top.date_text} [1]."
    return None
