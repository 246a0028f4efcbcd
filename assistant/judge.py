"""Is the question's topic in the retrieved abstracts? One calibrated model, for the extractive reader.

Its features are what retrieval already measured: how close the best paper is in meaning (cosine)
and how far it leads the next; how much of the question's unusual wording the top paper holds,
how far that leads the next paper, and its share of the question; the same three and the share
that no indexed paper holds again with each word weighted by its meaning too; how many content
words the question has (so that a share and a count can be told apart); the share of the
question's terms the top paper holds (coverage); the share of the question that no indexed paper
holds at all; whether the question names the paper; and the kind of question. Words are weighted
by how unusual they are in everyday English, not by how rare they are in the library, so the
model does not depend on the library's size, and a description in plain words ("a gaming
graphics card") weighs less than a missing technical term ("HumanEval"). Weighted by meaning as
well, a word counts as much as it is close to the question as a whole (MiniLM cosine of the word
alone to the question): in "Which papers deal with concept bottleneck models?", "bottleneck"
carries the question and "deal" next to nothing. A logistic model over them gives
the probability that the question's topic is covered: below ``refuse_below`` the question is
refused, below ``answer_at`` the closest match is given with a hedge, above it the question is
answered. ``bench/fit_answerability.py`` refits it from the tuning questions and writes
``assistant/data/judge.json`` with its provenance.

A refusal names only what is really a topic. A word of the question can be named when no indexed
paper holds it and it is not a misspelling of a word the papers do hold; a second small model
(``WordModel``, fitted by ``bench/fit_topic_words.py``) then says whether it is what the question
is about rather than how it is asked: how unusual the word is, how much the question's meaning
(its MiniLM vector) moves when the word is left out, and how close the word alone is to the
question. "Federated" in a question about federated learning is named; "vaguely" in "I vaguely
remember a paper ..." is not.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from assistant.answer import Source
from assistant.questions import Question
from index.keyword import KeywordIndex
from index.text import STOPWORDS, terms

WEIGHTS_FILE = Path(__file__).resolve().parent / "data" / "judge.json"
WORDS_FILE = Path(__file__).resolve().parent / "data" / "topic_words.json"
KINDS = ("fact", "which", "compare", "summary", "metadata")
FEATURES = (
    "bias",
    "similarity",
    "similarity_lead",
    "matched",
    "matched_lead",
    "matched_share",
    "meant",
    "meant_lead",
    "meant_share",
    "held_words",
    "question_words",
    "coverage",
    "unseen",
    "unseen_meant",
    "named",
    *(f"kind_{k}" for k in KINDS),
)
TYPO_SIMILARITY = 0.8  # a word in no paper spelled this much like one in a paper is a misspelling of it
SHORTCUT_DEPTH = 5
ASKED_RARITY = 0.15  # Zipf 5.55 or rarer, when close in meaning: a word that says what is asked
MEANT_SCALE = 2.0  # a word this many times its cosine to the question (at most 1) is weighed by its meaning
MAX_NAMED = 3  # topics a refusal names at most
Embed = Callable[[list[str]], Any]  # texts -> their unit vectors, one row each (``Embedder.embed_queries``)
WORDS_KEPT = 20_000  # single words whose vectors ``Vectors`` keeps (1.5 KB each)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:['’][A-Za-z]+)?(?:-[A-Za-z0-9]+)*")  # "isn't" is one word


@lru_cache(maxsize=16384)
def rarity(word: str) -> float:
    """How unusual ``word`` is in everyday English: 0 ("people", "tell") to 1 ("HumanEval",
    "unlearning"), from its Zipf frequency in wordfreq's English lists."""
    from wordfreq import zipf_frequency

    return min(1.0, max(0.0, (6.0 - zipf_frequency(word.lower(), "en")) / 3.0))


def _held(source: Source) -> set[str]:
    return set(terms(f"{source.title}\n{source.abstract}"))


def _words(text: str) -> dict[str, str]:
    """The content words of ``text`` by stem, as written (hyphenated words by their parts)."""
    out: dict[str, str] = {}
    for word in (part for m in _WORD.findall(text) for part in m.split("-")):
        stems = terms(word)
        if len(stems) == 1 and word.lower() not in STOPWORDS:
            out.setdefault(stems[0], word)
    return out


