"""Property-based fuzzing of the parsers (hypothesis): generated pages, JSON Lines and CSV, and
mutations of the real Daily Papers pages in index/corpus (truncated, binary, invalid UTF-8, empty,
huge fields, missing columns, wrong types). Whatever the input: no crash, every paper well formed
and storable, and every record that is not a paper reported with its file and line.

RELIABILITY_EXAMPLES sets the total number of inputs over all properties (CI: 600; the benchmark,
bench/reliability.py, runs >= 10,000).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.ingest import distinct_papers, read_sources
from index.parse import MAX_FIELD_CHARS, MAX_TITLE_CHARS, _content_lines, _split_metadata, parse_csv, parse_jsonl
from index.records import Paper, ParseResult
from index.store import _paper_metadata, meta_hash
from tests.helpers import REPO

SEEDS = sorted((REPO / "index" / "corpus").glob("*.txt"))
PROPERTIES = 6
TOTAL = int(os.environ.get("RELIABILITY_EXAMPLES", "600"))
EXAMPLES = max(10, math.ceil(TOTAL / PROPERTIES))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
TRIED: dict[str, int] = {}  # inputs each property was run on (read by bench/reliability.py)
LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _tried(name: str) -> None:
    TRIED[name] = TRIED.get(name, 0) + 1


def line_count(text: str) -> int:
    """Lines as an editor numbers them (CR, LF and CRLF end a line)."""
    return len(LINE_BREAK.findall(text)) + (1 if text and text[-1] not in "\r\n" else 0)


def assert_well_formed(result: ParseResult, files: dict[str, str]) -> None:
    """Every problem names one of ``files`` and a line in it; every paper is complete, within the
    limits and storable in Chroma as it is."""
    for problem in result.problems:
        assert problem.source in files, problem
        assert 0 <= problem.line <= max(1, line_count(files[problem.source]) + 1), problem
        assert problem.reason.strip() and len(problem.reason) < 1000
    for paper in result.papers:
        for where in paper.sources:
            name, _, line = where.rpartition(":")
            assert name in files and 1 <= int(line) <= line_count(files[name]), where
        assert paper.paper_id and paper.title.strip() and paper.abstract.strip()
        assert len(paper.title) <= MAX_TITLE_CHARS and len(paper.abstract) <= MAX_FIELD_CHARS
        assert_storable(paper)


def assert_storable(paper: Paper) -> None:
    for value in (paper.paper_id, paper.title, paper.abstract, *_paper_metadata(paper, meta_hash(paper), 1).values()):
        if isinstance(value, str):
            value.encode("utf-8")  # Chroma rejects lone surrogates
        else:
            assert isinstance(value, (int, float)) and not isinstance(value, bool)
            assert -(2**63) <= value < 2**63
    for count in (paper.authors, paper.upvotes):
        assert count is None or 0 <= count < 2**31


def assert_unique_ids(result: ParseResult) -> None:
    papers = distinct_papers(ParseResult(list(result.papers), list(result.problems)))
    assert len({p.paper_id for p in papers}) == len(papers)


# Strategies ---------------------------------------------------------------------------------

LEAD_WORDS = ["Learning", "Towards", "Scaling", "Deep", "Neural", "Robust", "Efficient", "On", "Why", "Self"]
ALPHABET = st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00")
WORD = st.text(ALPHABET, min_size=1, max_size=10).map(lambda w: "".join(w.split()) or "x")
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)


@st.composite
def titles(draw) -> str:
    words = draw(st.lists(WORD, min_size=0, max_size=12))
    return " ".join([draw(st.sampled_from(LEAD_WORDS)), *words])[:MAX_TITLE_CHARS].strip()


@st.composite
def abstracts(draw) -> str:
    words = draw(st.lists(WORD, min_size=6, max_size=120))
    return "We " + " ".join(words) + " and the results follow from the analysis."


@st.composite
def metadata(draw) -> tuple[list[str], dict]:
    """A metadata block's lines and the fields the parser should read from it."""
    month = draw(st.sampled_from("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()))
    day, year = draw(st.integers(1, 28)), draw(st.one_of(st.none(), st.integers(1990, 2030)))
    upvotes = draw(st.one_of(st.none(), st.integers(0, 999)))
    date = f"{month} {day}" + (f", {year}" if year else "") + (f" {upvotes}" if upvotes is not None else "")
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    fields: dict = {"date_text": f"{month} {day}" + (f", {year}" if year else ""), "upvotes": upvotes,
                    "date": f"{year:04d}-{months.index(month) + 1:02d}-{day:02d}" if year else None}  # fmt: skip
    if draw(st.booleans()):
        n = draw(st.integers(1, 500))
        owner = f"  • {n} author{'s' if n != 1 else ''}"
        fields["authors"] = n
    else:
        handle = draw(WORD.filter(lambda w: not w.lstrip("• ")[:1].isdigit() and w.strip("•·")))
        name = " ".join(draw(st.lists(WORD, min_size=1, max_size=4)))
        owner = f"{handle} {name}"
        fields["organization"] = name
    return [owner, "·", date], fields


@st.composite
def pages(draw) -> tuple[str, list[tuple[str, str, dict]]]:
    """A page in one of the three Daily Papers layouts, and the papers on it."""
    layout = draw(st.sampled_from(["blocks", "metadata", "compact"]))
    entries = []
    for title in draw(st.lists(titles(), min_size=1, max_size=8)):
        meta_lines, fields = draw(metadata()) if layout == "metadata" else ([], {})
        entries.append((title, draw(abstracts()), fields, meta_lines))
    if layout == "compact":
        lines = ["Get trending papers in your email inbox once a day!", "Get trending papers in your email inbox!"]
        for i, (title, abstract, _, _) in enumerate(entries):
            lines += [("Subscribe" + title) if i == 0 else title, abstract]
        text = "\n".join(lines) + "\n"
    else:
        blocks = ["new", "Get trending papers in your email inbox!", "Subscribe", "Daily Papers",
                  "byAK and the research community", "Sep 3"]  # fmt: skip
        for title, abstract, _, meta_lines in entries:
            blocks += [title, abstract] + (["\n".join(meta_lines)] if meta_lines else [])
        text = "\n\n".join(blocks) + "\n"
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    return text, [(t, a, f) for t, a, f, _ in entries]


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """``data`` with a few random mutations: truncation, deleted/duplicated/swapped lines, inserted
    text, bytes (invalid UTF-8, NUL, controls), a huge line, other line endings."""
    lines = data.split(b"\n")
    start = draw(st.integers(0, max(0, len(lines) - 1)))
    lines = lines[start : start + draw(st.integers(1, 120))]
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["truncate", "delete", "duplicate", "swap", "text", "bytes", "huge", "endings"]))
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        if op == "truncate":
            joined = b"\n".join(lines)
            lines = joined[: draw(st.integers(0, len(joined)))].split(b"\n")
        elif op == "delete":
            del lines[i : i + draw(st.integers(1, 5))]
        elif op == "duplicate":
            lines[i:i] = lines[i : i + draw(st.integers(1, 5))]
        elif op == "swap" and lines:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "text":
            lines.insert(i, draw(ANY_TEXT).encode("utf-8"))
        elif op == "bytes" and lines:
            line = lines[i]
            at = draw(st.integers(0, len(line)))
            lines[i] = line[:at] + draw(st.binary(min_size=1, max_size=16)) + line[at:]
        elif op == "huge":
            lines.insert(i, draw(st.sampled_from([b"w ", b"x", "\u00e9\u6f22 ".encode()])) * draw(
                st.sampled_from([500, 20_000, 120_000])))  # fmt: skip
        elif op == "endings":
            lines = [b"\r\n".join(lines)] if draw(st.booleans()) else [b"\r".join(lines)]
    return b"\n".join(lines)


JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), ANY_TEXT)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                  st.dictionaries(ANY_TEXT, inner, max_size=3)),
                           max_leaves=6)  # fmt: skip
ODD_TEXT = st.one_of(
    ANY_TEXT,
    st.sampled_from(["", "   ", "\u2028", "line\u2028separator", "nel\u0085char", "form\x0cfeed", "\ud800bad", "0"]),
    st.sampled_from([120_000, 401]).map(lambda n: "y" * n),
)


@st.composite
def records(draw) -> tuple[dict | list | str, bool]:
    """A JSON record, and whether it is certainly a valid paper."""
    if draw(st.booleans()):
        record: dict = {"title": draw(titles()), "abstract": draw(abstracts())}
        for name in draw(st.sets(st.sampled_from(["authors", "date", "organization", "url", "id", "upvotes"]))):
            record[name] = draw({"authors": st.one_of(st.integers(0, 100), st.lists(WORD, max_size=5)),
                                 "date": st.sampled_from(["2024-02-03", "Oct 1, 2025", "Mar 3", "2024-13-45"]),
                                 "upvotes": st.integers(0, 10_000)}.get(name, WORD))  # fmt: skip
        return record, True
    fields = draw(st.dictionaries(st.sampled_from(["title", "abstract", "authors", "date", "organization", "url",
                                                   "id", "upvotes", "extra"]),
                                  st.one_of(JSON_VALUES, ODD_TEXT), max_size=8))  # fmt: skip
    return draw(st.one_of(st.just(fields), JSON_VALUES)), False


