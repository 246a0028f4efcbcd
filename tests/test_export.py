"""Export (index/formats/export.py, Assistant.export and its faces): BibTeX and RIS that the
project's own parsers read back as the same papers (so ingesting an export into the index that
holds its papers embeds nothing), CSL-JSON that is well-formed CSL, LaTeX's special characters
escaped, and the CLI, the HTTP API, the MCP server and the UI each exporting once."""

from __future__ import annotations

import json
import logging
import re
import shutil
from dataclasses import replace

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import assistant
from assistant import Assistant, Config, ExportError, Paper, export
from index.formats.bibtex import parse as parse_bibtex
from index.formats.bibtex import plain
from index.formats.export import citation_keys, latex
from index.formats.ris import parse as parse_ris
from index.ingest import ingest, read_sources
from index.records import paper_id_for
from index.store import Store
from tests.helpers import REPO, run_cli

LIBRARY = [REPO / "tests" / "fixtures" / "formats" / name for name in ("library.bib", "library.ris")]
ABSTRACT = "An abstract long enough to count as one, about nothing in particular, written for these tests."
FACT = "How many participants took part in the struggle-determination video dataset?"
# what a paper keeps through an export and its reading back (BibTeX also keeps the primary category)
KEPT = ("paper_id", "title", "abstract", "author_names", "authors", "date", "date_text", "url", "arxiv_id", "version",
        "doi", "venue")  # fmt: skip
CSL_TYPES = {"article", "article-journal", "paper-conference"}
CSL_FIELDS = {"id", "type", "title", "author", "issued", "container-title", "DOI", "URL", "abstract", "archive",
              "number", "publisher"}  # fmt: skip


def _kept(paper: Paper, *more: str) -> dict:
    return {name: getattr(paper, name) for name in (*KEPT, *more)}


def _library() -> list[Paper]:
    papers = []
    for path in LIBRARY:
        papers += (parse_bibtex if path.suffix == ".bib" else parse_ris)(
            path.read_text(encoding="utf-8"), path.name
        ).papers
    return papers


# escaping ----------------------------------------------------------------------------------

NASTY = [
    "{Braces} and 100% of $5 & #1 under_score",
    "Über-Resolution: Glaçier β-Diffusion — a naïve Sørensen–Nuñez baseline",
    r"\textbf{LaTeX} in titles: $\alpha$-entmax, x^2 ~ y, `ticks' and ''quotes'' -- and --- dashes",
    "@article{fake, title = {closed}} % not a comment",
    r"C:\path\to\file, \\ and a lone } brace",
]


@pytest.mark.parametrize("title", NASTY)
def test_nasty_titles_are_escaped_and_read_back_as_written(title):
    paper = Paper(paper_id_for(title), title, f"{ABSTRACT} {title}", authors=2,
                  author_names=("José Nuñez", "Anneke van der Berg"))  # fmt: skip
    bib = export([paper], "bib")
    written = re.search(r"^  title = \{\{(.*)\}\},$", bib, re.M)
    assert written, bib
    value = written[1]
    assert not re.search(r"(?<!\\)[%&#$_^~`]", value), "every special character is escaped"
    unescaped = re.sub(r"\\[{}]", "", value)
    assert unescaped.count("{") == unescaped.count("}") and "--" not in value and "''" not in value
    assert "Anneke van der Berg" not in bib and "author = {Nuñez, José and van der Berg, Anneke}" in bib
    item = json.loads(export([paper], "csl"))[0]
    assert item["title"] == title and item["author"][1] == {
        "family": "Berg",
        "given": "Anneke",
        "non-dropping-particle": "van der",
    }
    for fmt, parse in (("bib", parse_bibtex), ("ris", parse_ris)):
        result = parse(export([paper], fmt), f"nasty.{fmt}")
        assert not result.problems and len(result.papers) == 1
        back = result.papers[0]
        assert (back.paper_id, back.title, back.abstract, back.author_names) == (
            paper.paper_id,
            title,
            paper.abstract,
            paper.author_names,
        )


