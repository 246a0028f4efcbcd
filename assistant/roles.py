"""The rhetorical role of each sentence of an abstract: background, contribution, method, result,
availability. Abstracts follow a few fixed moves ("X is hard. We propose Y. Y does Z. Y improves
W by 5%. Code is available."), and the cue words of each move are few and stable."""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache

from index.text import sentences


class Role(StrEnum):
    BACKGROUND = "background"
    CONTRIBUTION = "contribution"
    METHOD = "method"
    RESULT = "result"
    AVAILABILITY = "availability"


_AVAILABILITY = re.compile(
    r"\b(?:code|data|dataset|datasets|models?|weights|checkpoints|benchmark|demo|project page|implementation|resources)"
    r"\b[^.]{0,80}\b(?:is|are|will be|have been|has been|be made)\s+(?:publicly |freely |openly )?"
    r"(?:available|released|open-?sourced|public)\b|\bgithub\.com\b|https?://"
    r"|\bwe (?:also )?(?:release|open-?source|make)\b[^.]{0,60}\b(?:codes?|data|datasets?|publicly|available|public)\b",
    re.I,
)
_CONTRIBUTION = re.compile(
    r"\b(?:we|this (?:paper|work|study|article|report)|in this (?:paper|work)|here,? we|our (?:work|paper))\b"
    r"[^.]{0,60}?\b(?:propos\w*|introduc\w*|present\w*|develop\w*|design\w*|build\w*|buil[dt]|construct\w*"
    r"|curat\w*|creat\w*|offer\w*|put forward|describ\w*|contribut\w*|formulat\w*|releas\w*|unveil\w*|devis\w*"
    r"|deriv\w*|investigat\w*|stud(?:y|ies|ied)|explor\w*|examin\w*|analy[sz]\w*|show\w*|demonstrat\w*|argu\w*"
    r"|find|found|revisit\w*|tackl\w*|address\w*|overcom\w*|leverag\w*|extend\w*|collect\w*|train\w*)\b"
    r"|\b(?:is|are) (?:a|an) (?:novel|new|simple|unified|general|first|large-scale|scalable|efficient)\b"
    r"|^(?:To (?:this end|address|tackle|bridge|overcome|fill|solve|mitigate|remedy|close))\b",
    re.I,
)
_STRONG_CONTRIBUTION = re.compile(
    r"\b(?:propos\w*|introduc\w*|present(?:s|ed|ing)?|put forward|unveil\w*|devis\w*|deriv\w*)\b", re.I
)
_RESULT = re.compile(
    r"\b(?:outperform\w*|surpass\w*|improv\w*|achiev\w*|reach\w*|state-of-the-art|sota|gains?|boosts?|reduc\w*"
    r"|speed-?ups?|faster|better|higher|lower|accuracy|results? (?:show|demonstrate|indicate|suggest|reveal)"
    r"|experiments? (?:show|demonstrate|on|across)|evaluations? (?:show|demonstrate)|we (?:find|found|observe)"
    r"|empirically|significantly|consistently|matches|competitive)\b",
    re.I,
)
_METHOD = re.compile(
    r"\b(?:specifically|concretely|first,?|then|finally|consists? of|comprises?|by (?:using|leveraging|training"
    r"|combining|learning|introducing)|we (?:use|leverage|employ|train|fine-tune|adopt|combine|apply|learn|model"
    r"|represent|formulate|encode|decode|generate|compute|optimi[sz]e|augment|distill)|(?:our|the) (?:method|approach"
    r"|framework|model|pipeline|system|architecture|algorithm) (?:uses|leverages|employs|consists|learns|builds|is"
    r"|first|then)|module|mechanism|objective|loss)\b",
    re.I,
)
_NUMBER = re.compile(r"\d")


def role_of(sentence: str, position: int, contribution_seen: bool) -> Role:
    """One sentence's role; ``position`` is its index in the abstract."""
    if _AVAILABILITY.search(sentence):
        return Role.AVAILABILITY
    if _RESULT.search(sentence) and (_NUMBER.search(sentence) or contribution_seen):
        if not _STRONG_CONTRIBUTION.search(sentence) or _NUMBER.search(sentence):
            return Role.RESULT
    if _CONTRIBUTION.search(sentence) and not (contribution_seen and not _STRONG_CONTRIBUTION.search(sentence)):
        return Role.CONTRIBUTION
    if contribution_seen and (_METHOD.search(sentence) or position > 0):
        return Role.METHOD
    return Role.BACKGROUND


@lru_cache(maxsize=4096)
def roles(abstract: str) -> tuple[tuple[str, Role], ...]:
    """Every sentence of ``abstract`` with its role, in order."""
    out: list[tuple[str, Role]] = []
    seen = False
    for position, sentence in enumerate(sentences(abstract)):
        role = role_of(sentence, position, seen)
        seen = seen or role is Role.CONTRIBUTION
        out.append((sentence, role))
    if not seen and out:  # no cue word: the first sentence after the background is the contribution
        first = next((i for i, (s, r) in enumerate(out) if r is not Role.BACKGROUND), None)
        index = first if first is not None else min(1, len(out) - 1) if len(out) > 2 else 0
        out[index] = (out[index][0], Role.CONTRIBUTION)
    return tuple(out)


def contribution(abstract: str) -> str | None:
    """The sentence that says what the paper does: the first that proposes, introduces or presents
    something, else the first contribution sentence ("we study", "we show")."""
    candidates = [s for s, r in roles(abstract) if r is Role.CONTRIBUTION]
    return next((s for s in candidates if _STRONG_CONTRIBUTION.search(s)), candidates[0] if candidates else None)


def headline_result(abstract: str) -> str | None:
    """The result sentence with numbers in it, else the first result sentence."""
    results = [s for s, r in roles(abstract) if r is Role.RESULT]
    return next((s for s in results if _NUMBER.search(s)), results[0] if results else None)


def availability(abstract: str) -> str | None:
    """The sentence that says the code, data or models are released, if one does."""
    return next((s for s, r in roles(abstract) if r is Role.AVAILABILITY), None)
