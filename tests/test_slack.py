"""The Slack bot, offline and for real: `assistant slack` served on 127.0.0.1, a local stand-in
for the Slack Web API recording what the bot posts, and requests signed like Slack signs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.answer import Answer, Citation, Source
from assistant.bot import BotCore, Message, RateLimit, Reply
from assistant.slack import SEARCHING, render
from tests.helpers import SECRET, TOKEN, SlackStandIn, event, free_port, post, stop, wait_for

pytestmark = pytest.mark.slow

FACT = "How many participants took part in the struggle-determination video dataset?"


@pytest.fixture(scope="module")
def slack(bundled, tmp_path_factory):
    """The real `assistant slack` process and the Web API stand-in it talks to."""
    stand_in = SlackStandIn()
    port = free_port()
    log = tmp_path_factory.mktemp("slack") / "bot.log"
    env = {**os.environ, "SLACK_API_URL": stand_in.url, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET,
           "ASSISTANT_BOT_RATE_LIMIT": "3"}  # fmt: skip
    script = Path(sys.executable).with_name("assistant")
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(script), "--data-dir", str(bundled.config.data_dir), "slack", "--host", "127.0.0.1", "--port",
             str(port)], env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 90
    while "listening" not in log.read_text():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError(f"the bot did not start: {log.read_text()[-2000:]}")
        time.sleep(0.2)
    yield {"url": f"http://127.0.0.1:{port}/slack/events", "api": stand_in, "log": log}
    stop(proc)


def wait_for_bot(predicate):
    return wait_for(predicate, 60.0, "the bot")


def _answer(api: SlackStandIn, payload: dict, url: str) -> tuple[dict, dict]:
    """Send a mention and return the bot's placeholder post and the update that replaced it."""
    thread = payload["event"].get("thread_ts") or payload["event"]["ts"]
    posts_before = len(api.of("chat.postMessage"))
    assert post(url, payload) == 200
    placeholder = wait_for_bot(lambda: next((p for p in api.of("chat.postMessage")[posts_before:]
                                         if p.get("thread_ts") == thread), None))  # fmt: skip
    ts = f"1800000000.{_call_number(api, placeholder):06d}"  # what the stand-in answered the post with
    update = wait_for_bot(lambda: next((u for u in api.of("chat.update") if u.get("ts") == ts), None))
    return placeholder, update


def _call_number(api: SlackStandIn, data: dict) -> int:
    with api.lock:
        return next(i for i, (m, d) in enumerate(api.calls, 1) if d is data)


def test_mention_gets_a_threaded_cited_answer(slack):
    payload = event(f"<@UBOT> {FACT}")
    placeholder, update = _answer(slack["api"], payload, slack["url"])
    assert placeholder["channel"] == "C1" and placeholder["text"] == SEARCHING
    assert placeholder["thread_ts"] == payload["event"]["ts"]
    assert "76 participants" in update["text"] and "[1]" in update["text"]
    assert "EvoStruggle: A Dataset Capturing the Evolution of Struggle" in update["text"]
    blocks = json.loads(update["blocks"]) if isinstance(update["blocks"], str) else update["blocks"]
    assert any("*Sources*" in b.get("text", {}).get("text", "") for b in blocks)


def test_follow_up_in_the_thread_uses_its_history(slack):
    first = event("<@UBOT> How do the basketball skill imitation work and EvoStruggle differ?", user="U2")
    _, update = _answer(slack["api"], first, slack["url"])
    thread = first["event"]["ts"]
    follow = event("<@UBOT> and what did the second one find?", user="U2", thread_ts=thread)
    placeholder, update = _answer(slack["api"], follow, slack["url"])
    assert placeholder["thread_ts"] == thread
    assert "Searched for: and what did the second one find? (" in json.dumps(update["blocks"])


def test_direct_message_is_answered(slack):
    payload = event(FACT, user="U3", kind="message", channel_type="im")
    _, update = _answer(slack["api"], payload, slack["url"])
    assert "76 participants" in update["text"]


@pytest.mark.parametrize("how", ["forged", "stale"])
def test_forged_or_stale_requests_get_401_and_no_answer(slack, how):
    posts = len(slack["api"].of("chat.postMessage"))
    payload = event(f"<@UBOT> {FACT}", user="U4")
    status = post(slack["url"], payload, secret="wrong-secret") if how == "forged" else post(
        slack["url"], payload, age=6 * 60)  # fmt: skip
    assert status == 401
    time.sleep(1.0)
    assert len(slack["api"].of("chat.postMessage")) == posts


