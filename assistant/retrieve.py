"""Hybrid retrieval: BM25 over papers and dense search over chunks, fused by a weighted sum of
their scores at the paper level, plus the LlamaIndex retriever that wraps it."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from assistant.answer import Source
from assistant.names import NameIndex, rare_by
from index.config import Config
from index.embed import Embedder, make_embedder
from index.keyword import KeywordIndex
from index.records import Paper
from index.store import Filters, Store
from index.text import sentences, terms

# A paper's score: KEYWORD_WEIGHT * its BM25 score relative to the best paper's
# + DENSE_WEIGHT * the cosine of its closest chunk. Tuned on the SciFact train queries
# (bench/retrieval.py), checked on the dev questions. A weighted sum of scores keeps how far
# ahead a paper is, which reciprocal rank fusion throws away (+0.03 nDCG@10 on SciFact).
KEYWORD_WEIGHT = 1.0
DENSE_WEIGHT = 2.5
NAME_WEIGHT = 1.0  # a paper the question names by name ("SkillMimic", "Memory Networks") comes first


class HybridSearch:
    """Everything retrieval needs, loaded once: store, embedder, keyword index, paper records."""

    def __init__(
        self,
        config: Config,
        store: Store,
        embedder: Embedder,
        keyword: KeywordIndex,
        papers: list[Paper],
        generation: str = "",
    ):
        self.config = config
        self.generation = generation  # the store's generation when opened (see Store.generation)
        self.store = store
        self.embedder = embedder
        self.keyword = keyword
        self.papers = {p.paper_id: p for p in papers}
        self.organizations = sorted({p.organization for p in papers if p.organization})
        self.dated = sum(1 for p in papers if p.date)  # papers a date filter can keep
        self.names = NameIndex(((p.paper_id, p.title, p.abstract) for p in papers), rare_by(keyword.idf))

    @classmethod
    def open(cls, config: Config, embedder: Embedder | None = None) -> HybridSearch:
        """Open an existing index; raises StoreError when there is none."""
        store = Store(config, create=False)
        store.check_signature()
        generation = store.generation()  # read first: an ingest during open shows as a newer one
        papers, fingerprint = store.snapshot()
        keyword = KeywordIndex.load(config.keyword_dir, fingerprint)
        if keyword is None:  # another process changed the store, or the index files are gone
            keyword = KeywordIndex.build(papers)
            try:
                keyword.save(config.keyword_dir, fingerprint)
            except OSError:
                pass  # a read-only data dir still answers, it just rebuilds next time
        return cls(config, store, embedder or make_embedder(config), keyword, papers, generation)

    def search(self, question: str, k: int | None = None, filters: Filters | None = None) -> list[Source]:
        """The top ``k`` papers for ``question``, best first.

        Candidates are the best ``candidates`` papers by BM25 and by dense search; each is then
        scored on every signal (a candidate found by BM25 only gets its exact best-chunk cosine
        too, unless even the highest cosine it could have leaves it out of the top ``k``), so
        nothing depends on where a paper fell in the other list.
        """
        k = k or self.config.top_k
        depth = max(self.config.candidates, k)
        vector = self.embedder.embed_query(question)
        kw_all = self.keyword.scores(terms(question))
        if filters:
            allowed = np.array([filters.accepts(self.papers[pid]) for pid in self.keyword.ids], dtype=bool)
            if not allowed.any():
                return []
            kw_all = np.where(allowed, kw_all, 0)
        hits = self.store.search_chunks(vector, depth * 2, filters)
        similarity: dict[str, float] = {}
        for hit in hits:
            similarity.setdefault(hit.paper_id, hit.similarity)  # hits come best first
        named = [pid for pid in self.names.find(question) if not filters or filters.accepts(self.papers[pid])]
        pool = dict.fromkeys(list(similarity)[:depth])  # ordered set: dense candidates, then BM25 ones
        pool.update(dict.fromkeys(pid for pid, _ in self.keyword.top(kw_all, depth)))
        pool.update(dict.fromkeys(named))
        pool = {pid: None for pid in pool if pid in self.papers}
        best_kw = float(kw_all.max()) if len(kw_all) else 0.0

        def keyword(pid: str) -> float:
            row = self.keyword.row(pid)
            return float(kw_all[row]) if row is not None else 0.0

        def fuse(pid: str, dense: float) -> float:
            bonus = NAME_WEIGHT if pid in named else 0.0
            return KEYWORD_WEIGHT * (keyword(pid) / best_kw if best_kw else 0.0) + DENSE_WEIGHT * dense + bonus

        fused = {pid: fuse(pid, similarity[pid]) for pid in pool if pid in similarity}
        missing = [pid for pid in pool if pid not in similarity]
        if missing:
            # A paper the chunk search did not return has no chunk closer than the last hit, so
            # its score is at most fuse(pid, ceiling). Only papers whose bound could still reach
            # the top k get their exact similarity from their stored vectors.
            ceiling = hits[-1].similarity if len(hits) == depth * 2 else 1.0
            known = sorted(fused.values(), reverse=True)
            bar = known[k - 1] if len(known) >= k else -np.inf
            contenders = [pid for pid in missing if fuse(pid, ceiling) >= bar]
            similarity.update(self.store.chunk_similarity(vector, contenders))
            fused.update({pid: fuse(pid, similarity.get(pid, 0.0)) for pid in contenders})
        best = sorted(fused, key=lambda pid: (-fused[pid], pid))[:k]  # ties broken by id, so runs agree
        coverage = self.keyword.coverage(self.term_weights(question))
        return [
            Source.from_paper(
                self.papers[pid],
                fused[pid],
                similarity.get(pid, 0.0),
                keyword(pid),
                float(coverage[row]) if (row := self.keyword.row(pid)) is not None else 0.0,
                pid in named,
            )
            for pid in best
        ]

    def search_parts(
        self, question: str, parts: tuple[str, ...], k: int | None = None, filters: Filters | None = None
    ) -> list[Source]:
        """The top ``k`` papers for a question that names several ("how do A and B differ"):
        the question's own ranking, with the best paper for each part ("A", "B") kept in it,
        each in place of the lowest-ranked paper no part asked for."""
        k = k or self.config.top_k
        ranked = self.search(question, k, filters)
        wanted: list[Source] = []
        for part in parts[:3]:
            best = next(iter(self.search(part, 1, filters)), None)
            if best is not None and all(best.paper_id != w.paper_id for w in wanted):
                wanted.append(best)
        kept = {w.paper_id for w in wanted}
        missing = [w for w in wanted if all(w.paper_id != s.paper_id for s in ranked)]
        if not missing:
            return ranked
        spare = [i for i in range(len(ranked) - 1, -1, -1) if ranked[i].paper_id not in kept]
        for i, source in zip(spare, missing):
            ranked[i] = source
        return sorted(ranked, key=lambda s: (-s.score, s.paper_id))

    def support(self, claim: str, source: Source) -> tuple[float, str]:
        """How well ``source`` supports ``claim`` (0..1), and its abstract sentence closest to it.

        Lexical first: the idf-weighted share of the claim's terms found in the paper's title,
        listing line and abstract. When that is short of ``min_support`` (a paraphrase), the
        cosine between the claim and the paper's closest stored vector decides.
        """
        weights = self.term_weights(claim)
        lexical = coverage(weights, f"{source.title}\n{source.listing()}\n{source.abstract}")
        quote = max(sentences(source.abstract), key=lambda s: coverage(weights, s), default="")
        if lexical >= self.config.min_support:
            return lexical, quote
        vectors = self.store.paper_vectors(source.paper_id)
        cosine = float(np.max(vectors @ self.embedder.embed_query(claim))) if len(vectors) else 0.0
        return max(lexical, cosine), quote

    def related(self, paper_id: str, k: int) -> list[Source]:
        """The ``k`` papers nearest to ``paper_id`` in meaning: the chunks closest to the centre of
        its own stored vectors, each paper scored by its closest chunk, the paper itself left out."""
        vectors = self.store.paper_vectors(paper_id)
        if not len(vectors):
            return []
        centre = vectors.mean(axis=0)
        centre /= np.linalg.norm(centre) or 1.0
        best: dict[str, float] = {}
        for hit in self.store.search_chunks(centre, 4 * (k + 1)):
            if hit.paper_id != paper_id and hit.paper_id in self.papers:
                best.setdefault(hit.paper_id, hit.similarity)  # hits come best first
        return [Source.from_paper(self.papers[pid], s, similarity=s) for pid, s in list(best.items())[:k]]

    def term_weights(self, question: str) -> dict[str, float]:
        """The question's content terms, weighted by how rare they are in the corpus."""
        return {t: self.keyword.idf(t) for t in set(terms(question))}


