"""The names papers go by, and finding them in a question.

A paper is named by its short name ("SkillMimic" of "SkillMimic: Learning Reusable Basketball
Skills..."), the parts of a bracketed one ("Proposer-Agent-Evaluator", "PAE"), or its whole title.
Only names that cannot be ordinary words count: a coined word (inner capital or digit:
"SkillMimic", "GPT-4", "T5"), an acronym ("LIMA"), a short title written as a name ("Memory
Networks", matched with its capitals), or a longer title (matched in any case). So "deep learning"
in a question names no paper called "Deep Learning: A Review".
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

from index.text import terms

_TOKEN = re.compile(r"[\w'’]+")  # "OWL-trained" holds the name "OWL"
_TITLE_NAME = re.compile(r"^\s*([^:]{2,60}?)\s*:")  # "SkillMimic: Learning ..." -> "SkillMimic"
_BRACKETED = re.compile(r"^(.+?)\s*\((.+?)\)\s*$")
_COINED = re.compile(  # SkillMimic, GPT-4, T5, LIMA, Proposer-Agent-Evaluator
    r"^(?:[A-Za-z]*[a-z][A-Z0-9][\w'-]*|[A-Z][A-Za-z]*\d[\w-]*|[A-Z]{3,}[\w-]*|[A-Z][a-z]+(?:-[A-Z][a-z]*)+)$"
)
SHARED_NAME = 2  # a name more papers go by than this names none of them
LONG_TITLE_WORDS = 4  # a title this long is a name in any case
RARE_IDF_GAP = 2.0  # a word at most this far below an unseen word's idf is in about 3 papers or fewer
Rare = Callable[[str], bool]


def rare_by(idf: Callable[[str], float]) -> Rare:
    """Whether a word is rare in the corpus (in about three papers or fewer), from the corpus's idf."""
    top = idf("\x00")  # a term in no paper

    def rare(word: str) -> bool:
        stems = terms(word)
        return bool(stems) and all(top - idf(t) <= RARE_IDF_GAP for t in stems)

    return rare


_LETTERS = re.compile(r"[A-Za-z]+")


def abbreviates(acronym: str, words: Sequence[str]) -> bool:
    """Whether ``acronym`` is the initials of ``words``: "QA" of "question answering"."""
    return len(words) == len(acronym) and "".join(w[0] for w in words).lower() == acronym.lower()


def spelled_out(acronym: str, text: str) -> bool:
    """Whether ``text`` spells out the acronym anywhere: "question answering" for "QA",
    "feed-forward networks" for "FFNs"."""
    bare = acronym[:-1] if acronym.endswith("s") else acronym  # "FFNs"
    if not (bare.isupper() and bare.isalpha() and 2 <= len(bare) <= 5):
        return False
    words = _LETTERS.findall(text)
    return any(abbreviates(bare, words[i : i + len(bare)]) for i in range(len(words)))


def spelled_before(name: re.Match[str], text: str) -> list[str] | None:
    """The words an acronym in brackets abbreviates, when they come just before it:
    "reinforcement learning (RL)" -> ["reinforcement", "learning"]."""
    letters = name.group(0)
    if not letters.isalpha() or text[name.start() - 1 : name.start()] != "(":
        return None
    words = _LETTERS.findall(text[: name.start() - 1])[-len(letters) :]
    return words if abbreviates(letters, words) else None


def short_name(title: str) -> str | None:
    """The name a paper goes by: the part of its title before a colon ("SkillMimic"), when short."""
    m = _TITLE_NAME.match(title)
    return m.group(1) if m and len(m.group(1).split()) <= 4 else None


_INTRODUCED = re.compile(  # "We present Step-Back Prompting, ...", "we develop Multi-Task Trajectory Transfer (MT3)"
    r"\b(?:[Ww]e (?:propose|introduce|present|develop|call|dub|name)|called|dubbed|named|termed)\s+"
    r"(?:(?:a|an|the|our)\s+)?(?:(?:new|novel|simple)\s+)?"
    r"(?P<name>[A-Z][\w-]*(?:\s+[A-Z][\w-]*){0,3})(?:\s*\((?P<short>[^()\s]{2,20})\))?"
)


@lru_cache(maxsize=4096)  # asked of the same top abstracts several times per question
def introduced_names(abstract: str) -> tuple[str, ...]:
    """The names an abstract gives what it introduces ("We present Step-Back Prompting"): a paper
    is often asked about by its method's name, which its title may not hold."""
    found = []
    for m in _INTRODUCED.finditer(abstract):
        found += [n for n in (m.group("name"), m.group("short")) if n and (" " in n or _COINED.match(n))]
    return tuple(found)  # a lone ordinary word ("we propose a Python library") names nothing


