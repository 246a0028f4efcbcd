"""The default backend: no generative model. It composes an answer from the abstracts' own
sentences, by the kind of question (``assistant.questions``) and the role of each sentence
(``assistant.roles``), each sentence followed by the [n] of the paper it comes from:

- fact: the sentence that holds what is asked;
- which papers: every retrieved paper that matches, title and contribution, best first;
- compare: each named paper's contribution and key result side by side, then what the
  abstracts say on the point the question raises;
- summary: the abstract's most central sentences, in its order (nearest the mean of its sentence
  vectors, each new one unlike those picked);
- metadata: the listing's fields (authors, date, upvotes, organisation, URL);
- other: the best-matching sentences of the top paper and of close runners-up.

It writes the refusal wording when no sentence covers what the question asks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from assistant.answer import Source
from assistant.answerability import (
    PERCENT,
    PROPER,
    RELEASE_ASKED,
    SCAFFOLD,
    counted,
    named_sources,
    venue_sentence,
    verdict,
)
from assistant.backends.base import AnswerBackend, Verdict
from assistant.citations import cite, defuse, titled
from assistant.judge import Embed, Vectors
from assistant.names import short_name, spelled_before
from assistant.questions import (
    Kind,
    Question,
    asked_head,
    asks_name,
    compare_parts,
    question_parts,
)
from assistant.roles import availability, contribution, headline_result
from index.config import Config
from index.keyword import KeywordIndex
from index.text import sentences, terms

MIN_SUPPORT = 0.3  # below this share of the question's terms a sentence does not answer it...
MIN_GAIN = 0.1  # a further sentence must add this share of the question's terms
NUMBER_BONUS = 0.15  # "how many" questions prefer sentences with numbers in them
RELATED_SHARE = 0.6  # a further source is quoted if its score is this close to the top one
# A "which papers" answer lists every paper whose retrieval score is this close to the top one's,
# or whose title and abstract hold this much of what the top one holds of the question (tuned on
# the tuning part of assistant/data/questions.jsonl, with list_top_k = 10 papers read).
MATCH_SHARE = 0.85
MATCH_COVERAGE = 0.6
# ...and under "may be related" the rest whose score is within 0.7 of the top one's or whose text
# holds 0.4 of what the top one holds (the same tuning: every gold paper of 19 of 21 lists is cited).
LIST_RELATED_SHARE = 0.7
LIST_RELATED_COVERAGE = 0.4
NAME_BONUS = 0.15  # "which model" questions prefer sentences that name one
HEAD_WEIGHT = 2.0  # a fact question's asked words ("how many GPUs") count this much more than the rest
COUNT_BONUS = 0.3  # "how many X" questions prefer a sentence that counts X ("130 tasks")
MAX_SOURCES = 10
SUMMARY_SENTENCES = 3
SUMMARY_NOVELTY = 0.3  # how much a summary sentence's likeness to those already picked counts against it
_DIGIT = re.compile(r"(?<![\w.])\d[\d,.]*(?![\w)])|(?<![\w.])\d[\d,.]*(?:%|x\b|×)")  # a quantity, not "GSM8K" or "1)"
_IDENTIFIER = re.compile(r"(?<![\w-])(?:[A-Z][a-z]*[A-Z0-9][\w.-]*|[A-Z]{2,}[\w.-]*)(?![\w-])")
_SHARE = re.compile(r"\d\s?\\?%|\bper ?cent\b|\bpercentage\b|\bhalf\b|\bfraction\b|\bquarter\b", re.I)


@dataclass(frozen=True)
class Scored:
    source: int  # 1-based source number
    sentences: tuple[str, ...]  # the quoted sentences, in abstract order
    support: float  # idf-weighted share of question terms the best sentence covers
    coverage: float  # idf-weighted share of question terms in the title and the whole abstract


class ExtractiveBackend(AnswerBackend):
    """Compose an answer from the abstracts' sentences."""

    name = "extractive"

    def __init__(self, config: Config, keyword: KeywordIndex, embed: Embed):
        from prompts import load

        self.config = config
        self.keyword = keyword
        self.vectors = Vectors(embed)  # the words that carry a question, a refusal's topic words
        self.idf = keyword.idf
        self.refusal = load("refusal", config.prompts_dir)

    def judge(self, question: Question, sources: list[Source]) -> Verdict | None:
        """What of ``question`` the sources do not answer (``answerability.verdict``): a topic no
        top abstract covers, a detail the paper asked about does not report, or, when unsure, that
        the answer is the closest match, hedged."""
        found = verdict(question, sources, self.keyword, self.vectors)
        if found is None:
            return Verdict(hedge=True)
        if isinstance(found, tuple):
            return Verdict(gaps=found)
        return Verdict(gaps=found.gaps, answered=found.answered, focus=found)

    def stream(self, question: Question, sources: list[Source]) -> Iterator[str]:
        """One piece per paragraph, or the refusal wording."""
        parts = self._compose(question, sources)
        if not parts:
            yield self.refusal
            return
        for i, part in enumerate(parts):
            yield part if i == 0 else "\n" + part

    def _compose(self, reading: Question, sources: list[Source]) -> list[str]:
        if not sources:
            return []
        question = reading.text
        if reading.kind is Kind.METADATA:
            return _metadata_answer(reading, question, sources, self.idf)
        weights = {t: self.idf(t) for t in set(terms(question)) if t not in SCAFFOLD}
        if not weights:
            weights = {t: self.idf(t) for t in set(terms(question))}
        if not weights:
            return []
        names_fact = reading.kind is Kind.FACT
        head = frozenset(t for word in asked_head(question) for t in terms(word)) if names_fact else frozenset()
        if names_fact:  # what is asked ("sample-efficiency improvement") outweighs the description
            for t in head & set(weights):
                weights[t] *= HEAD_WEIGHT
        scored = [
            self._quote(i, s, weights, reading.numeric, names_fact, head, names_fact and asks_name(question))
            for i, s in enumerate(sources[:MAX_SOURCES], 1)
        ]
        named = [n for n in named_sources(question, sources, self.idf) if n <= len(scored)]
        subject = scored[named[0] - 1] if named else scored[0]
        if not subject.sentences:
            return []
        released = RELEASE_ASKED.search(question) and availability(sources[subject.source - 1].abstract)
        if released:  # "is the code available?": the sentence that says so
            return [_line(sources, replace(subject, sentences=(released,)))]
        if reading.kind is Kind.COMPARE:
            return self._compare(question, sources, scored, named, weights)
        if reading.kind is Kind.WHICH and not reading.single:
            return self._which(sources, scored)
        if reading.kind is Kind.SUMMARY or (reading.kind is Kind.WHICH and reading.single):
            return [_summary(subject.source, sources[subject.source - 1], reading.single, self.vectors)]
        if reading.kind is Kind.FACT:
            return [_line(sources, self._every_part(question, sources[subject.source - 1], subject))]
        return [_line(sources, c) for c in self._choose(question, sources, scored, subject)]

    def _quote(
        self,
        number: int,
        source: Source,
        weights: dict[str, float],
        numeric: bool,
        names_fact: bool = False,
        head: frozenset[str] = frozenset(),
        naming: bool = False,
    ) -> Scored:
        """The sentences of ``source`` that together cover most of the question, greedily: the
        best one (a number in it for "how many" questions, a name for "which model"), then a
        second if it covers enough of what the title and the first left out."""
        total = sum(weights.values())
        title_terms = set(terms(source.title))
        covered = title_terms & set(weights)  # the title answers "which paper"
        base = sum(weights[t] for t in covered) / total
        every = title_terms | set(terms(source.abstract))
        coverage = sum(w for t, w in weights.items() if t in every) / total

        def holds(candidate: tuple[int, str, set[str]]) -> float:
            return sum(w for t, w in weights.items() if t in candidate[2]) / total

        def gain(candidate: tuple[int, str, set[str]]) -> float:
            return sum(w for t, w in weights.items() if t in candidate[2] and t not in covered) / total

        asked = set(weights) | title_terms  # the paper's own name in its title names the paper, not the answer

        def names_new(sentence: str) -> bool:  # "Polytropon", "UnifiedQA", "Chomsky's theory"
            found = (*_IDENTIFIER.finditer(sentence), *PROPER.finditer(sentence))
            return any(not set(terms(m.group(0))) <= asked and not _spelled_in(m, sentence, asked) for m in found)

        def score(candidate: tuple[int, str, set[str]]) -> float:
            if numeric:
                bonus = NUMBER_BONUS if _DIGIT.search(candidate[1]) else 0.0
                if head and counted(candidate[1], head):  # "how many tasks": "130 tasks"
                    bonus += COUNT_BONUS
                elif head & PERCENT and _SHARE.search(candidate[1]):  # "what fraction": "1% of the inputs"
                    bonus += COUNT_BONUS
            else:
                bonus = NAME_BONUS if names_fact and names_new(candidate[1]) else 0.0
            return gain(candidate) + 0.5 * holds(candidate) + bonus

        candidates = [(i, s, set(terms(s))) for i, s in enumerate(sentences(source.abstract))]
        if not candidates:
            return Scored(number, (), base, coverage)
        first = max(candidates, key=score)
        support = base + gain(first)
        covered |= first[2]
        picked = [first]
        second = max((c for c in candidates if c is not first), key=gain, default=None)
        if second is not None and gain(second) >= MIN_GAIN:
            picked.append(second)
        elif naming and not _NAMING.search(first[1]):  # "what is the score called": the sentence that names it
            picked += [c for c in candidates if c is not first and _naming(c, head) and names_new(c[1])][:1]
        if names_fact and not numeric and not any(names_new(c[1]) for c in picked):
            # "which routing method does it build on": the quote so far names nothing the question did not
            named = [c for c in candidates if c not in picked and names_new(c[1])]
            if named:
                picked.append(max(named, key=score))
        return Scored(number, tuple(s for _, s, _ in sorted(picked)), support, coverage)

    def _every_part(self, question: str, source: Source, subject: Scored) -> Scored:
        """A fact question in several parts ("what kind of delusions ..., and how can it be
        resolved?"): the quote gains the sentence that answers each part best, when the quote
        does not already hold enough of that part."""
        quoted = list(subject.sentences)
        parts = question_parts(question)
        for part in parts if len(parts) > 1 else ():
            weights = {t: self.idf(t) for t in set(terms(part)) if t not in SCAFFOLD}
            said = {t for x in quoted for t in terms(x)}
            if not weights or sum(w for t, w in weights.items() if t in said) >= MIN_SUPPORT * sum(weights.values()):
                continue
            extra = _best_sentence(source.abstract, weights, set(quoted))
            if extra is not None:
                quoted.append(extra)
        if len(quoted) == len(subject.sentences):
            return subject
        order = {x: i for i, x in enumerate(sentences(source.abstract))}
        return replace(subject, sentences=tuple(sorted(quoted, key=lambda x: order.get(x, len(order)))))

    def _choose(self, question: str, sources: list[Source], best: list[Scored], subject: Scored) -> list[Scored]:
        """The subject paper's quote, plus a close runner-up that answers as well."""
        chosen = [subject]
        for cand in best:
            if cand is subject:
                continue
            close = sources[cand.source - 1].score >= RELATED_SHARE * sources[0].score
            if cand.sentences and close and cand.support >= max(MIN_SUPPORT, subject.support):
                chosen.append(cand)
        return chosen[:2]

    def _which(self, sources: list[Source], scored: list[Scored]) -> list[str]:
        """Every retrieved paper that matches, best first, each as title and contribution; then,
        as such, the papers that may be related, each with its sentence closest to the question."""
        top, top_coverage = sources[0].score, sources[0].coverage

        def close(c: Scored, share: float, coverage: float) -> bool:
            s = sources[c.source - 1]
            return c is scored[0] or s.score >= share * top or s.coverage >= coverage * top_coverage

        matching = [c for c in scored if c.sentences and close(c, MATCH_SHARE, MATCH_COVERAGE)]
        related = [
            c
            for c in scored
            if c.sentences and c not in matching and close(c, LIST_RELATED_SHARE, LIST_RELATED_COVERAGE)
        ]
        verb = "matches" if len(matching) == 1 else "match"
        if len(matching) == len(scored) > 1:
            lines = [f"All {_count(len(scored)).lower()} retrieved papers match:"]
        else:
            lines = [f"{_count(len(matching))} of the {_count(len(scored)).lower()} retrieved papers {verb}:"]
        for c in matching:
            s = sources[c.source - 1]
            sentence = contribution(s.abstract) or c.sentences[0]
            lines.append(f"- {titled(s.title)}: {cite(defuse(sentence.strip()), c.source)}")
        if related:
            lines.append(f"\n{_count(len(related))} more may be related:")
            for c in related:
                s = sources[c.source - 1]
                lines.append(f"- {titled(s.title)}: {cite(defuse(c.sentences[0].strip()), c.source)}")
        return lines

    def _compare(
        self, question: str, sources: list[Source], scored: list[Scored], named: list[int], weights: dict[str, float]
    ) -> list[str]:
        """Each compared paper's contribution and key result, in the order the question names them,
        then what each abstract says on the aspect the question asks about."""
        picked = list(dict.fromkeys(named))
        for part in compare_parts(question):
            if len(picked) >= 3:
                break
            n = _best_for(part, sources, self.idf, exclude=picked)
            if n is not None:
                picked.append(n)
        for c in scored:  # fall back on the best-ranked papers
            if len(picked) >= 2:
                break
            if c.source not in picked and c.sentences:
                picked.append(c.source)
        lines: list[str] = []
        for n in picked:
            s = sources[n - 1]
            lines.append(f"{'' if not lines else chr(10)}{titled(s.title)} [{n}]:")
            said = []
            for label, sentence in (("proposes", contribution(s.abstract)), ("reports", headline_result(s.abstract))):
                if sentence and sentence not in said:
                    said.append(sentence)
                    lines.append(f"- It {label}: {cite(defuse(sentence.strip()), n)}")
        aspect = {t: w for t, w in weights.items() if not any(t in terms(sources[n - 1].title) for n in picked)}
        if aspect:
            notes = []
            for n in picked:
                sentence = _best_sentence(sources[n - 1].abstract, aspect, exclude=set(lines))
                if sentence:
                    notes.append(f"{short(sources[n - 1].title)}: {cite(defuse(sentence.strip()), n)}")
            if notes:
                lines.append("\nOn the point the question raises:")
                lines.extend(f"- {note}" for note in notes)
        return lines


