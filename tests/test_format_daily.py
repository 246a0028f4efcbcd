"""Hugging Face Daily Papers API responses (index/formats/daily.py)."""

from __future__ import annotations

import json
import shutil

import pytest

from assistant import Assistant, Config
from index.formats import SNIFF_CHARS, daily, detect
from index.ingest import ingest
from index.parse import parse_source
from tests.helpers import REPO, SMALL, assert_citation_invariants

FIXTURES = REPO / "tests" / "fixtures" / "formats"
DAILY = FIXTURES / "daily-papers-2024-02-08.json"


def test_items_fields_and_lines():
    result = parse_source(str(DAILY), DAILY.read_text(encoding="utf-8"))
    origami, waggle, quilt = result.papers
    assert origami.title == "Origami Diffusion: Generating Foldable Crease Patterns from Text"
    assert origami.abstract.startswith(
        "We present Origami Diffusion, a diffusion model that outputs crease patterns which"
    )
    assert "87% produced" in origami.abstract and "\n" not in origami.abstract
    assert (origami.arxiv_id, origami.version) == ("2402.05011", None)
    assert origami.author_names == (
        "Noor Halvorsen-Adeyemi",
        "Kenji Ostrowski",
        "Lucia Ferreira-Thorne",
        "Amadou Kessler",
    )
    assert origami.authors == 4
    assert (origami.date, origami.upvotes) == ("2024-02-07", 42)  # the paper's publishedAt, not the listing's
    assert origami.organization == "Kestrel Robotics Lab"
    assert origami.url == "https://huggingface.co/papers/2402.05011"
    assert origami.sources == (f"{DAILY}:2",)
    assert (waggle.arxiv_id, waggle.organization, waggle.upvotes, waggle.sources) == (
        "2402.04567",
        None,
        17,
        (f"{DAILY}:28",),
    )
    assert quilt.sources == (f"{DAILY}:61",)
    assert [(p.line, p.reason) for p in result.problems] == [
        (49, "missing 'title'"),
        (83, "'paper' must be an object, not str"),
    ]


def test_bare_papers_and_wrapped_lists():
    items = json.loads(DAILY.read_text(encoding="utf-8"))
    bare = json.dumps([items[0]["paper"], items[3]["paper"]], indent=1)
    result = daily.parse(bare, "bare.json")
    assert [p.arxiv_id for p in result.papers] == ["2402.05011", "2402.05377"]
    assert result.papers[0].organization == "Kestrel Robotics Lab"
    starts = [number for number, line in enumerate(bare.split("\n"), 1) if line == " {"]  # indent=1: " {" opens one
    assert [p.sources for p in result.papers] == [(f"bare.json:{starts[0]}",), (f"bare.json:{starts[1]}",)]
    for key in ("papers", "data"):
        wrapped = json.dumps({"date": "2024-02-08", key: items})
        assert daily.sniff(wrapped)
        result = daily.parse(wrapped, "w.json")
        assert len(result.papers) == 3 and len(result.problems) == 2
        assert all(p.sources == ("w.json:1",) for p in result.papers)  # one line: minified, as the API sends it


def test_org_name_when_no_fullname_and_listing_copy_when_paper_lacks_it():
    item = {
        "paper": {"id": "2402.09999", "authors": [{"name": "A. Ng"}], "upvotes": 5,
                  "organization": {"name": "tiny-lab"}},
        "publishedAt": "2024-02-09T00:00:00.000Z",
        "title": "Listing Title",
        "summary": "The listing's copy of a summary that is long enough to be kept.",
    }  # fmt: skip
    (paper,) = daily.parse(json.dumps([item]), "x.json").papers
    assert (paper.title, paper.organization, paper.date, paper.authors) == (
        "Listing Title",
        "tiny-lab",
        "2024-02-09",
        1,
    )


def test_invalid_json_is_one_problem_and_keeps_what_came_before():
    text = DAILY.read_text(encoding="utf-8")
    cut = text[: text.index('"Quilted Experts')]
    result = daily.parse(cut, "cut.json")
    assert [p.arxiv_id for p in result.papers] == ["2402.05011", "2402.04567"]
    assert [p.reason for p in result.problems][0] == "missing 'title'"
    (broken,) = result.problems[1:]
    assert broken.reason.startswith("not valid JSON (") and broken.line == cut.count("\n") + 1
    result = daily.parse('{"papers": [1, 2', "obj.json")
    assert (result.papers, len(result.problems)) == ([], 1)
    result = daily.parse("[1 2]", "x.json")
    assert [p.reason for p in result.problems][-1] == "not valid JSON (expected ',' or ']' between papers)"


def test_sniffed_by_content_and_nothing_else_claimed():
    head = DAILY.read_text(encoding="utf-8")[:SNIFF_CHARS]
    assert detect("listing.txt", head).name == "daily"
    assert detect("listing.json", head).name == "daily"
    generic = json.dumps(SMALL)
    assert not daily.sniff(generic)
    assert not daily.sniff("".join(json.dumps(r) + "\n" for r in SMALL))
    assert not daily.sniff('{"papers": [{"title": "A", "abstract": "B"}]}')
    assert not daily.sniff("[]") and not daily.sniff("") and not daily.sniff("[{")
    for page in sorted((REPO / "index" / "corpus").glob("*.txt")):
        assert not daily.sniff(page.read_text(encoding="utf-8")[:SNIFF_CHARS]), page.name
    # a listing bigger than the sniffed head: the first element decides
    big = json.loads(head)[:2] * 400
    assert daily.sniff(json.dumps(big, indent=2)[:SNIFF_CHARS])


@pytest.mark.slow
def test_acceptance_daily_listing_ingested_and_answered_with_a_citation(tmp_path, embedder):
    folder = tmp_path / "daily"
    folder.mkdir()
    shutil.copy(DAILY, folder / DAILY.name)
    config = Config(data_dir=tmp_path / "store")
    report = ingest(config, [folder], embedder=embedder)
    assert report.added == 3 and len(report.skipped) == 2
    answer = Assistant(config).ask("What share of the generated crease patterns folded into a recognisable model?")
    assert not answer.refused
    assert answer.citations[0].title.startswith("Origami Diffusion")
    assert "87%" in answer.text
    assert_citation_invariants(answer)