class Vectors:
    """Texts' unit vectors (``embed``); a single word's kept once embedded, since the same words
    come back question after question. Safe to share between threads."""

    def __init__(self, embed: Embed, keep: int = WORDS_KEPT):
        self.embed = embed
        self._keep = keep
        self._kept: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> Any:
        return self.embed(texts)

    def words(self, words: list[str]) -> Any:
        """The words' vectors, one row each; those not kept embedded in one batch."""
        with self._lock:
            found = {w: self._kept[w] for w in words if w in self._kept}
        missing = [w for w in dict.fromkeys(words) if w not in found]
        if missing:
            found.update(zip(missing, self.embed(missing)))
            with self._lock:
                self._kept.update((w, found[w]) for w in missing)
                while len(self._kept) > self._keep:
                    self._kept.popitem(last=False)
        return np.stack([found[w] for w in words])


@dataclass(frozen=True)
class Weights:
    """The question's content words (by stem) weighted by how unusual they are (``rarity``) and,
    in ``meant``, by that times how close each alone is to the question in meaning; and the
    question's vector (``whole``), which a refusal's topic words are measured against too."""

    rare: dict[str, float]
    meant: dict[str, float]
    whole: Any

    @staticmethod
    def of(question: str, vectors: Vectors) -> Weights:
        words = _words(question)
        rare = {t: rarity(w) for t, w in words.items()}
        whole = vectors([question])[0]
        if not words:
            return Weights(rare, {}, whole)
        close = vectors.words(list(words.values())) @ whole
        meant = {t: rare[t] * min(1.0, MEANT_SCALE * max(0.0, float(c))) for t, c in zip(words, close)}
        return Weights(rare, meant, whole)


def _matched(weight: dict[str, float], held: list[set[str]]) -> tuple[float, float, float]:
    """What the top paper holds of ``weight``, its lead over the next four, and its share."""
    matched = [sum(weight[t] for t in weight.keys() & h) for h in held]
    return matched[0], matched[0] - max(matched[1:], default=0.0), matched[0] / (sum(weight.values()) or 1.0)


def features(
    question: Question, sources: Sequence[Source], keyword: KeywordIndex, weights: Weights
) -> tuple[float, ...]:
    """The model's inputs, in ``FEATURES`` order (``sources`` best first, at least one). None
    depends on the library's size: words are weighted by how unusual they are in everyday English
    (and by meaning), not by how rare they are in the library."""
    held = [_held(s) for s in sources[:5]]
    top, rest = sources[0], sources[1:5]

    def held_by_none(weight: dict[str, float]) -> float:
        return sum(w for t, w in weight.items() if not keyword.holds(t)) / (sum(weight.values()) or 1.0)

    return (
        1.0,
        top.similarity,
        top.similarity - max((s.similarity for s in rest), default=0.0),
        *_matched(weights.rare, held),
        *_matched(weights.meant, held),
        math.log1p(sum(1 for t in weights.rare if t in held[0])),
        math.log1p(len(weights.rare)),
        top.coverage,
        held_by_none(weights.rare),
        held_by_none(weights.meant),
        1.0 if top.named else 0.0,
        *(1.0 if question.kind.value == k else 0.0 for k in KINDS),
    )


def logistic(weights: Sequence[float], x: Sequence[float]) -> float:
    """The logistic model's probability for the features ``x``."""
    z = sum(w * v for w, v in zip(weights, x))
    return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))


@dataclass(frozen=True)
class Model:
    """Logistic weights over ``FEATURES``, the probability below which a topic is absent, and the
    one from which the abstracts are taken to answer; in between, the closest match is hedged."""

    weights: tuple[float, ...]
    refuse_below: float
    answer_at: float

    @staticmethod
    @lru_cache(maxsize=1)
    def load(path: Path = WEIGHTS_FILE) -> Model:
        data = json.loads(path.read_text(encoding="utf-8"))
        weights = tuple(float(data["weights"][f]) for f in FEATURES)
        return Model(weights, float(data["refuse_below"]), float(data["answer_at"]))

    def probability(self, x: Sequence[float]) -> float:
        return logistic(self.weights, x)


