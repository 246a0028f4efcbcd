"""The digest: a time window's papers in named topics, each with the sentence that says what it
does. Over the bundled corpus by the papers' own date, over small libraries ingested at set times
by the time they were added, and through the command line, the HTTP API, MCP and the chat bot."""

from __future__ import annotations

import json
from datetime import datetime

import anyio
import numpy as np
import pytest

import index.ingest
from assistant import Assistant, Config, Digest, FilterError
from index.store import Store
from index.text import sentences
from tests.helpers import SMALL, run_cli, write_jsonl

pytestmark = pytest.mark.slow

WINDOW = {"since": "2023-01-01", "until": "2024-12-31", "by": "date"}
LATER = [
    {
        "title": "Coral Reef Monitoring with Underwater Drones",
        "abstract": "Reef surveys by divers are slow and costly. We present an underwater drone that maps "
        "coral bleaching from video. It surveys a hectare of reef in an hour.",
        "date": "2025-01-08",
    },
    {
        "title": "Detecting Coral Bleaching from Reef Video",
        "abstract": "We train a detector of bleached coral on 40 hours of reef video. It finds bleaching "
        "earlier than divers do, across three reef sites.",
    },
    {
        "title": "Tidal Energy Forecasting with Recurrent Networks",
        "abstract": "Tidal turbines need forecasts of current speed. We propose a recurrent network that "
        "forecasts tidal currents a day ahead from gauge readings.",
    },
]


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00:00+00:00")


def listed(digest: Digest) -> list[str]:
    return [p.paper_id for t in digest.topics for p in t.papers]


def test_a_date_window_of_the_bundled_corpus_lists_each_paper_once_under_named_topics(bundled):
    digest = bundled.digest(**WINDOW)
    papers = {p.paper_id: p for p in bundled.papers()}
    expected = {pid for pid, p in papers.items() if p.date and "2023-01-01" <= p.date <= "2024-12-31"}
    assert len(expected) > 10 and sorted(listed(digest)) == sorted(expected)  # each exactly once
    assert len(digest.topics) >= 2 and digest.papers == len(expected)
    for topic in digest.topics:
        assert 2 <= len(topic.terms) <= 4 and all(term.strip() for term in topic.terms), topic.terms
        assert len({term.lower() for term in topic.terms}) == len(topic.terms)
        for entry in topic.papers:
            assert entry.contribution in sentences(papers[entry.paper_id].abstract)  # a sentence of its abstract
            assert entry.title == papers[entry.paper_id].title and entry.date == papers[entry.paper_id].date
    topics = len(digest.topics)
    assert digest.headline() == f"{len(expected)} papers dated from 2023-01-01 to 2024-12-31, in {topics} topics."
    assert digest.notes == ("Only 43 of the 426 indexed papers have a date; the others are in no window by date.",)
    assert bundled.digest(**WINDOW) == digest  # seeded: the same window gives the same topics
    markdown = digest.to_markdown()
    assert markdown.startswith(f"# Digest: {digest.headline()}")
    assert all(f"`{pid}`" in markdown for pid in expected)
    assert json.loads(json.dumps(digest.to_dict()))["papers"] == len(expected)


def test_a_window_by_time_added_holds_what_came_in_then(tmp_path, embedder, monkeypatch):
    """Two libraries ingested nine days apart: a window between them gives the second only; the
    first keeps its time when ingested again and across a rebuild; a paper without a recorded
    time is in no such window, and the digest says how many there are."""
    config = Config(data_dir=tmp_path / "store")
    first = write_jsonl(tmp_path / "first.jsonl", SMALL)
    later = write_jsonl(tmp_path / "later.jsonl", LATER)

    def ingest_at(day: str, *paths, rebuild: bool = False) -> index.ingest.IngestReport:
        monkeypatch.setattr(index.ingest, "clock", at(day).timestamp)
        return index.ingest.ingest(config, list(paths), embedder=embedder, rebuild=rebuild)

    ingest_at("2025-01-01", first)
    ingest_at("2025-01-10", later)
    ingest_at("2025-01-11", first)  # unchanged: keeps the time it was added
    changed = [
        {**SMALL[0], "organization": "Chem Lab"},
        {**SMALL[1], "abstract": SMALL[1]["abstract"] + " Code is public."},
    ]
    write_jsonl(first, changed + SMALL[2:])
    assert ingest_at("2025-01-12", first).updated == 2  # a listing, a text changed: still first added then
    ingest_at("2025-01-20", first, later, rebuild=True)  # a rebuild keeps every time
    assistant = Assistant(config)
    titles = {r["title"] for r in LATER}

    week = assistant.digest(since="7d", now=at("2025-01-15"))
    assert {p.title for t in week.topics for p in t.papers} == titles
    assert len(week.topics) == 1 and len(week.topics[0].terms) >= 2  # three papers are one topic
    assert {p.added for t in week.topics for p in t.papers} == {"2025-01-10T12:00:00Z"}
    assert week.headline() == "3 papers added to the index from 2025-01-08 12:00 to 2025-01-15 12:00 UTC, in 1 topic."
    both = assistant.digest(since="2025-01-01", until="2025-01-10")
    assert len(listed(both)) == len(set(listed(both))) == 6 and not both.notes
    none = assistant.digest(since="2024-01-01", until="2024-12-31")
    assert none.topics == () and none.papers == 0
    assert none.to_markdown() == "No paper was added to the index from 2024-01-01 to 2024-12-31 UTC.\n"
    one = assistant.digest(since="2023", until="2023", by="date")  # only the molecule paper is dated 2023
    assert [len(t.papers) for t in one.topics] == [1]

    store = Store(config)  # an index from before times were kept: its papers have none
    known = store.papers.get(include=["metadatas"])
    old = [pid for pid, m in zip(known["ids"], known["metadatas"]) if m["added"].startswith("2025-01-01")]
    store.papers.update(ids=old, metadatas=[{"added": None, "added_at": None}] * len(old))
    store.new_generation()
    ingest_at("2025-01-25", first)  # nothing to keep, and an unchanged paper is not new
    again = Assistant(config).digest(since="2024-01-01", until="2025-12-31")
    assert {p.title for t in again.topics for p in t.papers} == titles
    assert again.notes == (
        "3 indexed papers have no recorded time added (indexed before the index kept it), so no window by "
        "time added holds them; a digest by date reads the papers' own dates.",
    )


