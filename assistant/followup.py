"""Follow-up questions without a language model: resolve references to earlier answers.

"and what did the second one find?" after an answer citing A and B becomes
"and what did the second one find? (B)": the title is what retrieval needs to find B again.
"""

from __future__ import annotations

import re

from assistant.answer import Turn
from index.text import terms

_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "1st": 1, "2nd": 2, "3rd": 3, "last": -1}
_ORDINAL_REF = re.compile(
    r"\b(?:the\s+)?(first|second|third|fourth|fifth|1st|2nd|3rd|last)\s+(?:one|paper|work|study|article|result)s?\b",
    re.I,
)
_NUMBER_REF = re.compile(r"\[(\d+)\]|\b(?:paper|source|reference)\s+(\d+)\b", re.I)
_PRONOUN = re.compile(
    r"\b(?:it|its|they|their|them|this|that|these|those|the paper|the same|the authors|the method|the model)\b", re.I
)
SHORT = 1  # a follow-up with this few content terms ("why?", "and robots?") borrows the last question


def _pick(titles: tuple[str, ...], number: int) -> str | None:
    if number == -1:
        return titles[-1] if titles else None
    return titles[number - 1] if 0 < number <= len(titles) else None


def resolve_references(question: str, history: list[Turn]) -> str:
    """A standalone version of ``question`` given the earlier turns (most recent last)."""
    if not history:
        return question
    last = history[-1]
    titles = last.cited_titles
    picked = [_pick(titles, _ORDINALS[m.group(1).lower()]) for m in _ORDINAL_REF.finditer(question)]
    picked += [_pick(titles, int(m.group(1) or m.group(2))) for m in _NUMBER_REF.finditer(question)]
    found = [t for t in dict.fromkeys(picked) if t]
    if found:
        return f"{question} ({'; '.join(found)})"
    if _PRONOUN.search(question) and titles:
        return f"{question} ({titles[0]})"
    if len(terms(question)) <= SHORT:
        return f"{last.question} {question}"
    return question
