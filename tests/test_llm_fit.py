"""The prompt fits the model: sources are shortened, then the lowest-ranked left out, so that the
instructions, the sources, the question and an answer of llm_max_tokens fit llm_context_window.

These use the openai backend's conservative estimate (characters / CHARS_PER_TOKEN) and send
the fitted prompt to a real local HTTP stand-in; tests/test_llm_real.py does the same with a
real GGUF model's own tokenizer."""

from __future__ import annotations

import math

import pytest

from assistant import BackendError, Config
from assistant.answer import Source
from assistant.backends.generative import CHARS_PER_TOKEN, MIN_ABSTRACT_CHARS
from assistant.backends.openai_backend import OpenAIBackend
from assistant.questions import read
from tests.openai_standin import REPLY, StandIn

QUESTION = read("What do these papers find about long-context retrieval?")
SENTENCE = "We study retrieval over long contexts and report gains of 4.5 points on five benchmarks. "


def ranked_sources(count: int, chars: int = 2500) -> list[Source]:
    """``count`` sources, best first, each with an abstract of ``chars`` characters."""
    abstract = (SENTENCE * (chars // len(SENTENCE) + 1))[:chars]
    return [
        Source(f"p{n}", f"Paper {n} on long contexts", score=1.0 / n, abstract=abstract) for n in range(1, count + 1)
    ]


def backend(window: int, max_tokens: int = 256, url: str = "http://127.0.0.1:9/v1") -> OpenAIBackend:
    config = Config(llm="openai", llm_base_url=url, llm_context_window=window, llm_max_tokens=max_tokens)
    return OpenAIBackend(config)


def estimated_request_tokens(messages: list[dict[str, str]]) -> int:
    return sum(math.ceil(len(m["content"]) / CHARS_PER_TOKEN) for m in messages)


def test_long_sources_are_fitted_under_a_small_context_window():
    model = backend(window=2048, max_tokens=256)
    sources = ranked_sources(5)
    assert estimated_request_tokens(model.messages(QUESTION, sources)) > 2048  # far too long as they are
    kept, notice = model.fit(QUESTION, sources)
    assert estimated_request_tokens(model.messages(QUESTION, kept)) + 256 <= 2048
    assert len(kept) == 5 and notice is None  # shortening was enough: nothing to tell the reader
    assert kept[0] == sources[0]  # the best source is kept whole while the others give way...
    lengths = [len(s.abstract) for s in kept]
    assert lengths == sorted(lengths, reverse=True) and lengths[-1] < 1000  # ...the lowest-ranked most
    assert all(s.abstract.endswith("…") for s in kept[1:])


def test_the_lowest_ranked_source_goes_first():
    model = backend(window=1024, max_tokens=256)
    sources = ranked_sources(5)
    kept, notice = model.fit(QUESTION, sources)
    assert estimated_request_tokens(model.messages(QUESTION, kept)) + 256 <= 1024
    assert 1 < len(kept) < len(sources)
    assert [s.paper_id for s in kept] == [s.paper_id for s in sources[: len(kept)]]  # a prefix of the ranking
    assert len(kept[-1].abstract) >= 0.9 * MIN_ABSTRACT_CHARS  # kept ones are not cut far below the floor
    assert notice is not None and f"lowest-ranked {len(sources) - len(kept)} of 5 sources" in notice
    assert "1,024-token context window" in notice


def test_sources_that_fit_are_sent_as_they_are():
    model = backend(window=8192)
    sources = ranked_sources(5, chars=1200)
    assert model.fit(QUESTION, sources) == (sources, None)


def test_fitting_twice_changes_nothing():
    model = backend(window=1536)
    once = model.fit(QUESTION, ranked_sources(5)).sources
    assert model.fit(QUESTION, once) == (once, None)


def test_a_context_window_too_small_for_question_and_answer_is_one_sentence():
    with pytest.raises(BackendError, match="raise llm_context_window .* or lower llm_max_tokens"):
        backend(window=600, max_tokens=512).fit(QUESTION, ranked_sources(2))


def test_the_server_receives_the_fitted_prompt():
    with StandIn(delay=0) as standin:
        model = backend(window=1024, max_tokens=256, url=standin.url)
        text = "".join(model.stream(QUESTION, ranked_sources(5)))
    assert text == REPLY
    (request,) = standin.requests
    assert estimated_request_tokens(request["messages"]) + request["max_tokens"] <= 1024
    assert "[1] Paper 1 on long contexts" in request["messages"][1]["content"]
    assert "[5] Paper 5" not in request["messages"][1]["content"]


def test_the_openai_api_itself_gets_its_models_large_window_unless_one_is_set(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used")
    assert OpenAIBackend(Config(llm="openai")).context_window == 128_000
    assert OpenAIBackend(Config(llm="openai", llm_context_window=8192)).context_window == 8192
    assert backend(window=4096).context_window == 4096  # a local server: its own setting, as configured