def _in_tmp(files: dict[str, bytes]) -> tuple[ParseResult, dict[str, str]]:
    """Write ``files`` to a fresh folder and read it with the product's read_sources."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        parsed, _ = read_sources([folder])
        texts = {str(folder / n): d.decode("utf-8", errors="replace").removeprefix("\ufeff") for n, d in files.items()}
    return parsed, texts


def _by_line(result: ParseResult) -> dict[int, list[str]]:
    """What became of each line: "paper", or the reason it was skipped (warnings left out)."""
    seen: dict[int, list[str]] = {}
    for paper in result.papers:
        for where in paper.sources:
            seen.setdefault(int(where.rpartition(":")[2]), []).append("paper")
    for problem in result.problems:
        if problem.reason != "invalid UTF-8 bytes replaced":
            seen.setdefault(problem.line, []).append(problem.reason)
    return seen


# Properties ---------------------------------------------------------------------------------


@FUZZ
@given(page=pages())
def test_generated_pages_parse_back_exactly(page):
    _tried("generated pages")
    text, expected = page
    parsed, texts = _in_tmp({"page.txt": text.encode("utf-8")})
    assert parsed.problems == []
    got = [(p.title, p.abstract) for p in parsed.papers]
    assert got == [(t, a) for t, a, _ in expected]
    for paper, (_, _, fields) in zip(parsed.papers, expected):
        assert {k: getattr(paper, k) for k in fields} == fields
    assert_well_formed(parsed, texts)


@FUZZ
@given(data=st.data())
def test_mutated_real_pages_never_crash_and_every_paragraph_is_accounted_for(data):
    _tried("mutated real pages")
    seed = data.draw(st.sampled_from(SEEDS))
    page = data.draw(mutated(seed.read_bytes()))
    parsed, texts = _in_tmp({"page.md": page})
    assert_well_formed(parsed, texts)
    assert_unique_ids(parsed)
    (name, text), = texts.items()  # fmt: skip
    if any(p.line == 0 for p in parsed.problems):  # binary or empty: the whole file is reported
        assert parsed.papers == []
        return
    # every paragraph that is not page chrome or a metadata block is a title, an abstract or reported
    text_lines = [number for number, _ in _split_metadata(_content_lines(text))[0]]
    reported = {p.line for p in parsed.problems}
    titles = {int(s.rpartition(":")[2]) for p in parsed.papers for s in p.sources}
    titles |= {p.line for p in parsed.problems if p.reason.startswith("abstract longer")}  # skipped with its abstract
    abstracts = {text_lines[text_lines.index(t) + 1] for t in titles}
    assert set(text_lines) <= titles | abstracts | reported


@FUZZ
@given(lines=st.lists(st.one_of(records(), st.sampled_from([("", False), ("   ", False), ("{not json", False)])),
                      min_size=1, max_size=12),
       ascii_only=st.booleans(), crlf=st.booleans())  # fmt: skip
def test_every_jsonl_line_is_a_paper_or_a_reported_problem(lines, ascii_only, crlf):
    _tried("generated JSON Lines")
    rendered = [r if isinstance(r, str) and r in ("", "   ", "{not json") else json.dumps(r, ensure_ascii=ascii_only)
                for r, _ in lines]  # fmt: skip
    text = ("\r\n" if crlf else "\n").join(rendered) + "\n"
    parsed, texts = _in_tmp({"papers.jsonl": text.encode("utf-8", errors="surrogatepass")})
    assert_well_formed(parsed, texts)
    assert_unique_ids(parsed)
    seen = _by_line(parsed)
    for number, ((record, valid), line) in enumerate(zip(lines, rendered), 1):
        if not line.strip():
            assert number not in seen
            continue
        assert len(seen.get(number, [])) == 1, (number, line[:200], seen.get(number))
        if valid:
            assert seen[number] == ["paper"], (line[:200], seen[number])
            paper = next(p for p in parsed.papers if p.sources[0].endswith(f":{number}"))
            assert (paper.title, paper.abstract) == (" ".join(record["title"].split()), record["abstract"])


CSV_COLUMNS = ["title", "abstract", "authors", "date", "organization", "url", "id", "upvotes", "notes"]
CSV_VALUE = st.one_of(ANY_TEXT.map(lambda t: t.replace("\x00", "")), titles(), abstracts(),
                      st.sampled_from(["", "3", "Oct 1, 2025", "multi\nline", "with, comma", 'a "quote"', "cr\ronly",
                                       "z" * 120_000]))  # fmt: skip


@FUZZ
@given(header=st.lists(st.sampled_from(CSV_COLUMNS), min_size=1, max_size=6, unique=True),
       rows=st.lists(st.tuples(st.lists(CSV_VALUE, max_size=8), st.integers(0, 2)), max_size=10),
       terminator=st.sampled_from(["\r\n", "\n"]))  # fmt: skip
def test_every_csv_row_is_a_paper_or_a_reported_problem(header, rows, terminator):
    _tried("generated CSV")
    out = io.StringIO(newline="")
    lone_cr = any("\r" in v for values, _ in rows for v in values)  # quoted only if it ends lines...
    quoting = csv.QUOTE_ALL if lone_cr and terminator == "\n" else csv.QUOTE_MINIMAL  # ...else split the row
    writer = csv.writer(out, lineterminator=terminator, quoting=quoting)
    writer.writerow(header)
    starts = []
    for values, blank_lines in rows:
        out.write(terminator * blank_lines)
        starts.append(len(LINE_BREAK.findall(out.getvalue())) + 1)
        writer.writerow(values or [""])
    text = out.getvalue()
    result = parse_csv(text, "t.csv")
    assert_well_formed(result, {"t.csv": text})
    if not {"title", "abstract"} <= set(header):
        assert [(p.line, "CSV header lacks" in p.reason) for p in result.problems] == [(1, True)]
        assert result.papers == []
        return
    seen = _by_line(result)
    assert sorted(seen) == starts and all(len(v) == 1 for v in seen.values()), (starts, seen)


@FUZZ
@given(data=st.data(), kind=st.sampled_from(["jsonl", "csv"]))
def test_mutated_jsonl_and_csv_files_never_crash(data, kind):
    _tried("mutated JSON Lines and CSV")
    records_ = [{"title": data.draw(titles()), "abstract": data.draw(abstracts()), "authors": 3, "date": "2024-01-02"}
                for _ in range(data.draw(st.integers(0, 8)))]  # fmt: skip
    if kind == "jsonl":
        clean = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records_)
    else:
        out = io.StringIO(newline="")
        writer = csv.DictWriter(out, fieldnames=["title", "abstract", "authors", "date"])
        writer.writeheader()
        writer.writerows(records_)
        clean = out.getvalue()
    parsed, texts = _in_tmp({f"f.{kind}": data.draw(mutated(clean.encode("utf-8")))})
    assert_well_formed(parsed, texts)
    assert_unique_ids(parsed)
    assert parsed.papers or parsed.problems, "a file that gives nothing is reported"


@FUZZ
@given(files=st.dictionaries(
    st.sampled_from(["a.txt", "b.md", "c.jsonl", "d.ndjson", "e.csv", "f.bin", "g.pdf", "noext"]),
    st.one_of(st.binary(max_size=3000), st.just(b""), st.just(b"\xef\xbb\xbf"), st.just(b"\x00" * 10),
              ANY_TEXT.map(lambda t: t.encode("utf-8"))), min_size=1, max_size=5))  # fmt: skip
def test_any_bytes_in_a_folder_are_read_or_reported_per_file(files):
    _tried("arbitrary files")
    parsed, texts = _in_tmp(files)
    for problem in parsed.problems:
        assert problem.source in texts and problem.reason
    for paper in parsed.papers:
        assert_storable(paper)
    assert_unique_ids(parsed)
    for path in texts:
        reported = any(p.source == path for p in parsed.problems)
        assert reported or any(s.startswith(path + ":") for p in parsed.papers for s in p.sources), path


# Fixed cases the fuzzing found --------------------------------------------------------------


def test_found_cases():
    """Inputs that crashed or were misread before the fixes of issue 8."""
    jsonl = "\n".join([
        json.dumps({"title": "深度学习的持续学习研究", "abstract": "我们" * 30}, ensure_ascii=False),
        json.dumps({"title": "强化学习中的技能迁移", "abstract": "他们" * 30}, ensure_ascii=False),
        json.dumps({"title": "Line\u2028separated title", "abstract": "w " * 30}, ensure_ascii=False),
        '{"title": "Lone \\ud800 surrogate", "abstract": "' + "v " * 30 + '"}',
        json.dumps({"title": "Huge counts", "abstract": "u " * 30, "authors": 10**30, "upvotes": -3}),
        json.dumps({"title": "Same id one", "abstract": "t " * 30, "id": "dup"}),
        json.dumps({"title": "Same id two", "abstract": "s " * 30, "id": "dup"}),
        json.dumps({"title": "Bad ISO date", "abstract": "r " * 30, "date": "2024-13-45"}),
    ])  # fmt: skip
    result = parse_jsonl(jsonl, "f.jsonl")
    papers = distinct_papers(result)
    assert len({p.paper_id for p in papers}) == len(papers) == 6  # two Chinese titles are two papers
    assert [p.line for p in result.problems] == [4, 7]
    assert "surrogate" in result.problems[0].reason and "already used" in result.problems[1].reason
    counts = next(p for p in papers if p.title == "Huge counts")
    assert (counts.authors, counts.upvotes) == (None, None)
    assert next(p for p in papers if p.title == "Bad ISO date").date is None
    blank_lines = parse_csv('title,abstract\n\n\nA,"' + "q " * 30 + '"\n\nB,\n', "f.csv")
    assert [p.sources for p in blank_lines.papers] == [("f.csv:4",)] and blank_lines.problems[0].line == 6
    page = parse_csv("\ufefftitle,abstract\n", "bom.csv")
    assert page.problems  # a BOM in parse_csv's own input is no header name...
    with tempfile.TemporaryDirectory() as tmp:  # ...but files are read without it
        (Path(tmp) / "excel.csv").write_bytes(b'\xef\xbb\xbftitle,abstract\nA,"' + b"p " * 30 + b'"\n')
        (Path(tmp) / "empty.jsonl").write_bytes(b"")
        parsed, _ = read_sources([Path(tmp)])
    assert [p.title for p in parsed.papers] == ["A"]
    assert [p.reason for p in parsed.problems] == ["empty file"]
