"""Ingestion: read sources, parse, dedupe, chunk, embed only what changed, write the store.

Incremental and idempotent, keyed by content hashes: unchanged papers cost nothing, a paper
whose text changed is re-embedded and replaced, one whose metadata changed is rewritten
without embedding. An ingest adds: every paper its sources do not hold stays, unless it is asked
to prune, which removes them (and says how many).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from index.chunk import chunk_paper
from index.config import Config
from index.embed import Embedder, make_embedder
from index.errors import AssistantError
from index.formats import SNIFF_CHARS, detect, suffixes
from index.keyword import KeywordIndex
from index.parse import parse_source
from index.records import Paper, ParseResult, Problem, merge
from index.store import Filters, Store, meta_hash

TEXT_SUFFIXES = {".txt", ".md", ".jsonl", ".ndjson", ".csv", ".json"}  # index.parse's; index.formats adds its own
GROUP = 128  # papers embedded and committed together
LOCK_FILE = "ingest.lock"


class IngestError(AssistantError, RuntimeError):
    """Ingest cannot proceed; the store is left as it was."""


@dataclass
class IngestReport:
    """What an ingest did, for the summary line and for tests."""

    files: int = 0
    entries: int = 0
    papers: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    kept: int = 0  # papers already indexed that these sources do not hold, left as they are
    embedded: int = 0  # texts sent to the embedding model
    left_out: int = 0  # entries the ingest's filters did not keep
    skipped: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    watches: list[Any] = field(default_factory=list)  # Assistant.ingest: each watch's new papers (WatchReport)

    def summary(self) -> str:
        kept = f" ({self.left_out} more left out by the filters)" if self.left_out else ""
        lines = [
            f"read {self.entries} entries from {self.files} files{kept}: {self.papers} distinct papers",
            f"added {self.added}, updated {self.updated}, unchanged {self.unchanged}, removed {self.removed}"
            f" ({self.embedded} texts embedded, {self.seconds:.1f} s)",
        ]
        if self.kept:
            lines.append(f"kept {self.kept} indexed papers these sources do not hold (--prune removes them)")
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)}:")
            lines.extend(f"  {p}" for p in self.skipped[:50])
            if len(self.skipped) > 50:
                lines.append(f"  ... and {len(self.skipped) - 50} more")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k not in ("skipped", "watches")}
        d["skipped"] = [str(p) for p in self.skipped]
        d["watches"] = [w.to_dict() for w in self.watches]
        return d


def _files(paths: Iterable[Path], problems: list[Problem]) -> list[Path]:
    found: list[Path] = []
    known = TEXT_SUFFIXES | suffixes()
    for path in paths:
        if path.is_dir():
            for f in sorted(path.rglob("*")):
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(path).parts):
                    if f.suffix.lower() in known:
                        found.append(f)
                    else:
                        problems.append(Problem(str(f), 0, f"unsupported file type {f.suffix or '(none)'}, skipped"))
        elif path.is_file():
            found.append(path)
        else:
            problems.append(Problem(str(path), 0, "no such file or folder"))
    return found


def read_sources(paths: Iterable[Path], keep: Callable[[Paper], bool] | None = None) -> tuple[ParseResult, int]:
    """Read and parse every source file; returns the entries, problems and the file count. With
    ``keep``, only the entries it accepts are kept, as they are read (a slice of a large file
    costs the memory of the slice)."""
    result = ParseResult()
    files = _files(paths, result.problems)
    for f in files:
        streamed = _streamed(f, result, keep)
        if streamed is not None:
            result.extend(streamed)
            continue
        try:
            data = f.read_bytes()
        except OSError as exc:
            result.problems.append(Problem(str(f), 0, f"cannot read: {exc.strerror}"))
            continue
        if b"\x00" in data[:8192]:
            result.problems.append(Problem(str(f), 0, "binary file, skipped"))
            continue
        text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")  # a byte order mark is no title
        if "\ufffd" in text and b"\xef\xbf\xbd" not in data:
            line = text[: text.index("\ufffd")].count("\n") + 1
            result.problems.append(Problem(str(f), line, "invalid UTF-8 bytes replaced"))
        parsed = parse_source(str(f), text)
        if keep is not None and parsed.papers:
            kept = [p for p in parsed.papers if keep(p)]
            result.left_out += len(parsed.papers) - len(kept)
            parsed.papers = kept
            if not kept:
                continue
        if not parsed.papers and not parsed.problems:
            parsed.problems.append(Problem(str(f), 0, "no papers in this file" if text.strip() else "empty file"))
        result.extend(parsed)
    return result, len(files)


STREAM_BYTES = 64 * 2**20  # a file this large is read line by line when its format allows


def _streamed(f: Path, result: ParseResult, keep: Callable[[Paper], bool] | None = None) -> ParseResult | None:
    """A large file in a format read record by record (the arXiv snapshot), parsed without
    holding its text; None for every other file (read whole below)."""
    try:
        if f.stat().st_size < STREAM_BYTES:
            return None
        with f.open(encoding="utf-8", errors="replace", newline="") as handle:
            fmt = detect(str(f), handle.read(SNIFF_CHARS).removeprefix("\ufeff"))
            if fmt is None or fmt.stream is None:
                return None
            handle.seek(0)
            parsed = ParseResult()
            for item in fmt.stream(handle, str(f)):
                if not isinstance(item, Paper):
                    parsed.problems.append(item)
                elif keep is None or keep(item):
                    parsed.papers.append(item)
                else:
                    result.left_out += 1
            return parsed
    except OSError as exc:
        result.problems.append(Problem(str(f), 0, f"cannot read: {exc.strerror}"))
        return ParseResult()


def distinct_papers(parsed: ParseResult) -> list[Paper]:
    """The entries merged by title; a paper whose id (from an ``id`` field) another paper already
    has is reported in ``parsed.problems`` and skipped."""
    kept: dict[str, Paper] = {}
    for paper in merge(parsed.papers):
        first = kept.setdefault(paper.paper_id, paper)
        if first is not paper:
            source, _, line = paper.sources[0].rpartition(":")
            reason = f"id {paper.paper_id[:60]!r} is already used by {first.title[:60]!r}, skipped"
            parsed.problems.append(Problem(source, int(line) if line.isdigit() else 0, reason))
    return list(kept.values())


_LINE = re.compile(r":\d+$")


def located(papers: list[Paper], roots: Iterable[Path]) -> list[Paper]:
    """The papers with their sources as the index keeps them: each file named relative to the
    folder given (a file given itself: its name), without line numbers. So where a checkout sits
    and where in a page a paper is change nothing in the index: the same corpus from another
    folder, mount or host, or one paper added at the top of a page, rewrites no other paper."""
    folders = [r for r in roots if not r.is_file()]

    def name(source: str) -> str:
        path = Path(_LINE.sub("", source))
        for folder in folders:
            if path.is_relative_to(folder):
                return path.relative_to(folder).as_posix()
        return path.name

    return [replace(p, sources=tuple(dict.fromkeys(name(s) for s in p.sources))) for p in papers]


@contextmanager
def ingest_lock(data_dir: Path, wait: bool = False) -> Iterator[None]:
    """One ingest at a time per data dir. Without ``wait`` a second ingest fails at once, naming the
    process that holds the lock; the kernel releases it when that process ends, even by SIGKILL."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _take(fd, wait, grace_s=LOCK_GRACE_S):
            holder = os.pread(fd, 20, 0).decode(errors="replace").strip() or "?"
            raise IngestError(
                f"another ingest into {data_dir} is running (pid {holder}); wait for it to finish, then run this again"
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


LOCK_GRACE_S = 0.5  # how long a contended lock is retried: longer than any probe holds it


def _take(fd: int, wait: bool, grace_s: float) -> bool:
    """Take the exclusive lock on ``fd``; False when another holder keeps it past ``grace_s``.
    The grace matters: `ingest_running` takes the lock for a moment to probe it, and a real
    ingest that starts in that moment must not fail for it."""
    import fcntl

    deadline = time.monotonic() + grace_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)


