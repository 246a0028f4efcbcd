"""The LLM decides: every answerable question of the evaluation set reaches an OpenAI-compatible
server, what it writes is checked, its refusal lists the closest papers, and a server that says
its context is 2,048 tokens gets prompts that fit. Local stand-ins speak the real wire format."""

from __future__ import annotations

import re

import pytest

from assistant import Assistant
from index.records import normalise_title
from index.text import sentences, terms
from tests.helpers import assert_citation_invariants, eval_questions
from tests.openai_standin import StandIn, tokens

pytestmark = pytest.mark.slow

REFUSAL = "The indexed abstracts do not answer this question."
_SOURCE = re.compile(r"^\[(\d+)\] (.+?)(?: \([^)]*\))?\n(.+?)(?=\n\n\[\d+\] |\n\nQuestion: )", re.M | re.S)


def best_sentence_reply(body: dict) -> str:
    """What a capable model would write: the abstract sentence that shares most words with the
    question, cited with its source's number."""
    user = body["messages"][-1]["content"]
    question = set(terms(user.rsplit("Question:", 1)[-1]))
    best = (0, "", 0)
    for m in _SOURCE.finditer(user):
        for sentence in sentences(m.group(3)):
            best = max(best, (len(question & set(terms(sentence))), sentence, int(m.group(1))), key=lambda b: b[0])
    if not best[1]:
        return REFUSAL
    return f"{best[1].rstrip('.').rstrip(' …')} [{best[2]}]."


def _openai(bundled: Assistant, url: str, **settings) -> Assistant:
    update = {"llm": "openai", "llm_base_url": url, "llm_context_window": 8192, **settings}
    return Assistant(bundled.config.model_copy(update=update))


def test_every_answerable_question_reaches_the_llm_and_its_cited_gold_sentences_keep_their_citation(bundled):
    questions = [q for q in eval_questions() if q["answerable"] and q["split"] == "tuning"]
    reached = kept = cited_gold = 0
    with StandIn(delay=0, reply=best_sentence_reply) as standin:
        assistant = _openai(bundled, standin.url)
        for q in questions:
            before = len(standin.requests)
            answer = assistant.ask(q["question"])
            assert_citation_invariants(answer)
            if len(standin.requests) == before:
                continue
            reached += 1
            reply = best_sentence_reply(standin.requests[-1])
            number = re.search(r"\[(\d+)\]\.$", reply)
            if not number:
                continue
            source = answer.sources[int(number.group(1)) - 1]
            if normalise_title(source.title) in {normalise_title(t) for t in q["gold_titles"]}:
                cited_gold += 1
                kept += any(c.paper_id == source.paper_id for c in answer.citations)
    assert reached / len(questions) >= 0.98, f"{len(questions) - reached} of {len(questions)} never reached the LLM"
    assert cited_gold >= 100 and kept / cited_gold >= 0.95, f"{kept} of {cited_gold} gold citations kept"


def test_the_llms_refusal_is_a_refusal_listing_the_closest_papers(bundled):
    with StandIn(delay=0, reply=REFUSAL) as standin:
        answer = _openai(bundled, standin.url).ask("Which paper trains a music generator on one gaming GPU?")
    assert len(standin.requests) == 1
    assert answer.refused and not answer.citations
    assert answer.text.startswith(REFUSAL) and answer.sources[0].title in answer.text


def test_a_server_that_serves_2048_tokens_gets_prompts_that_fit(bundled):
    with StandIn(delay=0, reply=best_sentence_reply, n_ctx=2048) as standin:
        update = {"llm": "openai", "llm_base_url": standin.url}  # no llm_context_window: the server says it
        assistant = Assistant(bundled.config.model_copy(update=update))
        answer = assistant.ask("Which papers study continual learning without forgetting, and what do they propose?")
    assert standin.rejected == 0 and len(standin.requests) == 1
    assert tokens(standin.requests[0]) <= 2048
    assert not answer.refused and answer.citations


def test_a_request_the_server_still_rejects_names_the_setting(bundled):
    with StandIn(delay=0, reply=best_sentence_reply, n_ctx=2048) as standin:
        assistant = _openai(bundled, standin.url)  # told 8,192 tokens: more than the server serves
        with pytest.raises(Exception, match="llm_context_window") as caught:
            assistant.ask("Which papers study continual learning without forgetting, and what do they propose?")
    assert standin.rejected == 1
    assert "context window" in str(caught.value)
