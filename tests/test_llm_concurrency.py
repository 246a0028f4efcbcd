"""The openai backend sends concurrent questions to the server together, up to
llm_max_concurrency at a time, against a real local HTTP stand-in (tests/openai_standin.py).

Nothing here is timed: the stand-in holds each request until the wanted number have been in
flight together, so with requests sent one at a time a test fails (after hold_timeout)."""

from __future__ import annotations

import threading

import pytest

from assistant import Answer, Assistant
from tests.openai_standin import StandIn

pytestmark = pytest.mark.slow

QUESTIONS = [
    "How many participants took part in the struggle-determination video dataset?",
    "Which paper trains a humanoid to dribble and do layups by imitating human motion?",
    "How does ATLaS tune LLM agents on expert trajectories?",
    "What credit assignment strategy does the AVATAR agent introduce?",
]


def _ask_together(assistant: Assistant, questions: list[str]) -> list[Answer | BaseException]:
    """Ask each question from its own thread, all at once; the answers (or errors) in order."""
    results: list[Answer | BaseException] = [RuntimeError("no answer")] * len(questions)

    def ask(i: int) -> None:
        try:
            results[i] = assistant.ask(questions[i])
        except BaseException as exc:  # reported by the test below
            results[i] = exc

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(questions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _openai(bundled: Assistant, url: str, **settings) -> Assistant:
    update = {"llm": "openai", "llm_base_url": url, "llm_model": "m", "llm_retries": 0, **settings}
    return Assistant(bundled.config.model_copy(update=update))


def test_concurrent_questions_reach_the_server_together(bundled):
    with StandIn(delay=0, hold_until=3, hold_timeout=20) as standin:
        answers = _ask_together(_openai(bundled, standin.url), QUESTIONS[:3])
    assert all(isinstance(a, Answer) for a in answers), answers
    assert len(standin.requests) == 3 and all(r["stream"] for r in standin.requests)
    assert standin.max_in_flight == 3  # one at a time, each request would wait out hold_timeout alone


def test_requests_in_flight_stay_within_llm_max_concurrency(bundled):
    with StandIn(delay=0, hold_until=2, hold_timeout=20) as standin:
        answers = _ask_together(_openai(bundled, standin.url, llm_max_concurrency=2), QUESTIONS)
    assert all(isinstance(a, Answer) for a in answers), answers
    assert len(standin.requests) == 4
    assert standin.max_in_flight == 2
