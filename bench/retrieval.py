"""Retrieval quality on a BEIR-format dataset, the product beside plain baselines, in one run.

    python bench/retrieval.py --dataset ../shared/data/scifact --split test [--json]

The corpus goes through the product's own ingestion (parsing, chunking, embedding, Chroma, the
keyword index) and its own hybrid retrieval; the same queries go through plain BM25 (bm25s over
title + text) and plain dense retrieval (MiniLM over title + text, truncated at 256 word pieces,
exact cosine). Prints nDCG@10, recall@100 and query latency p50 for each.

Embeddings are cached: the product's in its own store under the cache folder (a rerun ingests
incrementally and embeds nothing), the dense baseline's in a .npy file beside it.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from assistant.retrieve import HybridSearch  # noqa: E402
from index.config import Config  # noqa: E402
from index.ingest import ingest  # noqa: E402

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


def run_system(search, queries: dict[str, str]) -> tuple[dict[str, list[str]], list[float]]:
    rankings, latencies = {}, []
    for qid, text in queries.items():
        started = time.perf_counter()
        rankings[qid] = search(text)
        latencies.append(time.perf_counter() - started)
    return rankings, latencies


def product(corpus: dict[str, dict], cache: Path):
    """The product's ingestion and hybrid retrieval over the corpus."""
    source = cache / "corpus.jsonl"
    if not source.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with source.open("w") as f:
            for doc_id, d in corpus.items():
                f.write(json.dumps({"id": doc_id, "title": d["title"], "abstract": d["text"]}) + "\n")
    config = Config(data_dir=cache / "store", sources=[source], candidates=DEPTH, top_k=DEPTH)
    report = ingest(config, progress=sys.stderr.isatty())
    print(f"product index: {report.papers} papers ({report.embedded} texts embedded now)", file=sys.stderr)
    search = HybridSearch.open(config)
    return lambda text: [s.paper_id for s in search.search(text, DEPTH)], search.embedder


def bm25_baseline(corpus: dict[str, dict]):
    import bm25s
    import Stemmer

    ids = list(corpus)
    stemmer = Stemmer.Stemmer("english")
    texts = [f"{corpus[i]['title']} {corpus[i]['text']}" for i in ids]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)

    def search(text: str) -> list[str]:
        tokens = bm25s.tokenize([text], stopwords="en", stemmer=stemmer, show_progress=False)
        docs, _ = retriever.retrieve(tokens, k=DEPTH, show_progress=False)
        return [ids[d] for d in docs[0]]

    return search


def dense_baseline(corpus: dict[str, dict], embedder, cache: Path):
    ids = list(corpus)
    path = cache / f"dense-{embedder.name}.npy"
    if path.exists():
        vectors = np.load(path)
    else:
        vectors = embedder.embed([f"{corpus[i]['title']} {corpus[i]['text']}" for i in ids])
        np.save(path, vectors)

    def search(text: str) -> list[str]:
        scores = vectors @ embedder.embed_query(text)
        top = np.argpartition(-scores, DEPTH)[:DEPTH]
        return [ids[i] for i in top[np.argsort(-scores[top])]]

    return search


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=REPO.parent / "shared" / "data" / "scifact")
    parser.add_argument("--split", default="test")
    parser.add_argument("--cache", type=Path, default=REPO / "bench" / ".cache")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    corpus, queries, qrels = load(args.dataset, args.split)
    cache = args.cache / args.dataset.name
    assistant_search, embedder = product(corpus, cache)
    systems = {
        "bm25": bm25_baseline(corpus),
        "dense": dense_baseline(corpus, embedder, cache),
        "assistant": assistant_search,
    }
    result: dict[str, dict[str, float]] = {"ndcg10": {}, "recall100": {}, "latency_p50_ms": {}}
    for name, search in systems.items():
        rankings, latencies = run_system(search, queries)
        result["ndcg10"][name] = round(statistics.mean(ndcg10(rankings[q], qrels[q]) for q in queries), 4)
        result["recall100"][name] = round(statistics.mean(recall100(rankings[q], qrels[q]) for q in queries), 4)
        result["latency_p50_ms"][name] = round(1000 * statistics.median(latencies), 2)
    result["queries"] = {"count": len(queries), "split": args.split, "dataset": args.dataset.name}  # type: ignore[assignment]
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.dataset.name} {args.split}: {len(queries)} queries, {len(corpus)} documents")
    print(f"{'system':<12}{'nDCG@10':>10}{'R@100':>10}{'p50 ms':>10}")
    for name in systems:
        print(
            f"{name:<12}{result['ndcg10'][name]:>10.4f}{result['recall100'][name]:>10.4f}"
            f"{result['latency_p50_ms'][name]:>10.2f}"
        )


if __name__ == "__main__":
    main()
