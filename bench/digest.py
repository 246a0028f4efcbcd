"""The digest of a week's papers in a large index: synthetic papers added over many weeks.

    python bench/digest.py [--size 10000] [--weeks 20] [--runs 5] [--json]

The corpus is bench/scale.py's (seeded synthetic papers made from the bundled ones, each with its
base paper's real vectors perturbed by seeded noise), written through the product's ``Store``
with times added spread evenly over the last ``--weeks`` weeks, so the last 7 days hold
size / weeks papers. Then it times what a user waits for: ``assistant digest --since 7d`` in a
fresh process (wall, median of ``--runs``: it reads the store and the saved keyword index, not
every paper), and ``Assistant.digest(since="7d")`` in a process whose index is open, as a server's
is (median), with the time spent reading the window, grouping, naming the topics and picking
each paper's sentence.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ENV, SCRIPT
from scale import GROUP, Synth, _timer, base_vectors


def write_corpus(config: Any, vectors: Path, size: int, weeks: int, now: float) -> dict[str, float]:
    """The synthetic corpus in the store, paper n added at an even step over ``weeks`` weeks up to
    ``now``; then the keyword index, as an ingest leaves it."""
    from index.keyword import KeywordIndex
    from index.store import Store

    synth = Synth(vectors, config.chunk_tokens)
    store = Store(config)
    step = weeks * 7 * 86400 / size
    started = time.perf_counter()
    for g in range((size + GROUP - 1) // GROUP):
        papers, chunks, chunk_vecs, title_vecs = synth.group(g, GROUP, size)
        first = g * GROUP
        added = {p.paper_id: int(now - (size - 1 - (first + i)) * step) for i, p in enumerate(papers)}
        store.write(papers, chunks, chunk_vecs, title_vecs, added)
    write_s = time.perf_counter() - started
    papers, fingerprint = store.snapshot()
    KeywordIndex.build(papers).save(config.keyword_dir, fingerprint)
    store.new_generation()
    return {"papers": len(papers), "chunks": store.counts()["chunks"], "write_s": write_s}


def warm(config: Any, runs: int) -> dict[str, Any]:
    """``Assistant.digest(since="7d")`` in a process whose index is open (a server, the UI, a bot):
    the median of ``runs``, and where their time goes."""
    import assistant.digest as digest
    from assistant import Assistant

    a = Assistant(config)
    started = time.perf_counter()
    search = a.open().search
    open_s = time.perf_counter() - started
    first = a.digest(since="7d")
    parts: dict[str, list[float]] = {}
    search.store.papers_added = _timer(search.store.papers_added, parts.setdefault("read the window's papers", []))
    search.store.paper_centres = _timer(search.store.paper_centres, parts.setdefault("read their vectors", []))
    digest.cluster = _timer(digest.cluster, parts.setdefault("group (k-means)", []))
    digest.name_topics = _timer(digest.name_topics, parts.setdefault("name topics", []))
    digest._entry = _timer(digest._entry, parts.setdefault("contribution sentences", []))
    digest._notes = _timer(digest._notes, parts.setdefault("count papers without a time", []))
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        a.digest(since="7d")
        times.append(time.perf_counter() - started)
    return {
        "window_papers": first.papers,
        "topics": len(first.topics),
        "open_index_s": open_s,
        "warm_p50_s": statistics.median(times),
        "warm_parts_s": {name: sum(t) / runs for name, t in parts.items()},
        "sample_topics": [t.name for t in first.topics[:5]],
    }


def warm_in_child(data_dir: Path, runs: int, backend: str | None) -> dict[str, Any]:
    """``warm`` in a process of its own, as a server's: not the one that embedded and wrote the corpus."""
    argv = [sys.executable, __file__, "--warm", str(data_dir), "--runs", str(runs)]
    done = subprocess.run(argv + (["--backend", backend] if backend else []), capture_output=True, env=ENV)
    if done.returncode:
        raise SystemExit(f"the timing process failed: {done.stderr.decode()[-2000:]}")
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def cold(data_dir: Path, runs: int) -> list[float]:
    """Wall time of ``assistant digest --since 7d --json`` in a fresh process."""
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(
            [str(SCRIPT), "--data-dir", str(data_dir), "digest", "--since", "7d", "--json"],
            capture_output=True,
            env=ENV,
            stdin=subprocess.DEVNULL,
        )
        out.append(time.perf_counter() - started)
        if done.returncode:
            raise SystemExit(f"assistant digest failed: {done.stderr.decode()[-2000:]}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000, help="papers in the index (default 10000)")
    parser.add_argument("--weeks", type=int, default=20, help="weeks the papers were added over (default 20)")
    parser.add_argument("--runs", type=int, default=5, help="timed digests of each kind (default 5)")
    parser.add_argument("--backend", help="embedding backend for the base vectors (default: the config's)")
    parser.add_argument("--keep", type=Path, help="write the corpus into this folder and keep it (reruns reuse it)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--warm", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from index.config import Config

    if args.warm:
        print(json.dumps(warm(Config.load(data_dir=args.warm, embed_backend=args.backend), args.runs)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        config = Config.load(data_dir=args.keep or Path(tmp) / "data", embed_backend=args.backend)
        result: dict[str, Any] = {"size": args.size, "weeks": args.weeks}
        if args.keep and (args.keep / "written.json").exists():  # made by an earlier run: its times are older now
            result.update(json.loads((args.keep / "written.json").read_text()))
        else:
            vectors = Path(tmp) / "base.npz"
            base_vectors(args.backend, vectors)
            result.update(write_corpus(config, vectors, args.size, args.weeks, time.time()))
            if args.keep:
                (args.keep / "written.json").write_text(json.dumps(result))
        result.update(warm_in_child(config.data_dir, args.runs, args.backend))
        walls = cold(config.data_dir, args.runs)
        result.update(cold_p50_s=statistics.median(walls), cold_min_s=min(walls), cold_max_s=max(walls))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['papers']:,} papers ({result['chunks']:,} chunks) added over {args.weeks} weeks")
    print(f"the last 7 days: {result['window_papers']} papers in {result['topics']} topics")
    print(f"assistant digest --since 7d, fresh process, wall p50: {result['cold_p50_s']:.2f} s")
    opened = f"opening the index first: {result['open_index_s']:.2f} s"
    print(f"Assistant.digest(since='7d'), index open, p50: {result['warm_p50_s']:.3f} s ({opened})")
    for name, seconds in result["warm_parts_s"].items():
        print(f"  {name}: {seconds:.3f} s")
    print("topics: " + "; ".join(result["sample_topics"]), file=sys.stderr)


if __name__ == "__main__":
    main()
