"""Turn a backend's draft into final text and citations, for every backend alike.

Invariants: every [n] left in the text has its Citation, every Citation is one of the sources,
and citations are numbered 1, 2, ... in order of first appearance.
"""

from __future__ import annotations

import re

from assistant.answer import MARKER, Citation, Source
from assistant.backends.base import Draft


def finalize(draft: Draft, sources: list[Source]) -> tuple[str, list[Citation]]:
    """Drop markers that point at no source, renumber the rest, and build the citations."""
    numbering: dict[int, int] = {}  # source number -> citation number

    def renumber(match) -> str:
        kept = []
        for part in match.group(1).split(","):
            n = int(part)
            if 1 <= n <= len(sources):
                numbering.setdefault(n, len(numbering) + 1)
                if numbering[n] not in kept:
                    kept.append(numbering[n])
        return "".join(f"[{k}]" for k in kept)

    text = MARKER.sub(renumber, draft.text)
    # removed markers may leave double spaces or a space before punctuation
    text = re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", text)).strip()
    citations = [
        Citation(
            number=number,
            paper_id=sources[n - 1].paper_id,
            title=sources[n - 1].title,
            quotes=tuple(draft.quotes.get(n, ())),
        )
        for n, number in sorted(numbering.items(), key=lambda item: item[1])
    ]
    return text, citations
