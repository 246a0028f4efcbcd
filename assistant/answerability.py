"""What of a question the retrieved abstracts hold: the extractive reader's decision, and the
check every backend's cited sentences pass.

A question's *focus terms* are what an answer must be about: the benchmarks, datasets, metrics,
quantities, methods and paper names it mentions, as opposed to its scaffolding ("which papers",
"what does ... report"). The extractive reader (``verdict``) has three outcomes:

- the question's topic is not in the top abstracts (``assistant.judge``, a calibrated model): it
  is refused, naming the topic when the question has words for it ("None of the indexed abstracts
  mention gait recognition.") and the closest papers either way;
- the question names a paper (or describes one) and asks for a detail its abstract does not hold:
  it is said of that paper ("The abstract of <title> [1] does not report its batch size.");
- otherwise the question is answered.

For every backend, a written sentence that carries a focus term the abstract it cites does not
hold loses that citation (``Focus.supported``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Set
from dataclasses import dataclass

from assistant import judge
from assistant.answer import Source
from assistant.citations import titled
from assistant.names import mentions, rare_by, spelled_out
from assistant.questions import COMMON_NAMES, Kind, Question, asked_head, field_label, wh_word
from assistant.roles import availability
from index.keyword import KeywordIndex
from index.text import STOPWORDS, sentences, terms

# the words of a question that say how it asks, not what it asks about
SCAFFOLD = (
    frozenset(
        terms(
            """which what who whom whose how many much when where why paper papers work works study studies article
        articles publication publications abstract abstracts author authors propose proposes proposed introduce
        introduces introduced present presents presented report reports reported describe describes described
        method methods approach approaches technique use uses used using show shows find finds found achieve
        achieves achieved reach reaches obtain get gets got does do did done is are was were be been there any
        list give tell explain summarise summarize summary compare compared comparison differ differs difference
        differences between both main key idea ideas contribution contributions new novel way ways one ones
        kind kinds look looking someone anyone know mention mentions mentioned say says said claim claims
        discuss discusses deal deals address addresses tackle tackles focus focuses please can could would
        also well exactly roughly approximately around about overall respectively altogether actually really
        year years listed listing published release released known download downloaded available publicly""",
            keep_stopwords=True,
        )
    )
    | STOPWORDS
)

# details a question can ask of one paper, each with the terms its abstract must hold to report it
_DETAIL = re.compile(
    r"\b(?P<detail>batch sizes?|learning rates?|(?:gpu|tpu|compute|training|inference|wall-clock) (?:hours|days|time"
    r"|cost|budget)|(?:number of |how many )?(?:gpus?|tpus?|a100s?|h100s?|v100s?)|training (?:time|cost)"
    r"|epochs?|optimi[sz]ers?|weight decay|dropout(?: rate)?|warm-?up|hyper-?parameters?|random seeds?|seeds"
    r"|licen[cs]es?|funding|grants?|countr(?:y|ies)|nationalit(?:y|ies)|hardware|memory footprint|vram"
    r"|(?:number of |how many )(?:parameters|layers|attention heads|heads)|parameter count|model size"
    r"|sampling rate|frame rate|resolution|context (?:length|window)|vocabulary size|tokeni[sz]er)\b",
    re.I,
)
_COUNTING = frozenset(terms("number count"))  # "number of layers", "parameter count": the count is a number
_NAME = re.compile(  # coined names and identifiers: GSM8K, MMLU, CIFAR-10, Qwen3-4B, ImageNet, SkillMimic
    r"(?<![\w-])(?:[A-Z][a-z]*[A-Z0-9][\w-]*|[A-Z]{2,}[\w-]*|[a-z]+[A-Z][\w-]*|[A-Za-z]+-?\d[\w.-]*)(?:\.\d+)*(?![\w-])"
)
# "PassUntil-based", "SKILL-MIX-style": the name is PassUntil, SKILL-MIX
_SUFFIX = r"-(?:based|style|like|driven|powered|guided|inspired|generated|trained|specific|aware|free|only|level|scale)"
_SUFFIXED = re.compile(rf"{_SUFFIX}$", re.I)
# a capitalised word inside a sentence is a proper name ("Japanese", "Swahili", "the Adult dataset")
PROPER = re.compile(r"(?<=[\w,;)]\s)[A-Z][a-z]{2,}(?:\s+[A-Z][a-z]{2,})*(?![\w-])")
_CALENDAR = frozenset(
    """january february march april may june july august september october november december monday tuesday
    wednesday thursday friday saturday sunday""".split()
)
_NUMBER = re.compile(  # a quantity: "76", "61.68", "96.4%", "two", not the digit in "GSM8K" or "T5"
    r"(?<![\w.])\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty"
    r"|hundreds?|thousands?|millions?|billions?|dozens?|half|double|twice|triple)\b",
    re.I,
)
_METRIC = frozenset(
    terms(
        """accuracy score scores performance rate gain gains improvement error f1 bleu rouge auc precision recall
        win success pass speedup reduction""",
        keep_stopwords=True,
    )
)

FOCUS_IDF = 2.2  # a content term this rare (idf) or rarer is a focus term


def phrase_in(phrase: str, text: str) -> bool:
    """Whether ``text`` holds ``phrase`` as whole words, in any case, a hyphen and a space alike
    ("POS-tagging" is held by "pos tagging")."""
    joined = r"[-\s]+".join(re.escape(word) for word in re.split(r"[-\s]+", phrase.strip()))
    return bool(re.search(rf"(?<![\w-]){joined}(?:{_SUFFIX})?(?![\w-])", text, re.I))


def _holds_name(name: str, text: str) -> bool:
    """Whether ``text`` mentions ``name``; a name of several words ("New York Times Connections") also
    when it holds each of them ("Connections, a New York Times word puzzle")."""
    return phrase_in(name, text) or (" " in name and all(phrase_in(word, text) for word in name.split()))


def named_sources(question: str, sources: list[Source], idf: Callable[[str], float] | None = None) -> list[int]:
    """1-based numbers of the sources the question names (``assistant.names``), in the order the
    question names them; with ``idf``, a rare capitalised word ("Zamba") names a paper too."""
    rare = rare_by(idf) if idf else None
    found = [
        (pos, n) for n, s in enumerate(sources, 1) if (pos := mentions(question, s.title, rare, s.abstract)) is not None
    ]
    return [n for _, n in sorted(found)]


@dataclass(frozen=True)
class Gap:
    """Something the question asks that the abstracts do not hold."""

    what: str  # in the question's words: "its batch size", "weather forecasting", "MMLU"
    source: int | None = None  # the paper it was asked of (1-based), or None: of every top abstract
    verb: str = "report"  # "does not report its batch size", "does not mention MMLU", "does not say how many"
    listing: bool = False  # a field of the listing (organisation, upvotes), not of the abstract

    def sentence(self, sources: list[Source]) -> str:
        if self.source is None:
            return f"None of the indexed abstracts mention {self.what}."
        title = titled(sources[self.source - 1].title)
        if self.listing:
            return f"The listing for {title} [{self.source}] does not give its {self.what}."
        return f"The abstract of {title} [{self.source}] does not {self.verb} {self.what}."


@dataclass(frozen=True)
class Focus:
    """The question's focus terms and what the top abstracts hold of them."""

    terms: frozenset[str]  # stemmed focus terms
    names: tuple[str, ...]  # coined names and identifiers in the question, as written
    gaps: tuple[Gap, ...] = ()
    answered: bool = True  # False: refuse (gaps say what is missing)

    def supported(self, claim: str, source: Source) -> bool:
        """False when ``claim`` carries a focus term or name that ``source`` does not hold: a
        generated sentence may not pin on a paper what its abstract does not say."""
        text = f"{source.title}\n{source.listing()}\n{source.abstract}"
        present = set(terms(text))
        if any(t not in present for t in set(terms(claim)) & self.terms):
            return False
        return all(_holds_name(name, text) for name in self.names if phrase_in(name, claim))


