"""Concurrent questions through the public API against an OpenAI-compatible server.

    python bench/concurrency.py [--concurrent 8] [--runs 3] [--delay 1] [--data-dir DIR] [--json]

Starts a local stand-in for an OpenAI-compatible server on 127.0.0.1 (tests/openai_standin.py:
a thread per request, each answered after --delay seconds, streamed in OpenAI's chunk format; it
records the most requests in flight at once), opens ``assistant.Assistant(llm="openai")`` over
the bundled corpus pointed at it (the index is built on first use in a temporary folder, unless
--data-dir names one), asks each candidate question once to warm up and keeps those that reach
the LLM (some are answered or refused before it), then asks --concurrent of them at once from as
many threads. Reports the batch's wall time and the server's max in flight, medians over
runs. Sent together the batch takes about --delay seconds; one request at a time it takes
--concurrent times that.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from _common import ENV
from ui_load import QUESTIONS  # questions about the bundled corpus

from tests.openai_standin import StandIn


def reaching_the_llm(assistant, standin: StandIn, candidates: list[str]) -> list[str]:
    """The candidates the assistant sends to the LLM, each asked once."""
    reaching = []
    for question in candidates:
        before = len(standin.requests)
        assistant.ask(question)
        if len(standin.requests) > before:
            reaching.append(question)
    return reaching


def one_run(assistant, standin: StandIn, questions: list[str]) -> dict[str, float]:
    standin.reset()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(questions)) as pool:
        answers = list(pool.map(assistant.ask, questions))
    wall = time.perf_counter() - started
    assert len(answers) == len(questions)
    return {"wall_s": round(wall, 3), "max_in_flight": standin.max_in_flight, "llm_requests": len(standin.requests)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrent", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--delay", type=float, default=1.0, help="seconds the stand-in takes per answer")
    parser.add_argument("--data-dir", help="an index to reuse (default: build one in a temporary folder)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.update(ENV)  # offline: a mistake fails in seconds instead of retrying a hub
    from assistant import Assistant, Config

    with tempfile.TemporaryDirectory(prefix="bench-concurrency-") as tmp, StandIn(delay=args.delay) as standin:
        config = Config.load(data_dir=args.data_dir or tmp, llm="openai", llm_base_url=standin.url,
                             llm_model="stand-in", llm_retries=0)  # fmt: skip
        assistant = Assistant(config)
        reaching = reaching_the_llm(assistant, standin, QUESTIONS)  # also builds the index, loads the embedder
        questions = (reaching * args.concurrent)[: args.concurrent]
        runs = [one_run(assistant, standin, questions) for _ in range(args.runs)]
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    result = {"concurrent": args.concurrent, "delay_s": args.delay, "median": median, "runs": runs}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.concurrent} questions at once, openai backend, stand-in answers after {args.delay:g} s "
          f"({args.runs} runs, median)")  # fmt: skip
    for key, value in median.items():
        print(f"  {key:<15}{value}")
    print(f"  target         wall_s about {args.delay:g} (one at a time: {args.concurrent * args.delay:g})")


if __name__ == "__main__":
    main()
