"""The digest: the papers of a time window, grouped into topics, each with what it does.

A window goes by when papers entered the index (``added``, recorded by every ingest) or by the
papers' own date (``date``). Its papers are read from the open snapshot (times and dates kept in
sorted arrays, so a window is two binary searches, whatever the size of the index); only their
stored chunk vectors are read from the store, by id. The papers are grouped by spherical k-means
over the centre of each paper's chunk vectors (seeded, so the same window gives the same topics),
and each topic is named by the terms that set it apart: frequent in its papers, rarer in the
window's other topics and in the whole index (class-based TF-IDF).
"""

from __future__ import annotations

import math
import re
import threading
import weakref
from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.answer import Source
from index.records import Paper
from index.store import FilterError, added_text, filter_date
from index.text import term_words

if TYPE_CHECKING:
    from assistant.retrieve import HybridSearch

BY = ("added", "date")
FORMS = "7d (days back), 2w (weeks back), 24h (hours back) or a date such as 2025-01-01"
_RELATIVE = re.compile(r"(\d{1,5})\s*(h|d|w)", re.I)
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}
MAX_TOPICS = 20
TERMS_PER_TOPIC = 3
SEED = 0
RESTARTS = 4
ITERATIONS = 50


@dataclass(frozen=True)
class Window:
    """A digest's time window, both ends included, in UTC, and what it goes by."""

    start: datetime
    end: datetime
    by: str = "added"

    @classmethod
    def read(
        cls, since: str | None = None, until: str | None = None, by: str | None = None, now: datetime | None = None
    ) -> Window:
        """``since`` and ``until``: 7d, 2w, 24h (that long before ``now``) or an ISO date or time
        (a date alone: from the start of that day, or until its end). Defaults: the last 7 days,
        by time added. A bad value is a FilterError saying how to write it, in one sentence."""
        by = (by or "added").strip().lower() if isinstance(by, str) else by
        if by not in BY:
            raise FilterError(
                f"a digest goes by 'added' (when papers entered the index) or 'date' (their own date), not {by!r}"
            )
        now = (now or datetime.now(UTC)).astimezone(UTC)
        start = _moment("7d" if since is None else since, "since", now, end=False)
        end = now if until is None else _moment(until, "until", now, end=True)
        if start > end:
            raise FilterError(
                f"the window starts after it ends (since {_shown_time(start)}, until {_shown_time(end)}); "
                "give a since before the until"
            )
        return cls(start, end, by)

    @property
    def days(self) -> tuple[str, str]:
        """The first and last day of the window, ISO."""
        return self.start.date().isoformat(), self.end.date().isoformat()

    def described(self) -> str:
        """'from 2025-01-01 to 2025-01-08 09:30 UTC' (days alone for a window by date)."""
        if self.by == "date":
            first, last = self.days
            return f"from {first} to {last}"
        return f"from {_shown_time(self.start)} to {_shown_time(self.end)} UTC"


def _moment(value: Any, which: str, now: datetime, end: bool) -> datetime:
    text = value.strip() if isinstance(value, str) else ""
    problem = FilterError(f"the {which} time {_shown(value)} is not a time; write it as {FORMS}")
    relative = _RELATIVE.fullmatch(text)
    try:
        if relative:
            return now - timedelta(**{_UNITS[relative[2].lower()]: int(relative[1])})
        if text and "T" not in text.upper() and ":" not in text:
            day = date.fromisoformat(filter_date(text, which, end=end))
            return datetime.combine(day, time.max if end else time.min, UTC)
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError, FilterError):
        raise problem from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _shown_time(moment: datetime) -> str:
    if moment.time() in (time.min, time.max):
        return moment.date().isoformat()
    return moment.strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class DigestPaper:
    """One paper of a digest: what it does, in one sentence of its abstract, and how to cite it."""

    paper_id: str
    title: str
    contribution: str
    url: str | None = None
    date: str | None = None  # the paper's own date (ISO), when its listing gives one
    added: str | None = None  # when it entered the index (UTC ISO), when recorded


@dataclass(frozen=True)
class Topic:
    """Papers close in meaning, named by the terms that set them apart from the window's others."""

    terms: tuple[str, ...]
    papers: tuple[DigestPaper, ...]

    @property
    def name(self) -> str:
        return " · ".join(self.terms)


