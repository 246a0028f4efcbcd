"""RIS files (index.formats.ris): tags mapped, records cut out at their TY line, broken records
reported, detection by content, and a RIS export ingested and answered from."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant import Assistant, Config
from index.formats import SNIFF_CHARS, detect
from index.formats.ris import parse, sniff
from index.ingest import ingest, read_sources
from index.parse import MAX_FIELD_CHARS, MAX_TITLE_CHARS, parse_page, parse_source
from index.records import paper_id_for
from tests.helpers import REPO, assert_citation_invariants

LIBRARY = REPO / "tests" / "fixtures" / "formats" / "library.ris"
CORPUS = sorted((REPO / "index" / "corpus").glob("*.txt"))
ABSTRACT = "AB  - An abstract long enough to count as one, about nothing in particular at all."


@pytest.fixture(scope="module")
def library():
    result = parse(LIBRARY.read_text(encoding="utf-8"), "library.ris")
    return result, {p.title.split(" ")[0]: p for p in result.papers}


def _record(*lines: str, kind: str = "JOUR") -> str:
    return "\n".join([f"TY  - {kind}", *lines, "ER  - ", ""])


def test_the_file_gives_three_papers_and_three_problems(library):
    result, _ = library
    assert [p.sources for p in result.papers] == [("library.ris:1",), ("library.ris:21",), ("library.ris:34",)]
    assert [(p.line, p.reason) for p in result.problems] == [
        (47, "record 'A Field Guide to Peat Bogs' has no abstract (AB), skipped"),
        (53, "text outside a RIS record (TY ... ER), ignored"),
        (55, "record has no ER line (a truncated file?), skipped"),
    ]


def test_journal_record(library):
    _, papers = library
    soil = papers["Mycelial"]
    assert soil.title == "Mycelial Networks as Living Sensors for Soil Moisture"
    assert soil.paper_id == paper_id_for(soil.title)
    assert soil.author_names == ("Ilse Haverkamp", "Thandiwe Mbeki", "Nils Østergaard")  # "Last, First"
    assert soil.authors == 3
    assert (soil.date, soil.date_text) == ("2022-11-14", "Nov 14, 2022")  # DA, more precise than PY
    assert soil.doi == "10.5555/scl.2022.118"
    assert soil.url == "https://doi.org/10.5555/scl.2022.118"
    assert soil.venue == "Soil Computing Letters"
    # the abstract's continuation lines are joined, whitespace normalised
    assert "We grow mycelium through a bed wired with 64 electrodes and decode" in soil.abstract
    assert soil.abstract.endswith("over a 14-week field trial.")
    assert (soil.arxiv_id, soil.version) == (None, None)


def test_conference_record(library):
    _, papers = library
    drone = papers["Whisker-Inspired"]
    assert drone.venue == "Proceedings of the International Conference on Aerial Robotics"
    assert (drone.date, drone.date_text) == ("2023-01-01", "2023")
    assert drone.author_names == ("Lucía Castellanos", "Jonas Brandt")
    assert drone.doi is None and drone.url is None


def test_arxiv_record(library):
    _, papers = library
    sign = papers["Sparse"]
    assert (sign.arxiv_id, sign.version) == ("2405.06789", 3)
    assert sign.url == "http://arxiv.org/abs/2405.06789v3"
    assert sign.doi == "10.48550/arxiv.2405.06789"
    assert sign.venue is None


def test_tags_of_single_records():
    text = "".join(
        [
            _record("T1  - One", "N2  - " + "word " * 10, "A1  - Doe, Jane, Jr.", "A1  - Plato", "Y1  - 2020///"),
            _record("TI  - Two", ABSTRACT, "PY  - 2021/07", "JF  - Full Journal", "JO  - Abbr. J."),
            _record("TI  - Three", ABSTRACT, "BT  - A Book of Chapters", "DA  - 2019/02/31/", kind="CHAP"),
            _record("TI  - Four", ABSTRACT, "UR  - https://arxiv.org/pdf/2301.00001v2.pdf; https://x.org/y"),
            _record("TI  - Five", ABSTRACT, "T2  - arXiv preprint arXiv:2302.00002", "DO  - doi:10.1000/ABC"),
            _record("TI  - Six", ABSTRACT, "PY  - circa 2020", "UR  - not a url", "KW  - ignored"),
        ]
    )
    papers = {p.title: p for p in parse(text, "t.ris").papers}
    one = papers["One"]
    assert (one.author_names, one.authors) == (("Jane Doe Jr.", "Plato"), 2)
    assert (one.date, one.date_text) == ("2020-01-01", "2020")
    assert one.abstract == ("word " * 10).strip()
    assert (papers["Two"].venue, papers["Two"].date_text) == ("Full Journal", "Jul 2021")
    assert (papers["Three"].venue, papers["Three"].date) == ("A Book of Chapters", "2019-02-01")
    assert (papers["Four"].arxiv_id, papers["Four"].version) == ("2301.00001", 2)
    assert papers["Four"].url == "https://arxiv.org/pdf/2301.00001v2.pdf"
    assert (papers["Five"].arxiv_id, papers["Five"].venue, papers["Five"].doi) == ("2302.00002", None, "10.1000/abc")
    assert (papers["Six"].date, papers["Six"].url, papers["Six"].authors) == (None, None, None)


def test_records_that_are_not_papers_are_problems_at_their_line():
    text = (
        "Provider: Somewhere\n\n"
        + _record(ABSTRACT)  # 3
        + _record("TI  - Only a Title")  # 6
        + _record("TI  - Short", "AB  - Too short.")  # 9
        + _record(f"TI  - {'T' * (MAX_TITLE_CHARS + 1)}", ABSTRACT)  # 13
        + _record("TI  - Big", "AB  - " + "a " * MAX_FIELD_CHARS)  # 17
        + "TY  - JOUR\nTI  - Never closed\n"  # 21
        + _record("TI  - Kept", ABSTRACT)  # 23
    )
    result = parse(text, "t.ris")
    assert [(p.title, p.sources) for p in result.papers] == [("Kept", ("t.ris:23",))]
    assert [(p.line, p.reason.split(",")[0]) for p in result.problems] == [
        (1, "text outside a RIS record (TY ... ER)"),
        (3, "record has no title (TI)"),
        (6, "record 'Only a Title' has no abstract (AB)"),
        (9, "abstract of 'Short' too short (10 characters)"),
        (13, "title longer than 400 characters"),
        (17, "abstract longer than 100"),
        (21, "record has no ER line before the next TY"),
    ]


def test_sniffed_by_content_and_suffix():
    ris = LIBRARY.read_text(encoding="utf-8")
    assert sniff(ris) and sniff("\r\nTY  - JOUR\r\nTI  - x\r\n")
    assert detect("export.txt", ris[:SNIFF_CHARS]).name == "ris"
    assert detect("export.ris", "nothing recognisable").name == "ris"
    assert [p.title for p in parse_source("export.txt", ris).papers] == [p.title for p in parse(ris, "x").papers]
    assert not sniff("TY  - JOUR")  # a lone TY line is no record
    assert not sniff("  TY  - JOUR\n  TI  - x")  # tags start the line
    assert not sniff(json.dumps({"title": "TY  - JOUR\nTI  - x", "abstract": "y"}))


def test_windows_line_ends_and_a_folder_of_exports(tmp_path):
    crlf = LIBRARY.read_text(encoding="utf-8").replace("\n", "\r\n")
    result = parse(crlf, "w.ris")
    assert [p.sources[0] for p in result.papers] == ["w.ris:1", "w.ris:21", "w.ris:34"]
    assert [p.line for p in result.problems] == [47, 53, 55]
    assert result.papers[0].abstract.endswith("over a 14-week field trial.")
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "mendeley.ris").write_bytes(b"\xef\xbb\xbf" + crlf.encode())  # with a byte order mark
    parsed, files = read_sources([tmp_path / "refs"])
    assert files == 1 and len(parsed.papers) == 3 and len(parsed.problems) == 3


@pytest.mark.parametrize("page", CORPUS[:8], ids=lambda p: p.name)
def test_daily_pages_are_not_ris(page):
    text = page.read_text(encoding="utf-8")
    assert not sniff(text[:SNIFF_CHARS])
    assert parse_source("x.txt", text).papers == parse_page(text, "x.txt").papers


FUZZ = settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
PIECES = st.sampled_from(
    ["TY  - JOUR\n", "ER  - \n", "ER  -", "TI  - ", "AB  - ", "AU  - ", "UR  - ", "DA  - 2024/13/99/", "\n", "  -",
     "\r", "\r\n", ";", ",", "\ud800", "\x00", "\u2028", "  continued", "PY  - 99999"]
)  # fmt: skip
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@FUZZ
@given(
    cut=st.integers(0, 3000),
    insert=st.lists(st.tuples(st.integers(0, 3000), st.one_of(PIECES, TEXT)), max_size=12),
)
def test_never_raises_and_every_paper_is_well_formed(cut, insert):
    text = LIBRARY.read_text(encoding="utf-8")
    for at, piece in insert:
        text = text[:at] + piece + text[at:]
    text = text[: len(text) - cut]
    lines = len(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    result = parse(text, "f.ris")
    for problem in result.problems:
        assert problem.source == "f.ris" and 1 <= problem.line <= lines and problem.reason
    for paper in result.papers:
        assert 1 <= int(paper.sources[0].rsplit(":", 1)[1]) <= lines
        assert paper.title and len(paper.title) <= MAX_TITLE_CHARS and len(paper.abstract) <= MAX_FIELD_CHARS
        for value in (paper.title, paper.abstract, paper.venue, paper.url, paper.doi, *paper.author_names):
            assert value is None or isinstance(value.encode("utf-8"), bytes)


@pytest.mark.parametrize("text", ["", "TY  - ", "ER  - \n" * 100, "\x00\xff\ufffd" * 1000, "TY  - JOUR\n" * 2000])
def test_odd_inputs(text):
    assert parse(text, "f.ris").papers == []


@pytest.mark.slow
def test_ingested_ris_export_answers_from_it(tmp_path, embedder):
    """The acceptance test: a RIS export ingested into a fresh store, then a question only one record answers."""
    config = Config(data_dir=tmp_path / "store", sources=[LIBRARY])
    report = ingest(config, [LIBRARY], embedder=embedder)
    assert (report.papers, len(report.skipped)) == (3, 3)
    answer = Assistant(config).ask("How many electrodes was the mycelium grown through for sensing soil moisture?")
    assert not answer.refused
    assert_citation_invariants(answer)
    first = answer.citations[0]
    assert first.title == "Mycelial Networks as Living Sensors for Soil Moisture"
    assert any("64 electrodes" in quote for quote in first.quotes)
    assert "64 electrodes" in answer.text