def names_of(title: str, abstract: str = "") -> list[str]:
    """What a paper may be called: its short name ("Proposer-Agent-Evaluator(PAE)"), that name
    without and inside its brackets ("Proposer-Agent-Evaluator", "PAE"), or, with no colon, the
    capitalised words the title opens with ("Successive Prompting"); the names its abstract
    introduces ("Step-Back Prompting"); and its whole title."""
    names = []
    short = short_name(title)
    if short:
        names.append(short)
        m = _BRACKETED.match(short)
        if m:
            names.extend([m.group(1), m.group(2)])
    else:  # "Successive Prompting for Decomposing ...": the capitalised words it opens with
        lead = re.match(r"^((?:[A-Z][\w'-]*\s+){1,3}[A-Z][\w'-]*)\s+[a-z]", title)
        if lead:
            names.append(lead.group(1))
    names.extend(introduced_names(abstract))
    names.append(title)
    return names


def _tokens(text: str) -> tuple[str, ...]:
    words = (_POSSESSIVE.sub("", t).strip("'") for t in _TOKEN.findall(text.replace("’", "'")))
    return tuple(t for t in words if t)


_POSSESSIVE = re.compile(r"'s$")  # "SAAS's number", "LIMA's view": the name is SAAS, LIMA


def _key(name: str, rare: Rare | None = None, whole: bool = True) -> tuple[tuple[str, ...], bool] | None:
    """The tokens a name is matched by, and whether case matters; None for a name that could be
    an ordinary phrase. A capitalised single word ("Zamba") is a name when the corpus says it is rare.
    A name that is not the ``whole`` title (a short name, the words a title opens with, a name its
    abstract introduces) keeps its case, and as one word needs, with ``rare``, to be rare: in a
    corpus where hundreds of abstracts say "DNA" or "COPD", the word names no paper."""
    tokens = _tokens(name)
    if not tokens:
        return None
    if len(tokens) == 1 and tokens[0][:1].isupper() and len(tokens[0]) >= 4 and rare is not None and rare(tokens[0]):
        return tokens, True
    if not whole and len(tokens) == 1 and rare is not None and not rare(tokens[0]):
        return None
    if whole and len(tokens) >= LONG_TITLE_WORDS:
        return tuple(t.casefold() for t in tokens), False
    if any(_COINED.match(t) for t in tokens):
        return tokens, True
    if len(tokens) >= 2 and all(t[0].isupper() for t in tokens if len(t) > 3):  # "Memory Networks"
        return tokens, True
    return None


class NameIndex:
    """Paper names -> paper ids, for finding the papers a question names."""

    def __init__(self, papers: Iterable[tuple[str, str, str]], rare: Rare | None = None):  # (id, title, abstract)
        self._exact: dict[tuple[str, ...], list[str]] = defaultdict(list)
        self._folded: dict[tuple[str, ...], list[str]] = defaultdict(list)
        self.longest = 0
        for pid, title, abstract in papers:
            for name in names_of(title, abstract):
                key = _key(name, rare, whole=name == title)
                if key is None:
                    continue
                tokens, exact = key
                table = self._exact if exact else self._folded
                if pid not in table[tokens]:
                    table[tokens].append(pid)
                self.longest = max(self.longest, len(tokens))

    def positions(self, question: str) -> dict[str, int]:
        """Paper id -> the token position where ``question`` first names it."""
        tokens = _tokens(question)
        folded = tuple(t.casefold() for t in tokens)
        found: dict[str, int] = {}
        for start in range(len(tokens)):
            for length in range(min(self.longest, len(tokens) - start), 0, -1):
                exact = self._exact.get(tokens[start : start + length], [])
                folded_hits = self._folded.get(folded[start : start + length], [])
                for pids in (exact, folded_hits):
                    if len(pids) > SHARED_NAME:  # "Vitamin D" opens three titles: a topic, not a name
                        continue
                    for pid in pids:
                        found.setdefault(pid, start)
        return found

    def find(self, question: str) -> list[str]:
        """Ids of the papers ``question`` names, in the order it names them."""
        found = self.positions(question)
        return sorted(found, key=lambda pid: found[pid])


def mentions(question: str, title: str, rare: Rare | None = None, abstract: str = "") -> int | None:
    """Where in ``question`` (token position) the paper called ``title`` is named, if it is."""
    return NameIndex([("paper", title, abstract)], rare).positions(question).get("paper")
