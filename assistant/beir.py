"""Retrieval quality on a BEIR-format dataset: the product beside plain baselines, in one run.

The corpus (corpus.jsonl) goes through the product's own ingestion (parsing, chunking, embedding,
Chroma, the keyword index) and its own hybrid retrieval; the split's queries (queries.jsonl,
qrels/SPLIT.tsv) also go through plain BM25 (bm25s over title + text) and plain dense retrieval
(the same MiniLM over title + text, truncated at 256 word pieces, exact cosine). Reports nDCG@10,
recall@100 and query latency p50 for each. Used by ``assistant eval --beir DIR`` and
``bench/retrieval.py``.

Embeddings are cached: the product's in its own store under the cache folder (a rerun ingests
incrementally and embeds nothing), the dense baseline's in a .npy file beside it.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from assistant.retrieve import HybridSearch
from index.config import Config
from index.embed import Embedder, vector_variant
from index.ingest import ingest

Search = Callable[[str], list[str]]

DEPTH = 100


def load(dataset: Path, split: str) -> tuple[dict[str, dict], dict[str, str], dict[str, dict[str, int]]]:
    """Corpus (id -> title/text), the split's queries (id -> text) and qrels (query -> doc -> grade)."""
    corpus = {}
    for line in (dataset / "corpus.jsonl").read_text().splitlines():
        d = json.loads(line)
        corpus[str(d["_id"])] = {"title": d.get("title", ""), "text": d.get("text", "")}
    qrels: dict[str, dict[str, int]] = {}
    with (dataset / "qrels" / f"{split}.tsv").open() as f:
        for row in csv.DictReader(f, delimiter="\t"):
            qrels.setdefault(str(row["query-id"]), {})[str(row["corpus-id"])] = int(row["score"])
    queries = {}
    for line in (dataset / "queries.jsonl").read_text().splitlines():
        d = json.loads(line)
        if str(d["_id"]) in qrels:
            queries[str(d["_id"])] = d["text"]
    return corpus, queries, qrels


def ndcg10(ranking: list[str], grades: dict[str, int]) -> float:
    dcg = sum(grades.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranking[:10]))
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(grades.values(), reverse=True)[:10]))
    return dcg / ideal if ideal else 0.0


def recall100(ranking: list[str], grades: dict[str, int]) -> float:
    relevant = {d for d, g in grades.items() if g > 0}
    return len(relevant & set(ranking[:DEPTH])) / len(relevant) if relevant else 0.0


def run_system(search: Search, queries: dict[str, str]) -> tuple[dict[str, list[str]], list[float]]:
    rankings, latencies = {}, []
    for qid, text in queries.items():
        started = time.perf_counter()
        rankings[qid] = search(text)
        latencies.append(time.perf_counter() - started)
    return rankings, latencies


def product(corpus: dict[str, dict], cache: Path, base: Config) -> tuple[Search, Embedder]:
    """The product's ingestion and hybrid retrieval over the corpus."""
    source = cache / "corpus.jsonl"
    if not source.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with source.open("w") as f:
            for doc_id, d in corpus.items():
                f.write(json.dumps({"id": doc_id, "title": d["title"], "abstract": d["text"]}) + "\n")
    variant = vector_variant(base.embed_backend)  # int8 and float32 vectors live in separate stores
    store = cache / (f"store-{variant}" if variant else "store")
    update = {"data_dir": store, "sources": [source], "candidates": DEPTH, "top_k": DEPTH}
    config = base.model_copy(update=update)
    report = ingest(config, progress=sys.stderr.isatty())
    print(f"product index: {report.papers} papers ({report.embedded} texts embedded now)", file=sys.stderr)
    search = HybridSearch.open(config)
    return lambda text: [s.paper_id for s in search.search(text, DEPTH)], search.embedder


def bm25_baseline(corpus: dict[str, dict]) -> Search:
    import bm25s
    import Stemmer

    ids = list(corpus)
    stemmer = Stemmer.Stemmer("english")
    texts = [f"{corpus[i]['title']} {corpus[i]['text']}" for i in ids]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)

    def search(text: str) -> list[str]:
        tokens = bm25s.tokenize([text], stopwords="en", stemmer=stemmer, show_progress=False)
        docs, _ = retriever.retrieve(tokens, k=min(DEPTH, len(ids)), show_progress=False)
        return [ids[d] for d in docs[0]]

    return search


def dense_baseline(corpus: dict[str, dict], embedder: Embedder, cache: Path) -> Search:
    ids = list(corpus)
    path = cache / f"dense-{embedder.name}.npy"
    if path.exists():
        vectors = np.load(path)
    else:
        vectors = embedder.embed([f"{corpus[i]['title']} {corpus[i]['text']}" for i in ids])
        np.save(path, vectors)

    def search(text: str) -> list[str]:
        scores = vectors @ embedder.embed_query(text)
        top = np.argpartition(-scores, DEPTH)[:DEPTH] if len(ids) > DEPTH else np.arange(len(ids))
        return [ids[i] for i in top[np.argsort(-scores[top])]]

    return search


def run(dataset: Path, split: str, cache: Path, base: Config | None = None) -> dict[str, dict]:
    """nDCG@10, recall@100 and latency p50 of bm25, dense and the assistant on one split."""
    if not (dataset / "corpus.jsonl").exists() or not (dataset / "qrels" / f"{split}.tsv").exists():
        raise FileNotFoundError(
            f"{dataset} is not a BEIR dataset with a {split!r} split: it needs corpus.jsonl and qrels/{split}.tsv"
        )
    corpus, queries, qrels = load(dataset, split)
    cache = cache / dataset.name
    assistant_search, embedder = product(corpus, cache, base or Config.load())
    systems: dict[str, Search] = {
        "bm25": bm25_baseline(corpus),
        "dense": dense_baseline(corpus, embedder, cache),
        "assistant": assistant_search,
    }
    result: dict[str, dict] = {"ndcg10": {}, "recall100": {}, "latency_p50_ms": {}}
    for name, search in systems.items():
        rankings, latencies = run_system(search, queries)
        result["ndcg10"][name] = round(statistics.mean(ndcg10(rankings[q], qrels[q]) for q in queries), 4)
        result["recall100"][name] = round(statistics.mean(recall100(rankings[q], qrels[q]) for q in queries), 4)
        result["latency_p50_ms"][name] = round(1000 * statistics.median(latencies), 2)
    result["queries"] = {"count": len(queries), "documents": len(corpus), "split": split, "dataset": dataset.name}
    return result


def format_table(result: dict[str, dict]) -> str:
    q = result["queries"]
    lines = [
        f"{q['dataset']} {q['split']}: {q['count']} queries, {q['documents']} documents",
        f"{'system':<12}{'nDCG@10':>10}{'R@100':>10}{'p50 ms':>10}",
    ]
    for name in result["ndcg10"]:
        lines.append(
            f"{name:<12}{result['ndcg10'][name]:>10.4f}{result['recall100'][name]:>10.4f}"
            f"{result['latency_p50_ms'][name]:>10.2f}"
        )
    return "\n".join(lines)