_NAMING = re.compile(  # a sentence that gives something its name
    r"\b(?:called|named|dubbed|termed|coined|refer(?:red)? to (?:\w+ ){0,4}as|known as)\b|\bfor short\b", re.I
)


def _spelled_in(name: re.Match[str], sentence: str, asked: set[str]) -> bool:
    """Whether ``name`` is an acronym in brackets after words the question says: "reinforcement
    learning (RL)" names nothing new to a question about reinforcement learning."""
    words = spelled_before(name, sentence)
    return words is not None and set(terms(" ".join(words))) <= asked


def _naming(candidate: tuple[int, str, set[str]], head: frozenset[str]) -> bool:
    """Whether the sentence names the asked thing ("We refer to the empirical score as ... VERTEX")."""
    return bool(_NAMING.search(candidate[1])) and bool(head & candidate[2])


def _best_sentence(abstract: str, weights: dict[str, float], exclude: set[str]) -> str | None:
    """The abstract's sentence that holds most of ``weights``, if it holds any."""
    total = sum(weights.values()) or 1.0
    best, best_score = None, 0.0
    for sentence in sentences(abstract):
        if any(sentence.strip() in line for line in exclude):
            continue
        score = sum(w for t, w in weights.items() if t in set(terms(sentence))) / total
        if score > best_score:
            best, best_score = sentence, score
    return best if best_score >= MIN_SUPPORT else None


