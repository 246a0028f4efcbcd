"""The BM25 keyword index (bm25s) over whole papers, persisted beside the store.

It is rebuilt at the end of every ingest that changes the store and saved with the store's
fingerprint; a reader whose store has a different fingerprint rebuilds it from the store.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import numpy as np

from index.records import Paper
from index.text import terms

MANIFEST = "manifest.json"
FORMAT = 1  # bump when paper_terms() changes, so saved indexes are rebuilt


def paper_terms(paper: Paper) -> list[str]:
    """What BM25 matches on: the title (twice, as a light field weight) and the abstract."""
    return terms(f"{paper.title}. {paper.title}. {paper.abstract}")


class KeywordIndex:
    """BM25 over papers; results are paper ids with their scores."""

    def __init__(self, ids: list[str], bm25) -> None:
        self.ids = ids
        self.bm25 = bm25
        self._row = {pid: i for i, pid in enumerate(ids)}

    @classmethod
    def build(cls, papers: list[Paper]) -> KeywordIndex:
        import bm25s

        bm25 = bm25s.BM25()
        if papers:
            bm25.index([paper_terms(p) or ["<empty>"] for p in papers], show_progress=False)
        return cls([p.paper_id for p in papers], bm25)

    def search(self, query: str, n: int, allowed: set[str] | None = None) -> list[tuple[str, float]]:
        """Top ``n`` papers for ``query``; ``allowed`` restricts the candidates."""
        vocab = getattr(self.bm25, "vocab_dict", None) or {}
        tokens = [t for t in terms(query) if t in vocab]
        if not tokens or not self.ids:
            return []
        mask = None
        if allowed is not None:
            mask = np.zeros(len(self.ids), dtype=np.float32)
            mask[[self._row[p] for p in allowed if p in self._row]] = 1
            if not mask.any():
                return []
        k = min(n, len(self.ids) if mask is None else int(mask.sum()))
        docs, scores = self.bm25.retrieve([tokens], k=k, show_progress=False, weight_mask=mask)
        return [(self.ids[d], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]

    def idf(self, term: str) -> float:
        """BM25 inverse document frequency of a stemmed term; a term in no paper gets the most."""
        n = max(1, len(self.ids))
        col = (getattr(self.bm25, "vocab_dict", None) or {}).get(term)
        df = 0 if col is None else int(self.bm25.scores["indptr"][col + 1] - self.bm25.scores["indptr"][col])
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def save(self, folder: Path, fingerprint: str) -> None:
        """Write atomically: into a temporary folder, then rename over the old one."""
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self.ids:
            self.bm25.save(str(tmp), show_progress=False)
        (tmp / MANIFEST).write_text(json.dumps({"format": FORMAT, "fingerprint": fingerprint, "ids": self.ids}))
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path, fingerprint: str) -> KeywordIndex | None:
        """The saved index if it matches ``fingerprint``, else None."""
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        if manifest.get("fingerprint") != fingerprint or manifest.get("format") != FORMAT:
            return None
        import bm25s

        if not manifest["ids"]:
            return cls([], bm25s.BM25())
        try:
            bm25 = bm25s.BM25.load(str(folder), show_progress=False)
        except (OSError, ValueError):
            return None
        return cls(manifest["ids"], bm25)
