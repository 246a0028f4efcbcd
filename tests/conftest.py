"""Shared fixtures: real model, real Chroma, each test's data kept under pytest's tmp dirs."""

from __future__ import annotations

import json
import os
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from assistant import Assistant, Config  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
EVAL_QUESTIONS = REPO / "data" / "eval" / "questions.jsonl"  # the repository's own evaluation set


# how a refusal opens: the LLM's own refusal wording, a topic no abstract covers, a detail the
# named paper's abstract or listing lacks, or filters that leave no paper
REFUSALS = (
    "The indexed abstracts do not answer this question.",
    "None of the indexed abstracts mention",
    "The abstract of ",
    "The listing for ",
    "No indexed paper matches",
)


def eval_questions(prefix: str = "") -> list[dict]:
    """The evaluation questions whose id starts with ``prefix`` ("dev-": the original 29)."""
    rows = [json.loads(line) for line in EVAL_QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [q for q in rows if q["id"].startswith(prefix)]


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path, monkeypatch):
    """Nothing a test does touches the project's own .store."""
    for name in list(os.environ):
        if name.startswith("ASSISTANT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "store"))


@pytest.fixture(scope="session")
def embedder():
    """The real MiniLM embedder, loaded once."""
    from index.embed import make_embedder

    return make_embedder(Config())


@pytest.fixture(scope="session")
def bundled(tmp_path_factory) -> Assistant:
    """An Assistant over the bundled corpus, built on first use as a new user's would be."""
    assistant = Assistant(Config(data_dir=tmp_path_factory.mktemp("bundled")))
    assistant.retrieve("warm up")  # first use builds the index of the bundled corpus
    return assistant


@pytest.fixture
def small_corpus(tmp_path) -> Path:
    """A folder with three papers as JSON Lines."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    write_jsonl(folder / "papers.jsonl", SMALL)
    return folder


def write_jsonl(path: Path, records: list[dict]) -> None:
    import json

    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


SMALL = [
    {
        "title": "Graph Neural Networks for Molecule Property Prediction",
        "abstract": "We study message passing networks on molecular graphs. Our model predicts solubility "
        "and toxicity from atom and bond features. It improves mean absolute error by 12% over fingerprints.",
        "authors": ["A. One", "B. Two"],
        "date": "2023-05-02",
    },
    {
        "title": "Curriculum Learning for Robot Grasping",
        "abstract": "Robots learn to grasp unseen objects faster when tasks are ordered from easy to hard. "
        "We train a policy in simulation with an automatic curriculum and transfer it to a real arm.",
        "organization": "Robotics Lab",
        "date": "2024-11-20",
    },
    {
        "title": "Sparse Attention for Long Documents",
        "abstract": "Transformers scale quadratically with sequence length. We propose a sparse attention "
        "pattern that reads documents of 64k tokens on one GPU while matching dense attention quality.",
        "authors": 4,
        "date": "Mar 3",
    },
]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, proc, timeout: float, what: str) -> None:
    """Wait until ``url`` answers; kill ``proc`` and fail if it dies or ``timeout`` passes."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.2)


def stop(proc) -> None:
    """Stop a server started by a test, by its PID."""
    import subprocess

    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def send_json(handler: BaseHTTPRequestHandler, status: int, payload: object) -> None:
    """Answer a stub server's request with ``payload`` as a JSON body."""
    body = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