def coverage(weights: dict[str, float], text: str) -> float:
    """The idf-weighted share of the question's terms that occur in ``text`` (0..1)."""
    total = sum(weights.values())
    if not total:
        return 0.0
    present = set(terms(text))
    return sum(w for t, w in weights.items() if t in present) / total


def source_to_node(source: Source) -> NodeWithScore:
    """A source as a LlamaIndex node (the abstract as text, the rest as metadata)."""
    meta = {k: v for k, v in asdict(source).items() if k != "abstract"}
    node = TextNode(id_=source.paper_id, text=source.abstract, metadata=meta)
    return NodeWithScore(node=node, score=source.score)


def node_to_source(node: NodeWithScore) -> Source:
    return Source(**{**node.node.metadata, "abstract": node.node.get_content()})


class PaperRetriever(BaseRetriever):
    """LlamaIndex retriever over papers: one node per paper, scored by the fused rank."""

    def __init__(
        self,
        search: HybridSearch,
        k: int | None = None,
        filters: Filters | None = None,
        parts: tuple[str, ...] = (),
    ):
        super().__init__()
        self._search = search
        self._k = k
        self._filters = filters
        self._parts = parts  # a comparison's phrases that each name a paper

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        question = query_bundle.query_str
        if len(self._parts) >= 2:
            found = self._search.search_parts(question, self._parts, self._k, self._filters)
        else:
            found = self._search.search(question, self._k, self._filters)
        return [source_to_node(s) for s in found]
