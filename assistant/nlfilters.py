"""Natural-language filters: "since 2024", "papers from 2023", "from ByteDance Seed".

``parse(question, organizations, today)`` finds such phrases, turns them into ``Filters`` and
returns the question without them (so retrieval is not distracted by "since 2024"). Only
explicit temporal phrasing with a four-digit year, a month name or a relative period counts,
and only organisations the index knows, so ordinary questions ("trained from scratch",
"learning from 76 participants") get no filter.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from index.store import FilterError, Filters

_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m} | {
    m.lower(): i for i, m in enumerate(calendar.month_abbr) if m
}
_MONTH = r"(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?:19|20)\d{2}"
_WHEN = rf"(?:(?P<month>{_MONTH})\s+)?(?P<year>{_YEAR})"
_PAPERS = (
    r"(?:(?:papers?|works?|studies|articles?|ones)\s+)?(?:(?:published|released|posted|dated|that\s+appeared)\s+)?"
)

_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("between", re.compile(rf"\b{_PAPERS}between\s+(?P<a>{_YEAR})\s+and\s+(?P<b>{_YEAR})\b", re.I)),
    (
        "since",
        re.compile(rf"\b{_PAPERS}(?:since|after|from)\s+{_WHEN}\s+(?:onwards?|on(?=\s*[?.!,]|\s*$)|and\s+later)", re.I),
    ),
    ("since", re.compile(rf"\b{_PAPERS}(?:since|after|newer\s+than|later\s+than)\s+{_WHEN}\b", re.I)),
    ("before", re.compile(rf"\b{_PAPERS}(?:before|until|till|up\s+to|older\s+than|prior\s+to)\s+{_WHEN}\b", re.I)),
    ("during", re.compile(rf"\b{_PAPERS}(?:in|from|during|of)\s+{_WHEN}\b", re.I)),
    (
        "relative",
        re.compile(
            r"\b(?:in\s+|from\s+)?(?P<rel>this\s+year|last\s+year|the\s+last\s+(?P<n>\d+|two|three|four|five|six)\s+(?P<unit>years|months)|(?:the\s+)?past\s+(?P<n2>\d+|two|three|four|five|six)\s+(?P<unit2>years|months)|recent(?:ly)?\s+(?:published\s+)?(?=papers))\b",
            re.I,
        ),
    ),  # noqa: E501
]
_ARCHIVES = (
    "cs math stat physics q-bio q-fin eess econ astro-ph cond-mat gr-qc hep-ex hep-lat hep-ph hep-th math-ph"
    " nlin nucl-ex nucl-th quant-ph"
).split()
# "in cs.LG", "from the arXiv category stat.ML", "cs.CV papers": an arXiv category written out (a bare
# archive such as "cs" is too common a word to count)
_CATEGORY = re.compile(
    r"(?:\b(?:in|from|under|within)\s+(?:the\s+)?)?(?:\barxiv\s+)?(?:\bcategor(?:y|ies)\s+)?"
    rf"(?<![\w.-])(?P<cat>(?:{'|'.join(re.escape(a) for a in _ARCHIVES)})\.[A-Za-z][A-Za-z-]+)(?![\w-])"
    r"(?:\s+(?:category|archive)\b)?",
    re.I,
)
_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6}


@dataclass(frozen=True)
class Parsed:
    """Filters found in a question, the question without them, and how to say what was applied."""

    filters: Filters | None
    question: str
    description: str | None


def _month_start(year: int, month: int | None) -> str:
    return f"{year:04d}-{month or 1:02d}-01"


def _month_end(year: int, month: int | None) -> str:
    month = month or 12
    return f"{year:04d}-{month:02d}-{calendar.monthrange(year, month)[1]:02d}"


def _shift_months(day: date, months: int) -> date | None:
    """``day`` moved ``months`` back, or None when that is before year 1 (no lower bound at all)."""
    total = day.year * 12 + day.month - 1 - months
    if total < 12:
        return None
    year, month = divmod(total, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _since(day: date | None) -> tuple[str | None, None]:
    return (day.isoformat() if day else None), None


def _dates(kind: str, m: re.Match[str], today: date) -> tuple[str | None, str | None]:
    if kind == "between":
        a, b = sorted((int(m["a"]), int(m["b"])))
        return _month_start(a, None), _month_end(b, None)
    if kind == "relative":
        rel = m["rel"].lower()
        if rel.startswith("this year"):
            return _month_start(today.year, None), None
        if rel.startswith("last year"):
            return _month_start(today.year - 1, None), _month_end(today.year - 1, None)
        if rel.startswith("recent"):
            return _since(_shift_months(today, 12))
        n_text, unit = (m["n"] or m["n2"]).lower(), (m["unit"] or m["unit2"]).lower()
        if n_text not in _WORDS and len(n_text.lstrip("0")) > 6:  # a million years or more: every date
            return None, None
        n = _WORDS.get(n_text) or int(n_text)
        return _since(_shift_months(today, n * 12 if unit == "years" else n))
    year, month = int(m["year"]), _MONTHS.get((m["month"] or "").lower().rstrip("."))
    if kind == "since":
        return _month_start(year, month), None
    if kind == "before":  # "before 2023" excludes 2023 itself
        return None, (date.fromisoformat(_month_start(year, month)) - timedelta(days=1)).isoformat()
    return _month_start(year, month), _month_end(year, month)  # during


def _describe(filters: Filters) -> str:
    parts = []
    if filters.date_from and filters.date_to:
        parts.append(f"dated {filters.date_from} to {filters.date_to}")
    elif filters.date_from:
        parts.append(f"dated {filters.date_from} or later")
    elif filters.date_to:
        parts.append(f"dated up to {filters.date_to}")
    if filters.organization:
        parts.append(f"from {filters.organization}")
    if filters.category:
        parts.append(f"in {filters.category}")
    return "papers " + " and ".join(parts)


def _category_name(text: str) -> str:
    """A category as arXiv writes it: "cs.lg" is cs.LG (matching ignores case; this is for showing)."""
    archive, _, sub = text.partition(".")
    return f"{archive.lower()}.{sub.upper() if len(sub) == 2 else sub}"


def parse(question: str, organizations: list[str], today: date | None = None) -> Parsed:
    """Find date, organisation and arXiv category filters in ``question``. Never raises: a period reaching back
    before year 1 ("the last 3000 years") is no date filter, and a phrase that would give an
    invalid filter gives none."""
    today = today or date.today()
    text = question
    date_from = date_to = None
    for kind, rule in _RULES:
        m = rule.search(text)
        if m:
            date_from, date_to = _dates(kind, m, today)
            text = text[: m.start()] + text[m.end() :]
            break
    organization = None
    for org in sorted(organizations, key=len, reverse=True):
        m = re.search(rf"\b(?:from|by|at)\s+(?:the\s+)?{re.escape(org)}\b", text, re.I)
        if m:
            organization = org
            text = text[: m.start()] + text[m.end() :]
            break
    category = None
    m = _CATEGORY.search(text)
    if m:
        category = _category_name(m["cat"])
        text = text[: m.start()] + text[m.end() :]
    try:
        filters = Filters(date_from=date_from, date_to=date_to, organization=organization, category=category)
    except FilterError:  # e.g. an organisation the index knows only as blank text
        return Parsed(None, question, None)
    if not filters:
        return Parsed(None, question, None)
    cleaned = re.sub(r"\s+([?.!,])", r"\1", " ".join(text.split())) or question
    return Parsed(filters, cleaned, _describe(filters))