def _listed(source: Source, field: str) -> bool:
    if field == "authors":  # an organisation line stands where the author count would
        return bool(source.authors or source.organization)
    if field == "venue" and venue_sentence(source.abstract):  # "This COLING 2025 tutorial ..."
        return True
    return source.listed(field) is not None


_VENUE = re.compile(  # "COLING 2025", "ICML 2019 workshop", "NeurIPS'23", "at the Conference on Robot Learning"
    r"\b(?:ACL|EMNLP|NAACL|EACL|AACL|COLING|LREC|CoNLL|SemEval|WMT|TACL|NeurIPS|NIPS|ICML|ICLR|AAAI|IJCAI|AISTATS"
    r"|UAI|COLT|JMLR|TMLR|CVPR|ICCV|ECCV|WACV|BMVC|MICCAI|KDD|SIGIR|WSDM|CIKM|WWW|RecSys|CHI|UIST|CSCW|ICRA|IROS"
    r"|CoRL|RSS|HRI|INTERSPEECH|Interspeech|ICASSP|ISMIR|TPAMI)(?:\s?'\d{2}|\s(?:19|20)\d{2})?\b"
    r"|\b(?:at|in|to) the (?:[A-Z][\w-]*\s+){0,4}(?:[Cc]onference|[Ww]orkshop|[Ss]ymposium)\b"
)


