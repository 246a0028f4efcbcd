"""One paper however many sources hold it (arXiv id, then DOI, then title), with the richest
metadata and the newest abstract; its categories, venue and DOI kept in the store, shown, and
filterable in every way a question can be filtered."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import Assistant, Config, nlfilters
from index.records import Paper, arxiv_id_of, doi_of, merge
from index.store import FilterError, Filters
from tests.helpers import write_jsonl

A1 = (
    "We introduce Tidepool, a scheduler that packs inference jobs onto shared accelerators "
    "and cuts idle time by 31 percent."
)
A2 = (
    "We introduce Tidepool, a scheduler that packs inference jobs onto shared accelerators. "
    "On a 64-node cluster it cuts idle accelerator time by 38 percent and tail latency by half."
)


def paper(title: str, abstract: str = A1, **fields) -> Paper:
    return Paper(paper_id=fields.pop("paper_id", title[:12]), title=title, abstract=abstract, **fields)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("http://arxiv.org/abs/2401.12345v2", ("2401.12345", 2)),
        ("https://arxiv.org/pdf/2401.12345v3.pdf", ("2401.12345", 3)),
        ("arXiv:2310.00001", ("2310.00001", None)),
        ("hep-th/9901001v1", ("hep-th/9901001", 1)),
        ("oai:arXiv.org:0704.0001", ("0704.0001", None)),
        ("a paper about 2024 things", (None, None)),
        ("", (None, None)),
    ],
)
def test_arxiv_ids_are_read_with_their_version_folded_out(text, expected):
    assert arxiv_id_of(text) == expected


def test_dois_are_spelled_one_way():
    assert doi_of("https://doi.org/10.1145/3292500.3330701") == "10.1145/3292500.3330701"
    assert doi_of("doi:10.1000/ABC.Def.") == "10.1000/abc.def"
    assert doi_of("not a doi") is None


def test_a_newer_arxiv_version_under_a_new_title_is_the_same_paper_with_the_newer_text():
    v1 = paper("Tidepool: Packing Inference Jobs", A1, arxiv_id="2401.12345", version=1, categories=("cs.DC",))
    v2 = paper("Tidepool: Packing Inference Jobs onto Shared Accelerators", A2, arxiv_id="2401.12345", version=2)
    listing = paper("tidepool: packing inference jobs", A1, upvotes=12, organization="Harbor Lab")
    (one,) = merge([v1, listing, v2])
    assert one.paper_id == v1.paper_id  # the first entry names it: ids stay stable
    assert (one.abstract, one.title, one.version) == (A2, v2.title, 2)
    assert (one.upvotes, one.organization, one.categories) == (12, "Harbor Lab", ("cs.DC",))


def test_an_older_version_seen_later_does_not_replace_the_newer_text():
    v2 = paper("Tidepool", A2, arxiv_id="2401.12345", version=2)
    v1 = paper("Tidepool", A1 + " A much longer, older abstract.", arxiv_id="2401.12345", version=1)
    (one,) = merge([v2, v1])
    assert one.abstract == A2 and one.version == 2


def test_a_doi_joins_entries_whose_titles_differ_and_an_arxiv_doi_is_the_arxiv_id():
    journal = paper("Tidepool (journal version)", doi="10.1000/tp.1", venue="Journal of Clusters", authors=3)
    preprint = paper(
        "Tidepool preprint",
        doi=doi_of("https://doi.org/10.1000/TP.1"),
        author_names=("Ada Lovelace", "Alan Turing", "Grace Hopper"),
    )
    (one,) = merge([journal, preprint])
    assert one.venue == "Journal of Clusters" and one.author_names[0] == "Ada Lovelace" and one.authors == 3
    arxiv_doi = paper("Tidepool arXiv DOI", doi="10.48550/arXiv.2401.12345")
    atom = paper("Tidepool atom entry", arxiv_id="2401.12345", version=1)
    assert len(merge([arxiv_doi, atom])) == 1


def test_same_title_but_different_arxiv_ids_are_two_papers():
    assert len(merge([paper("Introduction", arxiv_id="2401.00001"), paper("Introduction", arxiv_id="2402.00002")])) == 2
    assert len(merge([paper("Survey", doi="10.1000/a"), paper("Survey", doi="10.1000/b")])) == 2


@pytest.mark.parametrize(
    "field, value, says",
    [
        ("category", "cs LG", "is not an arXiv category"),
        ("category", "", "is not an arXiv category"),
        ("venue", "  ", "is not a name"),
        ("doi", "10/abc", "is not a DOI"),
        ("doi", 3, "is not a DOI"),
    ],
)
def test_bad_metadata_filters_are_one_sentence(field, value, says):
    with pytest.raises(FilterError, match=says):
        Filters(**{field: value})


def test_category_venue_and_doi_filters_in_memory():
    p = paper("T", categories=("cs.LG", "stat.ML"), venue="NeurIPS 2024", doi="10.1000/x")
    assert Filters(category="cs.lg").accepts(p) and Filters(category="stat").accepts(p)
    assert not Filters(category="cs.CL").accepts(p) and not Filters(category="math").accepts(p)
    assert Filters(venue="neurips").accepts(p) and not Filters(venue="ICML").accepts(p)
    assert Filters(doi="https://doi.org/10.1000/X").accepts(p) and not Filters(doi="10.1000/y").accepts(p)


def test_natural_language_category_filters():
    parsed = nlfilters.parse("Which papers in cs.LG since 2024 use diffusion?", [])
    assert parsed.filters == Filters(date_from="2024", category="cs.LG")
    assert parsed.question == "Which papers use diffusion?"
    assert "in cs.LG" in (parsed.description or "")
    assert nlfilters.parse("How do node.js apps scale?", []).filters is None


RECORDS = [
    {
        "title": "Tidepool: Packing Inference Jobs onto Shared Accelerators",
        "abstract": A2,
        "arxiv_id": "2401.12345v2",
        "categories": "cs.DC cs.LG",
        "date": "2024-01-22",
        "authors": ["Ada Lovelace", "Alan Turing"],
    },
    {
        "title": "Kelp: Sparse Retrieval for Marine Biology Literature",
        "abstract": "We present Kelp, a sparse retriever for marine biology papers. Kelp reaches 0.71 nDCG@10 on "
        "a new benchmark of 4,000 queries about coral reefs and kelp forests.",
        "doi": "https://doi.org/10.5555/Kelp.2023",
        "venue": "Proceedings of SIGIR 2023",
        "categories": ["cs.IR"],
        "date": "2023-07-10",
    },
    {
        "title": "Lantern: Calibrated Uncertainty for Protein Folding Models",
        "abstract": "Lantern adds calibrated uncertainty to protein folding models. On 1,200 held-out proteins "
        "its intervals cover the true structure error 94 percent of the time.",
        "categories": "q-bio.BM cs.LG",
        "date": "2024-05-02",
    },
]


@pytest.fixture
def tagged(tmp_path) -> tuple[Assistant, Path]:
    folder = tmp_path / "corpus"
    folder.mkdir()
    write_jsonl(folder / "papers.jsonl", RECORDS)
    assistant = Assistant(Config(data_dir=tmp_path / "store", sources=[folder]))
    assistant.ingest()
    return assistant, folder


def test_metadata_is_kept_in_the_store_and_shown(tagged):
    assistant, _ = tagged
    by_title = {p.title.split(":")[0]: p for p in assistant.papers()}
    tide = by_title["Tidepool"]
    assert (tide.arxiv_id, tide.version, tide.categories) == ("2401.12345", 2, ("cs.DC", "cs.LG"))
    assert tide.author_names == ("Ada Lovelace", "Alan Turing") and tide.authors == 2
    kelp = by_title["Kelp"]
    assert (kelp.doi, kelp.venue) == ("10.5555/kelp.2023", "Proceedings of SIGIR 2023")
    (source,) = [s for s in assistant.retrieve("sparse retriever marine biology", k=3) if s.title.startswith("Kelp")]
    assert "Proceedings of SIGIR 2023" in source.byline() and "doi:10.5555/kelp.2023" in source.byline()
    assert "cs.IR" in source.byline()


def test_filters_by_category_venue_and_doi_narrow_retrieval(tagged):
    assistant, _ = tagged
    titles = lambda filters: {s.title.split(":")[0] for s in assistant.retrieve("models", k=5, filters=filters)}  # noqa: E731
    assert titles(Filters(category="cs.LG")) == {"Tidepool", "Lantern"}
    assert titles(Filters(category="q-bio")) == {"Lantern"}
    assert titles(Filters(venue="SIGIR")) == {"Kelp"}
    assert titles(Filters(doi="10.5555/KELP.2023")) == {"Kelp"}
    assert titles(Filters(category="cs.LG", date_from="2024-03")) == {"Lantern"}


def test_a_question_filtered_in_words_cites_only_papers_in_that_category(tagged):
    assistant, _ = tagged
    answer = assistant.ask("Which papers in q-bio.BM add calibrated uncertainty to protein folding models?")
    assert answer.citations and {c.title.split(":")[0] for c in answer.citations} == {"Lantern"}
    none = assistant.ask("Which papers in math.OC add calibrated uncertainty to protein folding models?")
    assert none.refused and not none.citations


def test_changed_categories_rewrite_metadata_without_embedding_and_the_filter_follows(tagged):
    assistant, folder = tagged
    assert assistant.ingest().embedded == 0
    records = [dict(r) for r in RECORDS]
    records[1]["categories"] = ["cs.IR", "q-bio.PE"]
    write_jsonl(folder / "papers.jsonl", records)
    report = assistant.ingest()
    assert (report.embedded, report.updated) == (0, 1)
    found = {
        s.title.split(":")[0] for s in assistant.retrieve("kelp forests", k=5, filters=Filters(category="q-bio.PE"))
    }
    assert found == {"Kelp"}


IDENTITY = (
    Path(__file__).parent / "fixtures" / "identity"
)  # one paper: Zotero BibTeX (v1), arXiv API (v2), Daily Papers


def test_one_paper_from_three_formats_keeps_the_newer_version_and_all_the_metadata(tmp_path):
    assistant = Assistant(Config(data_dir=tmp_path / "store", sources=[IDENTITY]))
    report = assistant.ingest()
    assert (report.files, report.entries, report.papers, report.skipped) == (3, 3, 1, [])
    (reef,) = assistant.papers()
    assert "12,500 hours" in reef.abstract and reef.version == 2  # arXiv v2, not the v1 text Zotero and HF hold
    assert reef.title == "ReefSonar: Counting Fish in Coral Reef Soundscapes"
    assert (reef.arxiv_id, reef.categories) == ("2403.07777", ("eess.AS", "cs.SD", "q-bio.PE"))
    assert (reef.upvotes, reef.organization) == (57, "Tidewater AI")  # from the Daily Papers listing
    assert reef.author_names == ("Marisol Quillon", "Oumar Ndiaye", "Tove Brekke") and reef.date == "2024-03-12"
    assert sorted(reef.sources) == ["arxiv-api.atom", "daily-papers-2024-03-13.json", "zotero.bib"]
    answer = assistant.ask("How many hours of hydrophone audio was ReefSonar trained on?")
    assert [c.title for c in answer.citations] == [reef.title]
    assert "12,500 hours" in answer.text
    assert assistant.ingest().embedded == 0  # the mix re-ingests incrementally


def test_the_newer_version_wins_whatever_order_the_sources_come_in():
    from index.ingest import read_sources

    parsed, _ = read_sources([IDENTITY])
    for entries in (parsed.papers, parsed.papers[::-1]):
        (one,) = merge(entries)
        assert one.version == 2 and "12,500 hours" in one.abstract and one.upvotes == 57


def test_the_cli_filters_by_category_and_says_so_of_a_bad_one(tagged, tmp_path, capsys):
    import json

    from assistant.cli import main

    store = str(tmp_path / "store")
    assert main(["--data-dir", store, "ask", "models", "--category", "q-bio", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {s["title"].split(":")[0] for s in shown["sources"]} == {"Lantern"}
    assert shown["sources"][0]["categories"] == ["q-bio.BM", "cs.LG"]
    assert main(["--data-dir", store, "ask", "models", "--category", "cs LG"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "is not an arXiv category" in err


def test_a_large_snapshot_is_read_line_by_line_with_the_same_papers_and_problems(monkeypatch):
    """Files from STREAM_BYTES up, in a format that streams, are never read whole."""
    from index import ingest

    snapshot = Path(__file__).parent / "fixtures" / "formats" / "snapshot-arxiv-metadata.json"
    whole, _ = ingest.read_sources([snapshot])
    monkeypatch.setattr(ingest, "STREAM_BYTES", 1)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"{self} was read whole"))
    streamed, _ = ingest.read_sources([snapshot])
    assert streamed.papers == whole.papers and streamed.problems == whole.problems
    assert len(whole.papers) >= 3 and whole.problems


def test_a_folder_named_sources_beside_the_store_is_not_ingested_until_fetch_writes_into_it(tmp_path):
    """The default fetch folder is `sources` beside data_dir, a name a user's own folder may have."""
    config = Config(data_dir=tmp_path / "store", sources=[tmp_path / "mine"])
    (tmp_path / "sources").mkdir()
    write_jsonl(tmp_path / "sources" / "drafts.jsonl", RECORDS[:1])
    assert config.ingest_sources == [tmp_path / "mine"]
    (tmp_path / "sources" / "arxiv").mkdir()
    assert config.ingest_sources == [tmp_path / "mine", tmp_path / "sources"]