def test_the_escapes_are_latex_s_own():
    assert latex("{Braces} and 100% of $5 & #1 under_score") == r"\{Braces\} and 100\% of \$5 \& \#1 under\_score"
    assert latex(r"a\b ~ ^ ` -- --- ''") == (
        r"a\textbackslash{}b \textasciitilde{} \textasciicircum{} \textasciigrave{} -{}- -{}-{}- '{}'"
    )
    assert latex("Über naïve β") == "Über naïve β"  # UTF-8 stays as it is


SPECIALS = st.sampled_from(list("\\{}%&#_$~^`'\"-@,=") + ["--", "''", "``", r"\emph{x}", "$x$", "@misc{k,", "\n"])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.one_of(SPECIALS, st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")))), max_size=12)
)
def test_any_text_reads_back_as_written(pieces):
    text = "".join(pieces)
    assert plain(latex(text)) == " ".join(text.split())


# what an entry holds -----------------------------------------------------------------------


def test_citation_keys_are_stable_and_repeats_get_letters():
    lattice = Paper("1", "Lattice Distillation", ABSTRACT, date="2024-01-01", date_text="2024",
                    author_names=("Adaeze Okonkwo", "Lars Petersen"))  # fmt: skip
    papers = [
        lattice,
        replace(lattice, paper_id="2", title="Lattice Distillation, Again"),
        replace(lattice, paper_id="3", title="The Lattice Sequel"),
        Paper("4", "The Ünïcode Paper", ABSTRACT),  # no authors, no date
        Paper("5", "深度学习", ABSTRACT),  # no ASCII word
        Paper("6", "Über-Resolution", ABSTRACT, date="2024-03-05", author_names=("Bjørn Sørensen",)),
    ]
    keys = ["okonkwo2024lattice", "okonkwo2024latticea", "okonkwo2024latticeb", "unicode", "paper5",
            "sorensen2024uberresolution"]  # fmt: skip
    assert citation_keys(papers) == keys
    assert citation_keys(papers) == keys  # the same papers, the same keys
    bib = export(papers, "bib")
    assert [m for m in re.findall(r"^@\w+\{([^,]+),$", bib, re.M)] == keys
    assert [item["id"] for item in json.loads(export(papers, "csl"))] == keys


def test_a_bare_author_count_exports_no_authors():
    counted = Paper("p", "Nine Authors, None Named", ABSTRACT, authors=9, organization="Some Lab")
    assert "author" not in export([counted], "bib")
    assert "AU  -" not in export([counted], "ris")
    assert "author" not in json.loads(export([counted], "csl"))[0]


def test_dates_keep_the_precision_their_source_gave():
    year = Paper("y", "Year Only", ABSTRACT, date="2023-01-01", date_text="2023")
    month = replace(year, paper_id="m", title="Month Too", date="2023-03-01", date_text="Mar 2023")
    day = replace(year, paper_id="d", title="A Whole Date", date="2023-03-05", date_text="Mar 5, 2023")
    undated = Paper("u", "No Year", ABSTRACT, date_text="Mar 3")
    bib = export([year, month, day, undated], "bib").split("\n\n")
    assert "year = {2023}" in bib[0] and "month" not in bib[0] and "date" not in bib[0]
    assert "month = mar," in bib[1] and "date =" not in bib[1]
    assert "date = {2023-03-05}" in bib[2] and "year" not in bib[3]
    ris = export([year, month, day, undated], "ris").split("\n\n")
    assert "PY  - 2023" in ris[0] and "DA  -" not in ris[0]
    assert "DA  - 2023/03//" in ris[1] and "DA  - 2023/03/05/" in ris[2] and "PY" not in ris[3]
    csl = json.loads(export([year, month, day, undated], "csl"))
    assert [item.get("issued") for item in csl] == [
        {"date-parts": [[2023]]},
        {"date-parts": [[2023, 3]]},
        {"date-parts": [[2023, 3, 5]]},
        None,
    ]


