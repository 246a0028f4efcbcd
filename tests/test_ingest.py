"""Incremental, idempotent ingest into a real Chroma store with the real embedding model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant, Config
from index.ingest import IngestError, ingest
from index.keyword import KeywordIndex
from index.store import Store
from index.text import terms
from tests.helpers import SMALL, free_port, stop, wait_for_http, write_jsonl

pytestmark = pytest.mark.slow


@pytest.fixture
def config(tmp_path) -> Config:
    return Config(data_dir=tmp_path / "store")


def test_second_ingest_embeds_nothing(config, small_corpus, embedder):
    # each small paper's title and abstract fit the model's window, so each is one chunk
    tokens = embedder.count_tokens([f"{p['title']}\n{p['abstract']}" for p in SMALL])
    assert max(tokens) + 2 <= embedder.max_tokens  # [CLS] and [SEP]
    first = ingest(config, [small_corpus], embedder=embedder)
    assert (first.entries, first.papers, first.added) == (3, 3, 3)
    assert first.embedded == 6  # a chunk and a title per paper
    assert Store(config).counts() == {"papers": 3, "chunks": 3}
    second = ingest(config, [small_corpus], embedder=embedder)
    assert (second.added, second.updated, second.unchanged, second.removed, second.embedded) == (0, 0, 3, 0, 0)
    assert Store(config).counts() == {"papers": 3, "chunks": 3}


def test_ingest_adds_and_keeps_what_other_sources_hold(config, small_corpus, tmp_path, embedder):
    ingest(config, [small_corpus], embedder=embedder)
    (tmp_path / "mine").mkdir()
    mine = write_jsonl(tmp_path / "mine" / "mine.jsonl", [dict(SMALL[0], title="A Paper Of My Own")])
    report = ingest(config, [mine], embedder=embedder)
    assert (report.added, report.removed, report.kept) == (1, 0, 3)
    assert "kept 3 indexed papers these sources do not hold (--prune removes them)" in report.summary()
    assert Store(config).counts()["papers"] == 4
    pruned = ingest(config, [mine], embedder=embedder, prune=True)
    assert (pruned.removed, pruned.kept, pruned.embedded) == (3, 0, 0)
    assert [p.title for p in Store(config).load_papers()] == ["A Paper Of My Own"]


def test_changed_paper_is_replaced_and_gone_paper_removed_when_pruning(config, small_corpus, embedder):
    ingest(config, [small_corpus], embedder=embedder)
    changed = [dict(SMALL[0], abstract=SMALL[0]["abstract"] + " We also release the code."), SMALL[1]]
    write_jsonl(small_corpus / "papers.jsonl", changed)
    report = ingest(config, [small_corpus], embedder=embedder, prune=True)
    assert (report.added, report.updated, report.unchanged, report.removed) == (0, 1, 1, 1)
    assert report.embedded == 2  # one chunk and one title, only for the changed paper
    store = Store(config)
    papers = {p.title: p for p in store.load_papers()}
    assert set(papers) == {SMALL[0]["title"], SMALL[1]["title"]}
    assert papers[SMALL[0]["title"]].abstract.endswith("release the code.")
    chunks = store.chunks.get(include=["metadatas"])
    assert {m["paper_id"] for m in chunks["metadatas"]} == {p.paper_id for p in papers.values()}
    assert store.sweep_orphans() == 0  # the old version's chunks are gone


def test_metadata_change_rewrites_without_embedding(config, small_corpus, embedder):
    ingest(config, [small_corpus], embedder=embedder)
    write_jsonl(small_corpus / "papers.jsonl", [dict(SMALL[0], date="2022-01-01"), *SMALL[1:]])
    report = ingest(config, [small_corpus], embedder=embedder)
    assert (report.updated, report.embedded) == (1, 0)
    (paper,) = [p for p in Store(config).load_papers() if p.title == SMALL[0]["title"]]
    assert paper.date == "2022-01-01"


def test_bad_records_are_reported_and_the_rest_ingested(config, small_corpus, embedder):
    (small_corpus / "broken.jsonl").write_text('{"title": "x"}\nnot json\n')
    report = ingest(config, [small_corpus], embedder=embedder)
    assert report.papers == 3
    assert [str(p).split("/")[-1] for p in report.skipped] == [
        "broken.jsonl:1: missing 'abstract'",
        "broken.jsonl:2: not valid JSON (Expecting value)",
    ]
    assert "skipped 2:" in report.summary()


def test_no_papers_leaves_the_store_unchanged(config, small_corpus, tmp_path, embedder):
    ingest(config, [small_corpus], embedder=embedder)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("garbage\n")
    with pytest.raises(IngestError, match="left unchanged"):
        ingest(config, [empty], embedder=embedder)
    assert Store(config).counts()["papers"] == 3


def test_interrupted_ingest_leaves_no_orphans(config, small_corpus, embedder):
    """Chunks written without their paper record (a crash between the two) are swept next time."""
    ingest(config, [small_corpus], embedder=embedder)
    store = Store(config)
    victim = store.load_papers()[0]
    store.papers.delete(ids=[victim.paper_id])  # as if the commit never happened
    report = ingest(config, [small_corpus], embedder=embedder)
    assert report.added == 1
    chunks = store.chunks.get(include=["metadatas"])
    assert len(chunks["ids"]) == len(set(chunks["ids"]))
    assert store.sweep_orphans() == 0


def test_keyword_index_is_persisted_and_matches_store(config, small_corpus, embedder):
    ingest(config, [small_corpus], embedder=embedder)
    store = Store(config)
    keyword = KeywordIndex.load(config.keyword_dir, store.fingerprint())
    assert keyword is not None and sorted(keyword.ids) == sorted(p.paper_id for p in store.load_papers())
    assert keyword.top(keyword.scores(terms("sparse attention long documents")), 1)[0][0] == keyword.ids[2]
    manifest = json.loads((config.keyword_dir / "manifest.json").read_text())
    assert manifest["fingerprint"] == store.fingerprint()


def test_whole_collection_reads_are_paged(config, small_corpus, embedder, monkeypatch):
    ingest(config, [small_corpus], embedder=embedder)
    store = Store(config)
    papers, fingerprint = store.snapshot()
    monkeypatch.setattr("index.store.READ_PAGE", 2)  # Chroma fails one get() of >~32k records
    assert store.snapshot() == (papers, fingerprint) and len(papers) == len(SMALL)
    assert fingerprint == store.fingerprint() and set(store.paper_hashes()) == {p.paper_id for p in papers}
    assert store.sweep_orphans() == 0


def test_chunk_vectors_by_id_match_the_metadata_lookup(config, small_corpus, embedder):
    ingest(config, [small_corpus], embedder=embedder)
    by_filter = Store(config)  # no snapshot read yet: finds chunks by their paper_id metadata
    by_id = Store(config)
    papers, _ = by_id.snapshot()  # learns each paper's chunk ids
    vector = embedder.embed_query("sparse attention for long documents")
    ids = [p.paper_id for p in papers]
    assert by_id.chunk_similarity(vector, ids) == pytest.approx(by_filter.chunk_similarity(vector, ids))
    assert set(by_id.chunk_similarity(vector, ids)) == set(ids)
    for pid in ids:  # the same rows, whatever order each lookup returns them in
        a, b = by_id.paper_vectors(pid), by_filter.paper_vectors(pid)
        assert np.array_equal(a[np.lexsort(a.T)], b[np.lexsort(b.T)]) and len(a) >= 2


def test_keyword_index_swapped_while_loading_is_not_used(config, small_corpus, embedder):
    """A reader must never pair one save's paper ids with another save's BM25 arrays."""
    ingest(config, [small_corpus], embedder=embedder)
    fingerprint = Store(config).fingerprint()
    manifest_path = config.keyword_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["ids"] = manifest["ids"] + ["another-save"]  # ids of a bigger index beside these arrays
    manifest_path.write_text(json.dumps(manifest))
    assert KeywordIndex.load(config.keyword_dir, fingerprint) is None
    assert Assistant(config).retrieve("sparse attention long documents")  # rebuilds from the store


def test_assistant_over_a_custom_corpus_with_filters(tmp_path, small_corpus, embedder):
    from assistant import Filters

    assistant = Assistant(Config(data_dir=tmp_path / "s2", sources=[small_corpus]))
    report = assistant.ingest()
    assert report.added == 3
    answer = assistant.ask("How much does the molecular graph model improve mean absolute error?")
    assert not answer.refused
    assert answer.citations[0].title == SMALL[0]["title"]
    assert "12%" in answer.text
    recent = assistant.retrieve("learning", filters=Filters(date_from="2024-01-01"))
    assert [s.title for s in recent] == [SMALL[1]["title"]]
    lab = assistant.retrieve("learning", filters=Filters(organization="robotics lab"))
    assert [s.title for s in lab] == [SMALL[1]["title"]]
    assert assistant.retrieve("learning", filters=Filters(organization="Nobody")) == []


def test_changing_the_model_or_chunking_asks_for_a_rebuild(config, small_corpus, embedder):
    from index.store import StoreError

    ingest(config, [small_corpus], embedder=embedder)
    float32 = config.model_copy(update={"embed_backend": "onnx"})
    with pytest.raises(StoreError, match=r"'all-MiniLM-L6-v2\|256\|int8' .* 'all-MiniLM-L6-v2\|256'.*--rebuild"):
        ingest(float32, [small_corpus], embedder=embedder)  # int8 and float32 vectors never mix
    ingest(float32, [small_corpus], rebuild=True, embedder=embedder)
    same_vectors = config.model_copy(update={"embed_backend": "sentence-transformers"})
    assert ingest(same_vectors, [small_corpus], embedder=embedder).embedded == 0  # float32 either way
    other = config.model_copy(update={"chunk_tokens": 128})
    with pytest.raises(StoreError, match="--rebuild"):
        ingest(other, [small_corpus], embedder=embedder)
    report = ingest(other, [small_corpus], rebuild=True, embedder=embedder)
    assert report.added == 3


@pytest.fixture
def chroma_server(tmp_path):
    """A real Chroma server on 127.0.0.1, stopped by its PID."""
    import subprocess
    import sys
    from pathlib import Path

    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("chroma")), "run", "--path", str(tmp_path / "server"),
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for_http(f"http://127.0.0.1:{port}/api/v2/heartbeat", proc, 60, "the Chroma server")
    yield port
    stop(proc)


def test_ingest_and_ask_against_a_chroma_server(tmp_path, small_corpus, chroma_server, embedder):
    config = Config(data_dir=tmp_path / "local", chroma_host="127.0.0.1", chroma_port=chroma_server)
    assert ingest(config, [small_corpus], embedder=embedder).added == 3
    assert ingest(config, [small_corpus], embedder=embedder).embedded == 0
    assert not config.chroma_dir.exists()  # vectors live on the server
    assistant = Assistant(config.model_copy(update={"sources": [small_corpus]}))
    answer = assistant.ask("Which paper proposes sparse attention for documents of 64k tokens?")
    assert answer.citations[0].title == SMALL[2]["title"]
    assert assistant.stats()["store"] == f"the Chroma server at 127.0.0.1:{chroma_server}"


def test_unreachable_chroma_server_is_one_clear_error(tmp_path):
    from index.store import StoreError

    config = Config(data_dir=tmp_path, chroma_host="127.0.0.1", chroma_port=free_port())
    with pytest.raises(StoreError, match="cannot reach the Chroma server at 127.0.0.1"):
        Store(config)


def test_a_running_assistant_picks_up_another_process_ingest(tmp_path, small_corpus, embedder):
    """A UI or bot process answers from the papers another process has since ingested, without a
    restart: it notices the store's new generation and reopens the index in the background."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    config = Config(data_dir=tmp_path / "store", refresh_seconds=0)
    ingest(config, [small_corpus], embedder=embedder)
    reader = Assistant(config)
    question = "protein folding with diffusion models"
    assert all("Protein" not in s.title for s in reader.retrieve(question))
    before = Store(config).generation()
    assert before  # set by the ingest that added papers

    extra = {"title": "Diffusion Models for Protein Folding", "abstract": "We fold proteins with a diffusion model."}
    bigger = tmp_path / "bigger.jsonl"
    write_jsonl(bigger, [*SMALL, extra])
    argv = [str(Path(sys.executable).with_name("assistant")), "--data-dir", str(config.data_dir), "ingest", str(bigger)]
    subprocess.run(argv, check=True, capture_output=True, timeout=300)
    assert Store(config).generation() != before

    deadline = time.monotonic() + 60
    while not any(s.title == extra["title"] for s in reader.retrieve(question)):
        assert time.monotonic() < deadline, "the running assistant never saw the new paper"
        time.sleep(0.2)
    unchanged = Store(config).generation()
    ingest(config, [bigger], embedder=embedder)  # nothing changes: readers are not sent to reopen
    assert Store(config).generation() == unchanged