@dataclass(frozen=True)
class Digest:
    """The papers of a window, grouped into topics; every paper of the window is in exactly one."""

    by: str  # "added" (when papers entered the index) or "date" (their own date)
    since: str  # the window, UTC ISO, both ends included
    until: str
    window: str  # the window in words: "from 2025-01-01 to 2025-01-08 09:30 UTC"
    topics: tuple[Topic, ...] = ()
    notes: tuple[str, ...] = ()  # what a reader should know: papers no window of this kind can hold

    @property
    def papers(self) -> int:
        return sum(len(t.papers) for t in self.topics)

    def headline(self) -> str:
        """One sentence: how many papers, in which window, in how many topics (or that there are none)."""
        n, k = self.papers, len(self.topics)
        if self.by == "added":
            if not n:
                return f"No paper was added to the index {self.window}."
            what = f"{_count(n, 'paper')} added to the index {self.window}"
        else:
            if not n:
                return f"No indexed paper is dated {self.window}."
            what = f"{_count(n, 'paper')} dated {self.window}"
        return f"{what}, in {_count(k, 'topic')}."

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``assistant digest --json`` and ``GET /v1/digest``."""
        return {
            "by": self.by,
            "since": self.since,
            "until": self.until,
            "summary": self.headline(),
            "papers": self.papers,
            "notes": list(self.notes),
            "topics": [
                {
                    "name": t.name,
                    "terms": list(t.terms),
                    "papers": [
                        {
                            "paper_id": p.paper_id,
                            "title": p.title,
                            "url": p.url,
                            "contribution": p.contribution,
                            "date": p.date,
                            "added": p.added,
                        }
                        for p in t.papers
                    ],
                }
                for t in self.topics
            ],
        }

    def to_markdown(self) -> str:
        """The digest as Markdown: a heading per topic, a cited line per paper (for an empty
        window, the sentence that says so)."""
        lines = [f"# Digest: {_md(self.headline())}" if self.topics else _md(self.headline())]
        lines += [f"*{_md(note)}*" for note in self.notes]
        for n, topic in enumerate(self.topics, 1):
            lines.append(f"## {n}. {_md(topic.name)} ({_count(len(topic.papers), 'paper')})")
            for p in topic.papers:
                title = f"[{_md(p.title)}]({p.url})" if _web(p.url) else f"**{_md(p.title)}**"
                when = p.added[:10] if self.by == "added" and p.added else p.date
                meta = " · ".join(x for x in (f"`{p.paper_id}`", when) if x)
                lines.append(f"- {title} ({meta})  \n  {_md(p.contribution)}")
        return "\n\n".join(lines) + "\n"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


_MARKDOWN = re.compile(r"([\\`*_\[\]<>#|])")


def _md(text: str) -> str:
    """Text shown as written in Markdown: no links, emphasis, HTML or headings of its own."""
    return _MARKDOWN.sub(r"\\\1", " ".join(text.split()))


def _web(url: str | None) -> bool:
    return bool(url) and str(url).lower().startswith(("http://", "https://")) and not any(c in str(url) for c in " ()")


# the window's papers, read from the open snapshot


class _Timeline:
    """A snapshot's papers in order of time added and of their own date, for binary search."""

    def __init__(self, search: HybridSearch):
        added = sorted((t, pid) for pid, t in search.store.added.items() if pid in search.papers)
        self.added_ids = [pid for _, pid in added]
        self.added_at = np.array([t for t, _ in added], dtype=np.int64)
        dated = sorted((p.date, pid) for pid, p in search.papers.items() if p.date)
        self.dated_ids = [pid for _, pid in dated]
        self.dates = [d for d, _ in dated]
        self.total = len(search.papers)

    def window(self, window: Window) -> list[str]:
        if window.by == "added":
            low, high = math.ceil(window.start.timestamp()), math.floor(window.end.timestamp())
            lo, hi = np.searchsorted(self.added_at, [low, high + 1])  # [low, high]: both included
            return self.added_ids[int(lo) : int(hi)]
        first, last = window.days
        return self.dated_ids[bisect_left(self.dates, first) : bisect_right(self.dates, last)]

    def notes(self, by: str) -> tuple[str, ...]:
        if by == "added":
            unknown = self.total - len(self.added_ids)
            if not unknown:
                return ()
            return (
                f"{_count(unknown, 'indexed paper')} {'has' if unknown == 1 else 'have'} no recorded time added "
                "(indexed before the index kept it), so no window by time added holds them; "
                "a digest by date reads the papers' own dates.",
            )
        undated = self.total - len(self.dated_ids)
        if not undated:
            return ()
        dated = len(self.dated_ids)
        return (f"Only {dated} of the {self.total} indexed papers have a date; the others are in no window by date.",)


