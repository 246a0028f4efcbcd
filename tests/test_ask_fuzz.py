"""Any text asked through the public API gives an Answer or a clean QuestionError, never another
exception: the natural-language filters, the question cleaning, retrieval and the extractive
backend all see it (hypothesis, a real index of three papers, the real embedding model)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant import Answer, Assistant, Config, QuestionError
from tests.helpers import SMALL, write_jsonl

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("RELIABILITY_EXAMPLES", "600")) // 4
PHRASES = [
    "papers from the last {n} years",
    "What did papers in the past {n} months say about grasping?",
    "Which papers since {y} study attention?",
    "work before {y} on molecules",
    "papers between {y} and {y2} about robots",
    "What did papers from Robotics Lab in the last {n} years find?",
    "by robotics lab {n}",
    "papers published in Feb {y}",
]


@st.composite
def questions(draw) -> str:
    """Filter phrasing with any count or year, wrapped in any text."""
    digits = st.text("0123456789", min_size=1, max_size=draw(st.sampled_from([2, 6, 40, 5000])))
    phrase = draw(st.sampled_from(PHRASES)).format(
        n=draw(digits), y=draw(st.integers(1900, 2099)), y2=draw(st.integers(1900, 2099))
    )
    return draw(st.text(max_size=30)) + phrase + draw(st.text(max_size=30))


@pytest.fixture(scope="module")
def assistant(tmp_path_factory) -> Assistant:
    folder = tmp_path_factory.mktemp("ask-fuzz")
    write_jsonl(folder / "papers.jsonl", SMALL)
    assistant = Assistant(Config(data_dir=folder / "store", sources=[folder / "papers.jsonl"]))
    assistant.ingest()
    return assistant


def test_the_reported_questions_answer(assistant):
    """Reproduced in issue 13: a ValueError (year -974) and an OverflowError from the filters."""
    for question in ["papers from the last 3000 years", "papers from the last 99999999999999999999 years"]:
        answer = assistant.ask(question)
        assert isinstance(answer, Answer) and answer.filters is None


def test_any_text_gives_an_answer_or_a_question_error(assistant):
    outcomes = {"answer": 0, "question error": 0}

    @settings(max_examples=max(20, EXAMPLES), deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(question=st.one_of(st.text(max_size=200), questions(), st.text(min_size=1990, max_size=2100)))
    def ask(question: str) -> None:
        try:
            answer = assistant.ask(question)
        except QuestionError as exc:
            assert str(exc) and "\n" not in str(exc)
            outcomes["question error"] += 1
            return
        assert isinstance(answer, Answer) and answer.text
        outcomes["answer"] += 1

    ask()
    assert outcomes["answer"] and outcomes["question error"]  # both paths were exercised
