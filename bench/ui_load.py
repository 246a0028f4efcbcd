"""Load benchmark of the chat UI: N questions sent at once through the UI's own API.

    python bench/ui_load.py [--concurrent 10] [--runs 3] [--data-dir DIR] [--json]

Starts `python ui.py` on 127.0.0.1 (extractive backend), then sends the questions concurrently
with gradio_client, each as a new conversation, and times the first streamed text and the
complete answer of each. Reports medians over runs of the per-run p50/p95.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from _common import REPO

from tests.faults import chat_text  # the chat's last message, whichever shape gradio_client returns

QUESTIONS = [
    "How many participants took part in the struggle-determination video dataset?",
    "Which papers study continual learning without forgetting?",
    "What does the Master Key Hypothesis state?",
    "Which paper trains a humanoid to dribble and do layups by imitating human motion?",
    "How does ATLaS tune LLM agents on expert trajectories?",
    "Which LLM did the structure-aware fine-tuning for generating tables get applied to?",
    "What credit assignment strategy does the AVATAR agent introduce?",
    "How do SkillMimic and EvoStruggle differ in what they learn from human demonstrations?",
    "What is the most crucial factor for scaling instruction-tuned model performance?",
    "Are there any papers on Kolmogorov-Arnold networks?",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_ui(data_dir: str | None) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1"}
    if data_dir:
        env["ASSISTANT_DATA_DIR"] = data_dir
    proc = subprocess.Popen([sys.executable, str(REPO / "ui.py")], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300  # the first start may build the index
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return proc, url
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise SystemExit("the UI did not start") from None
            time.sleep(0.3)


def one_question(client, question: str, start: threading.Barrier) -> dict[str, float | bool]:
    start.wait()  # all questions leave together
    started = time.perf_counter()
    job = client.submit(question, [], "extractive", "", "", "", 5, "", api_name="/ask")
    first = None
    for update in job:  # blocks until the next streamed update arrives
        if first is None and chat_text(update[0]):
            first = time.perf_counter() - started
    text = chat_text(job.result()[0])
    total = time.perf_counter() - started
    return {"first_s": first or total, "total_s": total, "answered": bool(text) and not text.startswith("⚠️")}


def one_run(url: str, n: int) -> dict[str, float]:
    from gradio_client import Client

    questions = (QUESTIONS * (n // len(QUESTIONS) + 1))[:n]
    clients = [Client(url, verbose=False) for _ in questions]  # one user each, connected beforehand
    start = threading.Barrier(n)
    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(lambda cq: one_question(cq[0], cq[1], start), zip(clients, questions)))
    first = sorted(r["first_s"] for r in results)
    total = sorted(r["total_s"] for r in results)
    return {
        "answered": sum(bool(r["answered"]) for r in results),
        "first_text_p50_s": statistics.median(first),
        "first_text_p95_s": first[int(0.95 * (len(first) - 1))],
        "answer_p50_s": statistics.median(total),
        "answer_p95_s": total[int(0.95 * (len(total) - 1))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrent", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data-dir")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    proc, url = start_ui(args.data_dir)
    try:
        one_run(url, 2)  # warm-up
        runs = [one_run(url, args.concurrent) for _ in range(args.runs)]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    median = {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}
    result = {"concurrent": args.concurrent, "median": median, "runs": runs}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.concurrent} questions at once through the UI API, extractive backend ({args.runs} runs)")
    for key, value in median.items():
        print(f"  {key:<18}{value}")


if __name__ == "__main__":
    main()