def venue_sentence(abstract: str) -> str | None:
    """The abstract's sentence that names where the work appears, for a listing with no venue."""
    return next((x for x in sentences(abstract) if _VENUE.search(x)), None)


def _source_text(source: Source) -> str:
    return f"{source.title}\n{source.listing()}\n{source.abstract}"


def assess(question: str, reading: Question, sources: list[Source], idf: Callable[[str], float]) -> Focus:
    """What of ``question`` the top ``sources`` hold; see the module docstring."""
    named = named_sources(question, sources, idf)
    named_terms: set[str] = set()
    for n in named:
        named_terms |= set(terms(sources[n - 1].title))
    names = tuple(
        dict.fromkeys(
            name
            for m in (*_NAME.finditer(question), *PROPER.finditer(question))
            if not set(terms(name := _SUFFIXED.sub("", m.group(0).strip(".-")))) <= named_terms
            and name.lower() not in COMMON_NAMES
            and name.lower() not in _CALENDAR
        )
    )
    content = [t for t in dict.fromkeys(terms(question)) if t not in SCAFFOLD]
    focus = frozenset(t for t in content if idf(t) >= FOCUS_IDF)
    if not sources:
        return Focus(focus, names, answered=False)
    if reading.kind is Kind.METADATA:
        subject = named[0] if named else 1
        listing_gaps = tuple(
            Gap(field_label(f), subject, listing=True) for f in reading.fields if not _listed(sources[subject - 1], f)
        )
        return Focus(focus, names, gaps=listing_gaps, answered=len(listing_gaps) < len(reading.fields))
    single = reading.kind in (Kind.FACT, Kind.OTHER) or (reading.kind is Kind.WHICH and reading.single)
    if named and reading.kind is not Kind.COMPARE or (not named and single):
        subject = named[0] if named else 1
        strict = bool(named) or reading.kind is Kind.FACT  # a description in the user's own words is not
        if not named and reading.ask:  # "... teach a computer that knew no English. How many took part?"
            names = tuple(n for n in names if n in reading.ask)  # the sentences before the ask describe the paper
        missing, present = _subject_gaps(question, reading, sources[subject - 1], names, idf, strict)
        if missing:
            gaps = tuple(Gap(what, subject, verb) for what, verb in missing)
            return Focus(focus, names, gaps=gaps, answered=bool(present))
    return Focus(focus, names)


_MODIFIERS = frozenset(  # adjectives that narrow what is asked but are not it ("exact score", "larger model")
    terms(
        """exact exactly average overall main best total larger smaller bigger biggest largest smallest
        specific final top highest lowest typical reported different other particular real actual
        name names title acronym term subject subjects topic topics area areas field fields aspect aspects
        step steps stage stages component components part parts element elements factor factors""",
        keep_stopwords=True,
    )
)
# how a quantity changed, which an abstract gives as a number ("50x improved sample efficiency")
_CHANGES = frozenset(
    terms("gain gains improvement improvements boost boosts speedup speedups increase increases", keep_stopwords=True)
)
_PAPER_WORDS = frozenset(terms("paper work study article publication", keep_stopwords=True))
PERCENT = frozenset(terms("percentage percent share fraction proportion ratio", keep_stopwords=True))