def test_identifiers_and_entry_types():
    papers = {p.title.split(":")[0]: p for p in _library()}
    bib = export(papers.values(), "bib")
    assert "@article{lindqvist2023tidal," in bib and "journal = {Journal of Hydroinformatic Learning}" in bib
    assert "@inproceedings{moreau2022beekeeper," in bib and "booktitle = {Proceedings of the Workshop" in bib
    lattice = bib[bib.index("@misc{okonkwo2024lattice,") :].split("\n}\n")[0]
    for field in ("eprint = {2403.04567v2}", "archivePrefix = {arXiv}", "primaryClass = {cs.CL}",
                  "author = {Okonkwo, Adaeze and Petersen, Lars and Lin, Mei}"):  # fmt: skip
        assert field in lattice
    ris = export([papers["Whisker-Inspired Tactile Sensing for Night-Time Drone Landing"]], "ris")
    assert ris.startswith("TY  - CONF\n") and "T2  - Proceedings of the International Conference" in ris
    assert ris.rstrip().endswith("ER  -")
    sparse = export([papers["Sparse Mixture Routing for Low-Resource Sign Language Translation"]], "ris")
    assert sparse.startswith("TY  - ELEC\n") and "UR  - http://arxiv.org/abs/2405.06789v3" in sparse


def test_csl_json_is_an_array_of_csl_items():
    papers = _library()
    items = json.loads(export(papers, "csl"))
    assert isinstance(items, list) and len(items) == len(papers) == 8
    assert len({item["id"] for item in items}) == len(items)
    for item, paper in zip(items, papers):
        assert set(item) <= CSL_FIELDS and {"id", "type", "title", "abstract"} <= set(item)
        assert item["type"] in CSL_TYPES and item["title"] == paper.title
        for name in item["author"]:
            assert set(name) in ({"family", "given"}, {"family", "given", "non-dropping-particle"}, {"literal"})
        parts = item["issued"]["date-parts"]
        assert len(parts) == 1 and 1 <= len(parts[0]) <= 3 and all(isinstance(x, int) for x in parts[0])
        assert item.get("DOI") == paper.doi and item.get("URL") == paper.url
        assert item.get("container-title") == paper.venue
        assert (item.get("archive"), item.get("number")) == (
            ("arXiv", f"arXiv:{paper.arxiv_id}" + (f"v{paper.version}" if paper.version else ""))
            if paper.arxiv_id
            else (None, None)
        )
    tidal = items[0]
    assert tidal["type"] == "article-journal" and tidal["issued"] == {"date-parts": [[2023, 3]]}
    assert tidal["author"][2] == {"family": "Berg", "given": "Anneke", "non-dropping-particle": "van der"}


def test_an_unknown_format_is_one_sentence():
    with pytest.raises(ExportError) as raised:
        export(_library(), "docx")
    assert str(raised.value) == "unknown export format 'docx'; choose bib (BibTeX), ris (RIS) or csl (CSL-JSON)"
    assert export(_library()[:1], "BibTeX") == export(_library()[:1], "bib")


# round trips through the index -------------------------------------------------------------


@pytest.fixture(scope="module")
def library_store(tmp_path_factory, embedder) -> Config:
    """A fresh store holding the BibTeX and RIS fixture libraries (8 papers)."""
    config = Config(data_dir=tmp_path_factory.mktemp("library") / "store", sources=LIBRARY)
    assert ingest(config, LIBRARY, embedder=embedder).papers == 8
    return config


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["bib", "ris"])
def test_a_library_exported_and_ingested_again_is_the_same_papers(fmt, library_store, embedder, tmp_path):
    indexed = {p.paper_id: p for p in Store(library_store).load_papers()}
    exported = tmp_path / f"library-export.{fmt}"
    exported.write_text(Assistant(library_store).export(list(indexed), fmt), encoding="utf-8")

    parsed, _ = read_sources([exported])
    assert not parsed.problems and len(parsed.papers) == len(indexed) == 8
    more = ("categories",) if fmt == "bib" else ()  # RIS has no field for arXiv categories
    for paper in parsed.papers:
        assert _kept(paper, *more) == _kept(indexed[paper.paper_id], *more)

    report = ingest(library_store, [exported], embedder=embedder)
    assert (report.papers, report.added, report.embedded, report.skipped) == (8, 0, 0, [])