def ingest_running(data_dir: Path) -> bool:
    """Whether an ingest holds the lock of ``data_dir`` right now. The probe takes the lock for
    an instant and writes nothing, so the holder's pid stays in the lock file."""
    try:
        fd = os.open(data_dir / LOCK_FILE, os.O_RDWR)
    except OSError:
        return False
    try:
        return not _take(fd, wait=False, grace_s=0)
    finally:
        os.close(fd)


def ingest(
    config: Config,
    paths: Iterable[Path] | None = None,
    rebuild: bool = False,
    progress: bool = False,
    embedder: Embedder | None = None,
    wait: bool = False,
    filters: Filters | None = None,
    prune: bool = False,
) -> IngestReport:
    """Add the papers of the sources to the store and update the ones it has; return what changed.
    Papers the sources do not hold stay, unless ``prune`` (or ``rebuild``, which builds the index
    from these sources alone) removes them. Only one ingest runs at a time per data dir: with
    ``wait`` this one waits for a running one, else it fails at once.
    With ``filters``, only the entries they accept are kept, as each file is read: a slice of the
    arXiv snapshot ("cs.CL since 2024") costs the memory and the embedding of the slice."""
    started = time.perf_counter()
    roots = list(paths) if paths else config.ingest_sources
    parsed, n_files = read_sources(roots, filters.accepts if filters else None)
    papers = located(distinct_papers(parsed), roots)
    report = IngestReport(
        files=n_files, entries=len(parsed.papers), papers=len(papers), left_out=parsed.left_out, skipped=parsed.problems
    )
    if not papers and parsed.left_out:
        raise IngestError(
            f"none of the {parsed.left_out} papers in the {n_files} source files matches the filters; "
            "the store was left unchanged"
        )
    if not papers:
        raise IngestError(
            f"no papers found in the {n_files} source files ({len(parsed.problems)} problems); "
            "the store was left unchanged" + (f"; first problem: {parsed.problems[0]}" if parsed.problems else "")
        )
    with ingest_lock(config.data_dir, wait):
        _write(config, papers, report, rebuild, progress, embedder, prune or rebuild)
    report.seconds = time.perf_counter() - started
    return report


