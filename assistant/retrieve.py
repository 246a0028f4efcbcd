"""Hybrid retrieval: BM25 over papers and dense search over chunks and titles, fused with
reciprocal rank fusion at the paper level, plus the LlamaIndex retriever that wraps it."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from assistant.answer import Source
from index.config import Config
from index.embed import Embedder, make_embedder
from index.keyword import KeywordIndex
from index.records import Paper
from index.store import Filters, Store
from index.text import sentences, terms

# Weights of the ranked lists in the fusion.
DENSE_WEIGHT = 1.0
KEYWORD_WEIGHT = 1.0
TITLE_WEIGHT = 0.25


class HybridSearch:
    """Everything retrieval needs, loaded once: store, embedder, keyword index, paper records."""

    def __init__(self, config: Config, store: Store, embedder: Embedder, keyword: KeywordIndex, papers: list[Paper]):
        self.config = config
        self.store = store
        self.embedder = embedder
        self.keyword = keyword
        self.papers = {p.paper_id: p for p in papers}
        self.organizations = sorted({p.organization for p in papers if p.organization})

    @classmethod
    def open(cls, config: Config, embedder: Embedder | None = None) -> HybridSearch:
        """Open an existing index; raises StoreError when there is none."""
        store = Store(config, create=False)
        store.check_signature()
        papers = store.load_papers()
        fingerprint = store.fingerprint()
        keyword = KeywordIndex.load(config.keyword_dir, fingerprint)
        if keyword is None:  # another process changed the store, or the index files are gone
            keyword = KeywordIndex.build(papers)
            try:
                keyword.save(config.keyword_dir, fingerprint)
            except OSError:
                pass  # a read-only data dir still answers, it just rebuilds next time
        return cls(config, store, embedder or make_embedder(config), keyword, papers)

    def search(self, question: str, k: int | None = None, filters: Filters | None = None) -> list[Source]:
        """The top ``k`` papers for ``question``, best first."""
        k = k or self.config.top_k
        depth = max(self.config.candidates, k)
        vector = self.embedder.embed_query(question)
        allowed = {pid for pid, p in self.papers.items() if filters.accepts(p)} if filters else None
        if allowed is not None and not allowed:
            return []
        similarity: dict[str, float] = {}
        for hit in self.store.search_chunks(vector, depth * 2, filters):
            similarity.setdefault(hit.paper_id, hit.similarity)  # hits come best first
        dense = list(similarity)[:depth]
        titles = [h.paper_id for h in self.store.search_titles(vector, depth, filters)]
        keyword = dict(self.keyword.search(question, depth, allowed))
        fused: dict[str, float] = {}
        for weight, ranking in ((DENSE_WEIGHT, dense), (KEYWORD_WEIGHT, list(keyword)), (TITLE_WEIGHT, titles)):
            for rank, pid in enumerate(ranking):
                fused[pid] = fused.get(pid, 0.0) + weight / (self.config.rrf_k + rank + 1)
        ranked = sorted(fused, key=lambda pid: (-fused[pid], pid))  # ties broken by id, so runs agree
        best = [pid for pid in ranked if pid in self.papers][:k]
        weights = self.term_weights(question)
        return [
            Source.from_paper(
                self.papers[pid],
                fused[pid],
                similarity.get(pid, 0.0),
                keyword.get(pid, 0.0),
                coverage(weights, self.papers[pid].title + "\n" + self.papers[pid].abstract),
            )
            for pid in best
        ]

    def support(self, claim: str, source: Source) -> tuple[float, str]:
        """How well ``source`` supports ``claim`` (0..1), and its abstract sentence closest to it.

        Lexical first: the idf-weighted share of the claim's terms found in the paper's title,
        listing line and abstract. When that is short of ``min_support`` (a paraphrase), the
        cosine between the claim and the paper's closest stored vector decides.
        """
        weights = self.term_weights(claim)
        lexical = coverage(weights, f"{source.title}\n{source.byline()}\n{source.abstract}")
        quote = max(sentences(source.abstract), key=lambda s: coverage(weights, s), default="")
        if lexical >= self.config.min_support:
            return lexical, quote
        vectors = self.store.paper_vectors(source.paper_id)
        cosine = float(np.max(vectors @ self.embedder.embed_query(claim))) if len(vectors) else 0.0
        return max(lexical, cosine), quote

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

    def __init__(self, search: HybridSearch, k: int | None = None, filters: Filters | None = None):
        super().__init__()
        self._search = search
        self._k = k
        self._filters = filters

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [source_to_node(s) for s in self._search.search(query_bundle.query_str, self._k, self._filters)]
