"""Fast units: chunk windows, citation checking, config loading, question cleaning, filters."""

from __future__ import annotations

import pytest

from assistant.answer import Source, Turn
from assistant.api import QuestionError, clean_question
from assistant.citations import check_citations
from assistant.followup import resolve_references
from index.chunk import _windows, chunk_paper
from index.config import Config, ConfigError
from index.embed import SentenceTransformerEmbedder, resolve_model_path
from index.records import Paper, paper_of_chunk
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
    for pid in ("p1", "arXiv:2401.00001", "a:b:c"):  # retrieval reads the paper back from the chunk id
        other = Paper(pid, paper.title, paper.abstract)
        assert {paper_of_chunk(c.chunk_id) for c in chunk_paper(other, counter.count_tokens, 256)} == {pid}


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


def test_a_date_with_an_abbreviated_month_is_not_a_sentence_end():
    text = "It topped the board on Oct. 8, 2022, with 91.3. It ended in Mar. Then we stopped."
    parts = [text[s:e] for s, e in sentence_spans(text)]
    assert parts == ["It topped the board on Oct. 8, 2022, with 91.3.", "It ended in Mar.", "Then we stopped."]


def test_terms_stem_and_split_hyphens():
    assert terms("The struggle-determination dataset: 61.68 hours") == [
        "struggl",
        "determin",
        "dataset",
        "61.68",
        "hour",
    ]


def test_terms_read_british_spelling_as_american():
    assert terms("We optimise the behaviour of tokenisation in the centre") == terms(
        "We optimize the behavior of tokenization in the center"
    )
    assert terms("noise, raise, hour, four, analyses") == ["nois", "rais", "hour", "four", "analys"]


def _sources(n: int) -> list[Source]:
    return [Source(paper_id=f"p{i}", title=f"Paper {i}", score=1.0 / i, abstract=f"Fact {i}.") for i in range(1, n + 1)]


def _support_if_mentions(claim: str, source: Source) -> tuple[float, str]:
    """Scripted support: a claim is supported by paper i when it mentions 'fact i'."""
    number = source.paper_id[1:]
    return (1.0, source.abstract) if f"fact {number}" in claim.lower() else (0.0, "")


def test_invented_markers_are_removed_and_numbers_kept():
    text = "Fact 3 holds [3]. Fact 1 too [7]. Fact 1 and fact 3 [1, 3]. Fact 2 [0]."
    checked = check_citations(text, _sources(3), _support_if_mentions, 0.5)
    assert checked.text == "Fact 3 holds [3]. Fact 1 too. Fact 1 and fact 3 [1][3]. Fact 2."
    assert [(c.number, c.paper_id, c.quotes) for c in checked.citations] == [
        (1, "p1", ("Fact 1.",)),
        (3, "p3", ("Fact 3.",)),
    ]


def test_unsupported_citations_are_dropped_and_counted():
    text = "Fact 1 is shown here [1]. The moon is made of cheese [2]. Another claim with no marker at all."
    checked = check_citations(text, _sources(2), _support_if_mentions, 0.5)
    assert checked.text == "Fact 1 is shown here [1]. The moon is made of cheese. Another claim with no marker at all."
    assert [c.number for c in checked.citations] == [1]
    assert checked.unsupported == 2


def test_markers_after_the_full_stop_stay_with_their_sentence():
    checked = check_citations("Fact 1 is true. [1] Fact 2 as well. [2]", _sources(2), _support_if_mentions, 0.5)
    assert checked.text == "Fact 1 is true [1]. Fact 2 as well [2]."
    assert checked.unsupported == 0


def test_citation_invariants_hold_for_noise():
    import re

    noisy = "x fact 1 [12] y fact 2 [2] [2] z [1,5,2] w [] [a] [99999999999] fact 1 [1]"
    checked = check_citations(noisy, _sources(2), _support_if_mentions, 0.5)
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", checked.text)}
    assert numbers == {c.number for c in checked.citations}
    assert {c.paper_id for c in checked.citations} <= {"p1", "p2"}


def test_follow_up_references_resolve_to_cited_papers():
    history = [Turn("Which papers do X?", "A does X [1]. B does X [2].", ("Paper A", "Paper B"))]
    assert resolve_references("and what did the second one find?", history) == (
        "and what did the second one find? (Paper B)"
    )
    assert resolve_references("What dataset does it use?", history) == "What dataset does it use? (Paper A)"
    assert resolve_references("why?", history) == "Which papers do X? why?"
    assert resolve_references("Which papers study robot grasping?", history) == "Which papers study robot grasping?"
    assert resolve_references("anything?", []) == "anything?"


def test_default_folders_expand_home_and_never_land_in_the_working_directory():
    from pathlib import Path

    config = Config.load(env={})
    assert config.cache_dir == Path.home() / ".cache" / "paper-assistant"
    assert config.data_dir.is_absolute() and "~" not in str(config.data_dir)


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


def test_word_vectors_are_kept_and_the_missing_embedded_in_one_batch():
    import numpy as np

    from assistant.judge import Vectors

    batches: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        batches.append(list(texts))
        return np.array([[float(len(t)), 1.0] for t in texts])

    vectors = Vectors(embed, keep=3)
    first = vectors.words(["deal", "bottleneck", "deal"])
    assert batches == [["deal", "bottleneck"]] and first.shape == (3, 2) and first[0, 0] == first[2, 0] == 4.0
    vectors.words(["bottleneck", "concept"])
    assert batches[-1] == ["concept"]  # the kept word is not embedded again
    vectors.words(["model", "unlearning"])  # keeps three: "deal" and "bottleneck" go, oldest first
    vectors.words(["deal"])
    assert batches[-1] == ["deal"]


def test_a_summary_is_the_central_sentences_in_the_abstract_order_without_repeats():
    import numpy as np

    from assistant.backends.extractive import central

    abstract = "Alpha one. Beta two. Alpha again. Gamma three. Delta four."
    axes = {"Alpha": [1.0, 0.0, 0.0], "Beta": [0.6, 0.8, 0.0], "Gamma": [0.6, 0.0, 0.8], "Delta": [0.0, 0.0, 1.0]}

    def vectors(texts: list[str]) -> np.ndarray:
        return np.array([axes[t.split()[0]] for t in texts])

    picked = central(abstract, vectors, k=3)
    assert picked == ["Alpha one.", "Beta two.", "Gamma three."]  # "Alpha again" says "Alpha one" twice
    assert central("Only one.", vectors, k=3) == ["Only one."]
