"""Real generative backends with a real (tiny, random) GGUF model: llama.cpp in-process, and the
openai backend against llama-cpp-python's OpenAI-compatible server on 127.0.0.1.

The model's text is noise, so these tests assert structure: streaming, the citation invariants
on whatever it writes, refusals, errors. Wording is tested with scripted replies in test_llm.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from assistant import Answer, Assistant, BackendError
from tests.helpers import REFUSALS, assert_citation_invariants, free_port, run_cli, stop, wait_for_http
from tests.tiny_gguf import write_tiny_gguf

pytestmark = pytest.mark.slow

QUESTION = "How many participants took part in the struggle-determination video dataset?"
LLM_SETTINGS = {"top_k": 2, "llm_max_tokens": 48, "llm_context_window": 16384, "llm_timeout": 30, "llm_retries": 0}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("llm") / "tiny.gguf")


def start_llama_server(model: Path) -> tuple[subprocess.Popen, str]:
    """llama-cpp-python's OpenAI-compatible server on 127.0.0.1; returns it and its /v1 URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", "tiny",
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "16384"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    wait_for_http(f"{url}/models", proc, 60, "the llama.cpp server")
    return proc, url


@pytest.fixture(scope="module")
def llama_server(tiny_model):
    proc, url = start_llama_server(tiny_model)
    yield url
    stop(proc)


def _assistant(bundled: Assistant, **settings) -> Assistant:
    return Assistant(bundled.config.model_copy(update={**LLM_SETTINGS, **settings}))


def _check_stream(assistant: Assistant) -> Answer:
    items = list(assistant.stream(QUESTION))
    pieces, answer = items[:-1], items[-1]
    assert isinstance(answer, Answer)
    assert len(pieces) >= 2 and all(isinstance(p, str) for p in pieces), "the reply arrives in pieces"
    assert_citation_invariants(answer)
    if answer.refused:
        assert answer.text.startswith(REFUSALS)
    return answer


def test_llama_cpp_in_process_streams_and_keeps_invariants(bundled, tiny_model):
    assistant = _assistant(bundled, llm="llama-cpp", llm_model=str(tiny_model))
    answer = _check_stream(assistant)
    assert answer.backend == "llama-cpp"
    assert assistant.stats()["llm_model"] == str(tiny_model)
    assert_citation_invariants(assistant.ask(QUESTION))


def test_llama_cpp_follow_up_goes_through_the_model(bundled, tiny_model):
    conversation = _assistant(bundled, llm="llama-cpp", llm_model=str(tiny_model)).conversation()
    conversation.ask(QUESTION)
    follow = conversation.ask("and what did the second one find?")
    assert follow.question == "and what did the second one find?"
    assert follow.standalone_question  # rewritten (by noise, or by the reference fallback)
    assert_citation_invariants(follow)


def test_llama_cpp_abandoned_streams_do_not_block_the_next_question(bundled, tiny_model):
    assistant = _assistant(bundled, llm="llama-cpp", llm_model=str(tiny_model), llm_max_tokens=256)
    closed = assistant.stream(QUESTION)
    assert isinstance(next(closed), str)
    closed.close()  # the reader went away after the first piece
    left_open = assistant.stream(QUESTION)
    assert isinstance(next(left_open), str)  # and this one is kept but never read again
    answers: list[Answer] = []
    asker = threading.Thread(target=lambda: answers.append(assistant.ask(QUESTION)), daemon=True)
    asker.start()
    asker.join(timeout=120)  # a bound on a hang (a lock held by a paused stream), not a speed limit
    assert answers and isinstance(answers[0], Answer), "the next question waited for an abandoned stream"
    assert_citation_invariants(answers[0])


