"""The Slack adapter on slack-bolt: events in, threaded cited answers out.

HTTP mode serves ``/slack/events`` on a host and port of your choice; Socket Mode connects out
with an app-level token. Every HTTP request's signature is checked by Bolt (forged or older than
five minutes: 401, no handler runs). Tokens are never logged or shown.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from assistant import AssistantError, Digest, WatchReport
from assistant.bot import BotCore, Message, Reply

log = logging.getLogger("assistant.slack")
SEARCHING = "Searching the abstracts…"
DEFAULT_API_URL = "https://slack.com/api/"
SECTION_LIMIT = 2900  # Slack's section text limit is 3000 characters
EVENTS_REMEMBERED = 10_000
MAX_BLOCKS = 50  # Slack's most blocks in one message


class SlackConfigError(AssistantError, ValueError):
    """A Slack setting is missing; the message names the environment variable."""


def escape(text: str) -> str:
    """Make text inert in mrkdwn: no <!channel>, <@U...> or <http://x|y> sequences survive."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> dict[str, Any]:
    if len(text) > SECTION_LIMIT:
        text = text[: SECTION_LIMIT - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _parts(text: str) -> list[str]:
    """``text`` in pieces of at most SECTION_LIMIT characters, cut between lines where it can."""
    parts = [""]
    for line in text.splitlines():
        if parts[-1] and len(parts[-1]) + 1 + len(line) > SECTION_LIMIT:
            parts.append("")
        parts[-1] = f"{parts[-1]}\n{line}" if parts[-1] else line
    return [p for p in parts if p.strip()] or [text]


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _title_link(title: str, url: str | None) -> str:
    safe_url = url and not any(c in url for c in "<>| ") and url.startswith(("http://", "https://"))
    return f"<{url}|{escape(title)}>" if safe_url else f"*{escape(title)}*"


def _source_line(number: int, title: str, url: str | None, byline: str) -> str:
    return f"[{number}] {_title_link(title, url)}" + (f" · {escape(byline)}" if byline else "")


def render(reply: Reply) -> tuple[str, list[dict[str, Any]]]:
    """Slack text (the notification fallback) and blocks for a reply."""
    if reply.digest is not None:
        return render_digest(reply.digest)
    answer = reply.answer
    if answer is None:  # a notice, or a table: as many sections as it needs, split between lines
        return escape(reply.text), [_section(part) for part in _parts(escape(reply.text))]
    body = escape(answer.text)
    cited = {c.number for c in answer.citations}
    numbered = list(enumerate(answer.sources, 1))
    shown = numbered[:3] if answer.refused else [(n, s) for n, s in numbered if n in cited]
    heading = "Closest papers" if answer.refused else "Sources"
    lines = [_source_line(n, s.title, s.url, s.byline()) for n, s in shown]
    blocks = [_section(body)]
    if lines:
        blocks.append(_section(f"*{heading}*\n" + "\n".join(lines)))
    notes = [f"backend: {escape(answer.backend)}", *(escape(note) for note in answer.notes())]
    blocks.append(_context(" · ".join(notes)))
    text = body + (f"\n\n{heading}:\n" + "\n".join(lines) if lines else "")
    return text, blocks


def render_digest(digest: Digest) -> tuple[str, list[dict[str, Any]]]:
    """A digest: its headline, then each topic and its papers (linked, with what each does), in as
    many sections as Slack's size limits need; past its 50 blocks, a line says how many are left."""
    headline = escape(digest.headline())
    blocks = [_section(f"*{headline}*")] + [_context(escape(note)) for note in digest.notes]
    lines = []
    for n, topic in enumerate(digest.topics, 1):
        lines.append(f"*{n}. {escape(topic.name)}* ({len(topic.papers)})")
        lines += [f"• {_title_link(p.title, p.url)}: {escape(p.contribution)}" for p in topic.papers]
    return headline, blocks + _paper_sections(lines, len(blocks), "assistant digest shows them all")


def render_watch(report: WatchReport) -> tuple[str, list[dict[str, Any]]]:
    """New papers for a watch: the headline, then each paper (linked) with what it does; past
    Slack's 50 blocks, a line says how many are left and where to see them."""
    headline = escape(report.headline())
    lines = [f"• {_title_link(p.title, p.url)}: {escape(p.contribution)}" for p in report.papers]
    more = f"assistant watch papers {report.watch.id} shows them all"
    return headline, [_section(f"*{headline}*"), *_paper_sections(lines, 1, more)]


def _paper_sections(lines: list[str], used: int, more: str) -> list[dict[str, Any]]:
    """``lines`` in sections of at most SECTION_LIMIT characters, in the blocks a message has left
    after ``used``; when they run out, the last section says how many papers ("• " lines) are left."""
    sections: list[dict[str, Any]] = []
    text = ""
    for i, line in enumerate(lines):
        if text and len(text) + len(line) + 1 > SECTION_LIMIT - 100:  # room for the last line
            if used + len(sections) == MAX_BLOCKS - 1:
                left = sum(1 for rest in lines[i:] if rest.startswith("•"))
                text += f"\n… and {left} more papers ({more})"
                break
            sections.append(_section(text))
            text = ""
        text = f"{text}\n{line}" if text else line
    return sections + ([_section(text)] if text else [])


def deliver_watches(core: BotCore, client: Any) -> int:
    """Look for new papers that answer the watches, then post each watch set in this chat its papers
    not posted yet, in the channel and thread where it was set; returns how many papers were posted."""

    def send(report: WatchReport) -> None:
        text, blocks = render_watch(report)
        client.chat_postMessage(channel=report.watch.channel, thread_ts=report.watch.thread, text=text, blocks=blocks)

    core.assistant.check_watches()
    return core.assistant.deliver_watches(core.where, send)


def start_delivery(core: BotCore, client: Any, every: float) -> threading.Event:
    """Deliver the watches' new papers every ``every`` seconds in a background thread (whichever
    process ingested them); set the returned event to stop it."""
    stopped = threading.Event()

    def loop() -> None:
        while not stopped.wait(every):
            try:
                deliver_watches(core, client)
            except Exception:  # Slack or the index down for a moment: the papers wait for the next round
                log.warning("could not deliver the watches' new papers", exc_info=True)

    threading.Thread(target=loop, name="watch-delivery", daemon=True).start()
    return stopped


def build_app(core: BotCore, token: str, signing_secret: str, api_url: str | None = None):
    """The Bolt app: answers mentions and direct messages, in threads."""
    from slack_bolt import App, BoltResponse
    from slack_sdk import WebClient

    client = WebClient(token=token, base_url=api_url or DEFAULT_API_URL)
    app = App(token=token, signing_secret=signing_secret, client=client, token_verification_enabled=False)
    seen: OrderedDict[str, None] = OrderedDict()
    seen_lock = threading.Lock()

    @app.middleware
    def answer_once(request, next):  # noqa: A002 (Bolt's name)
        """Slack resends an event it thinks was missed; one answer per event id is enough. A resend
        of an event that never arrived (its delivery failed) is the only one, so it is answered."""
        event_id = (request.body or {}).get("event_id") if isinstance(request.body, dict) else None
        if event_id:
            with seen_lock:
                if event_id in seen:
                    return BoltResponse(status=200, body="")
                seen[event_id] = None
                while len(seen) > EVENTS_REMEMBERED:
                    seen.popitem(last=False)
        elif request.headers.get("x-slack-retry-num"):
            return BoltResponse(status=200, body="")  # a resend we cannot match: better none than two answers
        return next()

    def answer(event: dict[str, Any], client) -> None:
        if event.get("bot_id") or event.get("subtype") or not event.get("user"):
            return  # bots, edits and joins are not questions
        channel = event["channel"]
        thread = event.get("thread_ts") or event["ts"]
        posted = client.chat_postMessage(channel=channel, thread_ts=thread, text=SEARCHING)
        reply = core.reply(Message(text=event.get("text", ""), user=event["user"], conversation=channel, thread=thread))
        text, blocks = render(reply)
        client.chat_update(channel=channel, ts=posted["ts"], text=text, blocks=blocks)

    @app.event("app_mention")
    def on_mention(event, client):
        answer(event, client)

    @app.event("message")
    def on_message(event, client):
        if event.get("channel_type") == "im":
            answer(event, client)

    return app


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 256  # the listen backlog: the default 5 resets connections in a burst of events


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s %s", self.address_string(), format % args)


def serve_http(app, host: str, port: int) -> None:
    """Serve ``POST /slack/events`` on host:port until interrupted."""
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    handler = SlackRequestHandler(app)

    def wsgi(environ, start_response):
        if environ.get("PATH_INFO") == "/slack/events":
            return handler(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: POST Slack events to /slack/events\n"]

    server = make_server(host, port, wsgi, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
    print(f"Slack bot listening on http://{host}:{server.server_port}/slack/events", flush=True)
    server.serve_forever()


def settings(env: dict[str, str] | None = None, socket_mode: bool = False) -> dict[str, str | None]:
    """Tokens and URLs from the environment; a missing one is a SlackConfigError naming it."""
    env = dict(os.environ) if env is None else env
    needed = ["SLACK_BOT_TOKEN"] + (["SLACK_APP_TOKEN"] if socket_mode else ["SLACK_SIGNING_SECRET"])
    missing = [name for name in needed if not env.get(name)]
    if missing:
        raise SlackConfigError(f"set {' and '.join(missing)} to run the Slack bot (see the README's Slack section)")
    return {
        "token": env["SLACK_BOT_TOKEN"],
        "signing_secret": env.get("SLACK_SIGNING_SECRET") or "",
        "app_token": env.get("SLACK_APP_TOKEN"),
        "api_url": env.get("SLACK_API_URL") or None,
    }


def run(core: BotCore, host: str, port: int, socket_mode: bool = False) -> None:
    """Start the bot in HTTP mode (default) or Socket Mode."""
    s = settings(socket_mode=socket_mode)
    core.assistant.retrieve("warm up")  # load the index and model before the first question
    app = build_app(core, s["token"] or "", s["signing_secret"] or "", s["api_url"])
    start_delivery(core, app.client, core.assistant.config.watch_interval)
    if socket_mode:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        print("Slack bot connecting in Socket Mode", flush=True)
        SocketModeHandler(app, s["app_token"]).start()
    else:
        serve_http(app, host, port)