def test_rebuild_writes_beside_the_live_index_and_swaps_when_complete(config, small_corpus, embedder, monkeypatch):
    """The live collections answer throughout a rebuild; the rebuilt ones replace them in one step
    at the end; the replaced ones stay for readers still on them, and later ingests drop them."""
    ingest(config, [small_corpus], embedder=embedder)
    reader = Assistant(config.model_copy(update={"refresh_seconds": 0}))
    question = "Which paper proposes sparse attention for documents of 64k tokens?"
    assert reader.ask(question).citations[0].title == SMALL[2]["title"]
    before = Store(config)
    generation = before.generation()

    staged = Store.rebuilt(config)  # what `ingest --rebuild` writes into, before anything is in it
    assert staged.tag != before.tag and not staged.counts()["papers"]
    assert Store(config).tag == before.tag and Store(config).counts()["papers"] == 3  # the old index is live
    assert reader.ask(question).citations[0].title == SMALL[2]["title"]

    write_jsonl(small_corpus / "papers.jsonl", SMALL[1:])
    report = ingest(config, [small_corpus], rebuild=True, embedder=embedder)
    assert (report.added, report.removed) == (2, 0)
    live = Store(config)
    assert live.tag not in (before.tag, staged.tag) and live.counts()["papers"] == 2
    assert live.generation() != generation
    assert set(live.pairs()) == {before.tag, live.tag}  # the killed-looking staged pair is gone
    answer = reader.ask(question)  # the running reader moves to the new collections
    assert answer.citations[0].title == SMALL[2]["title"] and len(reader.papers()) in (2, 3)

    ingest(config, [small_corpus], rebuild=True, embedder=embedder)  # a second rebuild: the oldest pair goes
    assert len(Store(config).pairs()) == 2 and before.tag not in Store(config).pairs()
    monkeypatch.setattr("index.store.RETIRED_SECONDS", 0.0)
    assert ingest(config, [small_corpus], embedder=embedder).embedded == 0  # any later ingest drops the replaced
    assert Store(config).pairs() == [Store(config).tag]
    assert KeywordIndex.load(config.keyword_dir, Store(config).fingerprint()) is not None
    folders = [f for f in config.chroma_dir.iterdir() if f.is_dir()]
    assert len(folders) <= 2  # the dropped collections' vector folders are gone too (chroma-core/chroma#5259)