def covered(
    question: Question, sources: Sequence[Source], keyword: KeywordIndex, weights: Weights, model: Model | None = None
) -> float:
    """The probability that the top ``sources`` hold the topic of ``question`` (its words weighed
    in ``weights``): 1 when one of the top papers holds every word of it that carries its meaning
    and is not everyday English ("Which papers deal with fungi?" in a library with one paper on
    fungi), else the model's."""
    asked = {t for t, w in weights.meant.items() if w >= ASKED_RARITY}
    if asked and any(asked <= _held(s) for s in sources[:SHORTCUT_DEPTH]):
        return 1.0
    return (model or Model.load()).probability(features(question, sources, keyword, weights))


WORD_FEATURES = ("bias", "rarity", "stem_rarity", "weight", "closeness", "written_as_name")


@dataclass(frozen=True)
class WordModel:
    """Logistic weights over ``WORD_FEATURES`` and the probability from which a word of the
    question is named as its topic."""

    weights: tuple[float, ...]
    name_at: float

    @staticmethod
    @lru_cache(maxsize=1)
    def load(path: Path = WORDS_FILE) -> WordModel:
        data = json.loads(path.read_text(encoding="utf-8"))
        return WordModel(tuple(float(data["weights"][f]) for f in WORD_FEATURES), float(data["name_at"]))

    def probability(self, x: Sequence[float]) -> float:
        return logistic(self.weights, x)


@dataclass(frozen=True)
class Unseen:
    """A word of the question (as written, "Kolmogorov-Arnold") that could name a topic no indexed
    paper holds, where it stands, and its part no paper holds ("Kolmogorov")."""

    at: int
    word: str
    part: str


def unseen(question: str, keyword: KeywordIndex) -> list[Unseen]:
    """The words of ``question`` with a part that no indexed paper holds ("reusing" is held, as
    "reuse"), that is not a stopword nor a misspelling of a word a paper holds ("unlearnign")."""
    found = []
    for m in _WORD.finditer(question):
        for part in m.group(0).split("-"):
            stems = terms(part)
            if len(stems) != 1 or part.lower() in STOPWORDS or keyword.holds(stems[0]):
                continue
            if keyword.close(stems[0], TYPO_SIMILARITY) is None:
                found.append(Unseen(m.start(), m.group(0), part))
                break
    return found


def word_features(question: str, word: Unseen, embed: Embed, whole: Any) -> tuple[float, ...]:
    """``WordModel``'s inputs for ``word`` (``whole``: the question's vector): how unusual it is in
    everyday English, how much of the question's meaning it carries (what the vector loses without
    it), how close it alone comes to the question, and whether it is written as a name."""
    without = " ".join(f"{question[: word.at]} {question[word.at + len(word.word) :]}".split())
    name = (word.at > 0 and any(c.isupper() for c in word.word)) or any(c.isdigit() for c in word.word)
    rest, alone = embed([without, word.word]) @ whole
    return (
        1.0,
        rarity(word.part),
        rarity(terms(word.part)[0]),
        1.0 - float(rest),
        float(alone),
        float(name),
    )


def topic(question: str, keyword: KeywordIndex, embed: Embed, model: WordModel | None = None, whole: Any = None) -> str:
    """The question's words for a topic no indexed paper holds, in runs as written ("gait",
    "Swahili"); "" when no word of it is such a topic. ``whole``: the question's vector, when
    already embedded."""
    candidates = unseen(question, keyword)
    if not candidates:
        return ""
    model = model or WordModel.load()
    whole = embed([question])[0] if whole is None else whole
    named = {w.at for w in candidates if model.probability(word_features(question, w, embed, whole)) >= model.name_at}
    runs: list[list[str]] = []
    last = -2
    for i, m in enumerate(_WORD.finditer(question)):
        if m.start() not in named:
            continue  # "fact-checking": every part is in some paper; "text-to-SQL": "SQL" may be named
        if i == last + 1:
            runs[-1].append(m.group(0))
        else:
            runs.append([m.group(0)])
        last = i
    phrases = [" ".join(r) for r in runs]
    if not phrases or len(phrases) > MAX_NAMED:
        return ""
    return phrases[0] if len(phrases) == 1 else f"{', '.join(phrases[:-1])} or {phrases[-1]}"