@pytest.fixture(scope="module")
def hardest(bundled) -> list[Paper]:
    """Bundled papers hard to carry through LaTeX: up to three holding each special character,
    dash or quote pair, and three with a date."""
    papers = bundled.papers()
    chosen = [p for p in papers if p.date][:3]
    for special in [*"\\{}%&#_$~^`<>", "--", "''"]:
        chosen += [p for p in papers if special in p.title + p.abstract][:3]
    return list({p.paper_id: p for p in chosen}.values())


@pytest.mark.slow
def test_bundled_papers_exported_and_ingested_into_their_index_embed_nothing(bundled, hardest, embedder, tmp_path):
    store = tmp_path / "store"
    shutil.copytree(bundled.config.data_dir, store)  # the index that holds them, copied: the session's stays
    files = []
    for fmt in ("bib", "ris"):
        files.append(tmp_path / f"bundled.{fmt}")
        files[-1].write_text(bundled.export(hardest, fmt), encoding="utf-8")
        parsed, _ = read_sources([files[-1]])
        assert not parsed.problems
        back = {p.paper_id: p for p in parsed.papers}
        # a listing's bare author count and a date without a year ("Apr 7") have no field to go in
        same = ("paper_id", "title", "abstract", "date", "url", "arxiv_id", "doi", "venue")
        assert [[getattr(back[p.paper_id], f) for f in same] for p in hardest] == [
            [getattr(p, f) for f in same] for p in hardest
        ]
    report = ingest(Config(data_dir=store), files, embedder=embedder)
    assert (report.papers, report.added, report.embedded, report.skipped) == (len(hardest), 0, 0, [])


# Assistant.export and the faces ------------------------------------------------------------


@pytest.mark.slow
def test_assistant_exports_an_answer_related_papers_and_named_papers(bundled):
    answer = bundled.ask(FACT)
    cited = bundled.export(answer, "bib")
    assert cited.startswith("@misc{evostruggle") and cited.count("\n@") == 0
    refusal = bundled.ask("What is the boiling point of tungsten in a vacuum?")
    assert refusal.refused and bundled.export(refusal, "csl") == "[]\n"
    near = bundled.related("SkillMimic", 3)
    assert [item["title"] for item in json.loads(bundled.export(near, "csl"))] == [s.title for s in near]
    twice = ["SkillMimic", "skillmimic: learning reusable basketball skills from demonstrations"]  # name, title
    assert bundled.export(twice, "ris").count("TY  - ") == 1

    with pytest.raises(ExportError) as one:
        bundled.export(["SkillMimic", "No Such Paper At All"], "ris")
    assert str(one.value) == "no indexed paper has the id, title or name 'No Such Paper At All'; search for it first"
    with pytest.raises(ExportError) as two:
        bundled.export(["nope-1", "SkillMimic", "nope-2"], "bib")
    assert str(two.value).startswith("2 of the 3 papers to export are not in the index ('nope-1', 'nope-2')")
    assert two.value.papers == ("nope-1", "nope-2")
    with pytest.raises(ExportError, match="no papers to export"):
        bundled.export([], "bib")


@pytest.mark.slow
def test_cli_ask_writes_the_cited_papers_alone_to_stdout(bundled):
    """`assistant ask ... --export bib > refs.bib`: stdout is the BibTeX, the answer goes to stderr."""
    out = run_cli("--data-dir", str(bundled.config.data_dir), "ask", FACT, "--export", "bib")
    assert out.returncode == 0, out.stderr
    result = parse_bibtex(out.stdout, "stdout.bib")
    assert not result.problems and [p.title.split(":")[0] for p in result.papers] == ["EvoStruggle"]
    assert "76 participants" in out.stderr and "[backend: extractive]" in out.stderr


@pytest.fixture
def cli(bundled, monkeypatch, capsys):
    """`assistant.cli.main` in this process, answering from the session's index."""
    from assistant.cli import main

    monkeypatch.setattr(assistant, "Assistant", lambda config: bundled)
    factory = logging.getLogRecordFactory()  # main installs the secret filter for the whole process

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    yield run
    logging.setLogRecordFactory(factory)