_TIMELINES: weakref.WeakKeyDictionary[Any, _Timeline] = weakref.WeakKeyDictionary()
_TIMELINES_LOCK = threading.Lock()


def _timeline(search: HybridSearch) -> _Timeline:
    """The snapshot's timeline, made on its first digest and kept as long as the snapshot."""
    with _TIMELINES_LOCK:
        found = _TIMELINES.get(search)
    if found is None:
        found = _Timeline(search)
        with _TIMELINES_LOCK:
            _TIMELINES[search] = found
    return found


def build(search: HybridSearch, window: Window) -> Digest:
    """The digest of ``window`` over the snapshot ``search``."""
    timeline = _timeline(search)
    ids = sorted(timeline.window(window))
    papers = [search.papers[pid] for pid in ids]
    topics = group(papers, search.store.paper_centres(ids), search.keyword.idf) if papers else []
    times = search.store.added
    return Digest(
        by=window.by,
        since=window.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        until=window.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        window=window.described(),
        topics=tuple(
            Topic(terms, tuple(_entry(p, times.get(p.paper_id)) for p in members)) for terms, members in topics
        ),
        notes=timeline.notes(window.by),
    )


def _entry(paper: Paper, added_at: int | None) -> DigestPaper:
    return DigestPaper(
        paper_id=paper.paper_id,
        title=paper.title,
        contribution=Source.from_paper(paper, 0.0).contribution(),
        url=paper.url or _link(paper),
        date=paper.date,
        added=added_text(added_at) if added_at is not None else None,
    )


def _link(paper: Paper) -> str | None:
    if paper.arxiv_id:
        return f"https://arxiv.org/abs/{paper.arxiv_id}"
    return f"https://doi.org/{paper.doi}" if paper.doi else None


# grouping


def topic_count(n: int) -> int:
    """How many topics ``n`` papers make: about the square root of n/2 (1 for up to 4 papers, 7 for
    a hundred, 16 for 500), at most MAX_TOPICS."""
    return max(1, min(MAX_TOPICS, round(math.sqrt(n / 2)), n))


