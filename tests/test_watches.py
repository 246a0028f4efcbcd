"""Watches: standing questions, and the new papers that answer them after every ingest.

A small base library, two watches (one set by a Slack mention, one on the command line), then
`assistant fetch` from the local arXiv stand-in brings papers that answer each watch and papers
that answer neither: each watch reports exactly its papers, once, on the command line, as a Slack
message in the thread where it was set (signed requests, the local Web API stand-in), over HTTP,
as an Atom feed and over MCP; nothing leaves the machine.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any

import anyio
import feedparser
import pytest

from assistant import Assistant, AssistantError, Config, QuestionError, WatchError
from tests.fetch_standin import ArxivPaper, StandIn
from tests.helpers import SECRET, SMALL, TOKEN, SlackStandIn, event, free_port, post, wait_for, write_jsonl

pytestmark = pytest.mark.slow

SKILLS = "LLM agents that learn reusable skills"
CORAL = "detecting coral bleaching on reefs"
WHEN = datetime(2025, 10, 7, 18, 0, tzinfo=UTC)


def arxiv(n: int, title: str, summary: str) -> ArxivPaper:
    return ArxivPaper(f"2510.{n:05d}", title, summary, WHEN, categories=("cs.AI",))


NEW = [
    arxiv(1, "SkillForge: Language Agents that Build a Library of Reusable Skills",
          "We present SkillForge, an LLM agent that writes each solved task as a reusable skill in a growing "
          "library and retrieves those skills to solve new tasks. On web and household benchmarks it solves 23% "
          "more tasks than agents without a skill library."),
    arxiv(2, "Learning Composable Tool Skills for Language Model Agents",
          "Language model agents repeat the same action sequences across tasks. We distil recurring action "
          "sequences into named skills the agent can call, and show that agents reusing learned skills finish "
          "long-horizon tasks in fewer steps."),
    arxiv(3, "Counting Bleached Coral from Drone Imagery",
          "Coral bleaching spreads fast after heat waves. We train a detector on drone images of reefs that maps "
          "bleached coral across 12 reef sites and agrees with diver surveys."),
    arxiv(4, "Tidal Current Forecasting with Recurrent Networks",
          "Tidal turbines need day-ahead forecasts of current speed. We propose a recurrent network trained on "
          "gauge readings that halves the forecast error of harmonic analysis."),
    arxiv(5, "Protein Stability Prediction from Sequence",
          "We predict the melting temperature of proteins from their amino-acid sequence with a small "
          "transformer and release a dataset of 40,000 measured variants."),
]  # fmt: skip
LATER = arxiv(6, "Agents that Reuse Skills Learned in Earlier Episodes",
              "We study LLM agents that learn reusable skills from their own successful episodes and call them "
              "in later tasks, which cuts the steps per task by a third.")  # fmt: skip


@pytest.fixture
def restore_logging():
    factory = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(factory)


@pytest.fixture
def world(tmp_path, embedder, monkeypatch, restore_logging):
    """The base library indexed, the arXiv and Slack stand-ins, and the bot serving signed events."""
    from assistant.bot import BotCore
    from assistant.slack import build_app, serve_http

    arxiv_api = StandIn(papers=[])
    slack = SlackStandIn()
    base = write_jsonl(tmp_path / "base.jsonl", SMALL)
    env = {"ASSISTANT_SOURCES": str(base), "ASSISTANT_ARXIV_API_URL": arxiv_api.arxiv_url,
           "ASSISTANT_FETCH_DELAY_S": "0.01", "ASSISTANT_DATA_DIR": str(tmp_path / "store")}  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = Config.load()
    assistant = Assistant(config)
    assistant._embedder = embedder  # the session's model, not a second copy
    assistant.ingest()
    core = BotCore(assistant, where="slack")
    app = build_app(core, TOKEN, SECRET, slack.url)
    port = free_port()
    threading.Thread(target=serve_http, args=(app, "127.0.0.1", port), daemon=True).start()
    url = f"http://127.0.0.1:{port}/slack/events"
    wait_for(lambda: _up(url))
    yield {"assistant": assistant, "config": config, "arxiv": arxiv_api, "slack": slack, "url": url, "core": core,
           "client": app.client}  # fmt: skip
    arxiv_api.close()


def _up(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(url, timeout=1)
    except urllib.error.HTTPError:
        return True  # it answers
    except OSError:
        return False
    return True


def cli(capsys, *args: str) -> tuple[int, str, str]:
    from assistant.cli import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_each_watch_reports_its_new_papers_once_everywhere(world, capsys):
    from fastapi.testclient import TestClient

    from assistant.server import create_app
    from assistant.slack import deliver_watches, start_delivery

    assistant, slack = world["assistant"], world["slack"]
    mention = event(f"<@UBOT> watch {SKILLS}")
    assert post(world["url"], mention) == 200
    said = wait_for(lambda: next((u for u in slack.of("chat.update") if "Watching" in u["text"]), None))
    assert said["text"].startswith(f"Watching: {SKILLS} (watch 1).")
    assert cli(capsys, "watch", "add", CORAL) == (0, f"watch 2: {CORAL}\n", "")
    slack_watch = assistant.watches()[0]
    assert (slack_watch.where, slack_watch.channel, slack_watch.thread) == ("slack", "C1", mention["event"]["ts"])

    world["arxiv"].papers[:] = NEW
    code, out, err = cli(capsys, "fetch", "arxiv", "cs.AI", "--max", "10")
    assert code == 0, err
    assert "watch 1: 2 new papers (LLM agents that learn reusable skills)" in out
    assert "watch 2: 1 new paper (detecting coral bleaching on reefs)" in out
    assert out.count("  - ") == 3 and "Tidal" not in out.split("watch 1:")[1] and "Protein" not in out
    assert "We present SkillForge, an LLM agent" in out  # what it does, one sentence

    skills = {"SkillForge: Language Agents that Build a Library of Reusable Skills",
              "Learning Composable Tool Skills for Language Model Agents"}  # fmt: skip
    assert deliver_watches(world["core"], world["client"]) == 2  # the bot posts what the command line's check found
    assert deliver_watches(world["core"], world["client"]) == 0
    posted = [p for p in slack.of("chat.postMessage") if p["text"].startswith("watch")]
    assert len(posted) == 1 and posted[0]["channel"] == "C1" and posted[0]["thread_ts"] == mention["event"]["ts"]
    blocks = json.dumps(posted[0]["blocks"])
    assert all(t in blocks for t in skills) and "Coral" not in blocks and "Tidal" not in blocks

    http = TestClient(create_app(assistant))
    assert [w["question"] for w in http.get("/v1/watches").json()["data"]] == [SKILLS, CORAL]
    papers = http.get("/v1/watches/1/papers").json()["data"]
    assert {p["title"] for p in papers} == skills
    assert all(p["url"].startswith("https://arxiv.org/abs/2510.") and p["score"] >= 0.55 for p in papers)
    assert all(p["contribution"] and p["citation"].startswith(p["title"]) for p in papers)
    feed = http.get("/v1/watches/2/feed.atom")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(feed.text)
    assert not parsed.bozo and parsed.version == "atom10"
    assert [e.title for e in parsed.entries] == ["Counting Bleached Coral from Drone Imagery"]
    entry = parsed.entries[0]
    coral = http.get("/v1/watches/2/papers").json()["data"][0]["paper_id"]
    assert entry.link.startswith("https://arxiv.org/abs/2510.00003")
    assert entry.id == f"urn:paper-assistant:watch:2:paper:{coral}"
    assert "We train a detector on drone images of reefs" in entry.summary and entry.updated

    # nothing new: nothing reported, nothing posted
    code, out, err = cli(capsys, "fetch", "arxiv", "cs.AI", "--max", "10")
    assert code == 0 and "watch " not in out
    assert cli(capsys, "watch", "check") == (0, "no new papers answer a watch\n", "")
    assert deliver_watches(world["core"], world["client"]) == 0
    assert len([p for p in slack.of("chat.postMessage") if p["text"].startswith("watch")]) == 1

    # a restart: the watches and what they reported are still there; a later paper is reported once
    again = Assistant(world["config"])
    again._embedder = assistant._embedder
    assert [w.question for w in again.watches()] == [SKILLS, CORAL]
    assert {p.title for p in again.watch_papers(1).papers} == skills
    world["arxiv"].papers.append(LATER)
    again.fetch_arxiv("cs.AI", max_papers=10)
    report = again.ingest()
    assert [(r.watch.id, [p.title for p in r.papers]) for r in report.watches] == [(1, [LATER.title])]
    assert json.loads(json.dumps(report.to_dict()))["watches"][0]["watch"]["id"] == 1
    assert again.check_watches() == [] and len(again.watch_papers(1).papers) == 3
    stop = start_delivery(world["core"], world["client"], 0.1)  # the bot looks on its own, as it runs
    later = wait_for(lambda: [p for p in slack.of("chat.postMessage") if p["text"].startswith("watch 1: 1 new")])
    stop.set()
    assert LATER.title in json.dumps(later[0]["blocks"]) and later[0]["thread_ts"] == mention["event"]["ts"]

    # removing: through the chat, then unknown
    assert cli(capsys, "watch", "remove", "2") == (0, f"removed watch 2: {CORAL}\n", "")
    code, _, err = cli(capsys, "watch", "remove", "2")
    assert code == 1 and err == "error: there is no watch 2; list the watches to see their ids\n"


def test_two_checks_at_once_report_each_paper_once(tmp_path, embedder):
    import index.ingest

    config = Config(data_dir=tmp_path / "store")
    first = Assistant(config)
    first._embedder = embedder
    first.ingest([write_jsonl(tmp_path / "base.jsonl", SMALL)])
    first.watch(SKILLS)
    new = [{"title": p.title, "abstract": p.summary, "url": f"https://arxiv.org/abs/{p.arxiv_id}"} for p in NEW]
    index.ingest.ingest(config, [write_jsonl(tmp_path / "new.jsonl", new)], embedder=embedder)  # no check
    second = Assistant(config)
    second._embedder = embedder
    found: list = []
    threads = [threading.Thread(target=lambda a=a: found.extend(a.check_watches())) for a in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    titles = [p.title for r in found for p in r.papers]
    assert sorted(titles) == sorted(p.title for p in NEW[:2])  # each once, whichever check found it

    from assistant.watches import WatchBook

    book = WatchBook(config.data_dir)
    paper = book.reported(1).papers[0]
    assert book.record(1, [paper], 0, []).papers == ()  # inserted before: not reported again


def test_bad_input_is_one_sentence_in_every_face(tmp_path, capsys, restore_logging, monkeypatch):
    from fastapi.testclient import TestClient
    from mcp import Client

    from assistant.bot import BotCore, Message
    from assistant.mcp_server import create_server
    from assistant.server import create_app

    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "store"))
    assistant = Assistant(Config(data_dir=tmp_path / "store"))
    with pytest.raises(QuestionError, match="the question is empty"):
        assistant.watch("  \n ")
    for bad in (7, "7", "#7", "seven", "0"):
        with pytest.raises(WatchError) as raised:
            assistant.unwatch(bad)
        assert "\n" not in str(raised.value) and isinstance(raised.value, AssistantError)
    assert str(raised.value) == "'0' is not a watch id; give the number the list of watches shows"

    assert (
        cli(capsys, "watch", "add", " ")[2]
        == "error: the question is empty; type a question about the indexed papers\n"
    )
    assert cli(capsys, "watch", "papers", "3")[2] == "error: there is no watch 3; list the watches to see their ids\n"

    http = TestClient(create_app(assistant))
    empty = http.post("/v1/watches", json={"question": ""})
    assert empty.status_code == 400 and empty.json()["error"]["message"].startswith("the question is empty")
    made = http.post("/v1/watches", json={"question": SKILLS})
    assert made.status_code == 201 and made.json()["where"] == "http"
    for method, path in (
        ("delete", "/v1/watches/9"),
        ("get", "/v1/watches/9/papers"),
        ("get", "/v1/watches/x/feed.atom"),
    ):
        gone = getattr(http, method)(path)
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "watch_not_found"
    feed = feedparser.parse(http.get(f"/v1/watches/{made.json()['id']}/feed.atom").text)
    assert not feed.bozo and feed.entries == [] and SKILLS in feed.feed.title

    async def session() -> tuple:
        async with Client(create_server(assistant)) as client:
            added = await client.call_tool("watch_add", {"question": CORAL})
            listed = await client.call_tool("watch_list", {})
            checked = await client.call_tool("watch_check", {})
            empty = await client.call_tool("watch_add", {"question": " "})
            removed = await client.call_tool("watch_remove", {"watch_id": 2})
            unknown = await client.call_tool("watch_remove", {"watch_id": 2})
            text = "".join(getattr(b, "text", "") for b in unknown.content)
            return (
                added.structured_content,
                listed.structured_content,
                checked.structured_content,
                empty,
                removed,
                unknown,
                text,
            )

    added, listed, checked, empty_tool, removed, unknown, text = anyio.run(session)
    assert added["where"] == "mcp" and added["question"] == CORAL
    assert [w["question"] for w in listed["watches"]] == [SKILLS, CORAL]
    # whatever is new to the watches (the bundled corpus, if a face has opened the index by now)
    assert all(r["watch"]["question"] in (SKILLS, CORAL) for r in checked["reports"])
    assert empty_tool.is_error and not removed.is_error
    assert unknown.is_error and "there is no watch 2; list the watches to see their ids" in text

    bot = BotCore(assistant, where="slack")
    said = bot.reply(Message("<@U1> unwatch 42", "U2", "C9", "1.0"))
    assert (
        said.error
        and said.text
        == "Sorry, I could not answer: there is no watch 42 here; write `watches` to list the ones set here."
    )
    assert bot.reply(Message("<@U1> watches", "U2", "C9", "1.0")).text.startswith("No watches in this conversation")
    assert bot.reply(Message("<@U1> watch", "U2", "C9", "1.0")).text.startswith(
        "Sorry, I could not answer: the question"
    )


def test_the_watches_tab_adds_checks_and_removes(tmp_path):
    pytest.importorskip("gradio")
    from assistant.webui import watches_markdown

    assistant = Assistant(Config(data_dir=tmp_path / "store"))
    assert watches_markdown(assistant) == "No watches yet: add a question to follow."
    added = watches_markdown(assistant, "add", SKILLS)
    assert added.startswith("*Watching") and "### 1. LLM agents that learn reusable skills (0 reported)" in added
    assert "No new papers answer a watch" in watches_markdown(assistant, "check")
    assert watches_markdown(assistant, "add", " ").startswith("⚠️ the question is empty")
    assert watches_markdown(assistant, "remove", "1").startswith("*Removed")
    assert watches_markdown(assistant, "remove", "1").startswith("⚠️ there is no watch 1")


def _paper(pid: str, title: str = "A paper") -> Any:
    from assistant.watches import WatchPaper

    return WatchPaper(pid, title, "It does a thing.", title, None, 0.7, None, "2026-01-01T00:00:00Z")


def test_a_channel_that_fails_holds_back_only_its_own_watch(tmp_path):
    from assistant.watches import WatchBook

    book = WatchBook(tmp_path)
    first = book.add("one question", "slack", "C-kicked", None, 0, [])
    second = book.add("another question", "slack", "C-ok", None, 0, [])
    book.record(first.id, [_paper("p1")], 1, [])
    book.record(second.id, [_paper("p2")], 1, [])
    sent: list[str] = []

    def send(report):
        if report.watch.channel == "C-kicked":
            raise RuntimeError("not_in_channel")
        sent.append(report.papers[0].paper_id)

    assert book.deliver("slack", send) == 1 and sent == ["p2"]  # the others go on
    assert book.deliver("slack", lambda report: sent.append(report.papers[0].paper_id)) == 1
    assert sent == ["p2", "p1"]  # the failed one waited for the next round, and came once


def test_a_watch_is_removed_only_from_the_conversation_that_set_it(tmp_path, monkeypatch):
    from assistant.bot import BotCore, Message

    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "store"))
    assistant = Assistant(Config(data_dir=tmp_path / "store"))
    made = assistant.watch("LLM agents that learn skills", "slack", "C-private", "1.0")
    bot = BotCore(assistant, where="slack")
    said = bot.reply(Message(f"<@U1> unwatch {made.id}", "U2", "C-other", "2.0"))
    assert said.error and f"there is no watch {made.id} here" in said.text
    assert "LLM agents" not in said.text and [w.id for w in assistant.watches()] == [made.id]
    said = bot.reply(Message(f"<@U1> unwatch {made.id}", "U2", "C-private", "3.0"))
    assert said.text.startswith("Stopped watching") and assistant.watches() == []


def test_a_title_with_a_control_character_keeps_the_feed_readable(tmp_path):
    from assistant.watches import WatchBook

    book = WatchBook(tmp_path)
    made = book.add("tool use", "http", None, None, 0, [])
    book.record(made.id, [_paper("p1", "Tool\x08Use Agents")], 1, [])
    parsed = feedparser.parse(book.reported(made.id).to_atom())
    assert not parsed.bozo and parsed.entries[0].title == "ToolUse Agents"
