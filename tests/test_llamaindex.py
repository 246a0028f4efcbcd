"""At home in LlamaIndex: any LlamaIndex LLM answers (here OpenAILike against a local
OpenAI-compatible stand-in, streaming), with its citations checked like every backend's; the
retriever and the cited query engine plug into a LlamaIndex app; the config names an LLM by class."""

from __future__ import annotations

import pytest
from llama_index.core.base.response.schema import Response
from llama_index.core.llms import LLM
from llama_index.core.retrievers import BaseRetriever
from llama_index.llms.openai_like import OpenAILike

from assistant import Answer, Assistant, BackendError, Config
from tests.openai_standin import StandIn

pytestmark = pytest.mark.slow

EVO = "EvoStruggle: A Dataset Capturing the Evolution of Struggle across Activities and Skill Levels"
QUESTION = "How many participants did the struggle-determination video dataset record?"


def _llm(url: str) -> OpenAILike:
    return OpenAILike(model="stand-in", api_base=url, api_key="x", is_chat_model=True, context_window=8192)


def test_a_llamaindex_llm_answers_with_checked_citations(bundled: Assistant):
    reply = "EvoStruggle collected videos from 76 participants [1]. It also won a chess championship [1]. [7]"
    with StandIn(delay=0.0, reply=reply) as server:
        assistant = Assistant(bundled.config, llm=_llm(server.url))
        pieces = list(assistant.stream(QUESTION))
        answer = pieces[-1]
    assert isinstance(answer, Answer) and answer.backend == "llamaindex"
    assert len(pieces) > 2, "the reply streams in pieces"
    assert server.requests and server.requests[0]["stream"] is True
    assert "[1] EvoStruggle" in server.requests[0]["messages"][-1]["content"]  # the numbered abstracts
    assert [c.title for c in answer.citations] == [EVO]
    assert "76 participants [1]" in answer.text
    assert "[7]" not in answer.text  # a marker that points at no source is removed
    assert "chess championship." in answer.text and answer.unsupported == 1  # the abstract does not say it


def test_config_names_the_llm_by_class_path_and_keywords(bundled: Assistant):
    with StandIn(delay=0.0, reply="EvoStruggle recorded 76 participants [1].") as server:
        config = bundled.config.model_copy(
            update={
                "llm": "llamaindex",
                "llm_class": "llama_index.llms.openai_like.OpenAILike",
                "llm_kwargs": {"model": "stand-in", "api_base": server.url, "api_key": "x", "is_chat_model": True},
            }
        )
        answer = Assistant(config).ask(QUESTION)
    assert answer.backend == "llamaindex" and answer.citations[0].title == EVO
    assert Config.load(env={"ASSISTANT_LLM_KWARGS": '{"model": "m"}'}).llm_kwargs == {"model": "m"}
    assert config.describe()["llm_kwargs"]["api_key"] == "***"


@pytest.mark.parametrize(
    ("llm_class", "message"),
    [
        (None, "needs llm_class"),
        ("llama_index.llms.nonexistent.Nope", "pip install llama-index-llms-nonexistent"),
        ("llama_index.llms.openai_like.NoSuchLLM", "has no class NoSuchLLM"),
    ],
)
def test_a_missing_or_wrong_llm_class_is_one_sentence(bundled: Assistant, llm_class, message):
    config = bundled.config.model_copy(update={"llm": "llamaindex", "llm_class": llm_class})
    with pytest.raises(BackendError, match=message):
        Assistant(config).ask(QUESTION)


def test_an_unreachable_llm_is_one_sentence_and_can_fall_back(bundled: Assistant):
    dead = _llm("http://127.0.0.1:9/v1")
    dead.max_retries = 0
    with pytest.raises(BackendError, match="the LlamaIndex LLM OpenAILike .* failed"):
        Assistant(bundled.config, llm=dead).ask(QUESTION)
    answer = Assistant(bundled.config.model_copy(update={"llm_fallback": True}), llm=dead).ask(QUESTION)
    assert answer.backend == "extractive" and "Answered with the extractive backend" in (answer.notice or "")


def test_retriever_and_query_engine_plug_into_a_llamaindex_app(bundled: Assistant):
    retriever = bundled.as_retriever(k=3)
    assert isinstance(retriever, BaseRetriever)
    nodes = retriever.retrieve(QUESTION)
    assert len(nodes) == 3 and nodes[0].node.metadata["title"] == EVO
    assert "76 participants" in nodes[0].node.get_content()

    engine = bundled.as_query_engine()
    response = engine.query(QUESTION)
    assert isinstance(response, Response)
    answer = response.metadata["answer"]
    assert isinstance(answer, Answer) and response.response == answer.text
    assert [n.node.metadata["title"] for n in response.source_nodes] == [s.title for s in answer.sources]
    assert answer.citations[0].title == EVO and "76 participants" in answer.text
    assert isinstance(_llm("http://127.0.0.1:9/v1"), LLM)
