"""Fast units: chunk windows, citation checking, config loading, question cleaning, filters."""

from __future__ import annotations

import pytest

from assistant.answer import Source
from assistant.api import QuestionError, clean_question
from assistant.backends.base import Draft
from assistant.citations import finalize
from index.chunk import _windows, chunk_paper
from index.config import Config, ConfigError
from index.embed import SentenceTransformerEmbedder, resolve_model_path
from index.records import Paper
from index.store import Filters
from index.text import sentence_spans, terms


class _TokenCounter(SentenceTransformerEmbedder):
    """The real tokenizer without loading the network (only count_tokens is used)."""

    def __init__(self):
        from index.embed import Embedder

        Embedder.__init__(self, resolve_model_path("all-MiniLM-L6-v2"))


def test_windows_partition_and_respect_budget():
    assert _windows([50] * 5, 120) == [(0, 2), (2, 4), (4, 5)]
    assert _windows([300], 100) == [(0, 1)]  # one over-long sentence stays whole here
    windows = _windows([60] * 6, 200)
    assert windows == [(0, 3), (3, 6)]  # balanced, not 3 + 3 by accident of greed only


def test_chunks_cover_whole_abstract_within_model_limit():
    counter = _TokenCounter()
    sentence = "Continual learning methods transfer skills between tasks while avoiding catastrophic forgetting. "
    paper = Paper("p1", "A Long Paper Title About Skills", (sentence * 30).strip())
    chunks = chunk_paper(paper, counter.count_tokens, 256)
    assert len(chunks) > 1
    assert all(c.text.startswith(paper.title + "\n") for c in chunks)
    assert max(counter.count_tokens([c.text for c in chunks])) + 2 <= 256
    assert chunks[0].start == 0 and chunks[-1].end == len(paper.abstract)
    assert all(a.end <= b.start for a, b in zip(chunks, chunks[1:]))
    covered = "".join(paper.abstract[c.start : c.end] for c in chunks).replace(" ", "")
    assert covered == paper.abstract.replace(" ", "")


def test_one_giant_sentence_is_cut_at_word_boundaries():
    counter = _TokenCounter()
    paper = Paper("p2", "Title", " ".join(["word"] * 1000))
    chunks = chunk_paper(paper, counter.count_tokens, 128)
    assert len(chunks) >= 8
    assert max(counter.count_tokens([c.text for c in chunks])) + 2 <= 128


def test_sentence_spans_keep_abbreviations_together():
    text = "We use e.g. adapters and LoRA et al. proposed. It works (Fig. 2 shows it). Done!"
    parts = [text[s:e] for s, e in sentence_spans(text)]
    assert parts == ["We use e.g. adapters and LoRA et al. proposed.", "It works (Fig. 2 shows it).", "Done!"]


def test_terms_stem_and_split_hyphens():
    assert terms("The struggle-determination dataset: 61.68 hours") == [
        "struggl",
        "determin",
        "dataset",
        "61.68",
        "hour",
    ]


def _sources(n: int) -> list[Source]:
    return [Source(paper_id=f"p{i}", title=f"Paper {i}", score=1.0 / i) for i in range(1, n + 1)]


def test_finalize_drops_unknown_markers_and_renumbers():
    draft = Draft("Claim A [3]. Claim B [7]. Claim C [1, 3]. Claim D [0].", quotes={3: ["quote"]})
    text, citations = finalize(draft, _sources(3))
    assert text == "Claim A [1]. Claim B. Claim C [2][1]. Claim D."
    assert [(c.number, c.paper_id, c.quotes) for c in citations] == [(1, "p3", ("quote",)), (2, "p1", ())]


def test_finalize_invariants_hold_for_noise():
    import re

    noisy = "x [12] y [2] [2] z [1,5,2] w [] [a] [99999999999]"
    text, citations = finalize(Draft(noisy), _sources(2))
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", text)}
    assert numbers == {c.number for c in citations} == {1, 2}
    assert {c.paper_id for c in citations} <= {"p1", "p2"}


def test_config_layers_and_unknown_keys(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('top_k = 7\nllm = "extractive"\n')
    config = Config.load(toml, env={"ASSISTANT_TOP_K": "9", "ASSISTANT_DATA_DIR": str(tmp_path)})
    assert config.top_k == 9 and config.data_dir == tmp_path
    assert Config.load(toml, env={}, top_k=3).top_k == 3
    (tmp_path / "bad.toml").write_text("top_kk = 1\n")
    with pytest.raises(ConfigError, match="top_kk"):
        Config.load(tmp_path / "bad.toml", env={})
    with pytest.raises(ConfigError, match="top_k"):
        Config.load(env={"ASSISTANT_TOP_K": "many"})
    with pytest.raises(ConfigError, match="does not exist"):
        Config.load(tmp_path / "nope.toml", env={})


@pytest.mark.parametrize("bad", ["", "   ", "\x00\x07\n\t"])
def test_empty_questions_are_rejected_with_a_clear_message(bad):
    with pytest.raises(QuestionError, match="empty"):
        clean_question(bad, 100)


def test_long_questions_are_rejected_and_control_characters_dropped():
    with pytest.raises(QuestionError, match="keep it under 100"):
        clean_question("why " * 100, 100)
    assert clean_question("what\x00 is\u200b\tthis?", 100) == "what is this?"


def test_filters_where_clause_and_predicate():
    paper = Paper("p", "T", "A", organization="ByteDance Seed", date="2025-12-23")
    undated = Paper("q", "T", "A")
    assert Filters(date_from="2025-01-01", organization="bytedance seed").accepts(paper)
    assert not Filters(date_to="2024-12-31").accepts(paper)
    assert not Filters(date_from="2020-01-01").accepts(undated)
    assert Filters(date_to="2024-01-01").where() == {
        "$and": [{"date_ord": {"$lte": 20240101}}, {"date_ord": {"$gt": 0}}]
    }
    assert not Filters()
