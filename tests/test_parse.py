"""The parsers: every page layout, JSON Lines, CSV, dedupe, and broken input."""

from __future__ import annotations

import json
from pathlib import Path

from index.ingest import read_sources
from index.parse import parse_csv, parse_date, parse_jsonl, parse_page, parse_source
from index.records import merge, paper_id_for

REPO = Path(__file__).resolve().parent.parent
ABSTRACT = "We propose a method that learns new skills without forgetting old ones, and it works well."

LAYOUT_BLOCKS = f"""new

Get trending papers in your email inbox!

Subscribe

Daily Papers

byAK and the research community

Sep 3

First Paper Title

{ABSTRACT}

Second Paper: A Study

{ABSTRACT} Second.
"""

LAYOUT_METADATA = f"""Daily Papers

Dec 1

Skill Paper One

{ABSTRACT}

  • 8 authors
·
Mar 19 2

Org Paper Two

{ABSTRACT}

ByteDance-Seed ByteDance Seed
·
Dec 23, 2025 3

Dated Paper Three

{ABSTRACT}

  • 2 authors
·
Apr 30, 2021
"""

LAYOUT_COMPACT = f"""Get trending papers in your email inbox once a day!
Get trending papers in your email inbox!
SubscribeTowards Understanding Grokking
{ABSTRACT}
Memory Networks
{ABSTRACT} Memory.
"""


def test_layout_blocks():
    result = parse_page(LAYOUT_BLOCKS, "p.txt")
    assert [p.title for p in result.papers] == ["First Paper Title", "Second Paper: A Study"]
    assert result.papers[1].abstract.endswith("Second.")
    assert result.problems == []
    assert result.papers[0].sources == ("p.txt:13",)


def test_layout_metadata_blocks():
    papers = parse_page(LAYOUT_METADATA, "p.txt").papers
    assert [p.title for p in papers] == ["Skill Paper One", "Org Paper Two", "Dated Paper Three"]
    one, two, three = papers
    assert (one.authors, one.date_text, one.date, one.upvotes) == (8, "Mar 19", None, 2)
    assert (two.organization, two.authors, two.date, two.upvotes) == ("ByteDance Seed", None, "2025-12-23", 3)
    assert (three.authors, three.date_text, three.date, three.upvotes) == (2, "Apr 30, 2021", "2021-04-30", None)


def test_layout_compact_with_glued_header():
    papers = parse_page(LAYOUT_COMPACT, "p.txt").papers
    assert [p.title for p in papers] == ["Towards Understanding Grokking", "Memory Networks"]
    assert papers[1].abstract.endswith("Memory.")


def test_bundled_corpus_has_525_entries_and_426_papers():
    parsed, files = read_sources([REPO / "index" / "corpus"])
    assert files == 5
    assert parsed.problems == []
    assert len(parsed.papers) == 525
    assert len(merge(parsed.papers)) == 426


def test_dedupe_keeps_longest_abstract_and_merges_metadata():
    short = parse_page(f"Same Title\n\n{ABSTRACT[:50]}\n", "a.txt").papers
    full = parse_page(f"same title!\n\n{ABSTRACT}\n\n  • 3 authors\n·\nJun 5, 2023 7\n", "b.txt").papers
    (merged,) = merge(short + full)
    assert merged.abstract == ABSTRACT
    assert merged.title == "Same Title"
    assert (merged.authors, merged.date, merged.upvotes) == (3, "2023-06-05", 7)
    assert merged.sources == ("a.txt:1", "b.txt:1")
    assert merged.paper_id == paper_id_for("SAME TITLE")


def test_title_without_abstract_is_reported_with_line():
    result = parse_page(f"Good Title\n\n{ABSTRACT}\n\nOrphan Title\n", "x.txt")
    assert [p.title for p in result.papers] == ["Good Title"]
    assert [(p.source, p.line) for p in result.problems] == [("x.txt", 5)]
    assert "without an abstract" in result.problems[0].reason


def test_short_abstract_is_skipped_and_parsing_resyncs():
    text = f"Broken Title\n\ntoo short\n\nGood Title\n\n{ABSTRACT}\n"
    result = parse_page(text, "x.txt")
    assert "Good Title" in [p.title for p in result.papers]
    assert result.problems and result.problems[0].line == 1


def test_jsonl_good_and_bad_lines():
    text = "\n".join(
        [
            json.dumps(
                {"title": "A", "abstract": ABSTRACT, "authors": ["x", "y"], "date": "2024-02-03", "url": "http://a"}
            ),
            "{not json",
            '{"title": "B"}',
            '["a list"]',
            '{"title": "C", "abstract": {"nested": 1}}',
            json.dumps({"title": "D", "abstract": ABSTRACT, "id": "paper-d", "authors": 5}),
        ]
    )
    result = parse_jsonl(text, "f.jsonl")
    assert [(p.title, p.authors, p.date) for p in result.papers] == [("A", 2, "2024-02-03"), ("D", 5, None)]
    assert result.papers[1].paper_id == "paper-d"
    assert result.papers[0].url == "http://a"
    assert [p.line for p in result.problems] == [2, 3, 4, 5]
    assert "not valid JSON" in result.problems[0].reason
    assert "'abstract'" in result.problems[1].reason


def test_csv_rows_and_missing_columns():
    text = f'title,abstract,authors,date\nA,"{ABSTRACT}",3,"Oct 1, 2025"\nB,,2,\nC,"{ABSTRACT}",,\n'
    result = parse_csv(text, "f.csv")
    assert [(p.title, p.authors, p.date) for p in result.papers] == [("A", 3, "2025-10-01"), ("C", None, None)]
    assert [(p.line, "abstract" in p.reason) for p in result.problems] == [(3, True)]
    missing = parse_csv("name,text\nx,y\n", "g.csv")
    assert missing.papers == [] and "lacks abstract, title" in missing.problems[0].reason


def test_parse_source_dispatches_by_suffix():
    assert parse_source("a.JSONL", json.dumps({"title": "T", "abstract": ABSTRACT})).papers[0].title == "T"
    assert parse_source("a.csv", f'title,abstract\nT,"{ABSTRACT}"\n').papers[0].title == "T"
    assert parse_source("a.txt", f"T\n\n{ABSTRACT}\n").papers[0].title == "T"


def test_dates():
    assert parse_date("Oct 1, 2025") == ("2025-10-01", None)
    assert parse_date("Sep 17, 2024 7") == ("2024-09-17", 7)
    assert parse_date("Mar 19 2") == (None, 2)
    assert parse_date("Feb 30, 2024") == (None, None)
    assert parse_date("yesterday") == (None, None)


def test_read_sources_reports_binary_and_unsupported_files(tmp_path):
    (tmp_path / "ok.txt").write_text(f"Title\n\n{ABSTRACT}\n")
    (tmp_path / "blob.txt").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / "latin.txt").write_bytes(f"Caf\xe9 Title\n\n{ABSTRACT}\n".encode("latin-1"))
    parsed, files = read_sources([tmp_path, tmp_path / "missing.jsonl"])
    assert sorted(p.title for p in parsed.papers) == ["Caf\ufffd Title", "Title"]
    reasons = {Path(p.source).name: p.reason for p in parsed.problems}
    assert reasons["blob.txt"] == "binary file, skipped"
    assert "unsupported file type .png" in reasons["image.png"]
    assert "invalid UTF-8" in reasons["latin.txt"]
    assert reasons["missing.jsonl"] == "no such file or folder"
