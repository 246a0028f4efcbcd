"""BibTeX libraries (index.formats.bibtex): fields mapped, LaTeX made plain text, broken entries
reported at their line, detection by content, and a library ingested and answered from."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant import Assistant, Config
from index.formats import SNIFF_CHARS, detect
from index.formats.bibtex import parse, plain, sniff
from index.ingest import read_sources
from index.parse import MAX_FIELD_CHARS, MAX_TITLE_CHARS, parse_page, parse_source
from index.records import paper_id_for
from tests.helpers import REPO, assert_citation_invariants, run_cli

LIBRARY = REPO / "tests" / "fixtures" / "formats" / "library.bib"
CORPUS = sorted((REPO / "index" / "corpus").glob("*.txt"))


@pytest.fixture(scope="module")
def library():
    result = parse(LIBRARY.read_text(encoding="utf-8"), "library.bib")
    return result, {p.title.split(":")[0]: p for p in result.papers}


def _entry(body: str, key: str = "k", kind: str = "article") -> str:
    return f"@{kind}{{{key},\n{body}\n}}\n"


ABSTRACT = "abstract = {An abstract long enough to count as one, about nothing in particular at all.}"


def test_the_library_gives_five_papers_and_two_problems(library):
    result, papers = library
    assert len(result.papers) == 5
    assert [(p.line, p.reason) for p in result.problems] == [
        (74, "unreadable BibTeX entry 'broken_entry_2021': Unexpected block start: `@book`. "
             "Was still looking for field-value closing `}`"),
        (79, "entry 'halvorsen_fjords_2019' has no abstract, skipped"),
    ]  # fmt: skip
    # the lines the @type{ of each entry is on
    assert [p.sources[0] for p in result.papers] == [f"library.bib:{n}" for n in (10, 27, 39, 50, 59)]


def test_article_with_journal_doi_macro_and_month(library):
    _, papers = library
    tidal = papers["Tidal Graph Networks for Coastal Flood Forecasting"]
    assert tidal.title == "Tidal Graph Networks for Coastal Flood Forecasting"  # {Graph} braces gone
    assert tidal.paper_id == paper_id_for(tidal.title)
    assert tidal.author_names == ("Maja Lindqvist", "Chidi Okafor", "Anneke van der Berg")
    assert tidal.authors == 3
    assert tidal.venue == "Journal of Hydroinformatic Learning"  # from @string jhl
    assert tidal.doi == "10.5555/jhl.2023.0417"
    assert (tidal.date, tidal.date_text) == ("2023-03-01", "Mar 2023")  # month = mar, a macro
    assert tidal.url == "https://doi.org/10.5555/jhl.2023.0417"
    assert "by 23.7% against" in tidal.abstract  # \% is a per cent sign
    assert (tidal.arxiv_id, tidal.version, tidal.categories) == (None, None, ())


def test_inproceedings_venue_is_the_booktitle(library):
    _, papers = library
    bees = papers["Beekeeper"]
    assert bees.venue == "Proceedings of the Workshop on Computational Ecology"
    assert bees.author_names == ("Élodie Moreau", "Hiroshi Tanaka")
    assert (bees.date, bees.date_text) == ("2022-09-01", "Sep 2022")  # month = {September}


def test_arxiv_eprint_with_version_and_primary_class(library):
    _, papers = library
    lattice = papers["Lattice Distillation"]
    assert (lattice.arxiv_id, lattice.version) == ("2403.04567", 2)
    assert lattice.categories == ("cs.CL",)
    assert lattice.venue is None and lattice.doi is None
    assert (lattice.date, lattice.date_text) == ("2024-01-01", "2024")  # the year alone
    assert lattice.author_names == ("Adaeze Okonkwo", "Lars Petersen", "Mei Lin")


def test_zotero_arxiv_preprint_from_url_and_doi(library):
    _, papers = library
    quilted = papers["Quilted Attention"]
    assert (quilted.arxiv_id, quilted.version) == ("2405.01122", None)
    assert quilted.doi == "10.48550/arxiv.2405.01122"
    assert quilted.venue is None  # publisher = {arXiv} is not a venue, and is not read as one
    assert quilted.date == "2024-05-01"


def test_latex_accents_braces_and_math_become_plain_text(library):
    _, papers = library
    glacier = papers["Über-Resolution"]
    assert glacier.title == "Über-Resolution: Super-Resolving Glaçier Imagery with β-Diffusion"
    assert glacier.author_names == ("René Schönberger", "José Nuñez", "Bjørn Sørensen")
    assert glacier.venue == "Remote Sensing of the Cryosphère"
    assert (glacier.date, glacier.date_text) == ("2024-03-05", "Mar 5, 2024")  # biblatex date
    abstract = glacier.abstract
    assert abstract.startswith("We super-resolve Sentinel-2 glacier imagery by a factor of 4× with")
    assert "follows β = 0.3." in abstract
    assert "within 1.8 m of drone surveys – a 3-fold improvement" in abstract  # ~ and -- and \textbf
    assert "runs without any" in abstract and "Naïve baselines reach only 62% recall." in abstract
    assert not any(c in abstract + glacier.title for c in "\\{}$~")


@pytest.mark.parametrize(
    ("latex", "text"),
    [
        (r"{\"u}ber {BERT}", "über BERT"),
        (r"\emph{x} and \textit{y}", "x and y"),
        (r"$\alpha$-entmax with $O(n^2)$", "α-entmax with O(n^2)"),
        (r"pages 1--24", "pages 1–24"),
        (r"50% of cases and 10\% of \{braces\}", "50% of cases and 10% of {braces}"),
        (r"see \cite{smith2020} and \href{http://x}{here}", None),  # pylatexenc fails on \href: no crash
        ("{" * 3000 + "deep" + "}" * 3000, "deep"),
        ("plain text,\n  wrapped", "plain text, wrapped"),
    ],
)
def test_plain(latex, text):
    result = plain(latex)
    if text is not None:
        assert result == text
    assert "\n" not in result


def test_names_dates_and_identifiers_of_single_entries():
    text = "".join(
        [
            _entry(f"title={{One}}, author={{Doe, Jane and Roe, Richard and others}}, year=2021, {ABSTRACT}", "a"),
            _entry(f"title={{Two}}, year={{2020}}, month={{13}}, day={{5}}, {ABSTRACT}", "b"),
            _entry(f"title={{Three}}, journal={{arXiv preprint arXiv:2401.12345}}, year=2024, {ABSTRACT}", "c"),
            _entry(f"title={{Four}}, journal={{CoRR}}, volume={{abs/2301.00001}}, {ABSTRACT}", "d"),
            _entry(f"title={{Five}}, eprint={{2402.00002v4}}, eprinttype={{arxiv}}, {ABSTRACT}", "e"),
            _entry(f"title={{Six}}, eprint={{hal-0123}}, archivePrefix={{HAL}}, date={{2024-02-30}}, {ABSTRACT}", "f"),
            _entry(f"TITLE={{Seven}}, Abstract={{{'word ' * 10}}}, URL={{https://doi.org/10.1000/ABC_1}}", "g"),
            _entry(f"title={{Eight}}, howpublished={{\\url{{https://x.org}}}}, year={{in press}}, {ABSTRACT}", "h"),
        ]
    )
    papers = {p.title: p for p in parse(text, "t.bib").papers}
    assert (papers["One"].author_names, papers["One"].authors) == (("Jane Doe", "Richard Roe"), None)
    assert (papers["Two"].date, papers["Two"].date_text) == ("2020-01-01", "2020")  # no month 13
    assert (papers["Three"].arxiv_id, papers["Three"].venue) == ("2401.12345", None)
    assert (papers["Four"].arxiv_id, papers["Four"].venue, papers["Four"].date) == ("2301.00001", None, None)
    assert (papers["Five"].arxiv_id, papers["Five"].version) == ("2402.00002", 4)
    assert (papers["Six"].arxiv_id, papers["Six"].date, papers["Six"].date_text) == (None, "2024-02-01", "Feb 2024")
    assert (papers["Seven"].doi, papers["Seven"].url) == ("10.1000/abc_1", "https://doi.org/10.1000/ABC_1")
    assert (papers["Eight"].venue, papers["Eight"].date) == (None, None)


def test_entries_that_are_not_papers_are_problems_at_their_line():
    text = (
        "% header\n\n"
        + _entry(ABSTRACT, "no_title")
        + _entry("title = {Only a Title}", "no_abstract")
        + _entry("title = {}, abstract = {}", "neither")
        + _entry("title = {Short}, abstract = {Too short.}", "short")
        + _entry(f"title = {{{'T' * (MAX_TITLE_CHARS + 1)}}}, {ABSTRACT}", "long_title")
        + _entry(f"title = {{Big}}, abstract = {{{'a ' * MAX_FIELD_CHARS}}}", "huge")
        + _entry(f"title = {{Kept}}, {ABSTRACT}", "kept")
    )
    result = parse(text, "t.bib")
    assert [p.title for p in result.papers] == ["Kept"]
    assert result.papers[0].sources == ("t.bib:21",)
    assert [(p.line, p.reason.split(",")[0]) for p in result.problems] == [
        (3, "entry 'no_title' has no title"),
        (6, "entry 'no_abstract' has no abstract"),
        (9, "entry 'neither' has no title and no abstract"),
        (12, "entry 'short': abstract too short (10 characters)"),
        (15, "entry 'long_title': title longer than 400 characters"),
        (18, "entry 'huge': abstract longer than 100"),
    ]


def test_duplicate_keys_and_fields_keep_the_entry():
    first = _entry(f"title={{First}}, title={{Second}}, {ABSTRACT}", "same")
    text = first + _entry(f"title={{Third}}, {ABSTRACT}", "same")
    result = parse(text, "t.bib")
    assert [p.title for p in result.papers] == ["First", "Third"]


def test_sniffed_by_content_and_suffix():
    bib = LIBRARY.read_text(encoding="utf-8")
    assert sniff(bib) and sniff("@INPROCEEDINGS{Key2020,\n title={x}}") and sniff("  @misc(k,\n")
    assert detect("refs.txt", bib[:SNIFF_CHARS]).name == "bibtex"
    assert detect("refs.bibtex", "nothing recognisable").name == "bibtex"
    assert [p.title for p in parse_source("my-library.txt", bib).papers] == [p.title for p in parse(bib, "x").papers]
    assert not sniff("Contact me @article{ on the web")  # not at a line start
    assert not sniff("@misc{no comma after the key}")


def test_windows_line_ends_and_a_folder_of_libraries(tmp_path):
    crlf = LIBRARY.read_text(encoding="utf-8").replace("\n", "\r\n")
    result = parse(crlf, "w.bib")
    assert [p.sources[0] for p in result.papers] == [f"w.bib:{n}" for n in (10, 27, 39, 50, 59)]
    assert [p.line for p in result.problems] == [74, 79]
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "zotero.bib").write_bytes(b"\xef\xbb\xbf" + crlf.encode())  # with a byte order mark
    (tmp_path / "refs" / "jabref.bibtex").write_text(_entry(f"title = {{Kept}}, {ABSTRACT}"), encoding="utf-8")
    parsed, files = read_sources([tmp_path / "refs"])
    assert files == 2 and len(parsed.papers) == 6 and len(parsed.problems) == 2


@pytest.mark.parametrize("page", CORPUS[:8], ids=lambda p: p.name)
def test_daily_pages_are_not_bibtex(page):
    text = page.read_text(encoding="utf-8")
    assert not sniff(text[:SNIFF_CHARS])
    assert parse_source("x.txt", text).papers == parse_page(text, "x.txt").papers
    line = next(line for line in text.splitlines() if len(line) > 200)  # one abstract
    assert not sniff(line)


def test_json_is_not_bibtex():
    record = {"title": "T", "abstract": "@article{k, title={x}}\n@misc{k2,"}
    assert not sniff(json.dumps(record)) and not sniff(json.dumps([record], indent=2))


FUZZ = settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
PIECES = st.sampled_from(
    ["@article{", "@misc(", "@string{", "@comment{", "}", "{", ")", ",", "=", '"', "#", "%", "\\", "$", "~", "\n",
     "title", "abstract", "author", " and ", "year", "month", "\\emph{", "{\\\"u}", "\ud800", "\x00", "\u202e"]
)  # fmt: skip
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@FUZZ
@given(
    cut=st.integers(0, 6000),
    insert=st.lists(st.tuples(st.integers(0, 6000), st.one_of(PIECES, TEXT)), max_size=12),
)
def test_never_raises_and_every_paper_is_well_formed(cut, insert):
    text = LIBRARY.read_text(encoding="utf-8")
    for at, piece in insert:
        text = text[:at] + piece + text[at:]
    text = text[: len(text) - cut]
    lines = text.count("\n") + 1
    result = parse(text, "f.bib")
    for problem in result.problems:
        assert problem.source == "f.bib" and 1 <= problem.line <= lines and problem.reason
    for paper in result.papers:
        assert 1 <= int(paper.sources[0].rsplit(":", 1)[1]) <= lines
        assert paper.title and len(paper.title) <= MAX_TITLE_CHARS and len(paper.abstract) <= MAX_FIELD_CHARS
        for value in (paper.title, paper.abstract, paper.venue, paper.url, paper.doi, *paper.author_names):
            assert value is None or isinstance(value.encode("utf-8"), bytes)


@pytest.mark.parametrize(
    "text", ["", "@", "@article", "@article{", "}" * 10_000, "{" * 10_000, "\x00\xff\ufffd" * 1000, "@misc{k," * 3000]
)
def test_odd_inputs(text):
    result = parse(text, "f.bib")
    assert result.papers == []


@pytest.mark.slow
def test_assistant_ingest_of_a_bib_file_answers_from_it(tmp_path, embedder):
    """The acceptance test: `assistant ingest my-library.bib`, then a question only one entry answers."""
    library = tmp_path / "my-library.bib"
    library.write_bytes(LIBRARY.read_bytes())
    store = tmp_path / "store"
    done = run_cli("ingest", str(library), env={"ASSISTANT_DATA_DIR": str(store)})
    assert done.returncode == 0, done.stderr
    assert "5 distinct papers" in done.stdout and "skipped 2:" in done.stdout
    assert "my-library.bib:74: unreadable BibTeX entry 'broken_entry_2021'" in done.stdout

    assistant = Assistant(Config(data_dir=store, sources=[library]))
    assert assistant.stats()["papers"] == 5
    answer = assistant.ask("How many tide gauges was the tidal graph network for flood forecasting trained on?")
    assert not answer.refused
    assert_citation_invariants(answer)
    first = answer.citations[0]
    assert first.title == "Tidal Graph Networks for Coastal Flood Forecasting"
    assert any("41 tide gauges" in quote for quote in first.quotes)
    assert "41 tide gauges" in answer.text

    glacier = assistant.ask("How close to drone surveys are the crevasse widths from the β-diffusion glacier model?")
    assert glacier.citations[0].title.startswith("Über-Resolution")
    assert "1.8 m" in glacier.text
