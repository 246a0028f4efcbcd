"""Ingest under faults, for real: huge and binary inputs, SIGKILL at random points, two ingests
at once, questions during an ingest, and damaged stores. Every ingest here is a real
`assistant ingest` process or the real ingest function; the store is real Chroma on disk.

RELIABILITY_KILLS sets how many ingests are killed (CI: 3; bench/reliability.py: >= 20).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import threading
import time
import traceback
from pathlib import Path

import pytest

from assistant import Assistant, Config, StoreError
from index.ingest import IngestError, ingest, ingest_lock, ingest_running
from tests.faults import (
    DAMAGE,
    bundled_records,
    crash_loop,
    ingest_argv,
    rebuild_crash_loop,
    run_ingest,
    store_problems,
    versions,
)
from tests.helpers import assert_citation_invariants, run_cli, write_jsonl

pytestmark = pytest.mark.slow

KILLS = int(os.environ.get("RELIABILITY_KILLS", "3"))
SEED = int(os.environ.get("RELIABILITY_SEED", "8"))
SMALL = 6  # papers in the stores that get damaged


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return bundled_records()


def test_fifty_megabyte_file_finishes_with_a_clear_report(tmp_path, records):
    """50 MB of JSON Lines: the same three papers again and again, broken lines, wrong types and a
    huge abstract among them. The ingest reads it all, stores three papers and lists what it skipped."""
    big = tmp_path / "big.jsonl"
    good = [json.dumps({k: r[k] for k in ("title", "abstract", "date")}) for r in records[:3]] * 40
    bad = ['{"title": "Truncated', json.dumps({"title": ["a list"], "abstract": "x" * 50}),
           json.dumps({"title": "Huge", "abstract": "w " * 60_000}), "\x00\x01 not json"]  # fmt: skip
    block, blocks = "\n".join(good + bad) + "\n", 0
    with big.open("w") as out:
        while out.tell() < 50 * 2**20:
            out.write(block)
            blocks += 1
    out = run_cli("--data-dir", str(tmp_path / "store"), "ingest", str(big), timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    summary = out.stdout.splitlines()
    skipped = blocks * len(bad)
    assert summary[0] == f"read {blocks * len(good)} entries from 1 files: 3 distinct papers"
    assert summary[1].startswith("added 3, updated 0, unchanged 0, removed 0")
    assert summary[2] == f"skipped {skipped}:"
    assert summary[3:7] == [
        f"  {big}:121: not valid JSON (Unterminated string starting at)",
        f"  {big}:122: 'title' must be text, not list",
        f"  {big}:123: 'abstract' is longer than 100,000 characters",
        f"  {big}:124: not valid JSON (Expecting value)",
    ]
    assert summary[-1] == f"  ... and {skipped - 50} more"


def test_folder_with_binary_files_finishes_with_a_clear_report(tmp_path, records):
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_jsonl(folder / "good.jsonl", records[:2])
    (folder / "image.png").write_bytes(random.Random(1).randbytes(4000))
    (folder / "blob.txt").write_bytes(b"\x7fELF\x02\x01\x01\x00" + random.Random(2).randbytes(4000))
    (folder / "utf16.md").write_bytes(f"{records[2]['title']}\n\n{records[2]['abstract']}\n".encode("utf-16"))
    (folder / "noise.csv").write_bytes(bytes(range(128, 256)) * 20)
    (folder / "empty.jsonl").write_bytes(b"")
    (folder / "archive.jsonl.gz").write_bytes(b"\x1f\x8b\x08\x00" + bytes(100))
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "secret.txt").write_text("not read")
    out = run_cli("--data-dir", str(tmp_path / "store"), "ingest", str(folder), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert (report["files"], report["papers"], report["added"]) == (5, 2, 2)
    skipped = set()
    for problem in report["skipped"]:
        where, reason = problem.split(": ", 1)
        skipped.add((Path(where.rsplit(":", 1)[0]).name, reason.split(" (found")[0]))
    assert skipped == {
        ("archive.jsonl.gz", "unsupported file type .gz, skipped"),
        ("image.png", "unsupported file type .png, skipped"),
        ("blob.txt", "binary file, skipped"),
        ("utf16.md", "binary file, skipped"),
        ("noise.csv", "invalid UTF-8 bytes replaced"),
        ("noise.csv", "CSV header lacks abstract, title"),
        ("empty.jsonl", "empty file"),
    }


def test_sigkill_at_random_points_loses_and_duplicates_nothing(tmp_path):
    """Kill `assistant ingest` with SIGKILL at random moments (seeded); after each kill the next
    ingest completes and the store holds exactly the expected papers, no orphan or duplicate
    chunks, and a keyword index in step with Chroma."""
    result = crash_loop(tmp_path, KILLS, SEED, n_papers=8)
    assert result["failures"] == [], json.dumps(result["failures"], indent=1)
    assert result["kills"] == result["survived"] == KILLS and result["papers_lost"] == 0


def test_sigkill_during_a_rebuild_leaves_the_old_index_answering(tmp_path):
    """Kill `assistant ingest --rebuild` with SIGKILL at random moments (seeded): each time, before
    anything repairs the store, it holds one whole version of the corpus and a fresh `assistant
    ask` answers with citations; a rebuild run to the end then leaves exact papers and no
    leftover collections."""
    result = rebuild_crash_loop(tmp_path, KILLS, SEED, n_papers=8)
    assert result["failures"] == [], json.dumps(result["failures"], indent=1)
    assert result["kills"] == result["answered"] == KILLS


def test_second_ingest_says_one_is_running_or_waits_for_it(tmp_path, records):
    a, _ = versions(records, 20)
    source = write_jsonl(tmp_path / "a.jsonl", a)
    data_dir = tmp_path / "store"
    with ingest_lock(data_dir):  # while this process holds the lock, the CLI says so in one line
        second = run_ingest(data_dir, source)
    assert second.returncode == 1 and not (data_dir / "chroma").exists()
    assert second.stderr.strip().splitlines() == [
        f"error: another ingest into {data_dir} is running (pid {os.getpid()}); wait for it to finish, then run this "
        "again"
    ]
    first = subprocess.Popen(ingest_argv(data_dir, source), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not ingest_running(data_dir):  # a real ingest takes the lock...
        assert first.poll() is None and time.monotonic() < deadline, "the first ingest never took the lock"
        time.sleep(0.02)
    with pytest.raises(IngestError, match=f"is running \\(pid {first.pid}\\)"):  # ...a second one fails at once...
        ingest(Config(data_dir=data_dir), [source])
    report = Assistant(Config(data_dir=data_dir)).ingest([source], wait=True)  # ...or waits for it
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert (report.added, report.unchanged) == (0, 20)
    assert store_problems(data_dir, a) == []


def test_questions_during_an_ingest_are_answered_from_a_consistent_index(tmp_path, records, embedder):
    a, b = versions(records, 16)
    pairs = {(r["title"], r["abstract"]) for r in a + b}
    data_dir = tmp_path / "store"
    config = Config(data_dir=data_dir)
    ingest(config, [write_jsonl(tmp_path / "a.jsonl", a)], embedder=embedder)
    questions = ["Which papers study continual learning without forgetting?", "What is MetaLadder?",
                 "How do agents learn new skills?", "reasoning transfer from analogical problems"]  # fmt: skip
    opened_before = Assistant(config)
    opened_before.retrieve("warm up")
    writer = subprocess.Popen(ingest_argv(data_dir, write_jsonl(tmp_path / "b.jsonl", b)), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    answers, errors = [], []

    def ask_in_process():
        i = 0
        while writer.poll() is None:
            try:  # the long-lived reader, and a reader that opens the index mid-ingest
                answers.append(opened_before.ask(questions[i % len(questions)]))
                answers.append(Assistant(config).ask(questions[(i + 1) % len(questions)]))
            except Exception:  # every failure is a finding
                errors.append(traceback.format_exc())
            i += 1

    thread = threading.Thread(target=ask_in_process)
    thread.start()
    cli_answers = []
    while writer.poll() is None:  # fresh processes opening the index mid-ingest
        out = run_cli("--data-dir", str(data_dir), "ask", questions[len(cli_answers) % 4], "--json")
        cli_answers.append(out)
    thread.join()
    assert writer.returncode == 0, writer.stderr.read()
    assert errors == [] and answers, "\n".join(errors[:1])
    for answer in answers:
        assert_citation_invariants(answer)
        assert {(s.title, s.abstract) for s in answer.sources} <= pairs, "a source is a paper as some version has it"
    for out in cli_answers:
        assert out.returncode == 0, out.stderr
        got = json.loads(out.stdout)
        assert {s["title"] for s in got["sources"]} <= {t for t, _ in pairs}
    assert run_ingest(data_dir, tmp_path / "b.jsonl").returncode == 0  # settles a keyword index a reader rewrote
    assert store_problems(data_dir, b) == []


@pytest.fixture(scope="module")
def built_store(tmp_path_factory, records, embedder):
    folder = tmp_path_factory.mktemp("damage")
    source = write_jsonl(folder / "papers.jsonl", records[:SMALL])
    ingest(Config(data_dir=folder / "pristine"), [source], embedder=embedder)
    return folder, source


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_store_answers_or_names_the_rebuild_command(built_store, tmp_path, damage, records):
    """Through the API: a damaged store either still answers (Chroma rebuilds its vector files
    from its database; the keyword index is rebuilt from the store) or fails with one sentence
    naming `assistant ingest --rebuild`, and that rebuild works, also in the same process."""
    folder, source = built_store
    data_dir = tmp_path / "store"
    shutil.copytree(folder / "pristine", data_dir)
    DAMAGE[damage](data_dir)
    assistant = Assistant(Config(data_dir=data_dir, sources=[source]))
    try:
        assert_citation_invariants(assistant.ask("What is MetaLadder?"))
    except StoreError as exc:
        assert str(exc).endswith("; rebuild it with `assistant ingest --rebuild`") and "\n" not in str(exc)
        assert assistant.ingest(rebuild=True).added == SMALL
        assert not assistant.ask("What is MetaLadder?").refused
    assert run_ingest(data_dir, source).returncode == 0
    assert store_problems(data_dir, records[:SMALL]) == []


def test_damaged_pages_in_the_cli_are_one_line_and_rebuild(built_store, tmp_path, records):
    """Random pages of the database overwritten (Chroma's Rust core may panic on these): the CLI
    prints no traceback, its error names the rebuild command, and `ingest --rebuild` recovers."""
    folder, source = built_store
    data_dir = tmp_path / "store"
    shutil.copytree(folder / "pristine", data_dir)
    db = data_dir / "chroma" / "chroma.sqlite3"
    rng = random.Random(SEED)
    with db.open("r+b") as f:
        for _ in range(8):
            f.seek(rng.randrange(4096, db.stat().st_size - 8192))
            f.write(rng.randbytes(8192))
    question = ["--data-dir", str(data_dir), "ask", "What is MetaLadder?", "--json"]
    out = run_cli(*question, env={"ASSISTANT_SOURCES": str(source)})
    assert "Traceback" not in out.stderr
    if out.returncode:
        last = out.stderr.strip().splitlines()[-1]
        assert last.startswith("error: ") and last.endswith("rebuild it with `assistant ingest --rebuild`"), last
    rebuilt = run_cli("--data-dir", str(data_dir), "ingest", "--rebuild", str(source))
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert run_cli(*question, env={"ASSISTANT_SOURCES": str(source)}).returncode == 0
    assert store_problems(data_dir, records[:SMALL]) == []


def test_missing_store_says_how_to_build_it(tmp_path):
    with pytest.raises(StoreError, match=r"^no paper index in .*; build it with `assistant ingest`$"):
        Assistant(Config(data_dir=tmp_path / "nothing", sources=[tmp_path / "mine.jsonl"])).ask("anything?")


def test_probing_the_lock_never_makes_a_starting_ingest_fail(tmp_path):
    """`ingest_running` takes the lock for an instant to probe it; an ingest that starts in that
    instant waits out the probe rather than reporting a running ingest (this raced in CI), and the
    probe leaves the holder's pid in the lock file."""
    data_dir = tmp_path / "store"
    with ingest_lock(data_dir):
        pass
    stop = threading.Event()

    def probe():
        while not stop.is_set():
            ingest_running(data_dir)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        for _ in range(300):
            with ingest_lock(data_dir):
                assert ingest_running(data_dir)
                assert (data_dir / "ingest.lock").read_text() == str(os.getpid())
    finally:
        stop.set()
        prober.join()
    assert not ingest_running(data_dir)
