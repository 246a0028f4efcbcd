"""The arXiv metadata snapshot, Kaggle's JSON Lines dump (index/formats/snapshot.py)."""

from __future__ import annotations

import itertools
import json
import shutil

import pytest

import index.ingest
from assistant import Assistant, Config
from index.formats import SNIFF_CHARS, detect, snapshot
from index.ingest import ingest, read_sources
from index.parse import parse_source
from index.records import Paper, paper_id_for
from tests.helpers import REPO, SMALL, assert_citation_invariants

FIXTURES = REPO / "tests" / "fixtures" / "formats"
SNAPSHOT = FIXTURES / "snapshot-arxiv-metadata.json"


def record(i: int) -> dict:
    return {
        "id": f"2405.{i:05d}",
        "submitter": "A. Submitter",
        "authors": "A. One, B. Two and C. Three",
        "title": f"Paper number {i}\n  on streaming",
        "comments": None,
        "journal-ref": None,
        "doi": None,
        "report-no": None,
        "categories": "cs.LG stat.ML",
        "license": None,
        "abstract": f"  Abstract {i} of a paper that is long enough\nto be kept by the snapshot parser.\n",
        "versions": [{"version": "v1", "created": "Wed, 1 May 2024 10:00:00 GMT"}],
        "update_date": "2024-05-02",
    }


def test_fields_versions_and_problems():
    result = parse_source(str(SNAPSHOT), SNAPSHOT.read_text(encoding="utf-8"))
    tidal, ice, tiling, hedgehogs = result.papers
    assert tidal.title == "Tidal Attention: Periodic Memory for Forecasting Coastal Water Levels"
    assert tidal.abstract.startswith("We introduce Tidal Attention") and tidal.abstract.endswith("harmonic analysis.")
    assert (tidal.arxiv_id, tidal.version, tidal.date, tidal.date_text) == ("2401.12345", 1, "2024-01-22", "2024-01-22")
    assert tidal.author_names == ("Maren Oyelaran-Visser", "Tomasz Quillfeather", "Ines Abernathy-Kohl")
    assert tidal.authors == 3
    assert tidal.categories == ("cs.LG", "physics.ao-ph", "stat.ML")
    assert tidal.url == "https://arxiv.org/abs/2401.12345"
    assert (tidal.doi, tidal.venue, tidal.sources) == (None, None, (f"{SNAPSHOT}:1",))
    # LaTeX kept, whitespace normalised; the last version counted, the first one dated
    assert ice.title == "Spectral Signatures of Ice Nucleation on $\\alpha$-Pinene Aerosol in Mixed-Phase Clouds"
    assert (ice.version, ice.date) == (2, "2007-05-16")
    assert ice.author_names == ("J. Vintér", "A. M. Osei-Bonsu", "K. Lindahl")  # authors_parsed, not "Vint\\'er"
    assert (ice.doi, ice.venue) == ("10.1007/s10874-007-9071-2", "J. Atmos. Chem. 58 (2007) 211-229")
    assert ice.categories == ("physics.ao-ph", "physics.chem-ph")
    assert (tiling.arxiv_id, tiling.version, tiling.url) == ("math/0611042", 3, "https://arxiv.org/abs/math/0611042")
    # no authors_parsed: the authors string is split
    assert hedgehogs.author_names == ("Harriet Okonkwo-Bell", "Dmitri Aalto", "Sunniva Reyes", "Tobias Mbeki-Lund")
    assert hedgehogs.sources == (f"{SNAPSHOT}:6",)
    truncated, empty = result.problems
    assert (truncated.line, empty.line) == (4, 5)
    assert truncated.reason.startswith("not valid JSON (")  # orjson's words, or json's without it
    assert empty.reason == "abstract missing or too short in '2312.16999'"
    assert all(p.paper_id == paper_id_for(p.title) for p in result.papers)


def test_fallbacks_and_odd_records():
    base = record(1)
    dated = snapshot.to_paper({**base, "versions": []}, "s:1")
    assert (dated.date, dated.version) == ("2024-05-02", None)  # update_date when no version is dated
    assert snapshot.to_paper({**base, "versions": [{"version": "v7", "created": "garbage"}]}, "s:1").version == 7
    odd = snapshot.to_paper({**base, "authors_parsed": [["Solo"], "x", [1, 2], ["Doe", "J.", "Jr"]]}, "s:1")
    assert odd.author_names == ("Solo", "J. Doe Jr")
    assert snapshot.to_paper({**base, "journal-ref": 5, "categories": ["cs.LG"], "doi": 3}, "s:1").venue is None
    for bad, reason in (
        ({**base, "id": ""}, "missing 'id'"),
        ({**base, "title": "  "}, "missing 'title' in '2405.00001'"),
        ({**base, "title": ["x"]}, "'title' must be text, not list"),
        ({**base, "title": "T" * 401}, "title longer than 400 characters in '2405.00001'"),
        ({**base, "id": "not an id"}, "not an arXiv id: 'not an id'"),
        ([1], "expected an arXiv metadata object, got list"),
    ):
        with pytest.raises(ValueError) as exc:
            snapshot.to_paper(bad, "s:1")
        assert str(exc.value) == reason
    lines = ["[1]\n", "\n", '{"id": "2405.00001", "abstract": "x"}\n', "[" * 5000 + "\n"]
    problems = list(snapshot.stream(lines, "s"))
    assert [(p.line, p.reason.split(" in ")[0]) for p in problems][:2] == [
        (1, "expected an arXiv metadata object, got list"),
        (3, "missing 'title'"),
    ]
    assert problems[2].line == 4 and problems[2].reason.startswith(("not valid JSON (", "JSON nested too deeply"))


