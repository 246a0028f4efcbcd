"""Text helpers shared by ingestion and answering: sentence spans and stemmed terms."""

from __future__ import annotations

import re
from functools import lru_cache

# A sentence ends at . ! or ? followed by space and a capital, digit or opening bracket,
# unless the word before the stop is a known abbreviation ("e.g.", "et al.", "Fig.").
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9(\[\"'])")
_ABBREVIATIONS = {"e.g", "i.e", "al", "etc", "fig", "vs", "eq", "cf", "resp", "approx", "no", "sec", "dr", "mr", "ms"}
_MONTHS = {"jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}  # "Oct. 8, 2022"
_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)*")  # decimals like 61.68 stay whole

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers him his how i if in into is it its itself just me more most my
    no nor not of off on once only or other our ours out over own same she should so some such than
    that the their them then there these they this those through to too under until up very was we
    were what when where which while who whom why will with would you your yours paper papers work
    works study studies there any anything show shows shown""".split()
)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences in ``text``; together they cover all of it."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        before = text[start : m.start()].rstrip("\"')]")
        last_word = before.rsplit(None, 1)[-1].lower().strip("([\"'").rstrip(".") if before.split() else ""
        if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
            continue
        if last_word in _MONTHS and text[m.end() : m.end() + 1].isdigit():
            continue
        spans.append((start, m.start()))
        start = m.end()
    if start < len(text) or not spans:
        spans.append((start, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def sentences(text: str) -> list[str]:
    """The sentences of ``text``."""
    return [text[s:e] for s, e in sentence_spans(text)]


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer  # PyStemmer, also used by bm25s

    return Stemmer.Stemmer("english")


# British spellings read as American ones, on both sides (abstracts and questions), before
# stemming: the stemmer alone keeps "optimisation" (optimis) and "optimization" (optim), or
# "behaviour" and "behavior", apart. The -ise rule needs three letters before it, so "noise",
# "raise" and "wise" stay; it runs on both sides, so a word it changes needlessly ("expertize")
# still meets itself.
_BRITISH = re.compile(
    r"^(?:(?P<ise>\w{3,}?)is(?P<ise_end>e|es|ed|ing|ation|ations|er|ers|able)"
    r"|(?P<yse>anal|paral|catal|dial|electrol|hydrol)ys(?P<yse_end>e|ed|ing|er|ers)"
    r"|(?P<our>behavi|col|fav|flav|hon|hum|lab|neighb|rum|harb|vap|vig|arm|endeav|sav|tum|od|rig|splend|clam|ferv|ard|cand)"
    r"our(?P<our_end>s|ed|ing|ite|ites|able|al|ally|less|ful)?"
    r"|(?P<tre>cent|met|lit|theat|spect|fib|calib|lust|meag|\w+met)re(?P<tre_end>s|d)?"
    r"|(?P<ogue>catal|dial|anal|monol|epil|prol)ogue(?P<ogue_end>s)?"
    r"|(?P<ce>defen|offen|licen|preten)ce(?P<ce_end>s)?"
    r"|(?P<ae>h|anh|leuk|an|septic|isch|hyp|pal|p|orthop|gyn|encyclop)(?:ae)(?P<ae_end>\w*)"
    r"|(?P<oe>)oe(?P<oe_end>str\w*|dem\w*|soph\w*))$"
)
_AMERICAN = {"ise": "iz", "yse": "yz", "our": "or", "tre": "er", "ogue": "og", "ce": "se", "ae": "e", "oe": "e"}
_WORDS = {
    "programme": "program",
    "programmes": "programs",
    "grey": "gray",
    "judgement": "judgment",
    "ageing": "aging",
    "artefact": "artifact",
    "artefacts": "artifacts",
    "sceptical": "skeptical",
    "foetal": "fetal",
    "foetus": "fetus",
    "diarrhoea": "diarrhea",
    "aluminium": "aluminum",
    "manoeuvre": "maneuver",
    "manoeuvres": "maneuvers",
}


@lru_cache(maxsize=65536)
def american(word: str) -> str:
    """``word`` (lower case) in American spelling: "optimisation" -> "optimization"."""
    if word in _WORDS:
        return _WORDS[word]
    m = _BRITISH.match(word)
    if m is None:
        return word
    kind = next(k for k in _AMERICAN if m.group(k) is not None)
    return f"{m.group(kind)}{_AMERICAN[kind]}{m.group(kind + '_end') or ''}"


def terms(text: str, keep_stopwords: bool = False) -> list[str]:
    """Lower-cased, stemmed word terms in American spelling; hyphenated words count as their parts."""
    if len(text) <= CACHED_CHARS:  # sentences, titles and questions are read many times per answer
        return list(_cached_terms(text, keep_stopwords))
    return _terms(text, keep_stopwords)


CACHED_CHARS = 2000  # an abstract; a whole ingested text is read once and not kept


@lru_cache(maxsize=8192)
def _cached_terms(text: str, keep_stopwords: bool) -> tuple[str, ...]:
    return tuple(_terms(text, keep_stopwords))


def _terms(text: str, keep_stopwords: bool) -> list[str]:
    words = _WORD.findall(text.lower())
    if not keep_stopwords:
        words = [w for w in words if w and w not in STOPWORDS]
    return _stemmer().stemWords([american(w) for w in words])


_WRITTEN = re.compile(_WORD.pattern, re.I)


def term_words(text: str) -> list[tuple[str, str]]:
    """The content terms of ``text`` (as ``terms`` gives them) each with the word as written there:
    ``[("learn", "Learning"), ("llm", "LLMs"), ...]``, so a term can be shown as a word."""
    written = [w for w in _WRITTEN.findall(text) if w.lower() not in STOPWORDS]
    stems = _stemmer().stemWords([american(w.lower()) for w in written])
    return list(zip(stems, written))