def _subject_gaps(
    question: str,
    reading: Question,
    source: Source,
    names: tuple[str, ...],
    idf: Callable[[str], float],
    strict: bool,
) -> tuple[list[tuple[str, str]], list[str]]:
    """What the question asks of ``source`` that its abstract does not hold, as (words, verb);
    and what it asks that the abstract does hold."""
    text = _source_text(source)
    present = set(terms(text))
    missing: list[tuple[str, str]] = []
    held: list[str] = []
    title = set(terms(source.title))
    release = RELEASE_ASKED.search(question)
    if release and availability(source.abstract) is None:
        thing = (release.group("thing") or release.group("thing2")).lower()  # no sentence says it is released
        return [(f"whether its {thing} {'are' if thing.endswith('s') else 'is'} released", "say")], []
    for m in _DETAIL.finditer(question):
        detail = m.group("detail")
        needed = set(terms(detail)) - _COUNTING  # a parameter count is held by "12 billion parameters"
        if needed <= title:  # "the paper on stacked attention heads": how the question names it, not what it asks
            continue
        if needed <= present:
            held.append(detail)
        elif detail.lower().startswith("how many"):  # "does not say how many GPUs"
            missing.append((detail[0].lower() + detail[1:], "say"))
        else:
            missing.append((f"its {detail.lower()}", "report"))
    if strict:  # a named paper, or a fact asked of it: a name it never mentions is not in it
        missing += [(name, "mention") for name in names if not _holds_name(name, text) and not spelled_out(name, text)]
    if missing:
        return missing, held
    head = asked_head(question)
    if reading.kind is Kind.WHICH or (head and set(terms(head[0], keep_stopwords=True)) & _PAPER_WORDS):
        head = []  # "which study checks ...", "which theory paper proves ...": the paper itself is what is asked
    stems = [  # "which two domains": the domains
        t
        for w in head
        for t in terms(w)
        if t not in SCAFFOLD and t not in _MODIFIERS and t not in PERCENT and not _NUMBER.fullmatch(w)
    ]
    # "what sample-efficiency gain", "what parameter count": the efficiency, the parameters
    stems = [t for t in stems if t not in _CHANGES and t not in _COUNTING] or stems
    stems = stems[-2:]  # "which 3-billion-parameter base model": what is asked is the base model
    if stems:
        weights = {t: idf(t) for t in stems}
        lacking = sum(w for t, w in weights.items() if t not in present) / (sum(weights.values()) or 1.0)
        wh = wh_word(question)
        asked = f"{(wh.group('wh') or wh.group('size')).lower()} {' '.join(head)}" if wh else " ".join(head)
        anchors = set(stems)
        if anchors <= _METRIC:  # "what accuracy on GSM8K": the number may stand by the benchmark alone
            anchors |= {t for name in names for t in terms(name)}
        numbered = [x for x in sentences(source.abstract) if _NUMBER.search(x)]
        if reading.numeric:  # a quantity: some sentence gives a number about what the question asks
            wanted = ({t for t in terms(question) if t not in SCAFFOLD} - title) or set(stems)  # "how many zoos"
            if not any(wanted & set(terms(x)) for x in numbered):
                return [(asked, "say")], []
        elif (lacking >= 0.5 or not _phrase_held(stems, text) or _asks_for_a_name(question, wh, stems)) and not (
            _names_beyond(source, question, idf, asked=stems[-1])
        ):
            return [(asked, "say")], []  # "which benchmark", and the abstract names none
    return [], held


# "has the code been released?", "is the dataset publicly available?", "where can I get the weights?"
RELEASE_ASKED = re.compile(
    r"\b(?:has|have|is|are|was|were|will)\b[^?.]{0,40}?\b(?P<thing>code|data|dataset|weights|checkpoints|models?"
    r"|implementation)\b[^?.]{0,30}?\b(?:been )?(?:released|available|public|open-?sourced|shared)\b"
    r"|\b(?:where can i (?:get|download|find)|is there (?:any |an? )?(?:public |open-?source |released )?)(?:the )?"
    r"(?P<thing2>code|data|dataset|weights|checkpoints|implementation)\b(?! \w+ing)",
    re.I,
)