def test_squash_is_the_whitespace_normalisation_of_the_other_parsers():
    odd = [chr(c) for c in range(128)] + ["\x85", "\xa0", "\u2028", "\u3000", "é"]
    for c in odd:
        for text in (f"a{c}b", f" {c}{c}a b{c}", f"  x\n{c} y  z\n", f"{c}"):
            assert snapshot.squash(text) == " ".join(text.split()), repr(text)


def test_sniffed_by_content_and_generic_jsonl_left_alone():
    head = SNAPSHOT.read_text(encoding="utf-8")[:SNIFF_CHARS]
    assert detect("arxiv-metadata-oai-snapshot.json", head).name == "snapshot"
    assert detect("dump.txt", head).name == "snapshot"
    assert detect("dump.jsonl", "\n\n" + head).name == "snapshot"
    minimal = {k: record(1)[k] for k in ("id", "abstract", "categories", "update_date")}
    assert snapshot.sniff(json.dumps(minimal))
    generic = "".join(json.dumps(r) + "\n" for r in SMALL)
    assert not snapshot.sniff(generic)
    assert detect("papers.jsonl", generic) is None  # still index.parse's JSON Lines
    assert not snapshot.sniff(json.dumps({"id": "x", "abstract": "y"}))
    assert not snapshot.sniff(json.dumps([record(1)]))
    assert not snapshot.sniff("") and not snapshot.sniff("not json\n")
    for page in sorted((REPO / "index" / "corpus").glob("*.txt")):
        assert not snapshot.sniff(page.read_text(encoding="utf-8")[:SNIFF_CHARS]), page.name


def test_stream_is_lazy_over_an_endless_source():
    pulled = 0

    def endless():
        nonlocal pulled
        for i in itertools.count(1):
            pulled += 1
            yield json.dumps(record(i % 100_000)) + "\n"

    first = list(itertools.islice(snapshot.stream(endless(), "endless"), 1000))
    assert len(first) == 1000 and all(isinstance(p, Paper) for p in first)
    assert pulled == 1000  # one line read per paper, none ahead
    assert first[-1].sources == ("endless:1000",)


def test_large_file_is_read_through_stream(tmp_path, monkeypatch):
    path = tmp_path / "arxiv-metadata-oai-snapshot.json"
    with path.open("w", encoding="utf-8") as f:
        for i in range(1, 2001):
            f.write(json.dumps(record(i)) + "\n")
        f.write("{broken\n")
    seen = []
    real = snapshot.stream

    def spy(lines, source):
        seen.append(type(lines).__name__)
        return real(lines, source)

    monkeypatch.setattr(index.ingest, "STREAM_BYTES", 1024)
    monkeypatch.setattr(index.ingest, "detect", lambda name, head: _spied(detect(name, head), spy))
    parsed, files = read_sources([path])
    assert seen == ["TextIOWrapper"]  # the open file, not its text
    assert (files, len(parsed.papers)) == (1, 2000)
    (problem,) = parsed.problems
    assert (problem.source, problem.line) == (str(path), 2001) and problem.reason.startswith("not valid JSON (")


def _spied(fmt, spy):
    from dataclasses import replace

    return replace(fmt, stream=spy) if fmt is not None and fmt.name == "snapshot" else fmt


@pytest.mark.slow
def test_acceptance_snapshot_ingested_and_answered_with_a_citation(tmp_path, embedder):
    folder = tmp_path / "snapshot"
    folder.mkdir()
    shutil.copy(SNAPSHOT, folder / SNAPSHOT.name)
    config = Config(data_dir=tmp_path / "store")
    report = ingest(config, [folder], embedder=embedder)
    assert report.added == 4 and [p.line for p in report.skipped] == [4, 5]
    answer = Assistant(config).ask("How many hedgehogs did the thermal camera census in London parks count?")
    assert not answer.refused
    assert answer.citations[0].title.startswith("Counting Urban Hedgehogs")
    assert "1,312" in answer.text
    assert_citation_invariants(answer)
