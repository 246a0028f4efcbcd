"""Parsing the arXiv metadata snapshot at scale, and ingesting a slice of it end to end.

    python bench/parse_scale.py [--lines 1000000] [--slice 10000] [--runs 3] [--quick] [--only parse|ingest] [--json]

(a) Writes a synthetic snapshot of ``--lines`` JSON lines (1,000,000) into a temp dir, with the
field sizes of the real Kaggle file (~1 KB abstracts wrapped at ~80 characters with leading
spaces, 1 to 7 authors with ``authors_parsed``, 1 to 3 versions, 1 to 3 categories, a DOI and a
journal-ref on some, LaTeX on some), built from seeded recombinations of the bundled corpus's
sentences and title words. Each run is a fresh process that opens the file as
``index.ingest._streamed`` does (UTF-8, ``newline=""``, ``index.formats.detect`` on the first
64 KiB, then the format's ``stream`` over the open file) and counts the papers without keeping
them, so it measures the parser, not a list of a million papers. Records/s (median of ``--runs``)
and peak RSS (VmHWM) are taken after 100,000 records and at the end: the same peak means constant
memory. One more process reads the first 100,000 lines through ``index.ingest.read_sources``
itself, which does keep every Paper, to show what that costs.

(b) Ingests the first ``--slice`` (10,000) papers, as their own file, into a fresh data dir with
``index.ingest.ingest`` and the real embedder (``index.embed.make_embedder``), in a fresh process,
timing the phases by wrapping the functions ingest calls (nothing in index/ is changed): parse
(``read_sources``), chunk (``chunk_paper``, tokenising included), embed (``Embedder.embed``),
store write (``Store.write``), keyword index (``Store.load_papers`` + ``KeywordIndex.build`` +
``save``) and the rest (merging, hashes, orphan sweeps, publishing).

``--quick``: 100,000 lines, a 1,000-paper slice, one run.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ENV, REPO, bundled_papers

SEED = 15
CHECKPOINT = 100_000
TARGET_RPS = 20_000
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
_DAYS = "Mon Tue Wed Thu Fri Sat Sun".split()
_LATEX = ["$\\alpha$", "$O(n \\log n)$", "$\\mathcal{L}_2$", "$k$", "$10^{-3}$", "\\emph{et al.}", "$\\sim$"]
_FIRST = "Ada Bo Chen Dana Emil Farah Goran Hana Ivo Jun Kofi Lena Mateo Noor Omar Pia Quinn Rui Sara Teo".split()
_LAST = "Abe Berg Costa Dube Eriksen Fuchs Garcia Haddad Ito Jensen Kim Lopez Moreau Nakamura Okafor Petrov".split()
_CATS = "cs.LG cs.CV cs.CL cs.AI stat.ML math.OC physics.optics quant-ph hep-th cond-mat.mtrl-sci eess.SP".split()


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


# The synthetic snapshot -----------------------------------------------------------------------


def write_snapshot(path: Path, lines: int) -> dict[str, Any]:
    """Write ``lines`` snapshot records to ``path``; returns its size and what it took."""
    from index.text import sentences

    started = time.perf_counter()
    rng = random.Random(SEED)
    real = bundled_papers()
    pool = [s for p in real for s in sentences(p.abstract) if 40 <= len(s) <= 400]
    words = sorted({w for p in real for w in p.title.replace(":", "").split() if w.isalpha()})
    try:
        import orjson

        dumps = orjson.dumps
    except ImportError:  # pragma: no cover
        dumps = lambda r: json.dumps(r, separators=(",", ":")).encode()  # noqa: E731
    with path.open("wb") as f:
        for i in range(lines):
            month = 7 * 12 + 3 + i // 90_000  # April 2007 on, 90,000 new-style ids a month
            year = month // 12
            arxiv_id = f"{year:02d}{month % 12 + 1:02d}.{i % 90_000:05d}"
            text: list[str] = []
            while sum(map(len, text)) < 950:
                text.append(rng.choice(pool))
            if i % 4 == 0:
                text.insert(1, f"We bound the error by {rng.choice(_LATEX)} in every case.")
            flat = " ".join(text).split(" ")
            abstract = "  " + " ".join(w + ("\n" if j % 12 == 11 else "") for j, w in enumerate(flat)).replace(
                "\n ", "\n"
            )
            title = " ".join(rng.choice(words) for _ in range(rng.randint(5, 12)))
            if len(title) > 70:
                title = title[:70].rsplit(" ", 1)[0] + "\n  " + title[70:].split(" ", 1)[-1]
            n_authors = rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5, 7))
            people = [(rng.choice(_LAST), rng.choice(_FIRST)) for _ in range(n_authors)]
            names = [f"{first} {last}" for last, first in people]
            authors = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
            n_versions = rng.choice((1, 1, 1, 2, 2, 3))
            versions = [
                {"version": f"v{v + 1}", "created": f"{rng.choice(_DAYS)}, {rng.randint(1, 28)} "
                 f"{rng.choice(_MONTHS)} {2000 + year + v // 2} {rng.randint(0, 23):02d}:14:07 GMT"}
                for v in range(n_versions)
            ]  # fmt: skip
            record = {
                "id": arxiv_id,
                "submitter": names[0],
                "authors": authors,
                "title": title,
                "comments": f"{rng.randint(4, 40)} pages, {rng.randint(1, 12)} figures",
                "journal-ref": f"Phys. Rev. D {rng.randint(60, 110)}, {rng.randint(1000, 99999)} (20{year:02d})"
                if i % 5 == 0
                else None,
                "doi": f"10.1103/PhysRevD.{rng.randint(60, 110)}.{rng.randint(1000, 99999)}" if i % 3 == 0 else None,
                "report-no": None,
                "categories": " ".join(rng.sample(_CATS, rng.randint(1, 3))),
                "license": "http://creativecommons.org/licenses/by/4.0/" if i % 2 else None,
                "abstract": abstract + "\n",
                "versions": versions,
                "update_date": f"20{year:02d}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                "authors_parsed": [[last, first, ""] for last, first in people],
            }
            f.write(dumps(record) + b"\n")
    size = path.stat().st_size
    return {
        "lines": lines,
        "bytes": size,
        "mb": round(size / 1e6, 1),
        "bytes_per_line": size // max(lines, 1),
        "write_s": round(time.perf_counter() - started, 1),
    }


# (a) Streaming parse --------------------------------------------------------------------------


def child_stream(path: Path) -> dict[str, Any]:
    """Parse ``path`` as ingest streams a large file, keeping nothing; rates and peaks at the
    checkpoint and at the end."""
    from index.formats import SNIFF_CHARS, detect
    from index.records import Paper

    started = time.perf_counter()
    papers = problems = 0
    at: dict[str, Any] = {}
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        fmt = detect(str(path), handle.read(SNIFF_CHARS).removeprefix("\ufeff"))
        assert fmt is not None and fmt.name == "snapshot" and fmt.stream is not None, fmt
        handle.seek(0)
        for n, item in enumerate(fmt.stream(handle, str(path)), 1):
            if isinstance(item, Paper):
                papers += 1
            else:
                problems += 1
            if n == CHECKPOINT:
                elapsed = time.perf_counter() - started
                at = {"first_records": n, "first_rps": n / elapsed, "first_peak_rss_mb": _peak_mb()}
    elapsed = time.perf_counter() - started
    n = papers + problems
    return {**at, "records": n, "papers": papers, "problems": problems, "seconds": elapsed,
            "rps": n / elapsed, "peak_rss_mb": _peak_mb()}  # fmt: skip


def child_read_sources(path: Path) -> dict[str, Any]:
    """``index.ingest.read_sources`` itself: streamed (the file is over 64 MiB), every Paper kept."""
    from index.ingest import read_sources

    started = time.perf_counter()
    parsed, _ = read_sources([path])
    elapsed = time.perf_counter() - started
    n = len(parsed.papers) + len(parsed.problems)
    return {"records": n, "seconds": elapsed, "rps": n / elapsed, "peak_rss_mb": _peak_mb()}


# (b) Ingest end to end ------------------------------------------------------------------------


def child_ingest(path: Path, data_dir: Path) -> dict[str, Any]:
    """``index.ingest.ingest`` of ``path`` into a fresh ``data_dir``, its phases timed."""
    import index.ingest as ingest_module
    from index.config import Config
    from index.embed import make_embedder
    from index.keyword import KeywordIndex
    from index.store import Store

    spent: dict[str, float] = {}

    def timed(phase: str, fn):
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[phase] = spent.get(phase, 0.0) + time.perf_counter() - t

        return wrapper

    config = Config(data_dir=data_dir)
    t = time.perf_counter()
    embedder = make_embedder(config)
    embedder.count_tokens(["warm up"])
    embedder.embed(["warm up"])
    load_s = time.perf_counter() - t
    embedder.embed = timed("embed", embedder.embed)
    ingest_module.read_sources = timed("parse", ingest_module.read_sources)
    ingest_module.chunk_paper = timed("chunk", ingest_module.chunk_paper)
    Store.write = timed("store_write", Store.write)
    Store.load_papers = timed("keyword_index", Store.load_papers)
    KeywordIndex.build = classmethod(timed("keyword_index", KeywordIndex.build.__func__))
    KeywordIndex.save = timed("keyword_index", KeywordIndex.save)
    started = time.perf_counter()
    report = ingest_module.ingest(config, [path], embedder=embedder)
    total = time.perf_counter() - started
    spent["other"] = total - sum(spent.values())
    return {
        "papers": report.papers,
        "added": report.added,
        "texts_embedded": report.embedded,
        "skipped": len(report.skipped),
        "seconds": total,
        "papers_per_s": report.papers / total,
        "texts_per_s_embed": report.embedded / spent["embed"] if spent.get("embed") else None,
        "model_load_s": load_s,
        "phases_s": spent,
        "phases_pct": {k: 100 * v / total for k, v in spent.items()},
        "peak_rss_mb": _peak_mb(),
    }


# Driver ---------------------------------------------------------------------------------------


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, env=ENV, cwd=REPO, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"child {args[:2]} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3 if value < 10 else 1)
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--slice", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="100,000 lines, a 1,000-paper slice, one run")
    parser.add_argument("--only", choices=("parse", "ingest"), help="run only part (a) or part (b)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", choices=("stream", "read_sources", "ingest"), help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "stream":
        print(json.dumps(child_stream(args.path)))
        return
    if args.child == "read_sources":
        print(json.dumps(child_read_sources(args.path)))
        return
    if args.child == "ingest":
        print(json.dumps(child_ingest(args.path, args.dir)))
        return
    if args.quick:
        args.lines, args.slice, args.runs = 100_000, 1_000, 1
    with tempfile.TemporaryDirectory(prefix="parse-scale-") as tmp:
        result = run(Path(tmp), args)
    if args.json:
        print(json.dumps(_round(result), indent=2))
    else:
        report(result)


def _say(what: str) -> None:
    print(what, file=sys.stderr, flush=True)


def _head(path: Path, out: Path, lines: int) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with path.open("rb") as src, out.open("wb") as dst:
        for n, line in enumerate(src):
            if n == lines:
                break
            dst.write(line)
    return out


def run(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    path = folder / "arxiv-metadata-oai-snapshot.json"
    written = write_snapshot(path, args.slice if args.only == "ingest" else args.lines)
    _say(f"wrote {written['lines']:,} lines, {written['mb']:,} MB, in {written['write_s']} s")
    result: dict[str, Any] = {"file": written}
    if args.only in (None, "parse"):
        runs = []
        for i in range(args.runs):
            runs.append(_child("--child", "stream", "--path", str(path)))
            _say(f"stream run {i + 1}/{args.runs}: {json.dumps(_round(runs[-1]))}")
        result["stream"] = {
            "rps_median": statistics.median(r["rps"] for r in runs),
            "rps_at_100k_median": statistics.median(r.get("first_rps", r["rps"]) for r in runs),
            "peak_rss_mb_at_100k": max(r.get("first_peak_rss_mb", r["peak_rss_mb"]) for r in runs),
            "peak_rss_mb_at_end": max(r["peak_rss_mb"] for r in runs),
            "records": runs[0]["records"],
            "target_rps": f">= {TARGET_RPS:,}",
            "runs": runs,
        }
        head = _head(path, folder / "first-100k.json", CHECKPOINT)
        kept = _child("--child", "read_sources", "--path", str(head))
        _say(f"read_sources, first {kept['records']:,} lines: {json.dumps(_round(kept))}")
        result["read_sources_keeping_papers"] = kept
    if args.only in (None, "ingest"):
        part = _head(path, folder / "slice" / "arxiv-slice.json", args.slice)
        _say(f"ingesting {args.slice:,} papers ...")
        result["ingest"] = _child("--child", "ingest", "--path", str(part.parent), "--dir", str(folder / "store"))
        _say(f"ingest: {json.dumps(_round(result['ingest']))}")
    return result


def report(result: dict[str, Any]) -> None:
    written = result["file"]
    print(
        f"snapshot file: {written['lines']:,} lines, {written['mb']:,} MB ({written['bytes_per_line']:,} bytes a line)"
    )
    if "stream" in result:
        s, kept = result["stream"], result["read_sources_keeping_papers"]
        print(
            f"stream parse: {s['rps_median']:,.0f} records/s (median of {len(s['runs'])}; "
            f"{s['rps_at_100k_median']:,.0f} over the first 100k), target {s['target_rps']}; "
            f"peak RSS {s['peak_rss_mb_at_100k']:.0f} MB at {min(CHECKPOINT, s['records']):,}, "
            f"{s['peak_rss_mb_at_end']:.0f} MB at {s['records']:,}"
        )
        print(
            f"read_sources over {kept['records']:,} lines (keeps every Paper): {kept['rps']:,.0f} records/s, "
            f"peak RSS {kept['peak_rss_mb']:.0f} MB"
        )
    if "ingest" in result:
        g = result["ingest"]
        phases = ", ".join(f"{k} {v:.1f} s ({g['phases_pct'][k]:.0f}%)" for k, v in g["phases_s"].items())
        print(
            f"ingest {g['papers']:,} papers: {g['seconds']:.1f} s, {g['papers_per_s']:.1f} papers/s "
            f"({g['texts_embedded']:,} texts embedded; model load {g['model_load_s']:.1f} s, not counted); {phases}; "
            f"peak RSS {g['peak_rss_mb']:.0f} MB"
        )


if __name__ == "__main__":
    main()