# kinds of things that go by names: "which three model families", "on which simulation benchmark"
_NAMED_KINDS = frozenset(
    terms(
        """dataset datasets benchmark benchmarks model models family families platform platforms robot robots
        simulator simulators environment environments backbone backbones encoder encoders corpus corpora
        library libraries toolkit toolkits suite suites game games llm llms""",
        keep_stopwords=True,
    )
)
_OWN = re.compile(r"\b(?:introduce|propose|present|release|collect|build|construct|create|curate|design)", re.I)


def _asks_for_a_name(question: str, wh: re.Match[str] | None, stems: list[str]) -> bool:
    """Whether the question asks which named thing ("Which summarization dataset was used", "What robot
    platform was it deployed on"): the word alone ("three model families") does not answer it. Not
    what the paper itself makes ("what dataset do they introduce"), which is named like the paper."""
    return bool(wh and wh.group("wh") and stems and stems[-1] in _NAMED_KINDS and not _OWN.search(question))


def _phrase_held(stems: list[str], text: str) -> bool:
    """Whether ``text`` holds a two-word head as a phrase ("base model"), not its words apart
    ("preference-based ... the model")."""
    if len(stems) < 2:
        return True
    words = terms(text)
    return any(pair == (stems[0], stems[1]) for pair in zip(words, words[1:]))


def _names_beyond(
    source: Source, question: str, idf: Callable[[str], float] | None = None, asked: str | None = None
) -> bool:
    """Whether the abstract names something (a coined name, an acronym) that neither the question
    nor the paper's own name starts like: "which benchmark" may be answered by "MedConceptsQA"
    with no word "benchmark" near it. With ``asked`` (the stem of the kind asked for, "model"), not
    by a name the abstract gives as another kind ("the MATH dataset" answers no "which base model")."""
    own = {m.group(0).lower()[:4] for m in _NAME.finditer(f"{source.title} {question}")}
    defined = {m.group(1).lower() for m in _DEFINED.finditer(source.abstract)}
    text = _GLUED.sub(r"\1 ", _URL.sub(" ", source.abstract))  # not "WayneMao" of a GitHub link
    if asked and _named_beside(text, asked, f"{source.title} {question}"):
        return True
    return any(  # names of the paper's own artifacts ("Web-CogBench" of Web-CogReasoner) do not count,
        # nor an abbreviation the abstract spells out ("Chain-of-Thought (CoT)"), nor field-wide ones ("LLMs")
        m.group(0).lower()[:4] not in own
        and m.group(0).lower() not in defined
        and not _field_wide(m.group(0), idf)
        and not _other_kind(text, m, asked)
        for m in _NAME.finditer(text)
        if (len(m.group(0)) > 2 or any(c.isdigit() for c in m.group(0)))
        and m.group(0).lower() not in _NOT_NAMES
        and not _ENTITY.fullmatch(m.group(0))
    )


def _named_beside(text: str, asked: str, known: str) -> bool:
    """Whether a proper name stands right beside the kind asked for: "a simple board game, Othello"
    answers "what board game"."""
    for m in PROPER.finditer(text):
        if m.group(0).lower() in known.lower() or m.group(0).lower() in COMMON_NAMES or asked in terms(m.group(0)):
            continue  # the question's or the title's own words, or a kind ("Vision Foundation Models"), not a name
        before = text[: m.start()].split()[-1:]
        after = text[m.end() :].split()[:1]
        if any(asked in terms(w.rstrip(",")) and not w.endswith((":", ".")) for w in before) or any(
            asked in terms(w) for w in after
        ):
            return True
    return False


# kinds a name can be given as, by the word beside it ("the MATH dataset", "PRM800K, the complete dataset")
_KIND_GROUPS = {
    stem: group
    for group, words in (
        ("data", "dataset datasets benchmark benchmarks corpus corpora suite suites split test testbed"),
        ("model", "model models llm llms backbone backbones encoder encoders family families network networks"),
        ("tool", "library libraries toolkit toolkits framework package code"),
        ("place", "platform platforms robot robots simulator simulators environment environments game games"),
    )
    for stem in terms(words, keep_stopwords=True)
}
_ENTITY = re.compile(r"x[0-9a-f]{4}", re.I)  # a broken HTML entity in a listing ("models exhibit x2014 such as")


