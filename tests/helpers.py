"""What the test files and the benchmarks share: inputs, the product's processes, local stand-ins
for the services it talks to, and checks every answer must pass.

Plain code, imported as ``tests.helpers``; fixtures live in conftest.py, which pytest loads
itself (importing conftest from a test would load a second copy of it). No test module imports
another. Fault injection and load drivers are in tests/faults.py, the OpenAI-compatible stand-in
in tests/openai_standin.py, the tiny GGUF writer in tests/tiny_gguf.py.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from pathlib import Path

from assistant import Answer
from assistant.backends.generative import GenerativeBackend

REPO = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).with_name("assistant")  # the console script, as a user runs it
EVAL_QUESTIONS = REPO / "assistant" / "data" / "questions.jsonl"  # the repository's own evaluation set

# how a refusal opens: the LLM's own refusal wording, a topic no abstract covers, a detail the
# named paper's abstract or listing lacks, or filters that leave no paper
REFUSALS = (
    "The indexed abstracts do not answer this question.",
    "None of the indexed abstracts mention",
    "The abstract of ",
    "The listing for ",
    "No indexed paper matches",
)


# Inputs ------------------------------------------------------------------------------------


def eval_questions(prefix: str = "") -> list[dict]:
    """The evaluation questions whose id starts with ``prefix`` ("dev-": the original 29)."""
    rows = [json.loads(line) for line in EVAL_QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [q for q in rows if q["id"].startswith(prefix)]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    """Write ``records`` as JSON Lines; returns ``path``."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


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

# odd questions every entry point must answer or reject in one sentence (tests/test_reliability_serve.py,
# timed by bench/reliability.py)
ODD = {
    "empty": "",
    "whitespace": " \t\n\u3000\u00a0 \r\n",
    "100,000 characters": "why " * 25_000,
    "control characters": "What\x00 is\x1b[31m Meta\u200bLad\u00adder\x07?\r\n\x7f",
    "only control characters": "\x00\x01\x02\x1b\x7f",
    "lone surrogate": "what is \ud800 MetaLadder",
    "Chinese": "这些论文中关于持续学习的研究有哪些？",
    "Arabic": "ما هي الأوراق التي تدرس التعلم المستمر؟",
    "German": "Welche Arbeiten untersuchen kontinuierliches Lernen ohne Vergessen?",
    "emoji": "🤖🧠 continual learning? 🔥",
    "right-to-left override": "\u202eevil\u202c MetaLadder reasoning transfer",
}


# Checks ------------------------------------------------------------------------------------


def assert_citation_invariants(answer: Answer) -> None:
    """Every [n] has its citation and every citation is used, [n] is the n-th source, and quotes
    and marks come from the cited abstract: whatever wrote the answer."""
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    numbers = [c.number for c in answer.citations]
    assert markers == set(numbers), "every [n] has its citation and every citation is used"
    assert numbers == sorted(set(numbers)) and all(1 <= n <= len(answer.sources) for n in numbers)
    for c in answer.citations:
        assert answer.sources[c.number - 1].paper_id == c.paper_id, "[n] is the n-th source"
    for c in answer.citations:
        abstract = next(s.abstract for s in answer.sources if s.paper_id == c.paper_id)
        assert all(q in abstract for q in c.quotes), "quotes come from the cited abstract"
        assert all(any(m in q for q in c.quotes) for m in c.marks), "marks are spans of the quotes"


# Processes ---------------------------------------------------------------------------------


def run_cli(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``assistant ARGS`` as a user would; ``timeout`` only bounds a hang."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, env=full_env, stdin=subprocess.DEVNULL
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, proc, timeout: float, what: str) -> None:
    """Wait until ``url`` answers; kill ``proc`` and fail if it dies or ``timeout`` passes."""
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


def wait_for(predicate, timeout: float = 20.0, what: str = "it"):
    """Poll ``predicate`` until it gives something truthy, and return that; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def stop(proc) -> None:
    """Stop a server started by a test, by its PID."""
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


# Debian's Chromium, driven by Playwright without its own browser download
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


# A scripted LLM ----------------------------------------------------------------------------


class ScriptedBackend(GenerativeBackend):
    """Replies with the next scripted text, in small pieces, or raises the scripted error.
    Registered in the real backend table by the tests that use it (``BACKENDS["scripted"]``)."""

    name = "scripted"
    script: list[str | Exception] = []
    seen: list[list[dict[str, str]]] = []

    @property
    def where(self) -> str:
        return "the script"

    def _chat(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        type(self).seen.append(messages)
        reply = type(self).script.pop(0)
        if isinstance(reply, Exception):
            raise reply
        for i in range(0, len(reply), 7):
            yield reply[i : i + 7]


# Slack, offline ----------------------------------------------------------------------------

TOKEN = "xoxb-test-0000-secret-token"
SECRET = "test-signing-secret-1234"


class SlackStandIn:
    """A local Slack Web API on 127.0.0.1: records the calls and answers them the way Slack does."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    data = json.loads(raw or "{}")
                else:
                    data = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
                method = self.path.rsplit("/", 1)[-1]
                with stand_in.lock:
                    stand_in.calls.append((method, data))
                    number = len(stand_in.calls)
                reply = {"ok": True}
                if method == "auth.test":
                    reply.update(user_id="UBOT", bot_id="BBOT", team_id="T1", user="paperbot")
                elif method == "chat.postMessage":
                    reply.update(channel=data.get("channel"), ts=f"1800000000.{number:06d}")
                send_json(self, 200, reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def of(self, method: str) -> list[dict]:
        """The data of every call to ``method`` so far, in order."""
        with self.lock:
            return [data for m, data in self.calls if m == method]


_events = count(1)


def event(text: str, user: str = "U1", thread_ts: str | None = None, kind: str = "app_mention", **extra) -> dict:
    """A Slack Events API callback carrying one message event, with a fresh ts and event id."""
    n = next(_events)
    inner = {"type": kind, "user": user, "text": text, "ts": f"1700000000.{n:06d}", "channel": "C1", **extra}
    if thread_ts:
        inner["thread_ts"] = thread_ts
    return {"token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback", "event_id": f"Ev{n}",
            "event_time": int(time.time()), "event": inner}  # fmt: skip


def post(url: str, payload: dict, secret: str = SECRET, age: int = 0, headers: dict | None = None) -> int:
    """POST ``payload`` signed as Slack signs it (``age`` seconds ago); returns the HTTP status."""
    from slack_sdk.signature import SignatureVerifier

    body = json.dumps(payload)
    timestamp = str(int(time.time()) - age)
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    request = urllib.request.Request(url, data=body.encode(), method="POST", headers={
        "Content-Type": "application/json", "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature,
        **(headers or {})})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
