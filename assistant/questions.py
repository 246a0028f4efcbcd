"""What a question asks, read once: its kind, the listing fields it asks for, the detail it names,
and, for comparisons, the parts that each name one paper.

Pure text in, a frozen ``Question`` out; the answering backends and the answerability check both
use it, so every backend sees the question the same way.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from index.text import STOPWORDS, sentences, terms


class Kind(StrEnum):
    """The kinds of question the extractive backend composes for."""

    FACT = "fact"  # a quantity, a name, a setting a paper reports
    WHICH = "which"  # which papers do X: every matching paper, best first
    COMPARE = "compare"  # how do A and B differ: each paper side by side
    SUMMARY = "summary"  # what does X propose: contribution, method, result
    METADATA = "metadata"  # authors, date, upvotes, organisation, URL, venue, DOI, categories of the listing
    OTHER = "other"


# listing fields: (field, what the question says, how the answer names it)
METADATA_FIELDS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        "authors",
        re.compile(
            r"\bhow many (?:authors|co-?authors|writers)\b|\bauthors? (?:count|list)\b|\bnumber of authors\b"
            r"|\bhow many (?:people|researchers) (?:wrote|(?:co-?)?authored|are behind|are credited|are listed)\b",
            re.I,
        ),
        "author count",
    ),
    (
        "date",
        re.compile(
            r"\b(?:when (?:was|were|did|is)\b.*\b(?:published|released|listed|posted|appear|appeared|come out|out"
            r"|show up|showed up|submitted|announced|listing)"
            r"|what (?:year|date|day|month)|which (?:year|date|day|month)|published when"
            r"|date of (?:publication|release|listing|submission)|(?:listing|publication|release|submission) date"
            r"|^\s*(?:the )?date of)\b",
            re.I,
        ),
        "date",
    ),
    (
        "upvotes",
        re.compile(
            r"\bup-?votes?\b|\bupvoted\b|\bhow (?:popular|many votes)\b|\blikes\b|\bpopularity\b|^\s*is .+ popular\b",
            re.I,
        ),
        "upvotes",
    ),
    (
        "organization",
        re.compile(
            r"\b(?:organi[sz]ations?|institutions?|affiliations?|compan(?:y|ies)|labs?|universit(?:y|ies))\b"
            r"|\bwhich (?:group|team)\b|\bwho (?:is|are) behind\b|^\s*who (?:published|released|put out)\b",
            re.I,
        ),
        "organisation",
    ),
    (  # "the link to X", "X's link?", not "link prediction", "the link between A and B" or "the Weakest Link"
        "url",
        re.compile(
            r"\b(?:url|web ?page|where can i (?:find|read))\b"
            r"|\b(?:link|links)\b(?=\s+(?:to|for|of)\b|\s*[?.!]?\s*$)"
            r"|\b(?:the|a|its|arxiv|pdf|paper's) link\b(?!\s+between)",
            re.I,
        ),
        "URL",
    ),
    # what a reference manager or arXiv gives of a paper
    (
        "author_names",
        re.compile(
            r"\bwho (?:are|were) (?:the|its|their) (?:authors|co-?authors)\b|\bwho (?:wrote|authored)\b"
            r"|\b(?:names? of the|which) authors\b|\blist (?:the |its )?authors\b|^\s*(?:the )?authors (?:of|for)\b",
            re.I,
        ),
        "author names",
    ),
    (
        "venue",
        re.compile(
            r"\b(?:venue|(?:which|what) (?:journal|conference|proceedings|workshop))\b"
            r"|\bpublished (?:in|at) which\b|\bwhere (?:was|were|is|are|did) .+ (?:published|appear)\b",
            re.I,
        ),
        "venue",
    ),
    ("doi", re.compile(r"\bdoi\b", re.I), "DOI"),
    (
        "categories",
        re.compile(r"\barxiv (?:categor(?:y|ies)|subject|archive)\b|\bprimary categor(?:y|ies)\b", re.I),
        "arXiv categories",
    ),
    ("arxiv_id", re.compile(r"\barxiv (?:id|identifier|number)\b", re.I), "arXiv id"),
)
# "How do SkillMimic and EvoStruggle differ?" -> the parts that name one paper each
_COMPARE_SPLIT = re.compile(
    r"\s*(?:\bdiffers? from\b|\bcompared? (?:with|to)\b|\bversus\b|\bvs\.?|\band\b|\bwith\b|\bfrom\b|\bto\b"
    r"|\bagainst\b|,|;)\s*",
    re.I,
)
_COMPARE_STRONG = re.compile(r"\s*(?:\bdiffers? from\b|\bcompared? (?:with|to)\b|\bversus\b|\bvs\.?)\s*", re.I)


# how people wrap a question when they talk to an assistant: none of it is what they ask about
_COURTESY_LEAD = re.compile(
    r"^\s*(?:(?:hi|hello|hey|dear \w+|good (?:morning|afternoon|evening))\b[\s,!.:-]*"
    r"|(?:quick|short|simple|one|a|another) question\b[\s,!.:-]*|(?:please|pls|kindly)\b[\s,:]*"
    r"|(?:can|could|would|will) you (?:please |kindly )?(?:tell me|let me know)\b(?! about)[\s,:]*"
    r"|(?:can|could|would|will) you (?:please |kindly )?(?=(?:list|give|show|find|name|explain|summari[sz]e|compare"
    r"|describe|point me)\b)"
    r"|i(?:'m| am) (?:wondering|curious)(?: about)?[\s,:]*|i (?:want|would like|'d like) to know[\s,:]*"
    r"|do you know[\s,:]*(?=(?:which|what|how|when|who|where|whether|if)\b))",
    re.I,
)
_COURTESY_TAIL = re.compile(
    r"[\s,]*\b(?:thanks|thank you|thx|ty|cheers|please|pls)(?: (?:so|very) much| a lot| in advance)?[\s.!]*$", re.I
)


def core(question: str) -> str:
    """``question`` without the courtesies around it ("Quick question: ...", "... Thanks!"); the
    question itself when nothing is left."""
    text = question
    for _ in range(3):  # "Hi, quick question: can you tell me ..."
        stripped = _COURTESY_LEAD.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    text = _COURTESY_TAIL.sub("", text)
    return text if text.strip() else question


@dataclass(frozen=True)
class Question:
    """A question, read once: its text as searched (courtesies and filters taken out) and what it
    asks. Retrieval, the answerability decision and every backend receive this one object."""

    text: str
    kind: Kind
    fields: tuple[str, ...] = ()  # listing fields asked, for METADATA
    numeric: bool = False  # a quantity is asked for
    single: bool = False  # "which paper..." asks for one paper
    parts: tuple[str, ...] = ()  # for COMPARE: the phrases that each name a paper
    ask: str = ""  # in a question of several sentences, the last: the one that asks ("Which dataset ...?")


def read(question: str) -> Question:
    """Read ``question`` once: its kind (``KindModel``) and what that kind needs of it."""
    said = sentences(question)  # "I remember a paper where ... . Which dataset did they use?": the last asks
    ask = said[-1] if len(said) > 1 else ""
    return replace(_read(question, ask), text=question, ask=ask)


def _read(question: str, ask: str) -> Question:
    fields = listing_fields(question)
    readings = (question, ask) if ask else (question,)
    for label in KindModel.load().ranked(*(kind_text(text, fields) for text in readings)):
        if label == "metadata":
            if fields:
                return Question("", Kind.METADATA, fields=fields)
        elif label == "quantity":
            return Question("", Kind.FACT, numeric=not _ASKS_NAME.search(question))  # not "what is the score called"
        elif label == "which_one":
            return Question("", Kind.WHICH, single=True)
        elif label == "compare":
            return Question("", Kind.COMPARE, parts=compare_parts(question))
        else:
            return Question("", Kind(label))
    return Question("", Kind.OTHER)


def listing_fields(question: str) -> tuple[str, ...]:
    """The listing fields ``question`` mentions ("venue", "doi"), in ``METADATA_FIELDS`` order."""
    return tuple(name for name, pattern, _ in METADATA_FIELDS if pattern.search(question))


def kind_text(question: str, fields: tuple[str, ...] | None = None) -> str:
    """What the kind model reads: the question, and a marker word for each listing field it mentions
    (``fields``, when already found) ("listingvenue"), so that a field asked in words the model has
    not seen still reads as one."""
    marks = [f"{LISTING_MARK}{name}" for name in (listing_fields(question) if fields is None else fields)]
    return " ".join([question, *marks])


LISTING_MARK = "listing"
KINDS_FILE = Path(__file__).resolve().parent / "data" / "kinds.json"
# how a question asks: the kinds, with a quantity asked apart from other facts and one paper apart from several
KIND_LABELS = ("fact", "quantity", "which", "which_one", "compare", "summary", "metadata", "other")
TOKEN = re.compile(r"(?u)\b\w+\b")


@dataclass(frozen=True)
class KindModel:
    """How a question asks, from its words and word pairs (tf-idf, as scikit-learn's
    ``TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)`` weighs them) under a multinomial
    logistic model that ``bench/fit_kinds.py`` fits on the tuning questions."""

    classes: tuple[str, ...]
    intercepts: tuple[float, ...]
    vocabulary: dict[str, tuple[float, ...]]  # term -> (idf, one weight per class)

    @staticmethod
    @lru_cache(maxsize=1)
    def load(path: Path = KINDS_FILE) -> KindModel:
        data = json.loads(path.read_text(encoding="utf-8"))
        vocabulary = {term: tuple(values) for term, values in data["vocabulary"].items()}
        return KindModel(tuple(data["classes"]), tuple(data["intercepts"]), vocabulary)

    def ranked(self, *texts: str) -> list[str]:
        """The kinds, most likely first, of a question as ``kind_text`` gives it; of several readings
        of it (the whole question and the sentence that asks), by their joint log-probability."""
        joint = [sum(row) for row in zip(*(self._log_probabilities(text) for text in texts))]
        return [self.classes[i] for i in sorted(range(len(joint)), key=lambda i: -joint[i])]

    def _log_probabilities(self, text: str) -> list[float]:
        words = TOKEN.findall(text.lower())
        grams = Counter(words + [f"{a} {b}" for a, b in zip(words, words[1:])])
        weights = {g: (1 + math.log(n)) * self.vocabulary[g][0] for g, n in grams.items() if g in self.vocabulary}
        norm = math.sqrt(sum(v * v for v in weights.values())) or 1.0
        scores = list(self.intercepts)
        for gram, value in weights.items():
            for i, w in enumerate(self.vocabulary[gram][1:]):
                scores[i] += value / norm * w
        top = max(scores)
        total = top + math.log(sum(math.exp(s - top) for s in scores))
        return [s - total for s in scores]


def compare_parts(question: str) -> tuple[str, ...]:
    """The phrases of a comparison that each name one paper ("SkillMimic", "the struggle dataset").
    "How do the two curriculum studies differ: the one that X versus the one that Y?" names them
    after the colon."""
    text = question.strip().rstrip("?.! ")
    head, colon, rest = text.partition(":")
    if colon and _COMPARE_SPLIT.search(rest) and len(terms(rest)) >= 2:
        text = rest
    else:
        text = head
    text = re.sub(r"\b(?:the )?differences? between\b|\bbetween\b|\bboth\b|\bdiffer\b", " ", text, flags=re.I)
    split = _COMPARE_STRONG if _COMPARE_STRONG.search(text) else _COMPARE_SPLIT  # "A and B versus C": A and B is one
    parts = [p.strip(" ,;:") for p in split.split(text)]
    return tuple(p for p in parts if len(terms(p)) >= 1)


_PARTS = re.compile(  # "what kind of delusions ..., and how can the mismatch be resolved?"
    r"(?:,?\s+and\s+|[;?]\s+)(?=(?:how|what|which|why|when|where|who|whose|in what|by how)\b)", re.I
)


def question_parts(question: str) -> list[str]:
    """The questions a question asks, in order: one, or several joined by "and" or written in a row."""
    return [p for p in _PARTS.split(question) if p.strip()]


def field_label(name: str) -> str:
    """How an answer names a listing field ("organisation", "author count")."""
    return next(label for field, _, label in METADATA_FIELDS if field == name)


_QUANTITY = re.compile(
    r"(?<![\w.])[~≈]?\d[\d,]*(?:\.\d+)?(?:\s?\\?%|x|×)?(?:\s?[-–]\s?\d[\d,]*(?:\.\d+)?(?:\s?\\?%|x|×)?)?"
    r"(?:\s+(?P<unit>[A-Za-z][\w-]*))?"
)
# the field's own acronyms: not a name a question asks for, nor one that marks a topic absent
COMMON_NAMES = frozenset({"llm", "llms", "ai", "nlp", "rl", "ml", "gpu", "gpus", "cpu", "api", "apis", "i", "ok"})
_IDENTIFIER = re.compile(r"(?<![\w-])(?:[A-Z][a-z]*[A-Z0-9][\w.-]*|[A-Z]{2,}[\w.-]*|[A-Za-z]+-\d[\w.-]*)(?![\w-])")


def answer_marks(question: str, reading: Question, quote: str) -> tuple[str, ...]:
    """The span of ``quote`` that holds what a fact question asks: the quantity (with its unit),
    or the name the question does not already contain."""
    if reading.kind is not Kind.FACT:
        return ()
    asked = set(terms(question))
    head = {t for word in asked_head(question) for t in terms(word)}
    if reading.numeric:
        found = list(_QUANTITY.finditer(quote))
        if not found:
            return ()

        given = {_number(n) for n in _QUANTITY.finditer(question)}  # "in October 2022" is not what it asks

        def fit(m: re.Match[str]) -> tuple[bool, bool, bool]:
            unit = set(terms(m.group("unit") or ""))
            before = set(terms(" ".join(quote[: m.start()].split()[-3:])))  # "an average score of 91.3"
            return _number(m) not in given, bool((unit | before) & head), bool(unit & asked)

        best = max(found, key=fit)
        span = best.group(0).strip()
        unit = best.group("unit")
        if unit and not set(terms(unit)) & asked and unit.lower() in _GLUE:
            span = span[: -len(unit)].strip()
        elif unit and set(terms(unit)) & asked:  # "41 tide gauges": the unit runs on while the question names it
            after = _NEXT_WORDS.match(quote, best.end())
            for word in after.group(0).split() if after else []:
                if not set(terms(word)) & asked:
                    break
                span = quote[best.start() : quote.index(word, best.end()) + len(word)].strip()
        return (span,)
    names = [m.group(0).rstrip(".") for m in _IDENTIFIER.finditer(quote)]
    fresh = [n for n in names if not set(terms(n)) <= asked and n.lower() not in COMMON_NAMES]
    return tuple(dict.fromkeys(fresh))[:2]


def _number(quantity: re.Match[str]) -> str:
    """The number of a ``_QUANTITY`` match, without its unit or a trailing comma: "2022" of "2022, with"."""
    end = quantity.start("unit") if quantity.group("unit") else quantity.end()
    return quantity.string[quantity.start() : end].strip().rstrip(",")


_NEXT_WORDS = re.compile(r"(?:\s+[A-Za-z][\w-]*){0,3}")
_GLUE = {"and", "or", "to", "in", "on", "of", "for", "with", "than", "over", "the", "a", "an", "at", "by", "from"}


_WH_AND_HEAD = (  # the question word and the words after it
    r"(?:(?P<wh>how many|how much|what|which|whose)\s+|(?P<size>how (?:large|big|long|fast|small))\s+"
    r"(?:was|were|is|are)\s+(?:the\s+|its\s+|their\s+)?)(?P<head>[\w-]+(?:\s+[\w-]+){0,3})"
)
# the question word that opens the question or a clause of it
_WH_HEAD = re.compile(r"(?:^|[,:;?.]\s*|\b(?:and|but|so)\s+)(?:\w+\s+){0,2}?" + _WH_AND_HEAD, re.I)
_HEAD_STOP = frozenset(
    terms(
        """took take taken come comes came contain contains contained appear appears receive received
        need needs make makes made ran employ employed get gets yield yields per gave give gives went
        got saw won beat led set put kept held brought began chose drew grew knew left lost met paid
        said sent spent stood taught told thought wrote help helps helped let lets happen happens happened""",
        keep_stopwords=True,
    )
)


def asked_head(question: str) -> list[str]:
    """The words after the question word that name what is asked ("top-1 accuracy", "clusters");
    in "what is the X called" and "what are the two X", the X."""
    m = _CALLED.search(question) or wh_word(question)
    if not m:
        return []
    head: list[str] = []
    for word in m.group("head").split():
        stems = terms(word, keep_stopwords=True)
        if not stems or stems[0] in STOPWORDS or stems[0] in _HEAD_STOP or stems[0] in _AUX:
            break
        if head and word.lower().endswith("ed") and not word.lower().endswith("eed"):  # "which model trained"
            break
        head.append(word)
    return head


_CALLED = re.compile(  # "what is the deep learning model called", "what are the two modules"
    r"\b(?:what|which) (?:is|was|are|were) the (?P<head>(?:(?:two|three|four|five|\d)\s+)?[\w-]+(?:\s+[\w-]+){0,3}?)"
    r"(?=\s+(?:called|named|known as|that|which|\w+ (?:consists?|comprises?|uses?|introduces?|proposes?)\b)|\s*\?)",
    re.I,
)
_ASKS_NAME = re.compile(r"\b(?:what|which) (?:is|was|are|were) the [\w\s-]{1,40}?\b(?:called|named|known as)\b", re.I)


def asks_name(question: str) -> bool:
    """Whether the question asks what something is called ("what is the score called")."""
    return bool(_ASKS_NAME.search(question))


_AUX = frozenset(terms("do does did is are was were has have had can could would will should", keep_stopwords=True))


def wh_word(question: str) -> re.Match[str] | None:
    """Where the question word that opens the question (or a clause of it) stands, and its head."""
    return _WH_HEAD.search(question)