def _other_kind(text: str, name: re.Match[str], asked: str | None) -> bool:
    """Whether the words around ``name`` give it as a kind other than the one asked for."""
    want = _KIND_GROUPS.get(asked or "")
    if want is None:
        return False
    before = terms(" ".join(text[: name.start()].split()[-2:]), keep_stopwords=True)
    after = terms(" ".join(text[name.end() :].split()[:4]), keep_stopwords=True)
    given = {_KIND_GROUPS[t] for t in (*before, *after) if t in _KIND_GROUPS}
    return bool(given) and want not in given


# acronyms for kinds of things, not names of one ("T5" names a model; "F1", "MLP", "RGB" do not)
_GENERIC_ACRONYMS = frozenset(
    """f1 r1 r2 l1 l2 p1 p5 rgb rgbd mlp mlps cnn cnns rnn rnns lstm lstms gan gans vae vaes gnn gnns sql json
    html xml csv pdf url urls ocr asr tts sota sft 2d 3d 4d cot rag icl rlhf pytorch tensorflow jax""".split()
)
_NOT_NAMES = _GENERIC_ACRONYMS | COMMON_NAMES
_GLUED = re.compile(r"(?<![\w-])([a-z]+)-(?=[A-Z])")  # "the task set-BabyAI", not "Web-CogBench"
_URL = re.compile(r"\b(?:https?://|www\.|github\.com/)\S+", re.I)
_DEFINED = re.compile(r"\(([A-Za-z][\w-]*)\)")  # "large language models (LLMs)", "Chain-of-Thought (CoT)"
FIELD_WIDE_IDF = 2.0  # a name in this many papers or more (idf) is the field's word ("LLMs", "GitHub"), not a name


def _field_wide(name: str, idf: Callable[[str], float] | None) -> bool:
    stems = terms(name)
    return idf is not None and bool(stems) and max(idf(t) for t in stems) < FIELD_WIDE_IDF


def counted(sentence: str, stems: Set[str]) -> bool:
    """Whether ``sentence`` gives a number of one of ``stems`` ("130 tasks", "76 participants",
    "a 14,322 question dataset", "1,000 carefully curated prompts", "nine of the most used
    models"): a number at most four words before the counted word, not counting "of the"."""
    words = re.findall(r"[\w.,%\\-]+", sentence)
    for i, word in enumerate(words):
        if not set(terms(word)) & stems:
            continue
        window = words[max(0, i - 8) : i]
        breaks = [j for j, w in enumerate(window) if w.lower() in _CLAUSE_BREAKS]
        window = window[breaks[-1] + 1 :] if breaks else window  # "one in which participants" counts no one
        before = [w for w in window if w.lower() not in _COUNT_GLUE][-4:]
        if any(_NUMBER.search(w) for w in before):  # "nine of the most widely-available large language models"
            return True
    return False


_CLAUSE_BREAKS = {"which", "where", "who", "whom", "whose", "that", "when", "while", "whereas"}
_COUNT_GLUE = {"of", "the", "most", "a", "an", "our", "their", "its", "these", "those", "such"}


def verdict(
    question: Question, sources: list[Source], keyword: KeywordIndex, vectors: judge.Vectors
) -> tuple[Gap, ...] | Focus | None:
    """The extractive reader's decision (``assistant.judge``, unless the question names the top
    paper): a topic no top abstract covers, as the gap to say; None when the model is unsure, so
    the closest match is given, hedged; else what the top abstracts hold of the question (``assess``)."""
    if not sources[0].named:
        model = judge.Model.load()
        weights = judge.Weights.of(question.text, vectors)
        p = judge.covered(question, sources, keyword, weights, model)
        if p < model.refuse_below:
            return (Gap(judge.topic(question.text, keyword, vectors, whole=weights.whole)),)
        if p < model.answer_at:
            return None
    return assess(question.text, question, sources, keyword.idf)
