"""arXiv API responses and rss.arxiv.org category feeds (index/formats/arxiv.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant import Assistant, Config
from index.formats import SNIFF_CHARS, arxiv, detect
from index.ingest import ingest, read_sources
from index.parse import parse_source
from tests.helpers import REPO, assert_citation_invariants

FIXTURES = REPO / "tests" / "fixtures" / "formats"
API = FIXTURES / "arxiv-api.atom"
RSS = FIXTURES / "arxiv-rss-cs.LG.rss"
ATOM = FIXTURES / "arxiv-atom-cs.LG.atom"
ERROR = FIXTURES / "arxiv-api-error.atom"


def parsed(path: Path, name: str | None = None):
    return parse_source(name or str(path), path.read_text(encoding="utf-8"))


def test_api_page_fields():
    result = parsed(API)
    assert result.problems == []
    tidal, waggle, salt = result.papers
    assert tidal.title == "Tidal Attention: Periodic Memory for Forecasting Coastal Water Levels"
    assert tidal.abstract.startswith("We introduce Tidal Attention, a transformer layer whose keys are indexed by the")
    assert "41 tide gauges" in tidal.abstract and "\n" not in tidal.abstract and "  " not in tidal.abstract
    assert (tidal.arxiv_id, tidal.version) == ("2401.12345", 2)
    assert tidal.author_names == ("Maren Oyelaran-Visser", "Tomasz Quillfeather", "Ines Abernathy-Kohl")
    assert tidal.authors == 3
    assert (tidal.date, tidal.date_text) == ("2024-01-22", "2024-01-22")  # published (v1), not updated
    assert tidal.categories == ("cs.LG", "physics.ao-ph", "stat.ML")
    assert tidal.url == "http://arxiv.org/abs/2401.12345v2"
    assert tidal.doi == "10.1016/j.ocemod.2024.102311"
    assert tidal.venue == "Ocean Modelling 190 (2024) 102311"
    assert tidal.sources == (f"{API}:10",)
    assert (waggle.arxiv_id, waggle.version, waggle.doi, waggle.venue) == ("2402.04567", 1, None, None)
    assert waggle.categories == ("cs.CV", "q-bio.QM", "cs.NE")  # primary first, as listed
    assert waggle.sources == (f"{API}:44",)
    # an old-style id; the primary category listed twice is kept once
    assert (salt.arxiv_id, salt.version) == ("cond-mat/0501234", 3)
    assert salt.categories == ("cond-mat.soft", "cond-mat.stat-mech")
    assert salt.doi == "10.1103/physreve.71.099901"
    assert salt.sources == (f"{API}:69",)


def test_rss_category_feed_strips_the_announcement_and_splits_authors():
    result = parsed(RSS)
    assert result.problems == []
    lichen, sourdough, ferry = result.papers
    assert lichen.abstract.startswith("Soil moisture sensors in remote pastures")
    assert not any(p.abstract.startswith(("arXiv:", "Abstract")) for p in result.papers)
    assert lichen.author_names == ("Wiremu Castellanos", "Beatrix Ngata-Holm", "Feodor Ahn")
    assert (lichen.arxiv_id, lichen.version, lichen.date) == ("2401.13001", 1, "2024-01-23")
    assert lichen.url == "https://arxiv.org/abs/2401.13001"
    assert sourdough.categories == ("q-bio.QM", "cs.LG", "stat.ME")
    assert (ferry.arxiv_id, ferry.version) == ("2310.09876", 3)
    assert (ferry.doi, ferry.venue) == ("10.1287/trsc.2024.0077", "Transportation Science 58(2), 2024")
    assert [p.sources[0].rsplit(":", 1)[1] for p in result.papers] == ["17", "30", "44"]


def test_atom_category_feed():
    result = parsed(ATOM)
    assert result.problems == []
    whale, glacier = result.papers
    assert whale.title == "Whale Song Tokenizers: Byte-Pair Encoding for Humpback Vocalisations"
    assert whale.abstract.startswith("Humpback whale songs")
    assert (whale.arxiv_id, whale.version, whale.authors, whale.date) == ("2401.13101", 1, 2, "2024-01-24")
    assert (glacier.arxiv_id, glacier.version, glacier.categories) == ("2311.05432", 2, ("eess.IV", "cs.LG"))
    assert (glacier.doi, glacier.venue) == ("10.5194/tc-18-2024-301", "The Cryosphere 18 (2024) 301-318")
    assert [p.sources for p in result.papers] == [(f"{ATOM}:8",), (f"{ATOM}:28",)]


def test_api_error_feed_is_a_problem_with_its_message():
    result = parsed(ERROR)
    assert result.papers == []
    assert [(p.line, p.reason) for p in result.problems] == [
        (10, "arXiv API error: incorrect id format for 2401.1234x")
    ]


def test_malformed_xml_is_recovered_and_reported():
    text = API.read_text(encoding="utf-8").replace("Glassy Relaxation in", "Glassy & Relaxation in")
    result = arxiv.parse(text, "broken.atom")
    assert len(result.papers) == 3  # feedparser's loose parser reads on
    (problem,) = result.problems
    assert problem.line == 73 and problem.reason.startswith("malformed XML (not well-formed")


def test_truncated_feed_keeps_the_whole_entries():
    text = API.read_text(encoding="utf-8")
    text = text[: text.index("<title>Glassy")]
    result = arxiv.parse(text, "cut.atom")
    assert [p.arxiv_id for p in result.papers] == ["2401.12345", "2402.04567"]
    assert any(p.reason.startswith("malformed XML") for p in result.problems)
    assert all(p.line <= text.count("\n") + 1 for p in result.problems)


def test_entries_without_a_title_or_abstract_are_skipped_with_their_line():
    enough = "An abstract long enough. " * 3
    text = (
        '<feed xmlns="http://www.w3.org/2005/Atom">\n'
        "<entry><id>http://arxiv.org/abs/2401.00001v1</id><summary>short</summary><title>Short</title></entry>\n"
        "<entry><id>http://arxiv.org/abs/2401.00002v1</id>\n<summary>" + enough + "</summary>\n"
        "</entry>\n</feed>\n"
    )
    result = arxiv.parse(text, "x.atom")
    assert result.papers == []
    assert [(p.line, p.reason) for p in result.problems] == [
        (2, "abstract missing or too short under 'Short'"),
        (3, "entry without a title"),
    ]


def test_sniffed_by_content_under_any_name():
    for path in (API, RSS, ATOM, ERROR):
        head = path.read_text(encoding="utf-8")[:SNIFF_CHARS]
        assert detect("feed.txt", head).name == "arxiv"
    assert [p.arxiv_id for p in parsed(RSS, "saved-feed.txt").papers] == ["2401.13001", "2401.13077", "2310.09876"]


def test_not_claimed_by_content():
    assert not arxiv.sniff('{"title": "A", "abstract": "see https://arxiv.org/abs/2401.12345"}\n')
    assert not arxiv.sniff("<html><body>https://arxiv.org/abs/2401.12345</body></html>")
    assert not arxiv.sniff('<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>urn:x</id></entry></feed>')
    for page in sorted((REPO / "index" / "corpus").glob("*.txt")):
        assert not arxiv.sniff(page.read_text(encoding="utf-8")[:SNIFF_CHARS]), page.name


def test_any_feed_under_a_feed_suffix_is_read():
    text = (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<rss version="2.0"><channel><title>Lab news</title>\n'
        "<item><title>Käsespätzle Kinetics</title><description>&lt;p&gt;We time the cheese noodle dough at "
        "altitude and find it rests 12 minutes longer.&lt;/p&gt;</description></item></channel></rss>\n"
    )
    result = parse_source("lab.rss", text)
    (paper,) = result.papers
    assert paper.title == "Käsespätzle Kinetics"  # the declared encoding does not undo the decoding
    assert paper.abstract == "We time the cheese noodle dough at altitude and find it rests 12 minutes longer."
    assert (paper.arxiv_id, paper.sources) == (None, ("lab.rss:3",))


def test_old_rss_titles_give_id_and_category():
    text = (
        '<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
        '<channel rdf:about="http://arxiv.org/rss/cs.LG"><title>cs.LG updates on arXiv.org</title>\n'
        '<items><rdf:Seq><rdf:li rdf:resource="http://arxiv.org/abs/2312.01234"/></rdf:Seq></items></channel>\n'
        '<item rdf:about="http://arxiv.org/abs/2312.01234">\n'
        "<title>Moss Growth Curves on Basalt. (arXiv:2312.01234v2 [q-bio.PE] UPDATED)</title>\n"
        "<link>http://arxiv.org/abs/2312.01234</link>\n"
        "<description>&lt;p&gt;We photograph moss on basalt for 400 days and fit logistic growth.&lt;/p&gt;"
        "</description>\n"
        '<dc:creator>&lt;a href="http://arxiv.org/find/q-bio/1/au:+Ek_A/0/1/0/all/0/1"&gt;Astrid Ek&lt;/a&gt;, '
        '&lt;a href="http://arxiv.org/find/q-bio/1/au:+Obi_C/0/1/0/all/0/1"&gt;Chidi Obi&lt;/a&gt;</dc:creator>\n'
        "</item>\n</rdf:RDF>\n"
    )
    assert arxiv.sniff(text)
    (paper,) = arxiv.parse(text, "old.rss").papers
    assert paper.title == "Moss Growth Curves on Basalt"
    assert (paper.arxiv_id, paper.version, paper.categories) == ("2312.01234", 2, ("q-bio.PE",))
    assert paper.author_names == ("Astrid Ek", "Chidi Obi")
    assert paper.sources == ("old.rss:5",)


@pytest.mark.slow
def test_acceptance_feeds_ingested_and_answered_with_a_citation(tmp_path, embedder):
    folder = tmp_path / "feeds"
    folder.mkdir()
    for path in (API, RSS, ATOM, ERROR):
        shutil.copy(path, folder / path.name)
    parsed_all, files = read_sources([folder])
    assert files == 4 and len(parsed_all.papers) == 8
    config = Config(data_dir=tmp_path / "store")
    report = ingest(config, [folder], embedder=embedder)
    assert report.added == 8
    assert [p.reason for p in report.skipped] == ["arXiv API error: incorrect id format for 2401.1234x"]
    answer = Assistant(config).ask("How many tide gauges was Tidal Attention evaluated on?")
    assert not answer.refused
    assert answer.citations[0].title.startswith("Tidal Attention")
    assert "41 tide gauges" in answer.text
    assert_citation_invariants(answer)
