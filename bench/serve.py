"""The HTTP API's speed beside the Python API's, on loopback, with the extractive backend.

    python bench/serve.py [--runs 3] [--requests 100] [--concurrent 50] [--data-dir DIR] [--json]

Each run starts the real server (``assistant serve`` on 127.0.0.1, a free port, over
the bundled corpus; the index is built once in a temporary folder unless --data-dir names one),
then: --requests ``POST /v1/chat/completions`` one after the other over one keep-alive connection
(httpx), each timed to the last byte, taking turns question by question with the same question
asked of ``Assistant.ask`` in this process (so both sides meet the same load on a shared
machine), for p50 and p95 of each and the overhead (HTTP p50 minus API p50, and the median of
the paired differences); then --concurrent requests sent at once from as many threads, counting
errors (any status but 200, or a body without the ``paper_assistant`` field). Both sides are
warmed with every question first. Medians across runs are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from _common import ENV, REPO, SCRIPT, percentile
from ui_load import QUESTIONS  # questions about the bundled corpus

BACKEND = "extractive"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path) -> tuple[subprocess.Popen, str, float]:
    """The server process, its base URL and the seconds until /healthz answered."""
    port = _free_port()
    env = {k: v for k, v in ENV.items() if k != "ASSISTANT_API_KEY"}
    argv = [str(SCRIPT), "--data-dir", str(data_dir), "serve", "--port", str(port)]
    log = tempfile.TemporaryFile()  # a file, not a pipe: a chatty server never blocks on it
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url, time.perf_counter() - started
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            log.seek(0)
            raise SystemExit(f"the server did not start: {log.read().decode(errors='replace')[-3000:]}")
        time.sleep(0.1)


def _body(question: str) -> dict[str, Any]:
    return {"model": BACKEND, "messages": [{"role": "user", "content": question}]}


def _answered(response: httpx.Response) -> bool:
    return response.status_code == 200 and "paper_assistant" in response.json()


def _post(client: httpx.Client, question: str) -> None:
    response = client.post("/v1/chat/completions", json=_body(question))
    if not _answered(response):
        raise SystemExit(f"the server failed a warm request: {response.status_code} {response.text[:300]}")


def paired(client: httpx.Client, assistant, questions: list[str]) -> tuple[list[float], list[float]]:
    """Milliseconds per request and per ``Assistant.ask``, one at a time, the two taking turns
    question by question (which goes first alternates), so that both meet the same machine load."""
    http, api = [], []
    sides = [(http, lambda q: _post(client, q)), (api, assistant.ask)]
    for i, question in enumerate(questions):
        for out, call in sides if i % 2 == 0 else sides[::-1]:
            started = time.perf_counter()
            call(question)
            out.append(1000 * (time.perf_counter() - started))
    return http, api


def concurrent(url: str, questions: list[str]) -> dict[str, float]:
    """All ``questions`` at once: errors, the batch's wall time and the per-request latencies."""
    limits = httpx.Limits(max_connections=len(questions), max_keepalive_connections=len(questions))
    start = threading.Barrier(len(questions) + 1)
    with httpx.Client(base_url=url, timeout=300, limits=limits) as client:

        def one(question: str) -> tuple[bool, float]:
            start.wait()
            began = time.perf_counter()
            try:
                ok = _answered(client.post("/v1/chat/completions", json=_body(question)))
            except httpx.HTTPError:
                ok = False
            return ok, 1000 * (time.perf_counter() - began)

        with ThreadPoolExecutor(len(questions)) as pool:
            futures = [pool.submit(one, q) for q in questions]
            start.wait()
            began = time.perf_counter()
            results = [f.result() for f in futures]
            wall = time.perf_counter() - began
    latencies = [ms for _, ms in results]
    return {
        "concurrent_errors": sum(not ok for ok, _ in results),
        "concurrent_wall_s": wall,
        "concurrent_per_s": len(questions) / wall,
        "concurrent_p50_ms": statistics.median(latencies),
        "concurrent_p95_ms": percentile(latencies, 0.95),
    }


def one_run(assistant, data_dir: Path, requests: int, burst: int) -> dict[str, float]:
    questions = (QUESTIONS * (requests // len(QUESTIONS) + 1))[:requests]
    proc, url, ready_s = start_server(data_dir)
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            paired(client, assistant, QUESTIONS)  # warm: every question once on each side
            http, api = paired(client, assistant, questions)
        load = concurrent(url, (QUESTIONS * (burst // len(QUESTIONS) + 1))[:burst])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        "server_ready_s": ready_s,
        "http_p50_ms": statistics.median(http),
        "http_p95_ms": percentile(http, 0.95),
        "api_p50_ms": statistics.median(api),
        "api_p95_ms": percentile(api, 0.95),
        "overhead_p50_ms": statistics.median(http) - statistics.median(api),
        "overhead_paired_ms": statistics.median(h - a for h, a in zip(http, api)),
        **load,
    }


ROWS = [  # label, key, digits
    ("server start to first /healthz (s)", "server_ready_s", 2),
    ("POST /v1/chat/completions, warm, p50 (ms)", "http_p50_ms", 1),
    ("POST /v1/chat/completions, warm, p95 (ms)", "http_p95_ms", 1),
    ("Assistant.ask, same questions, p50 (ms)", "api_p50_ms", 1),
    ("Assistant.ask, same questions, p95 (ms)", "api_p95_ms", 1),
    ("HTTP overhead, p50 (ms)", "overhead_p50_ms", 1),
    ("HTTP overhead, median of paired differences (ms)", "overhead_paired_ms", 1),
    ("concurrent requests: errors", "concurrent_errors", 0),
    ("concurrent requests: batch wall time (s)", "concurrent_wall_s", 2),
    ("concurrent requests: answered per second", "concurrent_per_s", 1),
    ("concurrent requests: p50 latency (ms)", "concurrent_p50_ms", 0),
    ("concurrent requests: p95 latency (ms)", "concurrent_p95_ms", 0),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100, help="sequential requests per run")
    parser.add_argument("--concurrent", type=int, default=50, help="requests sent at once per run")
    parser.add_argument("--data-dir", type=Path, help="an index to reuse (default: build one in a temporary folder)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.update(ENV)  # offline: a mistake fails in seconds instead of retrying a hub
    from assistant import Assistant, Config

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        data_dir = args.data_dir or Path(tmp)
        assistant = Assistant(Config.load(data_dir=data_dir, llm=BACKEND))
        assistant.ask(QUESTIONS[0])  # builds the index on first use, loads the embedder
        runs = []
        for i in range(args.runs):
            runs.append(one_run(assistant, data_dir, args.requests, args.concurrent))
            print(f"run {i + 1}/{args.runs}: {json.dumps({k: round(v, 2) for k, v in runs[-1].items()})}",
                  file=sys.stderr)  # fmt: skip
    median = {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}
    if args.json:
        print(json.dumps({"backend": BACKEND, "requests": args.requests, "concurrent": args.concurrent,
                          "runs": args.runs, "median": median, "per_run": runs}, indent=2))  # fmt: skip
        return
    print(f"HTTP API on loopback, {BACKEND} backend: {args.requests} sequential, {args.concurrent} at once "
          f"(median of {args.runs} runs)")  # fmt: skip
    for label, key, digits in ROWS:
        print(f"  {label:<50}{median[key]:>10.{digits}f}")


if __name__ == "__main__":
    main()
