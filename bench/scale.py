"""The store and retrieval at scale: synthetic corpora of 10k and 100k abstracts, embedded store
and Chroma server.

    python bench/scale.py [--sizes 10000,100000] [--modes embedded,server] [--json]

The corpora are made deterministically (seeded) from the bundled one: each synthetic paper takes
a real paper as its base, keeps a shuffled subset of its sentences, mixes in sentences of two other
papers and gets a recombined title, a date and an organisation of real papers. Its vectors are
the base paper's real chunk and title vectors (embedded once with the product's embedder), each
perturbed by seeded noise (cosine ~0.9 to the original) and renormalised, so the run measures the
store and retrieval, not the embedder. Chunks come from the product's own chunker.

For each size and mode a fresh process writes the corpus through the product's ``Store``
(``Store.write``, as ingest does) and builds and saves the keyword index
beside it; then opens ``HybridSearch`` and times the dev questions through the product's hybrid
retrieval (query embedding, dense chunks in Chroma, bm25s). In server mode the script starts
``chroma run`` on 127.0.0.1, stops it by its PID afterwards, and also opens the index from a
second data dir, as a process on another machine would (the keyword index is then rebuilt from
the store). Reports ingest rate, open time, retrieval p50/p95, peak RSS and disk size.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
from _common import ENV, bundled_papers, dev_questions, disk_mb, percentile

CHROMA = Path(sys.executable).with_name("chroma")
SEED = 7
GROUP = 1000  # papers written per store call, as ingest's groups but larger
NOISE = 0.025  # per-dimension noise on unit vectors of 384 dimensions: cosine ~0.9 to the original
REPEATS = 3


def base_vectors(backend: str | None, out: Path) -> None:
    """Embed the bundled papers' chunks and titles once: the vectors the synthetic ones perturb."""
    from index.chunk import chunk_paper
    from index.config import Config
    from index.embed import make_embedder

    config = Config.load(embed_backend=backend)
    embedder = make_embedder(config)
    papers = bundled_papers()
    max_tokens = min(config.chunk_tokens, embedder.max_tokens)
    chunk_texts, owner = [], []
    for i, p in enumerate(papers):
        for c in chunk_paper(p, embedder.count_tokens, max_tokens):
            chunk_texts.append(c.text)
            owner.append(i)
    vectors = embedder.embed(chunk_texts + [p.title for p in papers])
    np.savez(out, chunks=vectors[: len(chunk_texts)], owner=np.array(owner), titles=vectors[len(chunk_texts) :])


