"""Benchmark of the spine on the bundled corpus: index build, re-ingest, cold and warm ask.

    python bench/spine.py [--runs 3] [--json]

Each run builds a fresh index in a temporary folder with the real `assistant` command, so the
figures are what a user sees: wall time of `assistant ingest` on a new machine (the one-time
ONNX export of the model included) and with the export cached, of a second `assistant ingest`,
and of a cold `assistant ask`; then warm `ask` latency through the Python API over the dev
questions. Medians across runs are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _common import SCRIPT, dev_questions

QUESTION = "How many participants took part in the struggle-determination video dataset?"


def _timed(*args: str, env: dict | None = None) -> float:
    started = time.perf_counter()
    full_env = {**os.environ, **(env or {})}
    subprocess.run([str(SCRIPT), *args], check=True, capture_output=True, stdin=subprocess.DEVNULL, env=full_env)
    return time.perf_counter() - started


def _warm_latencies(data_dir: str, repeats: int = 3) -> list[float]:
    from assistant import Assistant, Config

    assistant = Assistant(Config(data_dir=Path(data_dir)))
    questions = dev_questions()
    assistant.ask(questions[0])  # load the model and the index
    latencies = []
    for _ in range(repeats):
        for q in questions:
            started = time.perf_counter()
            assistant.ask(q)
            latencies.append(time.perf_counter() - started)
    return latencies


def one_run() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as fresh, tempfile.TemporaryDirectory() as cache:
        # as on a new machine: no index and no ONNX export of the model yet
        first = _timed("--data-dir", fresh, "ingest", env={"ASSISTANT_CACHE_DIR": cache})
    with tempfile.TemporaryDirectory() as tmp:
        build = _timed("--data-dir", tmp, "ingest")
        reingest = _timed("--data-dir", tmp, "ingest")
        cold = _timed("--data-dir", tmp, "ask", QUESTION)
        warm = sorted(_warm_latencies(tmp))
    return {
        "first_build_s": first,
        "build_s": build,
        "reingest_s": reingest,
        "cold_ask_s": cold,
        "warm_ask_p50_ms": 1000 * statistics.median(warm),
        "warm_ask_p95_ms": 1000 * warm[int(0.95 * (len(warm) - 1))],
    }


TARGETS = {"build_s": 40, "cold_ask_s": 10, "warm_ask_p50_ms": 50}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    runs = [one_run() for _ in range(args.runs)]
    result = {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}
    result["runs"] = args.runs
    if args.json:
        print(json.dumps({"median": result, "runs": runs}, indent=2))
        return
    print(f"{'metric':<18}{'median':>10}{'target':>10}   ({args.runs} runs, bundled corpus, 426 papers)")
    for key, value in result.items():
        if key != "runs":
            target = TARGETS.get(key)
            print(f"{key:<18}{value:>10.3f}{('<= ' + str(target)) if target else '':>10}")


if __name__ == "__main__":
    main()