def test_retries_and_duplicates_never_answer_twice(slack):
    payload = event(f"<@UBOT> {FACT}", user="U5")
    _answer(slack["api"], payload, slack["url"])
    posts = len(slack["api"].of("chat.postMessage"))
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert post(slack["url"], payload, headers=retry) == 200
    assert post(slack["url"], payload) == 200  # the same event_id again
    time.sleep(1.5)
    assert len(slack["api"].of("chat.postMessage")) == posts


def test_bot_messages_are_ignored(slack):
    posts = len(slack["api"].of("chat.postMessage"))
    assert post(slack["url"], event(f"<@UBOT> {FACT}", user="U6", bot_id="B999")) == 200
    assert post(slack["url"], event(f"<@UBOT> {FACT}", user="U6", subtype="bot_message")) == 200
    time.sleep(1.5)
    assert len(slack["api"].of("chat.postMessage")) == posts


def test_rate_limit_answers_politely(slack):
    updates = [_answer(slack["api"], event(f"<@UBOT> {FACT}", user="U7"), slack["url"])[1] for _ in range(4)]
    assert all("76 participants" in u["text"] for u in updates[:3])
    assert "please wait a moment" in updates[3]["text"]


def test_tokens_and_secrets_never_reach_the_log(slack):
    text = slack["log"].read_text()
    assert "listening on http://127.0.0.1" in text
    assert TOKEN not in text and SECRET not in text


def test_missing_settings_are_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    out = subprocess.run([str(Path(sys.executable).with_name("assistant")), "slack"], env=env, capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert out.returncode == 1
    assert "set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET" in out.stderr and "Traceback" not in out.stderr


# The core and the rendering, without Slack ---------------------------------------------------


def test_render_makes_markup_inert():
    evil = Source(paper_id="p", title="<!channel> <@U123> <http://x|click>", score=1.0, url="http://a|b")
    answer = Answer(question="q", text="Ping <!here> & <@U1> [1]", sources=[evil],
                    citations=[Citation(1, "p", evil.title)])  # fmt: skip
    text, blocks = render(Reply(answer.text, answer=answer, sources=[evil]))
    rendered = text + json.dumps(blocks)
    assert "<!" not in rendered and "<@" not in rendered and "<http" not in rendered
    assert "&lt;!here&gt; &amp; &lt;@U1&gt;" in text


def test_core_strips_mentions_and_limits_per_user(bundled):
    assert BotCore.question_of("<@UBOT> what is <@U2|bob> doing?") == "what is doing?"
    limit = RateLimit(2, 60)
    assert [limit.allow("a"), limit.allow("a"), limit.allow("a"), limit.allow("b")] == [True, True, False, True]
    reply = BotCore(bundled).reply(Message(text="<@UBOT>   ", user="u", conversation="c", thread="t"))
    assert reply.error and "the question is empty" in reply.text


def test_a_watch_with_more_papers_than_one_message_holds_says_how_many_are_left():
    from assistant.slack import MAX_BLOCKS, SECTION_LIMIT, render_watch
    from assistant.watches import Watch, WatchPaper, WatchReport

    watch = Watch(3, "skills for robots", "2026-12-01T00:00:00Z", "slack", "2026-12-01T00:00:00Z", "C1", "1")
    papers = tuple(
        WatchPaper(f"p{i}", f"Paper {i} on reusable robot skills", "We teach robots reusable skills. " * 10,
                   f"Paper {i}", f"https://arxiv.org/abs/2601.{i:05d}", 0.7, None, "2026-12-02T00:00:00Z")
        for i in range(600)
    )  # fmt: skip
    _, blocks = render_watch(WatchReport(watch, papers))
    texts = [b["text"]["text"] for b in blocks]
    assert len(blocks) <= MAX_BLOCKS and all(len(t) <= SECTION_LIMIT for t in texts)
    listed = sum(t.count("• ") for t in texts)
    assert 0 < listed < 600
    assert texts[-1].endswith(f"… and {600 - listed} more papers (assistant watch papers 3 shows them all)")
