"""What a question asks, read once: its kind, the listing fields it asks for, the detail it names,
and, for comparisons, the parts that each name one paper.

Pure text in, a frozen ``Question`` out; the answering backends and the answerability check both
use it, so every backend sees the question the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

from index.text import STOPWORDS, terms


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
_METADATA_ASK = re.compile(
    r"^\s*(?:how many|when|what|which|who|where|give|list|tell|show)\b|\?\s*$"
    r"|^\s*(?:the |its )?(?:(?:number|count) of (?:authors|co-?authors|upvotes|votes|likes)|authors?|author count"
    r"|upvotes?|(?:listing |publication |release )?date"
    r"|url|link|doi|venue|organi[sz]ation|affiliations?|arxiv (?:id|categor(?:y|ies)))\b"
    r"|\b(?:url|link|doi|upvotes|authors? count)\s*$",
    re.I,
)  # a listing field is asked for ("author count for X"), not merely mentioned ("trained on many labs' data")

_COMPARE = re.compile(
    r"\b(?:compare[sd]?|comparison|comparing|versus|vs\.?|contrast(?:s|ed|ing)?|in common|relate to each other"
    r"|how does .+ relate to|differences? between|differ(?:s|ent)? from|distinguish(?:es)? .+ from"
    r"|similarities between|what sets .+ apart)\b"
    r"|\b(?:how|in what ways?|where|why) (?:do|does|did|would)\b.+\bdiffer\b",
    re.I,
)
_WHICH = re.compile(
    r"\b(?:which|what|any|list|find|name|show)\s+(?:[\w-]+\s+){0,3}?(?:papers|works|studies|articles|publications"
    r"|efforts|(?:approaches|methods|systems|frameworks|techniques)(?!\s+(?:does|did|is|was|has)\b))\b"
    r"|\bare there (?:any )?(?:\w+\s+){0,2}(?:papers|works|studies|approaches|methods)\b"
    r"|\b(?:papers|works|studies) (?:that|which|on|about|using|proposing|studying|tackling)\b",
    re.I,
)
_WHICH_ONE = re.compile(
    r"^\s*(?:which|what) (?:paper|work|study|article|publication|method|approach|system)\b"
    # "which interpretable classifier defines ...": a method that does something, that is a paper;
    # not "which classifier does X use"
    r"|^\s*(?:which|what)\s+(?:[\w-]+\s+){0,2}?(?:method|approach|system|model|framework|classifier|technique"
    r"|algorithm|architecture|agent|benchmark|dataset)\s+(?!(?:does|did|is|was|are|were|has|had|can)\b)[a-z]+(?:s|ed)"
    r"(?=\s+(?!(?:was|were|is|are|does|do|did|has|have)\b)[\w\"'(])"
    # "which theory paper proves ...", "which LLM forgetting paper treats ...", not "which model does the X paper use"
    r"|^\s*(?:which|what)\s+(?:(?!(?:is|are|was|were|do|does|did|has|have|had|can|the|a|an|this|that|its|their"
    r"|in|from|of|on|for|by|with|at|to|papers|works|studies|articles|publications)\b)[\w-]+\s+){1,3}"
    r"(?:paper|work|study|article|publication)\b(?!')"
    r"|\b(?:is there|do you know|i'?m looking for|looking for|find me|point me to) (?:a|an|the|any)\b",
    re.I,
)
_SUMMARY = re.compile(
    r"\b(?:summari[sz]e|summary|overview|tl;?dr|gist|main (?:idea|contribution|point)s?|key (?:idea|contribution)s?"
    r"|describe|explain (?:what|how)|tell me about|what (?:is|are) (?:\S+\s+){0,6}?about"
    r"|what (?:does|did|do) (?:\S+\s+){0,8}?(?:propose|introduce|present|contribute|do|offer|find|show|suggest|claim)"
    r"|what (?:is|was) (?:the )?(?:contribution|idea|proposal)"
    r"|how does (?:\S+\s+){0,8}?work)\b",
    re.I,
)
_FACT = re.compile(
    r"\bhow (?:many|much|large|long|big|fast|small|high|low|often|far|accurate|wide|deep|heavy|old|expensive)\b"
    r"|\bwhat (?:\w+\s+){0,2}?(?:score|accuracy|improvement|gain|percentage|share|number|size|rate|speed-?up|reduction"
    r"|dataset|benchmark|model|backbone|architecture|metric|value|result|performance|error|cost|budget|hardware"
    r"|resolution|length|year|ratio|language|languages)s?\b"
    r"|\bwhich (?:\w+\s+){0,2}?(?:dataset|benchmark|model|llm|backbone|architecture|metric|base model|language"
    r"|languages|tasks?|domains?|robot|simulator|encoder|optimizer)s?\b"
    r"|\b(?:by how much|what percentage|what fraction|what proportion)\b"
    r"|\bwhat (?:is|was|are|were) the (?:name|names|title|acronym)\b|\bwhat (?:is|was|are|were) .+ called\b"
    r"|\b(?:what|which) (?:did|does|do) .+ (?:train on|evaluate on|use as|build on|fine-tune|score)\b"
    r"|(?:^|[,;:]\s*)(?:what|which) (?!(?:is|are|was|were|do|does|did)\b)"
    # "what part of the model is optimized", "which earlier adapter routing method does MHR build on"
    r"(?:[a-z][\w-]* (?:of|in|on|for)|(?:[a-z][\w-]* ){1,4}?(?:does|did|do|is|are|was|were|has|have))\b"
    r"|^\s*what (?:is|are|was|were) the (?!(?:main |key )?(?:idea|contribution|point|difference|purpose|goal)s?\b)\w+",
    re.I,
)
_NUMERIC = re.compile(
    r"\bhow (?:many|much|large|long|big|fast|small|high|low|often|far|accurate|wide|deep|heavy|old|expensive)\b"
    r"|\bby how much\b"
    r"|\bwhat (?:\w+\s+){0,2}?(?:score|accuracy|improvement|gain|percentage|share|number|size|rate|speed-?up"
    r"|reduction|ratio|error|cost|budget|value|length|resolution)\b|\bwhat (?:percentage|fraction|proportion)\b",
    re.I,
)
# "How do SkillMimic and EvoStruggle differ?" -> the parts that name one paper each
_COMPARE_SPLIT = re.compile(
    r"\s*(?:\bdiffers? from\b|\bcompared? (?:with|to)\b|\bversus\b|\bvs\.?|\band\b|\bwith\b|\bfrom\b|\bto\b"
    r"|\bagainst\b|,|;)\s*",
    re.I,
)
_COMPARE_STRONG = re.compile(r"\s*(?:\bdiffers? from\b|\bcompared? (?:with|to)\b|\bversus\b|\bvs\.?)\s*", re.I)
_COMPARE_LEAD = re.compile(
    r"^\s*(?:(?:how|in what ways?|where|why)\s+(?:do|does|did|would|is|are)\s+|compare\s+|contrast\s+"
    r"|what (?:is|are) the (?:main |key )?(?:differences?|similarities) between\s+|what sets\s+)",
    re.I,
)
_COMPARE_TAIL = re.compile(  # what the comparison is about, after the papers: "... differ in what they learn"
    r"(?:\s+(?:differ|compare|relate)\b(?!\s+(?:from|with|to)\b).*$"
    r"|\s+(?:in|on) (?:the way|how|what|terms of|their)\b.*$|\s+apart\b.*$|\s*[:?].*$)",
    re.I,
)


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


_HOW_TYPO = re.compile(r"\b(?:who|hoe|hw|hwo)(?= (?:many|much)\b)", re.I)  # "who many authors": how many


def core(question: str) -> str:
    """``question`` without the courtesies around it ("Quick question: ...", "... Thanks!") and with
    "who many" read as "how many", as every reading of it expects; the question itself when nothing
    is left."""
    text = meant = _HOW_TYPO.sub("how", question)
    for _ in range(3):  # "Hi, quick question: can you tell me ..."
        stripped = _COURTESY_LEAD.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    text = _COURTESY_TAIL.sub("", text)
    return text if text.strip() else meant


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


def read(question: str) -> Question:
    """Read ``question`` once: its kind, by the first matching rule below."""
    return replace(_read(question), text=question)


def _read(question: str) -> Question:
    fields = tuple(name for name, pattern, _ in METADATA_FIELDS if pattern.search(question))
    numeric = bool(_NUMERIC.search(question)) and not _ASKS_NAME.search(question)  # "what is the score called"
    if fields and _METADATA_ASK.search(question) and not _about_the_work(question, fields):
        return Question("", Kind.METADATA, fields=fields)
    if numeric:
        return Question("", Kind.FACT, numeric=True)
    if _COMPARED_WITH.search(question):  # "which dataset was used to compare A with B": asks for the dataset
        return Question("", Kind.FACT)
    if _COMPARE.search(question) or _BOTH.search(question):
        if _ASKS_THING.search(question) and not (_WHICH.search(question) or _WHICH_ONE.search(question)):
            return Question("", Kind.FACT)  # "what is the latency of A compared with B", "... with whose theory?"
        return Question("", Kind.COMPARE, parts=compare_parts(question))
    if _WHICH_ONE.search(question):
        return Question("", Kind.WHICH, single=True)
    if _WHICH.search(question) and not _WHICH_COUNT.search(question):
        return Question("", Kind.WHICH)
    if _SUMMARY.search(question):
        return Question("", Kind.SUMMARY)
    if _FACT.search(question) or _WHICH_COUNT.search(question):
        return Question("", Kind.FACT)
    if _DEFINITION.search(question):
        return Question("", Kind.SUMMARY)
    return Question("", Kind.OTHER)


def _about_the_work(question: str, fields: tuple[str, ...]) -> bool:
    """'How many labs collected the data', 'how many writers took part in the survey' ask about
    the work, not about its listing."""
    if set(fields) <= {"organization"} and _FACT_BEYOND_LISTING.search(question):
        return True
    return set(fields) <= {"authors"} and bool(_TOOK_PART.search(question))


_TOOK_PART = re.compile(
    r"\b(?:took part|taking part|participated|were (?:recruited|surveyed|interviewed|studied|asked))\b", re.I
)


_WHICH_COUNT = re.compile(  # "which two methods", "what are the three stages": names, counted
    r"\b(?:which|what)(?: (?:is|are|was|were) the)? (?:two|three|four|five|2|3|4|5)\b", re.I
)
_COMPARED_WITH = re.compile(
    r"^\s*(?:(?:on|in|with|by) )?(?:which|what)\s+(?:[\w-]+\s+){1,3}?(?:was|were|is|are)\s+(?:used|chosen|employed)"
    r"\s+(?:to|for)\s+compar",
    re.I,
)
# a question word that asks for a thing ("which model families ... are compared", "what is the latency
# overhead of A compared with B", "contrasts A with whose theory"), not for how papers differ
_ASKS_THING = re.compile(
    r"(?:^\s*(?:(?:on|in|at|with|by|for|from|of|to) )?|\b(?:with|to|from|against|on|in|of) )"
    r"(?:which|whose|what(?: (?:is|are|was|were) the)?)\s+"
    r"(?!(?:is|are|was|were|do|does|did|has|have|had|can|could|would|will|should|ways?|sets?|makes?|separates?"
    r"|distinguish\w*|kind of difference|they|it|its|their|them|each|both|the|a|an|this|these|those|we|you)\b)"
    r"(?!(?:main |key |major |biggest |most important |core |fundamental )?(?:differences?|similarit\w*|distinctions?"
    r"|contrasts?|relationships?|relations?|trade-?offs?|commonalit\w*|overlaps?|advantages?|disadvantages?)\b)"
    r"[a-z][\w-]*",
    re.I,
)
_DEFINITION = re.compile(r"^\s*(?:what|who) (?:is|are|was|were)\b", re.I)
_BOTH = re.compile(r"\bboth\b.+\band\b|\bhow do .+ and .+ (?:differ|compare|relate)\b", re.I)
_FACT_BEYOND_LISTING = re.compile(  # "how many labs collected the data" is about the work, not its listing
    r"\b(?:collected|recorded|annotated|contributed|participated|took part|were recruited|used|evaluated)\b", re.I
)


def compare_parts(question: str) -> tuple[str, ...]:
    """The phrases of a comparison that each name one paper ("SkillMimic", "the struggle dataset").
    "How do the two curriculum studies differ: the one that X versus the one that Y?" names them
    after the colon."""
    text = question.strip().rstrip("?.! ")
    head, colon, rest = text.partition(":")
    if colon and _COMPARE_SPLIT.search(rest) and len(terms(rest)) >= 2:
        text = rest
    else:
        text = _COMPARE_TAIL.sub("", _COMPARE_LEAD.sub("", head))
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
    head = {t for word in asked_head(question, inner=True) for t in terms(word)}
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
# the question word that opens the question or a clause of it...
_WH_HEAD = re.compile(r"(?:^|[,:;?.]\s*|\b(?:and|but|so)\s+)(?:\w+\s+){0,2}?" + _WH_AND_HEAD, re.I)
# ... else one inside the sentence, after a preposition: "contrasts A with whose theory", "from which two sources"
_WH_INNER = re.compile(r"\b(?:with|from|to|on|in|at|of|by|for|against|into|over|than)\s+" + _WH_AND_HEAD, re.I)
_HEAD_STOP = frozenset(
    terms(
        """took take taken come comes came contain contains contained appear appears receive received
        need needs make makes made ran employ employed get gets yield yields per gave give gives went
        got saw won beat led set put kept held brought began chose drew grew knew left lost met paid
        said sent spent stood taught told thought wrote help helps helped let lets happen happens happened""",
        keep_stopwords=True,
    )
)


def asked_head(question: str, inner: bool = False) -> list[str]:
    """The words after the question word that name what is asked ("top-1 accuracy", "clusters");
    in "what is the X called" and "what are the two X", the X. With ``inner``, also after a question
    word inside the sentence ("contrasts A with whose theory"): enough to choose a sentence by, not
    to say that an abstract lacks what is asked ("traffic from an intersection in which city")."""
    called = _CALLED.search(question)
    m = called or (wh_word(question, inner) if inner else _WH_HEAD.search(question))
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


# "in the study that found models forget abruptly", "For the paper showing that ...,": the clause
# that says which paper is meant, not what is asked of it
_DESCRIBED = re.compile(
    r"\b(?:in|for|of|from|by|behind) (?:the|that|this) (?:[\w-]+ ){0,5}?(?:paper|work|study|article|publication"
    r"|approach|method|system|framework)s?\b(?: (?:that|which|where|who|whose|showing|proposing|introducing"
    r"|presenting|on|about|arguing|finding|claiming|describing))?[^,;?]*",
    re.I,
)


def described(question: str) -> set[str]:
    """The terms of the clause that only says which paper is meant ("in the work that teaches a
    robot 1,000 tasks in a day"), less those the rest of the question uses too."""
    spans = [m.span() for m in _DESCRIBED.finditer(question)]
    if not spans:
        return set()
    inside = {t for a, b in spans for t in terms(question[a:b])}
    rest = question
    for a, b in reversed(spans):
        rest = rest[:a] + " " + rest[b:]
    return inside - set(terms(rest))


_AUX = frozenset(terms("do does did is are was were has have had can could would will should", keep_stopwords=True))


def wh_word(question: str, inner: bool = False) -> re.Match[str] | None:
    """Where the question word that opens the question (or a clause of it) stands, and its head;
    with ``inner``, else one inside the sentence."""
    return _WH_HEAD.search(question) or (_WH_INNER.search(question) if inner else None)