SNAPSHOT = Path(__file__).parent / "fixtures" / "formats" / "snapshot-arxiv-metadata.json"


@pytest.mark.parametrize("streamed", [False, True])
def test_an_ingest_filter_keeps_a_slice_as_the_file_is_read(monkeypatch, streamed):
    from index import ingest

    if streamed:
        monkeypatch.setattr(ingest, "STREAM_BYTES", 1)
    parsed, _ = ingest.read_sources([SNAPSHOT], Filters(category="physics").accepts)
    assert [p.arxiv_id for p in parsed.papers] == ["2401.12345", "0705.2291"]
    assert parsed.left_out == 2 and parsed.problems  # the malformed lines are still reported
    since, _ = ingest.read_sources([SNAPSHOT], Filters(date_from="2023-12").accepts)
    assert [p.arxiv_id for p in since.papers] == ["2401.12345", "2312.17001"]


def test_the_cli_ingests_a_slice_of_the_snapshot_and_says_what_it_left_out(tmp_path, capsys):
    from assistant.cli import main

    store = str(tmp_path / "store")
    assert main(["--data-dir", store, "ingest", str(SNAPSHOT), "--category", "cs", "--since", "2023"]) == 0
    out = capsys.readouterr().out
    assert "read 2 entries from 1 files (2 more left out by the filters): 2 distinct papers" in out
    assert {p.arxiv_id for p in Assistant(Config(data_dir=tmp_path / "store")).papers()} == {"2401.12345", "2312.17001"}
    assert main(["--data-dir", store, "ingest", str(SNAPSHOT), "--category", "hep-th"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "none of the 4 papers in the 1 source files matches the filters" in err
    assert len(Assistant(Config(data_dir=tmp_path / "store")).papers()) == 2  # left as it was