def test_llama_cpp_prompt_fits_a_small_context_window(bundled, tiny_model):
    from assistant.backends.llama_cpp_backend import LlamaCppBackend

    config = bundled.config.model_copy(update={**LLM_SETTINGS, "llm_model": str(tiny_model),
                                               "llm_context_window": 1024, "llm_max_tokens": 128})  # fmt: skip
    model = LlamaCppBackend(config)
    sources = bundled.retrieve(QUESTION, k=5)
    prompt = model.llm.tokenize(_chatml(model.messages(QUESTION, sources)).encode(), add_bos=False, special=True)
    assert len(prompt) > 1024  # five abstracts do not fit this model's 1,024 tokens (2.4 characters a token)
    kept, notice = model.fit(QUESTION, sources)
    fitted = model.llm.tokenize(_chatml(model.messages(QUESTION, kept)).encode(), add_bos=False, special=True)
    assert len(fitted) + 128 <= 1024
    assert [s.paper_id for s in kept] == [s.paper_id for s in sources[: len(kept)]]
    assert len(kept) < 5 and notice and "1,024-token context window" in notice
    answer = _assistant(bundled, llm="llama-cpp", llm_model=str(tiny_model), top_k=5,
                        llm_context_window=1024, llm_max_tokens=128).ask(QUESTION)  # fmt: skip
    assert_citation_invariants(answer)  # answered: before fitting, llama.cpp rejected the prompt


def _chatml(messages: list[dict[str, str]]) -> str:
    """The prompt as the tiny model's ChatML template renders it, generation prompt included."""
    turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return turns + "<|im_start|>assistant\n"


def test_llama_cpp_missing_file_is_one_sentence(bundled, tmp_path):
    with pytest.raises(BackendError, match="no GGUF model file at"):
        _assistant(bundled, llm="llama-cpp", llm_model=str(tmp_path / "none.gguf")).ask(QUESTION)


def test_openai_backend_against_a_llama_cpp_server(bundled, llama_server):
    assistant = _assistant(bundled, llm="openai", llm_base_url=llama_server, llm_model="tiny")
    answer = _check_stream(assistant)
    assert answer.backend == "openai"
    assert assistant.stats()["llm_model"] == llama_server


def test_cli_json_and_stream_against_the_server(bundled, llama_server):
    data_dir = str(bundled.config.data_dir)
    env = {"ASSISTANT_LLM_MAX_TOKENS": "48", "ASSISTANT_TOP_K": "2"}
    out = run_cli("--data-dir", data_dir, "--llm", "openai", "--base-url", llama_server, "--model", "tiny",
                  "ask", QUESTION, "--json", env=env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["backend"] == "openai"
    markers = {int(n) for n in __import__("re").findall(r"\[(\d+)\]", answer["answer"])}
    assert markers == {c["number"] for c in answer["citations"]}
    assert {c["paper_id"] for c in answer["citations"]} <= {s["paper_id"] for s in answer["sources"]}
    streamed = run_cli("--data-dir", data_dir, "--llm", "openai", "--base-url", llama_server, "--model", "tiny",
                       "ask", "--stream", QUESTION, env=env)  # fmt: skip
    assert streamed.returncode == 0, streamed.stderr
    assert "[backend: openai]" in streamed.stdout


def test_cli_llama_cpp_in_process(bundled, tiny_model):
    out = run_cli("--data-dir", str(bundled.config.data_dir), "--llm", "llama-cpp", "--model", str(tiny_model),
                  "ask", QUESTION, "--json", env={"ASSISTANT_LLM_MAX_TOKENS": "48", "ASSISTANT_TOP_K": "2",
                                              "ASSISTANT_LLM_CONTEXT_WINDOW": "16384"})  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["backend"] == "llama-cpp"


def test_stopped_server_is_one_line_naming_the_url(bundled, tiny_model):
    """A refused connection is reported as such, not waited out as a timeout; how long the user
    waits for the error is measured by bench/reliability.py."""
    proc, url = start_llama_server(tiny_model)
    stop(proc)
    out = run_cli("--data-dir", str(bundled.config.data_dir), "--llm", "openai", "--base-url", url, "--model", "tiny",
                  "ask", QUESTION, env={"ASSISTANT_LLM_TIMEOUT": "5", "ASSISTANT_LLM_RETRIES": "0"},
                  timeout=120)  # fmt: skip
    assert out.returncode == 1
    assert f"cannot reach the LLM server at {url}" in out.stderr and "did not answer within" not in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