class Synth:
    """Deterministic synthetic papers and their vectors, made group by group."""

    def __init__(self, vectors: Path, max_tokens: int):
        from tokenizers import Tokenizer

        from index.embed import resolve_model_path
        from index.text import sentences

        self.real = bundled_papers()
        self.sentences = [sentences(p.abstract) for p in self.real]
        self.title_words = [p.title.split() for p in self.real]
        saved = np.load(vectors)
        self.titles = saved["titles"]
        self.chunk_vectors = [saved["chunks"][saved["owner"] == i] for i in range(len(self.real))]
        self.max_tokens = max_tokens
        tok = Tokenizer.from_file(str(resolve_model_path("all-MiniLM-L6-v2") / "tokenizer.json"))
        tok.no_truncation()
        tok.no_padding()
        self._tok = tok
        self._counts: dict[str, int] = {}

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text, cached: synthetic abstracts reuse the same few thousand sentences."""
        texts = list(texts)
        missing = list({t for t in texts if t not in self._counts})
        if missing:
            encoded = self._tok.encode_batch(missing, add_special_tokens=False)
            self._counts.update((t, len(e.ids)) for t, e in zip(missing, encoded))
        return [self._counts[t] for t in texts]

    def group(self, g: int, size: int, total: int):
        """Papers ``g*size ..`` (at most ``total`` in all): papers, chunks, chunk and title vectors."""
        from index.chunk import chunk_paper
        from index.records import Paper, paper_id_for

        if len(self._counts) > 100_000:  # titles are new every time: keep the cache small
            self._counts.clear()
        rng = random.Random(SEED * 1_000_003 + g)
        noise = np.random.default_rng([SEED, g])
        papers, bases = [], []
        for n in range(g * size, min((g + 1) * size, total)):
            b, o1, o2 = (rng.randrange(len(self.real)) for _ in range(3))
            own = self.sentences[b] or [self.real[b].abstract]
            kept = rng.sample(own, max(1, min(len(own), rng.randint(len(own) // 2 + 1, len(own)))))
            extra = [rng.choice(self.sentences[o] or [self.real[o].abstract]) for o in (o1, o2)]
            abstract = " ".join(kept + extra[: rng.randint(0, 2)])
            words = self.title_words[b]
            cut = rng.randint(1, max(1, len(words) - 1))
            title = " ".join(words[:cut] + self.title_words[o1][cut:][:4]) + f" (study {n})"
            donor = self.real[rng.randrange(len(self.real))]
            papers.append(
                Paper(
                    paper_id=paper_id_for(title),
                    title=title,
                    abstract=abstract,
                    authors=donor.authors,
                    organization=donor.organization,
                    date_text=donor.date_text,
                    date=donor.date,
                    sources=(f"synthetic:{n}",),
                )
            )
            bases.append(b)
        chunks, chunk_vecs = [], []
        for p, b in zip(papers, bases):
            pieces = chunk_paper(p, self.count_tokens, self.max_tokens)
            real = self.chunk_vectors[b]
            chunks.extend(pieces)
            chunk_vecs.extend(real[i % len(real)] for i in range(len(pieces)))
        return papers, chunks, self._perturb(np.array(chunk_vecs), noise), self._perturb(self.titles[bases], noise)

    @staticmethod
    def _perturb(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = vectors + rng.normal(0, NOISE, vectors.shape).astype(np.float32)
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def _timed_searches(search, questions: list[str]) -> tuple[list[float], dict[str, float]]:
    """Latencies of ``search.search`` in ms, and the median ms per query spent in its parts."""
    parts: dict[str, list[float]] = {}
    for owner, name in (
        (search.embedder, "embed_query"),
        (search.store, "search_chunks"),
        (search.store, "chunk_similarity"),
        (search.keyword, "scores"),
        (search.keyword, "coverage"),
    ):
        setattr(owner, name, _timer(getattr(owner, name), parts.setdefault(name, [])))
    search.search(questions[0])
    out = []
    for _ in range(REPEATS):
        for q in questions:
            started = time.perf_counter()
            search.search(q)
            out.append(1000 * (time.perf_counter() - started))
    count = len(out) + 1
    per_query = {name: 1000 * sum(times) / count for name, times in parts.items()}
    return out, per_query


def _timer(fn, times: list[float]):
    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            times.append(time.perf_counter() - started)

    return timed


def child(size: int, data_dir: Path, vectors: Path, host: str | None, port: int, backend: str | None) -> dict:
    """Write one synthetic corpus into the store, build the keyword index, then retrieve."""
    from assistant.retrieve import HybridSearch
    from index.config import Config
    from index.keyword import KeywordIndex
    from index.store import Store

    config = Config.load(data_dir=data_dir, chroma_host=host, chroma_port=port, embed_backend=backend)
    synth = Synth(vectors, config.chunk_tokens)
    store = Store(config)
    write_s = make_s = 0.0
    n_chunks = 0
    for g in range((size + GROUP - 1) // GROUP):
        started = time.perf_counter()
        papers, chunks, chunk_vecs, title_vecs = synth.group(g, GROUP, size)
        made = time.perf_counter()
        store.write(papers, chunks, chunk_vecs, title_vecs)
        write_s += time.perf_counter() - made
        make_s += made - started
        n_chunks += len(chunks)
    started = time.perf_counter()
    papers, fingerprint = store.snapshot()
    KeywordIndex.build(papers).save(config.keyword_dir, fingerprint)
    keyword_s = time.perf_counter() - started
    counts = store.counts()
    del store, synth

    manifest = config.keyword_dir / "manifest.json"
    saved_at = manifest.stat().st_mtime_ns
    started = time.perf_counter()
    search = HybridSearch.open(config)
    open_s = time.perf_counter() - started
    reused = manifest.stat().st_mtime_ns == saved_at  # loaded by its fingerprint, not rebuilt
    latencies, parts = _timed_searches(search, dev_questions())
    result: dict[str, Any] = {
        "papers": counts["papers"],
        "chunks": counts["chunks"],
        "write_s": write_s,
        "keyword_build_s": keyword_s,
        "ingest_papers_per_s": size / (write_s + keyword_s),
        "synthesis_s": make_s,
        "open_s": open_s,
        "keyword_index_reused": reused,
        "retrieve_p50_ms": statistics.median(latencies),
        "retrieve_p95_ms": percentile(latencies, 0.95),
        "retrieve_mean_ms_in": parts,
    }
    if host:  # a second process elsewhere: same server, its own (empty) data dir
        with tempfile.TemporaryDirectory() as other:
            started = time.perf_counter()
            HybridSearch.open(config.model_copy(update={"data_dir": Path(other)}), embedder=search.embedder)
            result["open_elsewhere_s"] = time.perf_counter() - started
    return result


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _peak_rss_mb(pid: int) -> float:
    """Peak RSS of a running process (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _start_server(path: Path) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    log = open(path.parent / "chroma.log", "wb")  # noqa: SIM115 (closed with the process)
    argv = [str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=ENV)
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
            return proc, port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                _stop(proc)
                raise SystemExit(f"the Chroma server did not start; see {path.parent / 'chroma.log'}") from None
            time.sleep(0.2)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def one(size: int, mode: str, vectors: Path, backend: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        server, port, server_rss = None, 8000, 0.0
        if mode == "server":
            server, port = _start_server(Path(tmp) / "chroma-server")
        argv = [sys.executable, __file__, "--child", str(size), "--dir", str(data_dir), "--vectors", str(vectors)]
        argv += ["--backend", backend] if backend else []
        argv += ["--host", "127.0.0.1", "--port", str(port)] if server else []
        started = time.perf_counter()
        try:
            with tempfile.TemporaryFile() as out:
                proc = subprocess.Popen(argv, stdout=out, stdin=subprocess.DEVNULL, env=ENV)
                _, status, usage = os.wait4(proc.pid, 0)
                if os.waitstatus_to_exitcode(status):
                    raise SystemExit(f"{size} papers, {mode}: the benchmark process failed")
                out.seek(0)
                result = json.loads(out.read().decode().strip().splitlines()[-1])
            if server:
                server_rss = _peak_rss_mb(server.pid)
        finally:
            if server:
                _stop(server)
        result.update(
            size=size,
            mode=mode,
            wall_s=time.perf_counter() - started,
            client_peak_rss_mb=usage.ru_maxrss / 1024,
            server_peak_rss_mb=server_rss,
            disk_mb=disk_mb(data_dir, Path(tmp) / "chroma-server"),
        )
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--modes", default="embedded,server")
    parser.add_argument("--backend", help="embedding backend for the base and query vectors (default: the config's)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--vectors", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--host", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=8000, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.dir, args.vectors, args.host, args.port, args.backend)))
        return
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        vectors = Path(tmp) / "base.npz"
        base_vectors(args.backend, vectors)
        for size in (int(s) for s in args.sizes.split(",")):
            for mode in args.modes.split(","):
                results.append(one(size, mode, vectors, args.backend))
                print(
                    json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in results[-1].items()}),
                    file=sys.stderr,
                )
    if args.json:
        print(json.dumps(results, indent=2))
        return
    cols = [
        ("papers", "size", 0), ("mode", "mode", None), ("chunks", "chunks", 0),
        ("ingest p/s", "ingest_papers_per_s", 0), ("keyword s", "keyword_build_s", 1), ("open s", "open_s", 2),
        ("p50 ms", "retrieve_p50_ms", 1), ("p95 ms", "retrieve_p95_ms", 1),
        ("client MB", "client_peak_rss_mb", 0), ("server MB", "server_peak_rss_mb", 0), ("disk MB", "disk_mb", 0),
    ]  # fmt: skip
    print("".join(f"{c[0]:>11}" for c in cols))
    for r in results:
        print("".join(f"{r[k]:>11}" if d is None else f"{r[k]:>11.{d}f}" for _, k, d in cols))


if __name__ == "__main__":
    main()