def clock() -> float:
    """Now, in seconds since the epoch: the time an ingest records on the papers it adds (tests set it)."""
    return time.time()


def _write(
    config: Config,
    papers: list[Paper],
    report: IngestReport,
    rebuild: bool,
    progress: bool,
    embedder: Embedder | None,
    prune: bool,
) -> None:
    store = Store.rebuilt(config) if rebuild else Store(config)  # a rebuild writes beside the live index
    store.check_signature()
    store.drop_stale()  # collections of a killed rebuild, or replaced by one a while ago
    existing = store.paper_hashes()
    store.sweep_orphans(existing)  # chunks left by an interrupted ingest
    to_embed = [p for p in papers if existing.get(p.paper_id, ("",))[0] != p.text_hash]
    meta_only = [
        p
        for p in papers
        if p.paper_id in existing and existing[p.paper_id][0] == p.text_hash and existing[p.paper_id][1] != meta_hash(p)
    ]
    wanted = {p.paper_id for p in papers}
    others = [pid for pid in existing if pid not in wanted]
    removed = others if prune else []
    report.kept = 0 if prune else len(others)
    report.added = sum(1 for p in to_embed if p.paper_id not in existing)
    report.updated = len(to_embed) - report.added + len(meta_only)
    report.unchanged = len(papers) - len(to_embed) - len(meta_only)
    report.removed = len(removed)

    if to_embed:
        # a paper keeps the time it first entered the index (a rebuild reads it from the index it
        # replaces); one the index never held gets this ingest's time; unknown stays unknown
        now, known = int(clock()), store.added_times(p.paper_id for p in to_embed)
        added = {p.paper_id: known[p.paper_id] if p.paper_id in known else now for p in to_embed}
        report.embedded = _embed_and_write(store, to_embed, embedder or make_embedder(config), config, progress, added)
        store.sweep_orphans()  # the replaced versions' chunks
    store.update_metadata(meta_only)
    store.delete_papers(removed)
    fingerprint = store.fingerprint()  # this ingest holds the lock: no writer changes papers meanwhile
    if to_embed or removed or KeywordIndex.load(config.keyword_dir, fingerprint) is None:
        keyword = KeywordIndex.build(store.load_papers())
        for attempt in range(3):  # a reader that opened the index mid-ingest may be saving its own copy
            try:
                keyword.save(config.keyword_dir, fingerprint)
                break
            except OSError:
                if attempt == 2:
                    raise
                time.sleep(0.2)
    if to_embed or meta_only or removed:
        store.new_generation()  # running readers see it and reopen (Assistant.refresh_seconds)
    store.publish()  # a rebuild's collections replace the live ones only now, complete


def _embed_and_write(
    store: Store, papers: list[Paper], embedder: Embedder, config: Config, progress: bool, added: dict[str, int | None]
) -> int:
    from tqdm import tqdm

    max_tokens = min(config.chunk_tokens, embedder.max_tokens)
    groups = [papers[s : s + GROUP] for s in range(0, len(papers), GROUP)]
    chunked = [[c for p in g for c in chunk_paper(p, embedder.count_tokens, max_tokens)] for g in groups]
    total = sum(len(c) + len(g) for c, g in zip(chunked, groups))
    with tqdm(total=total, desc="embedding", unit="text", disable=not progress, leave=False) as bar:
        for group, chunks in zip(groups, chunked):
            vectors = embedder.embed([c.text for c in chunks] + [p.title for p in group], progress=bar.update)
            store.write(group, chunks, vectors[: len(chunks)], vectors[len(chunks) :], added)
    return total