def cluster(vectors: np.ndarray, k: int, seed: int = SEED) -> np.ndarray:
    """Spherical k-means (cosine) of unit ``vectors`` into at most ``k`` groups: k-means++ starts
    from a seeded generator, the best of RESTARTS runs is kept. Returns each row's group, 0..k-1,
    every group used."""
    n = len(vectors)
    if k <= 1 or n <= 1:
        return np.zeros(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    best, best_fit = np.zeros(n, dtype=np.int64), -np.inf
    for _ in range(RESTARTS):
        centres = _starts(vectors, k, rng)
        labels = np.full(n, -1, dtype=np.int64)
        for _ in range(ITERATIONS):
            sims = vectors @ centres.T
            new = sims.argmax(axis=1)
            if np.array_equal(new, labels):
                break
            labels = new
            for c in range(k):
                members = vectors[labels == c]
                if len(members):
                    centre = members.sum(axis=0)
                    centres[c] = centre / (np.linalg.norm(centre) or 1.0)
                else:  # an empty group restarts at the row its centre fits worst
                    worst = int(sims[np.arange(n), labels].argmin())
                    centres[c] = vectors[worst]
        fit = float((vectors @ centres.T)[np.arange(n), labels].sum())
        if fit > best_fit + 1e-9:
            best, best_fit = labels.copy(), fit
    used = sorted(set(best.tolist()))
    return np.array([used.index(int(g)) for g in best], dtype=np.int64)


def _starts(vectors: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding on cosine distance."""
    n = len(vectors)
    chosen = [int(rng.integers(n))]
    distance = 1.0 - vectors @ vectors[chosen[0]]
    for _ in range(1, k):
        weights = np.clip(distance, 0, None) ** 2
        total = float(weights.sum())
        pick = int(rng.choice(n, p=weights / total)) if total > 0 else int(rng.integers(n))
        chosen.append(pick)
        distance = np.minimum(distance, 1.0 - vectors @ vectors[pick])
    return vectors[chosen].copy()


def group(papers: list[Paper], centres: dict[str, np.ndarray], idf: Any) -> list[tuple[tuple[str, ...], list[Paper]]]:
    """The papers in topics, largest first, each named and its papers nearest its centre first.
    A paper whose vectors cannot be read joins the topic whose terms it shares most."""
    with_vectors = [p for p in papers if p.paper_id in centres]
    if not with_vectors:
        return [(name_topics([papers], idf)[0], papers)]
    vectors = np.stack([centres[p.paper_id] for p in with_vectors]).astype(np.float32)
    labels = cluster(vectors, topic_count(len(with_vectors)))
    members: list[list[int]] = [[] for _ in range(int(labels.max()) + 1)]
    for i, g in enumerate(labels):
        members[int(g)].append(i)
    groups = []
    for rows in members:
        centre = vectors[rows].sum(axis=0)
        closeness = vectors[rows] @ (centre / (np.linalg.norm(centre) or 1.0))
        order = sorted(range(len(rows)), key=lambda j: (-closeness[j], with_vectors[rows[j]].paper_id))
        groups.append([with_vectors[rows[j]] for j in order])
    missing = [p for p in papers if p.paper_id not in centres]
    if missing:
        held = [set(_paper_terms(p)) for p in missing]
        bags = [Counter(t for p in g for t in set(_paper_terms(p))) for g in groups]
        for p, own in zip(missing, held):
            groups[max(range(len(groups)), key=lambda g: (sum(bags[g][t] for t in own), -g))].append(p)
    names = name_topics(groups, idf)
    ranked = sorted(zip(names, groups), key=lambda ng: (-len(ng[1]), ng[0]))
    return [(name, members_) for name, members_ in ranked]


def _paper_terms(paper: Paper) -> list[str]:
    return [t for t, _ in term_words(f"{paper.title}. {paper.abstract}") if _nameable(t)]


def name_topics(groups: list[list[Paper]], idf: Any, size: int = TERMS_PER_TOPIC) -> list[tuple[str, ...]]:
    """Each group's ``size`` most distinctive terms, as words, by class-based TF-IDF: a term's share
    of the group's words (titles count twice), times the log of how much more of its occurrences
    in the window fall in this group than the group's size would give, times its rarity in the
    whole index (its BM25 idf). In a group of two or more papers, a term must be in two of them."""
    counts: list[Counter[str]] = []
    holders: list[Counter[str]] = []
    spelled: dict[str, Counter[str]] = {}
    for g in groups:
        tf, df = Counter[str](), Counter[str]()
        for p in g:
            pairs = [(t, w) for t, w in term_words(f"{p.title}. {p.title}. {p.abstract}") if _nameable(t)]
            for term, word in pairs:
                spelled.setdefault(term, Counter())[word] += 1
            tf.update(t for t, _ in pairs)
            df.update({t for t, _ in pairs})
        counts.append(tf)
        holders.append(df)
    in_window = sum(counts, Counter[str]())
    total = sum(len(g) for g in groups)
    names = []
    for g, tf, df in zip(groups, counts, holders):
        words = sum(tf.values()) or 1
        need = 2 if len(g) >= 2 and any(n >= 2 for n in df.values()) else 1
        score = {
            t: (n / words) * math.log(1 + (n / in_window[t]) * total / len(g)) * idf(t)
            for t, n in tf.items()
            if df[t] >= need
        }
        chosen: list[str] = []
        for t in sorted(score, key=lambda t: (-score[t], t)):
            word = _word(spelled[t])
            if word.lower() not in {c.lower() for c in chosen}:
                chosen.append(word)
            if len(chosen) == size:
                break
        names.append(tuple(chosen) or ("other",))
    return names


def _nameable(term: str) -> bool:
    return len(term) >= 2 and any(c.isalpha() for c in term)


def _word(forms: Counter[str]) -> str:
    """How a term is best written: its most frequent form, in lower case unless it is an acronym
    or a name written with inner capitals (LLM, LoRA)."""
    lowered = Counter[str]()
    for form, n in forms.items():
        lowered[form if any(c.isupper() for c in form[1:]) else form.lower()] += n
    return max(lowered, key=lambda f: (lowered[f], f))