@pytest.mark.slow
def test_cli_export_and_related(cli, tmp_path):
    refs = tmp_path / "refs.ris"
    code, out, err = cli("export", "SkillMimic", "EvoStruggle", "-o", str(refs))
    assert (code, out) == (0, "") and err == f"wrote the papers to {refs} (RIS)\n"  # the suffix names the format
    assert refs.read_text(encoding="utf-8").count("TY  - GEN\n") == 2

    code, out, err = cli("related", "SkillMimic", "-k", "3", "--export", "csl")
    assert code == 0 and len(json.loads(out)) == 3 and err.startswith("Papers related to SkillMimic")

    code, out, err = cli("export", "SkillMimic", "No Such Paper At All")
    assert (code, out) == (1, "")
    assert err == "error: no indexed paper has the id, title or name 'No Such Paper At All'; search for it first\n"
    code, _, err = cli("export", "SkillMimic", "-o", str(tmp_path / "refs.docx"))
    assert code == 1 and err == "error: cannot tell the export format from 'refs.docx'; add --format bib, ris or csl\n"


@pytest.mark.slow
def test_http_export(bundled):
    from fastapi.testclient import TestClient

    from assistant.server import create_app

    ids = [s.paper_id for s in bundled.related("SkillMimic", 2)]
    with TestClient(create_app(bundled)) as http:
        media = {}
        for fmt in ("bib", "ris", "csl"):
            response = http.post("/v1/export", json={"papers": ids, "format": fmt})
            assert response.status_code == 200, response.text
            assert response.text == bundled.export(ids, fmt)
            media[fmt] = response.headers["content-type"]
        assert response.headers["content-disposition"] == 'attachment; filename="papers.json"'
        assert http.post("/v1/export", json={"papers": ids}).text.startswith("@")  # BibTeX by default
        bad_format = http.post("/v1/export", json={"papers": ids, "format": "docx"})
        unknown = http.post("/v1/export", json={"papers": ["no-such-paper"]})
    assert media == {
        "bib": "application/x-bibtex; charset=utf-8",
        "ris": "application/x-research-info-systems; charset=utf-8",
        "csl": "application/vnd.citationstyles.csl+json; charset=utf-8",
    }
    assert bad_format.status_code == 400 and bad_format.json()["error"]["code"] == "invalid_export"
    assert bad_format.json()["error"]["message"].startswith("unknown export format 'docx'; choose bib")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "paper_not_found"
    assert unknown.json()["error"]["message"] == "no indexed paper has the id, title or name 'no-such-paper'; " \
        "search for it first"  # fmt: skip


@pytest.mark.slow
def test_mcp_export_papers(bundled):
    """The MCP tool, through the official client connected to the server in memory."""
    pytest.importorskip("mcp")
    from mcp import Client

    from assistant.mcp_server import create_server

    paper = bundled.find_paper("SkillMimic")

    async def session() -> tuple:
        async with Client(create_server(bundled)) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            done = await client.call_tool("export_papers", {"paper_ids": [paper.paper_id], "format": "ris"})
            bad = await client.call_tool("export_papers", {"paper_ids": [paper.paper_id], "format": "docx"})
            return tools["export_papers"], done, bad

    tool, done, bad = anyio.run(session)
    assert tool.input_schema["properties"]["format"]["enum"] == ["bib", "ris", "csl"]
    assert not done.is_error and done.content[0].text == bundled.export([paper.paper_id], "ris")
    assert bad.is_error and "unknown export format 'docx'; choose bib (BibTeX), ris (RIS) or csl" in bad.content[0].text


def test_csl_json_keeps_brackets_in_a_title_as_written():
    from index.formats.export import csl_json
    from index.records import Paper, paper_id_for

    title = "[[1,2]] matrix games"
    paper = Paper(paper_id_for(title), title, "We study [[1,2]] matrices.", date="2024-05-01")
    items = json.loads(csl_json([paper]))
    assert items[0]["title"] == title and items[0]["abstract"] == "We study [[1,2]] matrices."
    assert items[0]["issued"] == {"date-parts": [[2024, 5, 1]]}