def _best_for(part: str, sources: list[Source], idf: Callable[[str], float], exclude: list[int]) -> int | None:
    """The source a phrase of the question ("the struggle dataset") describes best."""
    weights = {t: idf(t) for t in set(terms(part)) if t not in SCAFFOLD}
    total = sum(weights.values())
    if not total:
        return None
    best, best_score = None, 0.0
    for n, s in enumerate(sources, 1):
        if n in exclude:
            continue
        title, text = set(terms(s.title)), set(terms(s.abstract))
        score = sum(w * (1.0 if t in title else 0.7 if t in text else 0.0) for t, w in weights.items()) / total
        if score > best_score:
            best, best_score = n, score
    return best if best_score >= 0.5 else None


def short(title: str) -> str:
    """A paper's name for a side-by-side line: its short name, else its title."""
    return defuse(short_name(title) or title)


def _count(n: int) -> str:
    words = ["No", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten"]
    return words[n] if n < len(words) else str(n)


def _line(sources: list[Source], c: Scored) -> str:
    """The abstracts' own [n] markers are defused, so only ours cite."""
    title = titled(sources[c.source - 1].title)
    return f"{title}: " + " ".join(cite(defuse(s.strip()), c.source) for s in c.sentences)


def _summary(n: int, source: Source, single: bool, vectors: Vectors) -> str:
    """The abstract's most central sentences (``central``), in the abstract's order."""
    lead = f"{titled(source.title)} [{n}] is the closest match." if single else f"{titled(source.title)}:"
    return lead + " " + " ".join(cite(defuse(s.strip()), n) for s in central(source.abstract, vectors))


def central(abstract: str, vectors: Vectors, k: int = SUMMARY_SENTENCES) -> list[str]:
    """The ``k`` sentences of ``abstract`` that best stand for it, in its order: each the closest
    to the mean of its sentence vectors, less its likeness to those already picked (maximal
    marginal relevance, ``SUMMARY_NOVELTY``), so a summary does not say one thing twice."""
    said = sentences(abstract)
    if len(said) <= k:
        return said
    rows = vectors(said)
    centre = rows.mean(axis=0)
    closeness = rows @ (centre / max(float(np.linalg.norm(centre)), 1e-12))
    likeness = rows @ rows.T
    picked: list[int] = []
    while len(picked) < k:
        picked.append(
            max(
                (i for i in range(len(said)) if i not in picked),
                key=lambda i: (
                    (1 - SUMMARY_NOVELTY) * closeness[i]
                    - SUMMARY_NOVELTY * max((likeness[i, j] for j in picked), default=0.0)
                ),
            )
        )
    return [said[i] for i in sorted(picked)]


# how the metadata answer says each listing field (assistant.questions.METADATA_FIELDS) it holds
_FIELD_LINES = {
    "authors": "The listing for {title} gives {value} authors [{n}].",
    "date": "{title} is listed with the date {value} [{n}].",
    "upvotes": "{title} has {value} upvotes in the listing [{n}].",
    "organization": "The listing for {title} names the organisation {value} [{n}].",
    "url": "The listing for {title} links to {value} [{n}].",
    "author_names": "The authors of {title} are {value} [{n}].",
    "venue": "{title} was published in {value} [{n}].",
    "doi": "The DOI of {title} is {value} [{n}].",
    "categories": "{title} is in the arXiv categories {value} [{n}].",
    "arxiv_id": "The arXiv id of {title} is {value} [{n}].",
}


def _names(names: tuple[str, ...]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _metadata_answer(reading: Question, question: str, sources: list[Source], idf: Callable[[str], float]) -> list[str]:
    """The listing's fields the question asks for, of the paper it names (else the top one). A field
    the listing lacks is not written here: the engine's answerability check says it, for every backend."""
    named = named_sources(question, sources, idf)
    n = named[0] if named else 1
    s = sources[n - 1]
    title = titled(s.title)
    lines = []
    for name in reading.fields:
        value = s.listed(name)
        if value is not None:
            shown = _names(value) if name == "author_names" else ", ".join(value) if name == "categories" else value
            lines.append(_FIELD_LINES[name].format(title=title, value=shown, n=n))
        elif name == "authors" and s.organization:
            lines.append(f"The listing for {title} names the organisation {s.organization}, not its authors [{n}].")
        elif name == "venue" and (said := venue_sentence(s.abstract)):
            lines.append(f"The listing for {title} gives no venue; its abstract says: {said} [{n}]")
    return lines
