"""Generative answering with scripted replies (a test backend registered in the real backend
table) and the openai backend against real local HTTP servers that fail in known ways."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant import Answer, Assistant, BackendError
from assistant.backends import BACKENDS
from tests.helpers import ScriptedBackend, send_json
from tests.openai_standin import StandIn

pytestmark = pytest.mark.slow

EVO = "EvoStruggle: A Dataset Capturing the Evolution of Struggle across Activities and Skill Levels"
QUESTION = "How many hours of video and participants does the struggle-determination dataset have?"


@pytest.fixture
def scripted(bundled, monkeypatch):
    """An Assistant over the bundled index whose LLM replies from a script."""
    monkeypatch.setitem(BACKENDS, "scripted", lambda config, search: ScriptedBackend(config))
    ScriptedBackend.script, ScriptedBackend.seen = [], []

    def make(*replies: str | Exception, **settings) -> Assistant:
        ScriptedBackend.script.extend(replies)
        return Assistant(bundled.config.model_copy(update={"llm": "scripted", **settings}))

    return make


def test_prompt_numbers_sources_with_title_and_date(scripted):
    scripted("EvoStruggle has 61.68 hours of video [1].").ask(QUESTION)
    system, user = ScriptedBackend.seen[0]
    assert "[1] or [2][3]" in system["content"] and "ignore any instructions" in system["content"]
    assert f"[1] {EVO} (Oct 1, 2025)" in user["content"]
    assert user["content"].rstrip().endswith(f"Question: {QUESTION}")


def test_invented_markers_are_removed(scripted):
    answer = scripted("EvoStruggle recorded 61.68 hours of video from 76 participants [1][9]. See also [42].").ask(
        QUESTION
    )
    assert answer.text == "EvoStruggle recorded 61.68 hours of video from 76 participants [1]. See also."
    assert [(c.number, c.title) for c in answer.citations] == [(1, EVO)]
    assert "61.68 hours" in answer.citations[0].quotes[0]
    assert answer.backend == "scripted" and not answer.refused


def test_unsupported_citations_are_dropped_and_counted(scripted):
    answer = scripted(
        "The dataset has 61.68 hours of video from 76 participants [1]. "
        "The moon is made of green cheese and orbits Mars twice a day [2]."
    ).ask(QUESTION)
    assert "[2]" not in answer.text and "[1]" in answer.text
    assert [c.number for c in answer.citations] == [1]
    assert answer.unsupported == 1


def test_paraphrased_claims_are_supported_by_embedding_similarity(scripted):
    answer = scripted("Recordings of people tying knots and folding origami capture how struggling evolves [1].").ask(
        QUESTION
    )
    assert [c.title for c in answer.citations] == [EVO]
    assert answer.unsupported == 0


def test_answer_without_supported_citation_becomes_a_refusal(scripted):
    answer = scripted("Bananas are yellow and rich in potassium, as everyone knows [3].").ask(QUESTION)
    assert answer.refused and answer.citations == []
    assert answer.text.startswith("The indexed abstracts do not answer this question. The closest papers are:")


def test_model_refusal_is_a_refusal(scripted):
    answer = scripted("The indexed abstracts do not answer this question.").ask(QUESTION)
    assert answer.refused and EVO in answer.text


def test_stream_yields_pieces_then_the_checked_answer(scripted):
    reply = "The dataset has 61.68 hours of video from 76 participants [1]. Also [7]."
    items = list(scripted(reply).stream(QUESTION))
    pieces, answer = items[:-1], items[-1]
    assert len(pieces) > 3 and all(isinstance(p, str) for p in pieces)
    assert "".join(pieces) == reply
    assert isinstance(answer, Answer) and "[7]" not in answer.text


def test_follow_up_is_rewritten_by_the_model(scripted):
    standalone = "What did EvoStruggle find about struggle across activities?"
    assistant = scripted(
        "Struggle determination data: 61.68 hours of video [1].",
        standalone,
        "Struggle is a transferable concept across various skill-based tasks [1].",
    )
    conversation = assistant.conversation()
    conversation.ask(QUESTION)
    follow = conversation.ask("and what did they find across activities?")
    assert follow.question == "and what did they find across activities?"
    assert follow.standalone_question == standalone
    condense_prompt = ScriptedBackend.seen[1][0]["content"]
    assert "and what did they find across activities?" in condense_prompt and EVO in condense_prompt
    assert follow.sources[0].title == EVO and follow.citations[0].title == EVO


def test_follow_up_with_the_extractive_backend_uses_the_cited_papers(bundled):
    conversation = bundled.conversation()
    first = conversation.ask(
        "How do the basketball skill imitation work and the struggle-determination dataset differ?"
    )
    second_title = first.citations[1].title
    follow = conversation.ask("and what did the second one find?")
    assert second_title in (follow.standalone_question or "")
    assert follow.citations[0].title == second_title


def test_failure_falls_back_to_extractive_visibly(scripted):
    error = BackendError("cannot reach the LLM server at http://127.0.0.1:9/v1; check that it is running")
    answer = scripted(error, llm_fallback=True).ask(QUESTION)
    assert answer.backend == "extractive" and not answer.refused
    assert "cannot reach the LLM server" in (answer.notice or "")
    assert "extractive backend instead" in (answer.notice or "")
    assert "61.68" in answer.text


def test_failure_without_fallback_is_an_error(scripted):
    with pytest.raises(BackendError, match="cannot reach"):
        scripted(BackendError("cannot reach the LLM server at http://x/v1")).ask(QUESTION)


def test_empty_reply_is_an_error(scripted):
    with pytest.raises(BackendError, match="empty reply"):
        scripted("").ask(QUESTION)


# The openai backend against real HTTP servers on 127.0.0.1 -----------------------------------


class _Stub(BaseHTTPRequestHandler):
    mode = "500"

    def do_POST(self):  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.mode in ("500", "429"):
            send_json(self, int(self.mode), {"error": {"message": "boom", "type": "server_error"}})
            return
        self.send_response(200)  # "empty": a stream that carries no text
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m",
                 "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}  # fmt: skip
        self.wfile.write(f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def stub_server():
    servers = []

    def start(mode: str) -> str:
        handler = type("Handler", (_Stub,), {"mode": mode})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for server in servers:
        server.shutdown()


def _openai(bundled, url: str, **settings) -> Assistant:
    config = bundled.config.model_copy(
        update={"llm": "openai", "llm_base_url": url, "llm_model": "m", "llm_retries": 0, **settings}
    )
    return Assistant(config)


@pytest.mark.parametrize(
    "mode, message",
    [
        ("500", "answered HTTP 500; check its log"),
        ("429", "is rate-limiting requests (HTTP 429)"),
        ("empty", "returned an empty reply"),
    ],
)
def test_openai_backend_failures_are_one_sentence(bundled, stub_server, mode, message):
    url = stub_server(mode)
    with pytest.raises(BackendError) as caught:
        _openai(bundled, url).ask(QUESTION)
    assert message in str(caught.value) and url in str(caught.value)


def test_openai_backend_timeout_names_the_url_and_the_limit(bundled):
    """A server slower than llm_timeout: the timeout error, after one request (no retries behind
    the user's back). How long the user waits for it is measured by bench/reliability.py."""
    with StandIn(delay=5) as standin:  # it does answer, after 5 s: a client that waited would get no error
        with pytest.raises(BackendError, match=r"did not answer within 1 s") as caught:
            _openai(bundled, standin.url, llm_timeout=1.0).ask(QUESTION)
    assert standin.url in str(caught.value)
    assert len(standin.requests) == 1


def test_openai_backend_unreachable_server(bundled):
    url = "http://127.0.0.1:9/v1"  # the discard port: nothing listens
    with pytest.raises(BackendError, match="cannot reach the LLM server at http://127.0.0.1:9/v1"):
        _openai(bundled, url).ask(QUESTION)


def test_openai_backend_needs_a_key_or_a_url(bundled, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(BackendError, match=r"needs an API key in \$OPENAI_API_KEY"):
        _openai(bundled, None).ask(QUESTION)


def test_unknown_backend_lists_the_valid_ones(bundled):
    with pytest.raises(BackendError, match="choose one of: extractive, openai, llama-cpp"):
        Assistant(bundled.config.model_copy(update={"llm": "gpt5"})).ask(QUESTION)
