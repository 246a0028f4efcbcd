"""Fault-injection helpers shared by the reliability tests and bench/reliability.py.

Nothing here replaces a part of the product: ingests are real ``assistant ingest`` processes,
killed with SIGKILL; the store is read back with the product's own Store after a reset of
Chroma's per-process client cache, so what is checked is what is on disk.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import REPO, SCRIPT, SECRET, TOKEN, SlackStandIn, event, free_port, post, wait_for_http, write_jsonl


def bundled_records() -> list[dict]:
    """The bundled corpus as plain records (title, abstract, date), one per distinct paper."""
    from index.ingest import read_sources
    from index.records import merge

    parsed, _ = read_sources([REPO / "index" / "corpus"])
    return [{"title": p.title, "abstract": p.abstract, "date": p.date} for p in merge(parsed.papers)]


def versions(records: list[dict], n: int) -> tuple[list[dict], list[dict]]:
    """Two versions of an n-paper corpus; going from one to the other adds, replaces, rewrites
    metadata of and removes papers, so every kind of store write happens."""
    a = [dict(r) for r in records[:n]]
    b = [dict(r) for r in a[3:]] + [dict(r) for r in records[n : n + 2]]
    for r in b[:2]:
        r["abstract"] += " We also release the code and the data."
    b[2]["date"] = "2020-01-01"
    return a, b


def ingest_argv(data_dir: Path, source: Path, rebuild: bool = False) -> list[str]:
    argv = [str(SCRIPT), "--data-dir", str(data_dir), "ingest", str(source), "--prune", "--json"]
    return argv + ["--rebuild"] * rebuild


def run_ingest(
    data_dir: Path, source: Path, timeout: float = 600, rebuild: bool = False
) -> subprocess.CompletedProcess:
    return subprocess.run(ingest_argv(data_dir, source, rebuild), capture_output=True, text=True, timeout=timeout)


def _db_stamp(data_dir: Path) -> tuple[int, int]:
    try:
        st = (data_dir / "chroma" / "chroma.sqlite3").stat()
        return st.st_size, st.st_mtime_ns
    except OSError:
        return 0, 0


def saving_keyword_index(data_dir: Path, pid: int) -> bool:
    """True while the ingest process ``pid`` saves the keyword index (index/keyword.py writes
    ``keyword.<pid>.tmp``, then swaps it in; a killed save leaves its folder behind, so the pid
    tells this run's from an earlier one's)."""
    return (data_dir / f"keyword.{pid}.tmp").exists()


def _wait_for_writes(proc: subprocess.Popen, data_dir: Path, before: tuple[int, int]) -> None:
    """Wait until the ingest ``proc`` writes data: the database grows or changes a second time
    (opening it is the first change; a rebuild reuses the pages dropped collections freed, so
    the file need not grow), or the keyword index is being saved."""
    changes, last = 0, before
    while proc.poll() is None:
        stamp = _db_stamp(data_dir)
        changes, last = changes + (stamp != last), stamp
        if stamp[0] > before[0] or changes >= 2 or saving_keyword_index(data_dir, proc.pid):
            return
        time.sleep(0.002)


def kill_during_ingest(
    data_dir: Path, source: Path, rng: random.Random, duration: float, rebuild: bool = False
) -> dict:
    """Start ``assistant ingest`` (with ``--rebuild`` if asked) and SIGKILL it at a random point: a
    random time into the run (``duration`` is a full run's length), a random moment just after it
    starts writing the store, the moment it starts saving the keyword index, or a random moment of
    the last steps after that (generation stamp, a rebuild's swap, dropping replaced collections).
    Returns how and whether it was killed."""
    mode = rng.choice(["time", "write", "keyword", "end"])
    stamp_before = _db_stamp(data_dir)
    argv = ingest_argv(data_dir, source, rebuild)
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.monotonic()
    if mode == "time":
        delay = rng.uniform(0.2, duration)
        while time.monotonic() - started < delay and proc.poll() is None:
            time.sleep(0.005)
    elif mode == "write":  # the writes (chunks, paper records, sweeps, keyword index) last about a second
        delay = rng.uniform(0.0, 1.0)
        _wait_for_writes(proc, data_dir, stamp_before)
        time.sleep(delay)
    else:  # the save takes 1-2 ms; what follows it, up to the process's exit, about 0.2-0.3 s
        delay = 0.0 if mode == "keyword" else rng.uniform(0.0, 0.3)
        while proc.poll() is None and not saving_keyword_index(data_dir, proc.pid):
            time.sleep(0.0005)
        time.sleep(delay)
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return {"mode": mode, "at_s": round(time.monotonic() - started, 3), "killed": killed}


def store_problems(data_dir: Path, expected: list[dict]) -> list[str]:
    """What is wrong with the store on disk compared with ``expected`` records: missing or extra
    papers, wrong text, duplicate or orphan chunks, a keyword index out of step with Chroma."""
    from index.config import Config
    from index.keyword import KeywordIndex
    from index.records import paper_id_for
    from index.store import Store, release

    config = Config(data_dir=data_dir)
    release(config.chroma_dir)  # read what is on disk, not this process's cached client
    store = Store(config, create=False)
    problems = []
    want = {paper_id_for(r["title"]): r for r in expected}
    papers = {p.paper_id: p for p in store.load_papers()}
    if set(want) - set(papers):
        problems.append(f"lost {len(set(want) - set(papers))} papers")
    if set(papers) - set(want):
        problems.append(f"{len(set(papers) - set(want))} papers that should be gone")
    problems += [f"paper {pid} has stale text" for pid, p in papers.items() if pid in want and
                 (p.title, p.abstract) != (want[pid]["title"], want[pid]["abstract"])]  # fmt: skip
    problems += [f"paper {pid} has a stale date" for pid, p in papers.items() if pid in want and
                 p.date != want[pid]["date"]]  # fmt: skip
    hashes = {pid: th for pid, (th, _) in store.paper_hashes().items()}
    chunks = store.chunks.get(include=["metadatas"])
    per_paper: dict[str, list[int]] = {}
    for cid, meta in zip(chunks["ids"], chunks["metadatas"]):
        if hashes.get(meta["paper_id"]) != meta.get("text_hash"):
            problems.append(f"orphan chunk {cid}")
        elif meta.get("date_ord") != _date_ord(papers[meta["paper_id"]].date):
            problems.append(f"chunk {cid} filters on a stale date")
        per_paper.setdefault(meta["paper_id"], []).append(meta["index"])
    if len(chunks["ids"]) != len(set(chunks["ids"])):
        problems.append("duplicate chunk ids")
    for pid in papers:
        indexes = sorted(per_paper.get(pid, []))
        if indexes != list(range(len(indexes))) or not indexes:
            problems.append(f"paper {pid} has chunks {indexes}")
    keyword = KeywordIndex.load(config.keyword_dir, store.fingerprint())
    if keyword is None:
        problems.append("keyword index missing or out of step with the store")
    elif sorted(keyword.ids) != sorted(papers):
        problems.append("keyword index holds other papers than the store")
    release(config.chroma_dir)
    return problems


def _date_ord(iso: str | None) -> int:
    return int(iso.replace("-", "")) if iso else 0


def papers_lost(problems: list[str]) -> int:
    return sum(int(p.split()[1]) for p in problems if p.startswith("lost "))


def crash_loop(workdir: Path, kills: int, seed: int, n_papers: int = 12, log=None) -> dict:
    """Kill ingests at random points until ``kills`` kills have landed (an ingest that finishes
    before its kill time counts as an attempt only); after each, the next ingest must complete and
    leave exactly the expected papers. Alternates between two corpus versions so every killed
    ingest has adds, replacements, metadata rewrites and removals to do."""
    rng = random.Random(seed)
    a, b = versions(bundled_records(), n_papers)
    sources = [write_jsonl(workdir / "a.jsonl", a), write_jsonl(workdir / "b.jsonl", b)]
    data_dir = workdir / "store"
    first = run_ingest(data_dir, sources[0])
    assert first.returncode == 0, first.stderr
    started = time.monotonic()
    second = run_ingest(data_dir, sources[1])  # a run from one version to the other, to time it
    duration = time.monotonic() - started
    assert second.returncode == 0, second.stderr
    results: list[dict] = []
    while sum(r["killed"] for r in results) < kills and len(results) < 3 * kills:
        target, records = (sources[0], a) if len(results) % 2 == 0 else (sources[1], b)
        fault = kill_during_ingest(data_dir, target, rng, duration)
        done = run_ingest(data_dir, target)
        fault["recovered"] = done.returncode == 0
        fault["problems"] = store_problems(data_dir, records) if fault["recovered"] else [done.stderr.strip()]
        fault["papers_lost"] = papers_lost(fault["problems"])
        results.append(fault)
        if log:
            log(f"attempt {len(results)}: {fault}")
    return {
        "kills": sum(r["killed"] for r in results),
        "attempts": len(results),
        "survived": sum(r["killed"] and r["recovered"] and not r["problems"] for r in results),
        "failures": [r for r in results if not r["recovered"] or r["problems"]],
        "papers_lost": sum(r["papers_lost"] for r in results),
        "full_ingest_s": round(duration, 2),
        "runs": results,
    }


# about the 8th bundled paper, which both corpus versions of ``versions(..., n >= 8)`` hold
REBUILD_QUESTION = "How does prototype-guided distillation transfer knowledge across tasks for large-scale models?"


def cited_answer_problem(data_dir: Path, source: Path, question: str = REBUILD_QUESTION) -> str | None:
    """None when a fresh `assistant ask` process answers ``question`` with citations from the
    index in ``data_dir`` as it is, else what went wrong. ``source`` (not the bundled corpus) keeps
    the CLI from building an index of its own when none answers."""
    env = {**os.environ, "ASSISTANT_SOURCES": str(source)}
    argv = [str(SCRIPT), "--data-dir", str(data_dir), "ask", question, "--json"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    if out.returncode:
        return f"ask failed: {out.stderr.strip()[-300:]}"
    answer = json.loads(out.stdout)
    if answer["refused"] or not answer["citations"]:
        return f"no cited answer: {answer['answer'][:200]!r}"
    return None


def _whole(data_dir: Path, records: list[dict]) -> list[str]:
    """``store_problems`` but for the keyword index, which readers rebuild when it lags the store."""
    return [p for p in store_problems(data_dir, records) if not p.startswith("keyword index")]


def rebuild_crash_loop(workdir: Path, kills: int, seed: int, n_papers: int = 12, log=None) -> dict:
    """Kill `assistant ingest --rebuild` at random points until ``kills`` kills have landed. After
    each, with nothing repaired first, the store must hold one whole version of the corpus (the
    old one, or the new one if the swap was done) and a fresh `assistant ask` must answer
    ``REBUILD_QUESTION`` with citations. Rebuilds alternate between two versions, so old and new
    differ. At the end one rebuild runs to completion: exact papers, and no leftover collections."""
    from index.config import Config
    from index.store import Store, release

    rng = random.Random(seed)
    corpora = versions(bundled_records(), n_papers)
    sources = [write_jsonl(workdir / "a.jsonl", corpora[0]), write_jsonl(workdir / "b.jsonl", corpora[1])]
    data_dir = workdir / "store"
    first = run_ingest(data_dir, sources[0])
    assert first.returncode == 0, first.stderr
    started = time.monotonic()
    second = run_ingest(data_dir, sources[1], rebuild=True)  # a whole rebuild, to time it
    duration = time.monotonic() - started
    assert second.returncode == 0, second.stderr
    live, results = 1, []
    while sum(r["killed"] for r in results) < kills and len(results) < 3 * kills:
        target = 1 - live
        fault = kill_during_ingest(data_dir, sources[target], rng, duration, rebuild=True)
        new, old = _whole(data_dir, corpora[target]), _whole(data_dir, corpora[live])
        fault["swapped"] = not new
        fault["problems"] = [] if not new or not old else old
        live = target if not new else live
        fault["answer_problem"] = cited_answer_problem(data_dir, sources[live])
        results.append(fault)
        if log:
            log(f"rebuild attempt {len(results)}: {fault}")
    final = run_ingest(data_dir, sources[1 - live], rebuild=True)
    config = Config(data_dir=data_dir)
    release(config.chroma_dir)
    pairs = Store(config, create=False).pairs()  # the live pair and the one it replaced, no more
    release(config.chroma_dir)
    end = [final.stderr.strip()] if final.returncode else store_problems(data_dir, corpora[1 - live])
    end += [f"{len(pairs)} collection pairs left"] if len(pairs) > 2 else []
    folders = [f for f in config.chroma_dir.iterdir() if f.is_dir()]  # at most one per collection with vectors
    end += [f"{len(folders)} vector folders left for {len(pairs)} pairs"] if len(folders) > 2 * len(pairs) else []
    failed = [r for r in results if r["problems"] or r["answer_problem"]]
    return {
        "kills": sum(r["killed"] for r in results),
        "attempts": len(results),
        "answered": sum(r["killed"] and not r["answer_problem"] for r in results),
        "swapped_before_kill": sum(r["killed"] and r["swapped"] for r in results),
        "failures": failed + ([{"after the last rebuild": end}] if end else []),
        "full_rebuild_s": round(duration, 2),
        "runs": results,
    }


# Load ---------------------------------------------------------------------------------------

QUESTIONS = [
    "How many participants took part in the struggle-determination video dataset?",
    "Which papers study continual learning without forgetting?",
    "What does the Master Key Hypothesis state?",
    "Which paper trains a humanoid to dribble and do layups by imitating human motion?",
    "How does ATLaS tune LLM agents on expert trajectories?",
    "What credit assignment strategy does the AVATAR agent introduce?",
    "How do SkillMimic and EvoStruggle differ in what they learn from human demonstrations?",
    "What is the most crucial factor for scaling instruction-tuned model performance?",
    "Are there any papers on Kolmogorov-Arnold networks?",
    "Which papers since 2024 study skill transfer?",
]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)] if ordered else 0.0


def concurrently(fn, n: int) -> list[tuple[float, object, str | None]]:
    """Run ``fn(i)`` for i in range(n) on n threads released together; returns each call's
    (seconds, result, error as 'Type: message' or None)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    start = threading.Barrier(n)

    def one(i: int):
        start.wait()
        began = time.perf_counter()
        try:
            result = fn(i)
            return time.perf_counter() - began, result, None
        except Exception as exc:  # every error is a finding, counted by the caller
            return time.perf_counter() - began, None, f"{type(exc).__name__}: {exc}"

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def start_ui(data_dir: Path, env: dict | None = None, log: Path | None = None) -> tuple[subprocess.Popen, str]:
    """`python ui.py` on 127.0.0.1 over ``data_dir``; returns the process and its URL."""
    port = free_port()
    full_env = {**os.environ, "ASSISTANT_DATA_DIR": str(data_dir), "GRADIO_SERVER_PORT": str(port),
                "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}  # fmt: skip
    out = log.open("w") if log else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, str(REPO / "ui.py")], env=full_env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    wait_for_http(url, proc, 120, "the UI")
    return proc, url


def chat_text(chat: list[dict]) -> str:
    """The last chat message's text, whichever content shape gradio_client returns."""
    if not chat:
        return ""
    content = chat[-1].get("content")
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def ui_sessions(url: str, n: int, backend: str = "extractive") -> list[tuple[float, object, str | None]]:
    """n users, each with their own gradio_client connection, ask at once through the UI's API.
    A session's result is its last chat message; an error is an exception or a ⚠️ message."""
    from gradio_client import Client

    clients = [Client(url, verbose=False) for _ in range(n)]

    def ask(i: int) -> str:
        job = clients[i].submit(QUESTIONS[i % len(QUESTIONS)], [], backend, "", "", "", 5, "", api_name="/ask")
        text = chat_text(job.result()[0])
        if not text or text.startswith("⚠️"):
            raise RuntimeError(f"the chat shows {text[:200]!r}")
        return text

    return concurrently(ask, n)


def start_slack(data_dir: Path, log: Path) -> tuple[subprocess.Popen, dict]:
    """The real `assistant slack` process on 127.0.0.1, talking to a local Web API stand-in, with a
    per-user limit no burst reaches. Returns the process and {"url", "api", "log"}."""
    stand_in = SlackStandIn()
    port = free_port()
    env = {**os.environ, "SLACK_API_URL": stand_in.url, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET,
           "ASSISTANT_BOT_RATE_LIMIT": "1000"}  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen([str(SCRIPT), "--data-dir", str(data_dir), "slack", "--port", str(port)], env=env,
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.monotonic() + 120
    while "listening" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the bot did not start: {log.read_text()[-2000:]}")
        time.sleep(0.2)
    return proc, {"url": f"http://127.0.0.1:{port}/slack/events", "api": stand_in, "log": log}


def slack_burst(bot: dict, n: int, seed: int = 0) -> dict:
    """n app_mention events at once, a random third of them delivered a second time (the same
    event again, or as a Slack retry); waits for the answers and returns what the Web API
    stand-in saw, with each event's seconds from the burst's start to its answer."""
    api, url = bot["api"], bot["url"]
    posts_before, updates_before = len(api.of("chat.postMessage")), len(api.of("chat.update"))
    events = [event(f"<@UBOT> {QUESTIONS[i % len(QUESTIONS)]}", user=f"UB{seed}-{i}") for i in range(n)]
    rng = random.Random(seed)
    deliveries = [(e, None) for e in events]
    deliveries += [(e, rng.choice([None, {"X-Slack-Retry-Num": "1"}])) for e in rng.sample(events, n // 3)]
    rng.shuffle(deliveries)
    started = time.monotonic()
    sent = concurrently(lambda i: post(url, deliveries[i][0], headers=deliveries[i][1]), len(deliveries))
    answered_at: dict[str, float] = {}
    deadline = time.monotonic() + 300
    while len(answered_at) < n and time.monotonic() < deadline:
        for update in api.of("chat.update")[updates_before:]:
            answered_at.setdefault(update["ts"], time.monotonic() - started)
        time.sleep(0.02)
    time.sleep(1.0)  # a second answer to any event would arrive by now
    return {
        "events": events,
        "statuses": [status for _, status, _ in sent],
        "posts": api.of("chat.postMessage")[posts_before:],
        "updates": api.of("chat.update")[updates_before:],
        "latencies": sorted(answered_at.values()),
    }


# Damage done to a built store (its data folder), by name: the store must still answer, or say in
# one line how to rebuild it (tests/test_reliability_ingest.py, bench/reliability.py)
DAMAGE = {
    "garbage database": lambda d: (d / "chroma" / "chroma.sqlite3").write_bytes(random.Random(3).randbytes(100_000)),
    "truncated database": lambda d: os.truncate(d / "chroma" / "chroma.sqlite3", 150_000),
    "store folder is a file": lambda d: (shutil.rmtree(d / "chroma"), (d / "chroma").write_text("x")),
    "vector files gone": lambda d: [shutil.rmtree(p) for p in (d / "chroma").iterdir() if p.is_dir()],
    "keyword index garbage": lambda d: [p.write_bytes(b"junk") for p in (d / "keyword").iterdir()],
}
