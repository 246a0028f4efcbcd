"""Reliability benchmark: the reliability tests' checks at full counts, with the figures.

    python bench/reliability.py [--examples 10200] [--kills 20] [--seed 8] [--data-dir DIR] [--json]

- fuzzing: the hypothesis properties of tests/test_fuzz_parse.py (run by pytest) over >= 10,000
  generated and mutated pages, JSON Lines, CSV and arbitrary files;
- odd questions (empty, whitespace, 100,000 characters, control characters, other languages)
  through the API (warm) and the CLI (a cold process each), timed;
- faults: `assistant ingest` killed with SIGKILL at random points (seeded), then the next ingest
  must leave exactly the expected papers; `assistant ingest --rebuild` killed the same way, after
  which the index must answer with citations as it is; damaged stores; a second ingest while one
  runs;
- load: 50 concurrent asks through the Python API, 20 concurrent UI sessions against a real
  `ui.py` (gradio_client), a burst of 50 Slack events (plus resends) against `assistant slack`;
- LLM server failures: how long the one-line error takes when an OpenAI-compatible server is
  slower than llm_timeout (the API, warm) or stopped (the CLI, a cold process).

Uses a fresh index of the bundled corpus unless --data-dir names a built one. Exits non-zero when
a check fails or a paper is lost.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def fuzz(examples: int) -> dict:
    """Run tests/test_fuzz_parse.py through pytest with ``examples`` inputs over all properties."""
    import pytest

    os.environ["RELIABILITY_EXAMPLES"] = str(examples)

    class Tally:  # a pytest plugin: what failed, and the inputs each property was run on
        def __init__(self) -> None:
            self.failures: list[str] = []
            self.tried: dict[str, int] = {}

        def pytest_runtest_logreport(self, report) -> None:
            if report.failed:  # a falsified property: report it, go on
                self.failures.append(f"{report.nodeid.rsplit('::', 1)[-1]}: {report.longreprtext[-300:]}")

        def pytest_sessionfinish(self, session) -> None:
            self.tried = dict(session.items[0].module.TRIED) if session.items else {}

    tally, started = Tally(), time.perf_counter()
    argv = [str(REPO / "tests" / "test_fuzz_parse.py"), "-q", "-p", "no:cacheprovider", "-o", "timeout=0"]
    with contextlib.redirect_stdout(sys.stderr):  # pytest's report must not mix with --json output
        pytest.main(argv, plugins=[tally])
    return {"inputs": sum(tally.tried.values()), "by_property": tally.tried, "failures": tally.failures,
            "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip


def odd_questions(data_dir: Path) -> dict:
    from assistant import Assistant, Config, QuestionError
    from tests.helpers import ODD

    assistant = Assistant(Config(data_dir=data_dir))
    assistant.retrieve("warm up")
    rows, failures = {}, []
    for kind, question in ODD.items():
        began = time.perf_counter()
        try:
            outcome = "answer" if not assistant.ask(question).refused else "refusal"
        except QuestionError as exc:
            outcome = f"error: {exc}"
        api_s = time.perf_counter() - began
        began = time.perf_counter()
        argv = [str(Path(sys.executable).with_name("assistant")), "--data-dir", str(data_dir), "ask"]
        raw = question.replace("\x00", "").encode("utf-8", "surrogatepass")  # argv holds no NUL; bytes as they are
        cli = subprocess.run([*argv, raw], capture_output=True, text=True, timeout=120)
        cli_s = time.perf_counter() - began
        if "Traceback" in cli.stderr or (cli.returncode and not cli.stderr.startswith("error: ")):
            failures.append(f"{kind}: {cli.stderr[-300:]}")
        rows[kind] = {"outcome": outcome[:90], "api_s": round(api_s, 3), "cli_s": round(cli_s, 2)}
    return {"questions": rows, "failures": failures, "max_api_s": max(r["api_s"] for r in rows.values()),
            "max_cli_s": max(r["cli_s"] for r in rows.values())}  # fmt: skip


KILL_MODES = ("time", "write", "keyword", "end")  # see tests.faults.kill_during_ingest


def crashes(workdir: Path, kills: int, seed: int) -> dict:
    from tests.faults import crash_loop

    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result = crash_loop(workdir, kills, seed, n_papers=12)
    result["seconds"] = round(time.perf_counter() - started, 1)
    runs = result.pop("runs")
    result["by_mode"] = {m: sum(r["killed"] for r in runs if r["mode"] == m) for m in KILL_MODES}
    return result


def rebuild_crashes(workdir: Path, kills: int, seed: int) -> dict:
    from tests.faults import rebuild_crash_loop

    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result = rebuild_crash_loop(workdir, kills, seed, n_papers=12)
    result["seconds"] = round(time.perf_counter() - started, 1)
    runs = result.pop("runs")
    result["by_mode"] = {m: sum(r["killed"] for r in runs if r["mode"] == m) for m in KILL_MODES}
    return result


def damaged_stores(workdir: Path) -> dict:
    """Every kind of damage from tests/test_reliability_ingest.py, plus overwritten database pages:
    the store answers, or says in one line how to rebuild it, and the rebuild works."""
    import random

    from assistant import Assistant, Config, StoreError
    from tests.faults import DAMAGE, bundled_records, run_ingest, store_problems
    from tests.helpers import write_jsonl

    workdir.mkdir(parents=True, exist_ok=True)
    records = bundled_records()[:8]
    source = write_jsonl(workdir / "papers.jsonl", records)
    pristine = workdir / "pristine"
    assert run_ingest(pristine, source).returncode == 0

    def overwrite(d: Path) -> None:
        rng, db = random.Random(1), d / "chroma" / "chroma.sqlite3"
        with db.open("r+b") as f:
            for _ in range(8):
                f.seek(rng.randrange(4096, db.stat().st_size - 8192))
                f.write(rng.randbytes(8192))

    outcomes: dict[str, str] = {}
    failures: list[str] = []
    for kind, damage in {**DAMAGE, "overwritten database pages": overwrite}.items():
        failed_before = len(failures)
        data_dir = workdir / kind.replace(" ", "-")
        shutil.copytree(pristine, data_dir)
        damage(data_dir)
        cli = subprocess.run([str(Path(sys.executable).with_name("assistant")), "--data-dir", str(data_dir), "ask",
                              "What is MetaLadder?"], capture_output=True, text=True, timeout=120,
                             env={**os.environ, "ASSISTANT_SOURCES": str(source)})  # fmt: skip
        last = (cli.stderr.strip().splitlines() or [""])[-1]
        if cli.returncode == 0:
            outcomes[kind] = "still answers"
        elif last.endswith("rebuild it with `assistant ingest --rebuild`") and "Traceback" not in cli.stderr:
            outcomes[kind] = "one-line error naming `assistant ingest --rebuild`"
        else:
            failures.append(f"{kind}: {cli.stderr[-300:]}")
        try:
            Assistant(Config(data_dir=data_dir, sources=[source])).ingest(rebuild=cli.returncode != 0)
        except StoreError as exc:
            failures.append(f"{kind}: the rebuild failed: {exc}")
        problems = store_problems(data_dir, records)
        if problems:
            failures.append(f"{kind}: after the rebuild: {problems}")
        if len(failures) > failed_before:
            outcomes[kind] = "FAILED"
    survived = sum(outcome != "FAILED" for outcome in outcomes.values())
    return {"cases": outcomes, "survived": survived, "failures": failures}


def load(data_dir: Path, logs: Path) -> dict:
    from assistant import Assistant, Config
    from tests.faults import QUESTIONS, concurrently, p95, slack_burst, start_slack, start_ui, ui_sessions
    from tests.helpers import stop

    assistant = Assistant(Config(data_dir=data_dir))
    assistant.retrieve("warm up")
    api = concurrently(lambda i: assistant.ask(QUESTIONS[i % len(QUESTIONS)]), 50)
    api_s = [s for s, _, _ in api]
    result: dict = {"api": {"asks": 50, "errors": sum(e is not None for _, _, e in api),
                            "p50_s": round(statistics.median(api_s), 3), "p95_s": round(p95(api_s), 3)}}  # fmt: skip
    proc, url = start_ui(data_dir, log=logs / "ui.log")
    try:
        ui_sessions(url, 2)  # warm-up
        sessions = ui_sessions(url, 20)
    finally:
        stop(proc)
    ui_s = [s for s, _, _ in sessions]
    result["ui"] = {"sessions": 20, "errors": sum(e is not None for _, _, e in sessions),
                    "p50_s": round(statistics.median(ui_s), 3), "p95_s": round(p95(ui_s), 3)}  # fmt: skip
    proc, bot = start_slack(data_dir, logs / "slack.log")
    try:
        burst = slack_burst(bot, 50)
    finally:
        stop(proc)
    answered = {u["ts"] for u in burst["updates"]}
    threads = [p["thread_ts"] for p in burst["posts"]]
    once = len(answered) == len(burst["updates"]) == 50 and sorted(threads) == sorted(
        e["event"]["ts"] for e in burst["events"]
    )
    result["slack"] = {"events": 50, "deliveries": len(burst["statuses"]), "answered": len(answered),
                       "answered_exactly_once": once, "errors": sum(s != 200 for s in burst["statuses"]) + sum(
                           u["text"].startswith("Sorry") for u in burst["updates"]),
                       "p50_s": round(statistics.median(burst["latencies"]), 3) if burst["latencies"] else None,
                       "p95_s": round(p95(burst["latencies"]), 3)}  # fmt: skip
    return result


LLM_QUESTION = "How many hours of video and participants does the struggle-determination dataset have?"


def llm_failures(data_dir: Path, timeout: float = 1.0) -> dict:
    """Seconds to the backend error: a server that answers only after 5x llm_timeout (warm API;
    one request expected, no retries), and a server that is not running (cold CLI)."""
    from assistant import Assistant, BackendError, Config
    from tests.helpers import free_port
    from tests.openai_standin import StandIn

    failures: list[str] = []
    settings = {"llm": "openai", "llm_model": "m", "llm_retries": 0, "llm_timeout": timeout}
    with StandIn(delay=5 * timeout) as standin:
        assistant = Assistant(Config(data_dir=data_dir, llm_base_url=standin.url, **settings))
        assistant.retrieve("warm up")
        began = time.perf_counter()
        try:
            assistant.ask(LLM_QUESTION)
            failures.append("a server slower than llm_timeout: no error")
        except BackendError as exc:
            if "did not answer within" not in str(exc):
                failures.append(f"a server slower than llm_timeout: {exc}")
        slow_s = time.perf_counter() - began
        requests = len(standin.requests)
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there: a stopped server
    argv = [str(Path(sys.executable).with_name("assistant")), "--data-dir", str(data_dir), "--llm", "openai",
            "--base-url", url, "--model", "m", "ask", LLM_QUESTION]  # fmt: skip
    env = {**os.environ, "ASSISTANT_LLM_RETRIES": "0", "ASSISTANT_LLM_TIMEOUT": "5"}
    began = time.perf_counter()
    cli = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    stopped_s = time.perf_counter() - began
    if cli.returncode != 1 or "cannot reach the LLM server" not in cli.stderr or "Traceback" in cli.stderr:
        failures.append(f"a stopped server: exit {cli.returncode}: {cli.stderr[-300:]}")
    return {"llm_timeout_s": timeout, "slow_server_error_s": round(slow_s, 2), "slow_server_requests": requests,
            "stopped_server_cli_s": round(stopped_s, 2), "failures": failures}  # fmt: skip


def lock(workdir: Path) -> dict:
    from index.ingest import ingest_lock
    from tests.faults import bundled_records, run_ingest
    from tests.helpers import write_jsonl

    source = write_jsonl(workdir / "lock.jsonl", bundled_records()[:3])
    with ingest_lock(workdir / "lock-store"):
        second = run_ingest(workdir / "lock-store", source)
    line = second.stderr.strip()
    return {"second_ingest": line, "ok": second.returncode == 1 and "is running (pid" in line}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_200, help="fuzz inputs over all properties")
    parser.add_argument("--kills", type=int, default=20, help="ingests killed with SIGKILL (and as many rebuilds)")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--data-dir", type=Path, help="a built index of the bundled corpus (default: build one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    say = (lambda *a: print(*a, file=sys.stderr, flush=True)) if args.json else (lambda *a: print(*a, flush=True))
    work = Path(tempfile.mkdtemp(prefix="reliability-"))
    report: dict = {"seed": args.seed}
    try:
        from assistant import Assistant, Config

        data_dir = args.data_dir or work / "bundled"
        say(f"index: {data_dir}")
        Assistant(Config(data_dir=data_dir)).retrieve("warm up")  # builds the bundled index if missing
        for name, step in [
            ("fuzz", lambda: fuzz(args.examples)),
            ("odd_questions", lambda: odd_questions(data_dir)),
            ("crashes", lambda: crashes(work / "crash", args.kills, args.seed)),
            ("rebuild_crashes", lambda: rebuild_crashes(work / "rebuild-crash", args.kills, args.seed)),
            ("damaged_stores", lambda: damaged_stores(work / "damage")),
            ("lock", lambda: lock(work)),
            ("load", lambda: load(data_dir, work)),
            ("llm_failures", lambda: llm_failures(data_dir)),
        ]:
            say(f"running {name}...")
            try:
                report[name] = step()
            except Exception:
                report[name] = {"failures": [traceback.format_exc()[-2000:]]}
            say(f"  {json.dumps(report[name])[:400]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["summary"] = summary = _summary(report)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print("\nReliability figures")
        for key, value in summary.items():
            print(f"  {key:<34}{value}")
    return 0 if summary["all checks passed"] else 1


def _summary(r: dict) -> dict:
    fz, odd, cr, dm, ld = (r.get(k, {}) for k in ("fuzz", "odd_questions", "crashes", "damaged_stores", "load"))
    rb = r.get("rebuild_crashes", {})
    lf = r.get("llm_failures", {})
    checked = ("fuzz", "odd_questions", "crashes", "rebuild_crashes", "damaged_stores", "load", "llm_failures")
    failures = sum(len(r.get(k, {}).get("failures", [])) for k in checked)
    api, ui, slack = ld.get("api", {}), ld.get("ui", {}), ld.get("slack", {})
    return {
        "fuzz inputs tried": f"{fz.get('inputs', 0):,} (failures: {len(fz.get('failures', []))})",
        "odd questions": f"{len(odd.get('questions', {}))}, slowest {odd.get('max_api_s')} s warm API, "
        f"{odd.get('max_cli_s')} s cold CLI",
        "SIGKILLs landed / survived": f"{cr.get('kills')} / {cr.get('survived')} (of {cr.get('attempts')} runs; "
        f"{cr.get('by_mode', {}).get('write')} during store writes, "
        f"{cr.get('by_mode', {}).get('keyword')} saving the keyword index, "
        f"{cr.get('by_mode', {}).get('end')} after it)",
        "rebuild SIGKILLs / answered after": f"{rb.get('kills')} / {rb.get('answered')} (of {rb.get('attempts')} runs; "
        f"{rb.get('swapped_before_kill')} after the swap; whole rebuild {rb.get('full_rebuild_s')} s)",
        "damaged stores survived": f"{dm.get('survived')} / {len(dm.get('cases', {}))}",
        "second ingest while one runs": "refused, one line" if r.get("lock", {}).get("ok") else "FAILED",
        "50 concurrent API asks": f"{api.get('errors')} errors, p50 {api.get('p50_s')} s, p95 {api.get('p95_s')} s",
        "20 concurrent UI sessions": f"{ui.get('errors')} errors, p50 {ui.get('p50_s')} s, p95 {ui.get('p95_s')} s",
        "50 Slack events (+ resends)": f"{slack.get('answered')} answered, exactly once: "
        f"{slack.get('answered_exactly_once')}, {slack.get('errors')} errors, p95 {slack.get('p95_s')} s",
        "LLM server slower than llm_timeout": f"error after {lf.get('slow_server_error_s')} s "
        f"(llm_timeout {lf.get('llm_timeout_s')} s, {lf.get('slow_server_requests')} request)",
        "LLM server stopped": f"error after {lf.get('stopped_server_cli_s')} s (cold CLI)",
        "papers lost": cr.get("papers_lost"),
        "all checks passed": failures == 0
        and cr.get("papers_lost") == 0
        and bool(r.get("lock", {}).get("ok"))
        and api.get("errors") == 0
        and ui.get("errors") == 0
        and slack.get("errors") == 0
        and bool(slack.get("answered_exactly_once")),
    }


if __name__ == "__main__":
    sys.exit(main())