def test_rebuild_of_an_empty_or_missing_store_builds_in_place(config, small_corpus, embedder):
    report = ingest(config, [small_corpus], rebuild=True, embedder=embedder)
    assert report.added == 3 and Store(config).pairs() == [""] and Store(config).tag == ""


NEW_PAPER = (
    "Ordering Pages Does Not Rename Papers\n\n"
    "We insert one paper above all the others on a page and check that the index adds it and leaves "
    "every paper below it as it was, whatever line it now starts on.\n\n"
)


def test_where_the_files_sit_and_line_numbers_change_nothing_in_the_index(tmp_path, embedder, bundled):
    """The same corpus from another checkout rewrites no record (before: "updated 426"), and a
    paper added at the top of a page is the only change (before: every paper below it was)."""
    import shutil

    from index.config import BUNDLED_CORPUS

    # the index of the bundled corpus as this checkout built it, copied: the session's stays
    shutil.copytree(bundled.config.data_dir, tmp_path / "store")
    config = Config(data_dir=tmp_path / "store")
    generation = Store(config).generation()
    sources = {s for p in Store(config).load_papers() for s in p.sources}
    assert sources == {f.name for f in BUNDLED_CORPUS.glob("*.txt")}  # names only: no folder, no line

    copy = shutil.copytree(BUNDLED_CORPUS, tmp_path / "another" / "checkout" / "papers")
    moved = ingest(config, [copy], embedder=embedder)
    assert (moved.added, moved.updated, moved.removed, moved.embedded) == (0, 0, 0, 0)
    assert moved.unchanged == 426
    assert Store(config).generation() == generation  # running assistants are not sent to reopen

    page = sorted(copy.glob("*.txt"))[1]
    page.write_text(NEW_PAPER + page.read_text(encoding="utf-8"), encoding="utf-8")
    added = ingest(config, [copy], embedder=embedder)
    assert (added.added, added.updated, added.removed, added.unchanged) == (1, 0, 0, 426)
    assert added.embedded == 2  # the new paper's one chunk and its title, nothing else
    (new,) = [p for p in Store(config).load_papers() if p.title == NEW_PAPER.split("\n")[0]]
    assert new.sources == (page.name,)


def test_sources_are_named_relative_to_the_folder_given_without_lines(tmp_path, monkeypatch):
    from index.ingest import distinct_papers, located, read_sources

    (tmp_path / "corpus" / "sub").mkdir(parents=True)
    write_jsonl(tmp_path / "corpus" / "sub" / "a.jsonl", SMALL[:1])
    write_jsonl(tmp_path / "corpus" / "b.jsonl", [{}, SMALL[0]])  # the same paper, on line 2
    monkeypatch.chdir(tmp_path / "corpus")
    for roots, names in [
        ([tmp_path / "corpus"], ("b.jsonl", "sub/a.jsonl")),
        ([Path(".")], ("b.jsonl", "sub/a.jsonl")),
        ([Path("sub"), Path("b.jsonl")], ("a.jsonl", "b.jsonl")),
    ]:
        parsed, _ = read_sources(roots)
        assert {p.sources for p in distinct_papers(parsed)} != {names}  # as parsed: full paths and lines
        assert [p.sources for p in located(distinct_papers(parsed), roots)] == [names]
