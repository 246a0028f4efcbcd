"""The BM25 keyword index (bm25s) over whole papers, persisted beside the store.

It is rebuilt at the end of every ingest that changes the store and saved with the store's
fingerprint; a reader whose store has a different fingerprint rebuilds it from the store.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from functools import cached_property
from pathlib import Path

import numpy as np

from index.records import Paper
from index.text import terms


def _bm25s():
    """The bm25s module, with its logger (set to DEBUG on import) kept to warnings: its index-building
    lines are not for users."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


MANIFEST = "manifest.json"
FORMAT = 3  # bump when paper_terms() or the parameters change, so saved indexes are rebuilt

# BM25 parameters and the title's field weight, tuned on the SciFact train queries
# (bench/retrieval.py): lower saturation and length normalisation than Lucene's defaults suit
# abstracts, and the title counts three times.
K1 = 0.7
B = 0.6
TITLE_REPEAT = 3


def paper_terms(paper: Paper) -> list[str]:
    """What BM25 matches on: the title (repeated, as a field weight) and the abstract."""
    return terms(f"{paper.title}. " * TITLE_REPEAT + paper.abstract)


class KeywordIndex:
    """BM25 over papers; results are paper ids with their scores."""

    def __init__(self, ids: list[str], bm25) -> None:
        self.ids = ids
        self.bm25 = bm25
        self._row = {pid: i for i, pid in enumerate(ids)}

    @classmethod
    def build(cls, papers: list[Paper]) -> KeywordIndex:
        bm25s = _bm25s()
        bm25 = bm25s.BM25(k1=K1, b=B)
        if papers:
            bm25.index([paper_terms(p) or ["<empty>"] for p in papers], show_progress=False)
        return cls([p.paper_id for p in papers], bm25)

    @property
    def _vocab(self) -> dict[str, int]:
        return getattr(self.bm25, "vocab_dict", None) or {}

    def row(self, paper_id: str) -> int | None:
        """The position of a paper in the arrays ``scores`` and ``coverage`` return."""
        return self._row.get(paper_id)

    def scores(self, query_terms: list[str]) -> np.ndarray:
        """The BM25 score of every paper (in ``ids`` order) for stemmed query terms."""
        known = [t for t in query_terms if t in self._vocab]
        if not known:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(known), dtype=np.float32)

    def coverage(self, weights: dict[str, float]) -> np.ndarray:
        """For every paper, the weighted share of the terms in ``weights`` that it contains (0..1).

        Read from the index's term -> papers lists, so it costs one pass over the query's terms.
        """
        out = np.zeros(len(self.ids), dtype=np.float32)
        total = sum(weights.values())
        if not total or not self.ids:
            return out
        indptr, indices = self.bm25.scores["indptr"], self.bm25.scores["indices"]
        for term, weight in weights.items():
            col = self._vocab.get(term)
            if col is not None:
                out[indices[indptr[col] : indptr[col + 1]]] += weight
        return out / total

    def top(self, scores: np.ndarray, n: int) -> list[tuple[str, float]]:
        """The ``n`` best papers by ``scores`` (an array in ``ids`` order) with a positive score."""
        return [(self.ids[i], float(scores[i])) for i in _top(scores, n) if scores[i] > 0]

    def holds(self, term: str) -> bool:
        """Whether some indexed paper holds the stemmed ``term``."""
        return term in self._vocab

    def close(self, term: str, cutoff: float) -> str | None:
        """The indexed term spelled most like ``term`` (difflib ratio at least ``cutoff``), if any:
        what a misspelt word was meant to be."""
        import difflib

        near = [t for t in self._by_start.get(term[:1], []) if abs(len(t) - len(term)) <= 2]
        found = difflib.get_close_matches(term, near, n=1, cutoff=cutoff)
        return found[0] if found else None

    @cached_property
    def _by_start(self) -> dict[str, list[str]]:
        by_start: dict[str, list[str]] = {}
        for t in self._vocab:
            by_start.setdefault(t[:1], []).append(t)
        return by_start

    def idf(self, term: str) -> float:
        """BM25 inverse document frequency of a stemmed term; a term in no paper gets the most."""
        n = max(1, len(self.ids))
        col = self._vocab.get(term)
        df = 0 if col is None else int(self.bm25.scores["indptr"][col + 1] - self.bm25.scores["indptr"][col])
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def save(self, folder: Path, fingerprint: str) -> None:
        """Write into a temporary folder of this process, then swap it in for the old one.

        Two processes saving at once each write their own folder; the loser's swap fails with
        OSError (its caller may retry or go on: a reader rebuilds an index it cannot load).
        """
        tmp = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            if self.ids:
                self.bm25.save(str(tmp), show_progress=False)
            (tmp / MANIFEST).write_text(json.dumps({"format": FORMAT, "fingerprint": fingerprint, "ids": self.ids}))
            old = folder.with_name(f"{folder.name}.{os.getpid()}.old")
            shutil.rmtree(old, ignore_errors=True)
            if folder.exists():
                os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path, fingerprint: str) -> KeywordIndex | None:
        """The saved index if it matches ``fingerprint``, else None.

        Another process may swap in a new index while this one reads; the manifest is read
        again afterwards and the arrays checked against it, so a mix of two is never returned.
        """
        manifest = _manifest(folder)
        if manifest is None or manifest.get("fingerprint") != fingerprint or manifest.get("format") != FORMAT:
            return None
        bm25s = _bm25s()
        if not manifest["ids"]:
            return cls([], bm25s.BM25())
        try:
            bm25 = bm25s.BM25.load(str(folder), show_progress=False)
        except (OSError, ValueError):
            return None
        if _manifest(folder) != manifest or int(bm25.scores.get("num_docs", -1)) != len(manifest["ids"]):
            return None
        return cls(manifest["ids"], bm25)


def last_saved(folder: Path) -> KeywordIndex | None:
    """The saved index, whatever papers it was built from (None when there is none): enough for
    statistics such as a term's idf, which an ingest since moves little."""
    manifest = _manifest(folder)
    return KeywordIndex.load(folder, manifest.get("fingerprint", "")) if manifest else None


def _manifest(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Indexes of the ``n`` highest scores, best first; ties go to the earlier paper."""
    if n <= 0 or not len(scores):
        return np.zeros(0, dtype=np.int64)
    if n < len(scores):
        part = np.argpartition(-scores, n - 1)[:n]
    else:
        part = np.arange(len(scores))
    return part[np.lexsort((part, -scores[part]))]
