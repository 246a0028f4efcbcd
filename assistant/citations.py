"""Check a backend's citations against the sources, the same way for every backend.

Invariants of the result: every [n] left in the text has its Citation, every Citation is one of
the sources (n is the source's rank), and every kept [n] sits in a sentence that the cited
abstract supports. Markers that point at no source are removed; citations whose sentence the
abstract does not support are dropped, and the sentences left with no supported citation are
counted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from assistant.answer import MARKER, Citation, Source
from index.text import sentence_spans

# "a claim. [1][2]" -> "a claim [1][2]." so the markers stay with the sentence they cite
_AFTER_STOP = re.compile(r"([.!?])((?:[ \t]*\[\d+(?:\s*,\s*\d+)*\])+)")
MIN_CLAIM_WORDS = 4  # shorter sentences ("Sources:", "In short:") are not claims

Support = Callable[[str, Source], tuple[float, str]]  # claim, source -> (score 0..1, best abstract sentence)


def defuse(text: str) -> str:
    """Corpus text (a title, an abstract) with its own ``[n]`` turned into ``(n)``: a marker written
    inside an abstract must never read as a citation of source n."""
    return MARKER.sub(lambda m: f"({m.group(1)})", text)


def cite(sentence: str, n: int) -> str:
    """``sentence`` citing source ``n``, the marker inside its final stop ("... 76 participants [1]."),
    where the citation check would put it."""
    sentence = sentence.rstrip()
    if sentence.endswith((".", "!", "?")) and not sentence.endswith(".."):
        return f"{sentence[:-1]} [{n}]{sentence[-1]}"
    return f"{sentence} [{n}]"


def titled(title: str) -> str:
    """A title as an answer writes it, defused: one that ends a sentence ("Are BabyLMs Second
    Language Learners?") is quoted, so the marker after it stays with it and the sentence goes on."""
    title = defuse(title)
    return f"“{title}”" if title.endswith(("?", "!", ".")) else title


@dataclass(frozen=True)
class Checked:
    text: str
    citations: list[Citation]
    unsupported: int  # claim sentences left without a supported citation


def _claim_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans, with a line break ending a sentence too (list items are claims of their own)."""
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        spans.extend((offset + s, offset + e) for s, e in sentence_spans(line) if line[s:e].strip())
        offset += len(line)
    return spans


def check_citations(text: str, sources: list[Source], support: Support, min_support: float) -> Checked:
    """Keep only markers that point at a source whose abstract supports their sentence."""
    text = _AFTER_STOP.sub(lambda m: f"{m.group(2)}{m.group(1)}", text)
    cited: dict[int, list[str]] = {}  # source number -> supporting abstract sentences
    memo: dict[tuple[str, int], tuple[float, str]] = {}
    pieces: list[str] = []
    unsupported = 0
    previous_end = 0
    for start, end in _claim_spans(text):
        sentence = text[start:end]
        claim = MARKER.sub("", sentence).strip()
        kept: list[int] = []

        def keep_supported(match: re.Match, claim: str = claim, kept: list[int] = kept) -> str:
            newly = []
            for part in match.group(1).split(","):
                n = int(part)
                if not 1 <= n <= len(sources) or n in kept:
                    continue
                if (claim, n) not in memo:
                    memo[(claim, n)] = support(claim, sources[n - 1])
                score, quote = memo[(claim, n)]
                if score >= min_support:
                    kept.append(n)
                    newly.append(n)
                    cited.setdefault(n, [])
                    if quote and quote not in cited[n]:
                        cited[n].append(quote)
            return "".join(f"[{n}]" for n in newly)

        checked = MARKER.sub(keep_supported, sentence)
        if not kept and len(claim.split()) >= MIN_CLAIM_WORDS and not claim.endswith(":"):  # not a heading
            unsupported += 1
        pieces.append(text[previous_end:start] + checked)
        previous_end = end
    pieces.append(text[previous_end:])
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", "".join(pieces))).strip()
    citations = [
        Citation(number=n, paper_id=sources[n - 1].paper_id, title=sources[n - 1].title, quotes=tuple(cited[n]))
        for n in sorted(cited)
    ]
    return Checked(cleaned, citations, unsupported)
