"""Answering under odd input and load, for real: odd questions through every entry point,
50 concurrent asks through the Python API, 20 concurrent UI sessions against a real `ui.py`
server (gradio_client), and a burst of 50 Slack events against the real `assistant slack`
process, each answered exactly once. Latencies are reported by bench/reliability.py, not asserted.
"""

from __future__ import annotations

import sys
import time

import pytest

from assistant import Answer, QuestionError
from assistant.bot import BotCore, Message
from tests.faults import QUESTIONS, concurrently, slack_burst, start_slack, start_ui, ui_sessions
from tests.helpers import ODD, REFUSALS, REPO, SECRET, TOKEN, assert_citation_invariants, event, post, run_cli, stop

pytestmark = pytest.mark.slow
sys.path.insert(0, str(REPO))
import ui  # noqa: E402

REJECTED = {"empty": "the question is empty", "whitespace": "the question is empty",
            "only control characters": "the question is empty", "100,000 characters": "characters long"}  # fmt: skip


def _clear(answer: Answer) -> None:
    assert answer.text.strip()
    assert_citation_invariants(answer)
    if answer.refused:
        assert answer.text.startswith(REFUSALS)


@pytest.fixture(scope="module")
def backends(bundled):
    return ui.Backends(bundled.config)


@pytest.mark.parametrize("kind", list(ODD))
def test_odd_question_gets_a_clear_answer_or_error_everywhere(bundled, backends, kind):
    question = ODD[kind]
    if kind in REJECTED:  # the API: a QuestionError saying what is wrong...
        with pytest.raises(QuestionError, match=REJECTED[kind]):
            bundled.ask(question)
    else:  # ...or an answer (often a refusal naming the closest papers)
        answer = bundled.ask(question)
        _clear(answer)
        assert "MetaLadder" in answer.text or kind != "control characters"  # the invisible characters are gone
    chat, *_ = list(ui.respond(question, [], [], "extractive", "", "", "", 5, backends))[-1]
    shown = chat[-1]["content"]
    assert shown.strip() and ("⚠️" in shown) == (kind in REJECTED) and "Something went wrong" not in shown
    reply = BotCore(bundled).reply(Message(text=f"<@UBOT> {question}", user=f"U-{kind}", conversation="C", thread="T"))
    assert reply.text.strip() and reply.error == (kind in REJECTED) and "something went wrong" not in reply.text


@pytest.mark.parametrize("kind", ["100,000 characters", "control characters"])
def test_odd_question_in_the_cli(bundled, kind):
    out = run_cli("--data-dir", str(bundled.config.data_dir), "ask", ODD[kind].replace("\x00", ""))
    assert "Traceback" not in out.stderr
    if kind in REJECTED:
        assert out.returncode == 1
        assert out.stderr.strip() == "error: the question is 99,999 characters long; keep it under 2,000"
    else:
        assert out.returncode == 0 and "MetaLadder" in out.stdout


def test_fifty_concurrent_asks_through_the_api(bundled):
    """50 threads ask at once through one Assistant: no errors, and every answer is the one the
    same question gets alone (shared state is not corrupted by concurrency)."""
    alone = {q: bundled.ask(q).text for q in QUESTIONS}
    results = concurrently(lambda i: bundled.ask(QUESTIONS[i % len(QUESTIONS)]), 50)
    assert [error for _, _, error in results if error] == []
    for i, (_, answer, _) in enumerate(results):
        assert isinstance(answer, Answer)
        assert_citation_invariants(answer)
        assert answer.text == alone[QUESTIONS[i % len(QUESTIONS)]]


@pytest.fixture(scope="module")
def ui_server(bundled, tmp_path_factory):
    proc, url = start_ui(bundled.config.data_dir, log=tmp_path_factory.mktemp("ui") / "ui.log")
    yield url
    stop(proc)


def test_twenty_concurrent_ui_sessions(ui_server):
    results = ui_sessions(ui_server, 20)
    assert [error for _, _, error in results if error] == []  # every session got an answer (or a refusal)


@pytest.fixture(scope="module")
def slack_bot(bundled, tmp_path_factory):
    proc, bot = start_slack(bundled.config.data_dir, tmp_path_factory.mktemp("slack") / "bot.log")
    yield bot
    stop(proc)


def test_burst_of_fifty_slack_events_each_answered_once(slack_bot):
    burst = slack_burst(slack_bot, 50)
    assert set(burst["statuses"]) == {200}
    threads = sorted(p["thread_ts"] for p in burst["posts"])
    assert threads == sorted(e["event"]["ts"] for e in burst["events"]), "one placeholder per event, none twice"
    assert len(burst["updates"]) == 50 and len({u["ts"] for u in burst["updates"]}) == 50
    assert not [u["text"][:100] for u in burst["updates"] if u["text"].startswith("Sorry")]
    log = slack_bot["log"].read_text()
    assert "Traceback" not in log and TOKEN not in log and SECRET not in log


def test_a_resend_of_an_event_that_never_arrived_is_answered_once(slack_bot):
    """Slack resends an event whose delivery failed (X-Slack-Retry-Num); that resend is the only
    copy the bot gets, so it is answered, and a further resend is not."""
    api, url = slack_bot["api"], slack_bot["url"]
    before = len(api.of("chat.update"))
    payload = event(f"<@UBOT> {QUESTIONS[2]}", user="URESEND")
    assert post(url, payload, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}) == 200
    deadline = time.monotonic() + 60
    while len(api.of("chat.update")) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert post(url, payload, headers={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"}) == 200
    time.sleep(1.5)
    assert len(api.of("chat.update")) == before + 1
    assert [p["thread_ts"] for p in api.of("chat.postMessage")].count(payload["event"]["ts"]) == 1
