"""The digest: the papers of a time window, grouped into topics, each with what it does.

A window goes by when papers entered the index (``added``, recorded by every ingest) or by the
papers' own date (``date``). Only the window's papers are read: a Chroma ``where`` on the stored
number (the time added, or the date), then their chunk vectors by id. The papers are grouped by
spherical k-means over the centre of each paper's chunk vectors (seeded, so the same window gives
the same topics), and each topic is named by the terms that set it apart: frequent in its papers,
rarer in the window's other topics and in the whole index (class-based TF-IDF).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.answer import Source
from index.records import Paper
from index.store import FilterError, added_text, filter_date
from index.text import term_words

if TYPE_CHECKING:
    from index.store import Store

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


# the window's papers, read from the store


def build(store: Store, window: Window, idf: Callable[[str], float]) -> Digest:
    """The digest of ``window``: its papers read from ``store`` by a ``where`` on the time added or
    the date, grouped by their stored vectors, topics named with ``idf`` (the index's term rarity)."""
    if window.by == "added":
        low, high = math.ceil(window.start.timestamp()), math.floor(window.end.timestamp())
        found = store.papers_added(low, high)
    else:
        found = store.papers_dated(*window.days)
    papers = [p for p, _ in found]
    topics = group(papers, store.paper_centres(p.paper_id for p in papers), idf) if papers else []
    times = {p.paper_id: added for p, added in found}
    return Digest(
        by=window.by,
        since=window.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        until=window.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        window=window.described(),
        topics=tuple(Topic(terms, tuple(_entry(p, times[p.paper_id]) for p in members)) for terms, members in topics),
        notes=_notes(store, window.by),
    )


def _notes(store: Store, by: str) -> tuple[str, ...]:
    """What no window of this kind can hold: papers without a recorded time added, or without a date."""
    total = store.counts()["papers"]
    if by == "added":
        unknown = total - store.count_timed()
        if not unknown:
            return ()
        return (
            f"{_count(unknown, 'indexed paper')} {'has' if unknown == 1 else 'have'} no recorded time added "
            "(indexed before the index kept it), so no window by time added holds them; "
            "a digest by date reads the papers' own dates.",
        )
    dated = store.count_dated()
    if dated == total:
        return ()
    return (f"Only {dated} of the {total} indexed papers have a date; the others are in no window by date.",)


def _entry(paper: Paper, added_at: int | None) -> DigestPaper:
    return DigestPaper(
        paper_id=paper.paper_id,
        title=paper.title,
        contribution=Source.from_paper(paper, 0.0).contribution(),
        url=paper.url or paper_link(paper),
        date=paper.date,
        added=added_text(added_at) if added_at is not None else None,
    )


def paper_link(paper: Paper) -> str | None:
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
            sims = _cosines(vectors, centres)
            new = sims.argmax(axis=1)
            if np.array_equal(new, labels):
                break
            labels = new
            sums = np.einsum("nk,nd->kd", np.eye(k, dtype=vectors.dtype)[labels], vectors)  # each group's sum
            norms = np.linalg.norm(sums, axis=1, keepdims=True)
            centres = np.where(norms > 0, sums / np.where(norms > 0, norms, 1), centres)
            for c in np.flatnonzero(norms[:, 0] == 0):  # an empty group restarts at the row fitted worst
                centres[c] = vectors[int(sims[np.arange(n), labels].argmin())]
        fit = float(_cosines(vectors, centres)[np.arange(n), labels].sum())
        if fit > best_fit + 1e-9:
            best, best_fit = labels.copy(), fit
    used = sorted(set(best.tolist()))
    return np.array([used.index(int(g)) for g in best], dtype=np.int64)


def _cosines(rows: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Every row against every centre (unit vectors: cosines). einsum's own loop, not BLAS: for
    these small products BLAS's threads cost more than the arithmetic, ten times more on 2 cores."""
    return np.einsum("nd,kd->nk", rows, centres)


def _starts(vectors: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding on cosine distance."""
    n = len(vectors)
    chosen = [int(rng.integers(n))]
    distance = 1.0 - _cosines(vectors, vectors[chosen[:1]])[:, 0]
    for _ in range(1, k):
        weights = np.clip(distance, 0, None) ** 2
        total = float(weights.sum())
        pick = int(rng.choice(n, p=weights / total)) if total > 0 else int(rng.integers(n))
        chosen.append(pick)
        distance = np.minimum(distance, 1.0 - _cosines(vectors, vectors[[pick]])[:, 0])
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
        closeness = _cosines(vectors[rows], (centre / (np.linalg.norm(centre) or 1.0))[None, :])[:, 0]
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
    spelled = Counter[tuple[str, str]]()  # (term, word as written): how each term is written
    for g in groups:
        tf, df = Counter[str](), Counter[str]()
        for p in g:
            pairs = term_words(f"{p.title}. {p.title}. {p.abstract}")
            spelled.update(pairs)
            terms = [t for t, _ in pairs]
            tf.update(terms)
            df.update(set(terms))
        counts.append(tf)
        holders.append(df)
    forms: dict[str, Counter[str]] = {}
    for (term, word), n in spelled.items():
        forms.setdefault(term, Counter())[word] += n
    in_window = sum(counts, Counter[str]())
    rarity = {t: idf(t) for t in in_window if _nameable(t)}
    total = sum(len(g) for g in groups)
    names = []
    for g, tf, df in zip(groups, counts, holders):
        words = sum(tf.values()) or 1
        need = 2 if len(g) >= 2 and any(n >= 2 for t, n in df.items() if t in rarity) else 1
        score = {
            t: (n / words) * math.log(1 + (n / in_window[t]) * total / len(g)) * rarity[t]
            for t, n in tf.items()
            if df[t] >= need and t in rarity
        }
        chosen: list[str] = []
        for t in sorted(score, key=lambda t: (-score[t], t)):
            word = _word(forms[t])
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