@pytest.mark.parametrize(
    "window, said",
    [
        ({"since": "banana"}, "the since time 'banana' is not a time; write it as 7d (days back), 2w (weeks back)"),
        ({"since": "7d", "until": "2024-13-01"}, "the until time '2024-13-01' is not a time"),
        ({"since": "2025-02-01", "until": "2025-01-01"}, "the window starts after it ends (since 2025-02-01, until"),
        ({"by": "upvotes"}, "a digest goes by 'added' (when papers entered the index) or 'date' (their own date)"),
    ],
)
def test_a_bad_window_is_one_sentence(window, said, tmp_path):
    with pytest.raises(FilterError) as raised:
        Assistant(Config(data_dir=tmp_path / "none")).digest(**window)  # checked before any index is opened
    assert str(raised.value).startswith(said) and "\n" not in str(raised.value)


def test_the_command_line_the_http_api_mcp_and_the_bot_give_the_same_digest(bundled):
    from fastapi.testclient import TestClient
    from mcp import Client

    from assistant.bot import BotCore, Message
    from assistant.mcp_server import create_server
    from assistant.server import create_app
    from assistant.slack import render

    expected = bundled.digest(**WINDOW).to_dict()
    data_dir = str(bundled.config.data_dir)
    out = run_cli("--data-dir", data_dir, "digest", "--since", "2023-01-01", "--until", "2024-12-31", "--by", "date",
                  "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == expected
    bad = run_cli("--data-dir", data_dir, "digest", "--since", "banana")
    assert bad.returncode == 1 and bad.stderr.startswith("error: the since time 'banana' is not a time")

    http = TestClient(create_app(bundled))
    assert http.get("/v1/digest", params=WINDOW).json() == {"object": "digest", **expected}
    refused = http.get("/v1/digest", params={"since": "banana"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_filter"

    async def session() -> tuple[dict, str, bool]:
        async with Client(create_server(bundled)) as client:
            got = await client.call_tool("digest", WINDOW)
            wrong = await client.call_tool("digest", {"since": "2025-02-01", "until": "2025-01-01"})
            return got.structured_content or {}, "".join(getattr(b, "text", "") for b in wrong.content), wrong.is_error

    tool, wrong, is_error = anyio.run(session)
    assert tool == expected
    assert is_error and "the window starts after it ends (since 2025-02-01, until 2025-01-01)" in wrong

    reply = BotCore(bundled).reply(Message("<@U1> digest 2023-01-01 by date", "U2", "C1", "1"))
    assert reply.digest is not None and reply.digest.papers == len(listed(reply.digest)) > 0
    text, blocks = render(reply)
    assert text == reply.digest.headline() and len(blocks) <= 50
    assert all(t.name in json.dumps(blocks, ensure_ascii=False) for t in reply.digest.topics)


def test_grouping_is_seeded_and_places_every_paper():
    from assistant.digest import cluster, topic_count

    assert [topic_count(n) for n in (1, 4, 5, 100, 500, 10_000)] == [1, 1, 2, 7, 16, 20]
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(3, 16))
    rows = np.concatenate([c + 0.05 * rng.normal(size=(10, 16)) for c in centres]).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    labels = cluster(rows, 3)
    assert sorted(set(labels.tolist())) == [0, 1, 2] and np.array_equal(labels, cluster(rows, 3))
    assert all(len(set(labels[i * 10 : (i + 1) * 10].tolist())) == 1 for i in range(3))  # the three groups found
