"""Filters read from the question: dates, relative dates, organisations, and no false filters."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.nlfilters import parse
from index.store import Filters
from tests.helpers import eval_questions

ORGS = ["ByteDance Seed", "Korea University"]
TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    "question, date_from, date_to, cleaned",
    [
        ("Which papers since 2024 study skill transfer?", "2024-01-01", None, "Which study skill transfer?"),
        ("What was published after March 2025 on agents?", "2025-03-01", None, "What was on agents?"),
        ("papers from 2023 on continual learning", "2023-01-01", "2023-12-31", "on continual learning"),
        ("Show me papers from 2024 onwards about skills", "2024-01-01", None, "Show me about skills"),
        ("Any work before 2020 on transfer learning?", None, "2019-12-31", "Any on transfer learning?"),
        ("papers between 2023 and 2021 about agents", "2021-01-01", "2023-12-31", "about agents"),
        ("What appeared in Feb 2024 on unlearning?", "2024-02-01", "2024-02-29", "What appeared on unlearning?"),
        ("continual learning papers published in 2022", "2022-01-01", "2022-12-31", "continual learning"),
    ],
)
def test_dates(question, date_from, date_to, cleaned):
    parsed = parse(question, ORGS, TODAY)
    assert parsed.filters is not None
    assert (parsed.filters.date_from, parsed.filters.date_to) == (date_from, date_to)
    assert parsed.question == cleaned


@pytest.mark.parametrize(
    "question, date_from, date_to",
    [
        ("Which papers published this year study agents?", "2026-01-01", None),
        ("What did papers last year say about grokking?", "2025-01-01", "2025-12-31"),
        ("papers from the last 2 years on RL", "2024-11-23", None),
        ("skill libraries in the past six months", "2026-05-23", None),
    ],
)
def test_relative_dates(question, date_from, date_to):
    filters = parse(question, ORGS, TODAY).filters
    assert filters is not None and (filters.date_from, filters.date_to) == (date_from, date_to)


def test_organisations_and_description():
    parsed = parse("What did papers from ByteDance Seed since 2025 report about spatial abilities?", ORGS, TODAY)
    assert parsed.filters is not None
    assert (parsed.filters.organization, parsed.filters.date_from) == ("ByteDance Seed", "2025-01-01")
    assert parsed.question == "What did papers report about spatial abilities?"
    assert parsed.description == "papers dated 2025-01-01 or later and from ByteDance Seed"
    at = parse("What did the authors at korea university find?", ORGS, TODAY)
    assert at.filters is not None and at.filters.organization == "Korea University"
    assert parse("Korea University analogies", ORGS, TODAY).filters is None  # a topic, not a filter


@pytest.mark.parametrize(
    "question",
    [
        "Which work trains a policy from scratch?",
        "learning from 76 participants over 61.68 hours",
        "What improvement does it report on Audioset in 2 steps?",
        "How does GPT-4 from OpenAI compare?",
        "Which method reaches 2048 tokens of context?",
        "What did the 2023 benchmark of INSTRUCTEVAL measure?",
    ],
)
def test_no_false_filters(question):
    parsed = parse(question, ORGS, TODAY)
    assert parsed.filters is None and parsed.question == question


def test_no_filters_on_any_dev_question():
    for q in eval_questions("dev-"):
        assert parse(q["question"], ORGS, TODAY).filters is None, q["question"]


@pytest.mark.parametrize(
    "question",
    [
        "papers from the last 3000 years",
        "papers from the last 2027 years on agents",
        "the past 99999999999999999999999999 months of robotics",
        "in the last " + "9" * 5000 + " years",  # beyond int()'s 4,300-digit limit
    ],
)
def test_periods_beyond_year_one_or_huge_counts_give_no_date_filter(question):
    parsed = parse(question, ORGS, TODAY)
    assert parsed.filters is None and parsed.question == question


def test_a_period_that_fits_is_still_a_filter():
    filters = parse("papers from the last 2025 years", ORGS, TODAY).filters  # reaches back to year 1
    assert filters is not None and filters.date_from == "0001-11-23"
    padded = parse("from the last 000000000000000000000012 months", ORGS, TODAY).filters
    assert padded is not None and padded.date_from == "2025-11-23"
    parsed = parse("papers from ByteDance Seed in the last 3000 years", ORGS, TODAY)
    assert parsed.filters is not None and (parsed.filters.date_from, parsed.filters.organization) == (
        None,
        "ByteDance Seed",
    )


PHRASES = [
    "papers from the last {n} years",
    "in the past {n} months",
    "the last {n} months",
    "papers since {y}",
    "work before {m} {y}",
    "between {y} and {y2}",
    "in {m} {y}",
    "from {org} since {y}",
]


@st.composite
def filter_questions(draw) -> str:
    """Text around filter phrasing with any count, year, month and organisation."""
    digits = st.text("0123456789٣３", min_size=1, max_size=draw(st.sampled_from([3, 12, 5000])))
    phrase = draw(st.sampled_from(PHRASES)).format(
        n=draw(digits),
        y=draw(st.integers(1900, 2099)),
        y2=draw(st.integers(1900, 2099)),
        m=draw(st.sampled_from(["Jan", "February", "Sept.", "dec"])),
        org=draw(st.sampled_from(ORGS + ["", " "])),
    )
    return draw(st.text(max_size=40)) + " " + phrase + " " + draw(st.text(max_size=40))


@settings(max_examples=300, deadline=None, database=None)
@given(question=st.one_of(st.text(max_size=300), filter_questions()), today=st.dates())
def test_parse_never_raises(question, today):
    organizations = ORGS + [" ", "Robotics Lab"]
    parsed = parse(question, organizations, today)
    if parsed.filters is not None:
        assert parsed.filters and parsed.description
        assert parsed.filters == Filters(**vars(parsed.filters))  # already valid and normalised
    else:
        assert parsed.question == question
