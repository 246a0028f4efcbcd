"""Filters are checked where they are built: every date form, ranges and organisations, and the
CLI flags and UI fields go through that one check (one sentence naming the bad value)."""

from __future__ import annotations

import pytest

from index.records import Paper
from index.store import DATE_FORMS, FilterError, Filters


@pytest.mark.parametrize(
    "given, date_from, date_to",
    [
        ({"date_from": "2024"}, "2024-01-01", None),
        ({"date_to": "2024"}, None, "2024-12-31"),
        ({"date_from": "2024-02", "date_to": "2024-02"}, "2024-02-01", "2024-02-29"),
        ({"date_to": "2023-02"}, None, "2023-02-28"),
        ({"date_from": " 2024-05-31 ", "date_to": "2024-05-31"}, "2024-05-31", "2024-05-31"),
        ({"date_from": "2024", "date_to": "2024"}, "2024-01-01", "2024-12-31"),
    ],
)
def test_accepted_dates_become_the_days_that_bound_the_range(given, date_from, date_to):
    filters = Filters(**given)
    assert (filters.date_from, filters.date_to) == (date_from, date_to)


def test_a_year_or_month_bound_keeps_the_papers_of_that_year_or_month():
    """ "--until 2024" keeps December 2024, which the raw string "2024" compared as text did not."""
    december = Paper("p", "T", "A", date="2024-12-15")
    assert Filters(date_to="2024").accepts(december)
    assert Filters(date_from="2024-12", date_to="2024-12").accepts(december)
    assert not Filters(date_to="2024-11").accepts(december)
    assert Filters(date_to="2024").where() == {"$and": [{"date_ord": {"$lte": 20241231}}, {"date_ord": {"$gt": 0}}]}


@pytest.mark.parametrize(
    "field, value",
    [
        ("date_from", "2024-13"),
        ("date_from", "last week"),
        ("date_to", "2024-02-30"),
        ("date_to", "2023-02-29"),
        ("date_from", "24"),
        ("date_from", "0000"),
        ("date_from", "2024-1-5"),
        ("date_from", "2024/05/31"),
        ("date_from", "2024-05-31T10:00"),
        ("date_from", ""),
        ("date_to", "   "),
        ("date_from", "２０２４"),  # full-width digits are no ISO date
        ("date_from", 2024),
    ],
)
def test_a_bad_date_is_one_sentence_naming_it_and_the_accepted_forms(field, value):
    with pytest.raises(FilterError) as caught:
        Filters(**{field: value})
    which = "start" if field == "date_from" else "end"
    assert str(caught.value) == f"the {which} date {value!r} is not a date; write it as {DATE_FORMS}"
    assert isinstance(caught.value, ValueError)


def test_the_start_may_not_be_after_the_end():
    with pytest.raises(FilterError, match=r"^the start date 2025-01-01 is after the end date 2024-12-31; "):
        Filters(date_from="2025", date_to="2024")
    assert Filters(date_from="2024-05-31", date_to="2024-05-31")  # one day is a range


@pytest.mark.parametrize("value", ["", "   ", 42, ["ByteDance Seed"]])
def test_an_organisation_is_non_empty_text(value):
    with pytest.raises(FilterError, match=r"^the organisation .* is not a name; give it as text$"):
        Filters(organization=value)


def test_an_organisation_is_stripped_and_matched_ignoring_case():
    filters = Filters(organization="  Robotics Lab ")
    assert filters.organization == "Robotics Lab" and filters.where() == {"org_key": "robotics lab"}
    assert filters.accepts(Paper("p", "T", "A", organization="ROBOTICS LAB"))


def test_the_ui_fields_go_through_the_same_check():
    import ui
    from assistant import FilterError

    assert ui.parse_filters("", " ", "") is None
    filters = ui.parse_filters("2024", "2024-06", " Robotics Lab")
    assert filters == Filters(date_from="2024-01-01", date_to="2024-06-30", organization="Robotics Lab")
    for fields, message in [
        (("2024-13", "", ""), f"the start date '2024-13' is not a date; write it as {DATE_FORMS}"),
        (("", "2024-02-30", ""), f"the end date '2024-02-30' is not a date; write it as {DATE_FORMS}"),
        (
            ("2025", "2024", ""),
            "the start date 2025-01-01 is after the end date 2024-12-31; give the earlier date first",
        ),  # noqa: E501
    ]:
        with pytest.raises(FilterError) as caught:  # shown in the chat like every AssistantError
            ui.parse_filters(*fields)
        assert str(caught.value) == message


def test_the_cli_flags_go_through_the_same_check(tmp_path, capsys):
    """A bad --since fails at once in one line, before any index is opened or built."""
    from assistant.cli import main

    data_dir = tmp_path / "nothing"
    assert main(["--data-dir", str(data_dir), "ask", "anything about agents?", "--since", "last week"]) == 1
    assert capsys.readouterr().err == f"error: the start date 'last week' is not a date; write it as {DATE_FORMS}\n"
    assert main(["--data-dir", str(data_dir), "ask", "agents?", "--since", "2025", "--until", "2024-06"]) == 1
    assert capsys.readouterr().err.startswith("error: the start date 2025-01-01 is after the end date 2024-06-30;")
    assert not data_dir.exists()
