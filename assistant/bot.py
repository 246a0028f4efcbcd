"""The platform-neutral chat bot: a message in, a reply out.

Nothing here knows Slack; an adapter for Slack, Discord, Teams or Matrix turns its platform's
events into ``Message`` and renders ``Reply``. The core keeps each thread's conversation, so a
follow-up in a thread is read in the light of the answers before it, and rate-limits each user.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from assistant import Answer, Assistant, AssistantError, Digest, EvidenceTable, Source, Turn, Watch, WatchError

log = logging.getLogger("assistant.bot")
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_TABLE = re.compile(r"^\s*table\s*:\s*(.*)$", re.I | re.S)  # "table: TOPIC" or "table: PAPER; PAPER; ..."
THREADS_KEPT = 1000  # conversations remembered, most recent first
# "digest", "digest 7d", "digest 2025-01-01 by date": the papers of a window, not a question
_DIGEST = re.compile(r"digest(?:\s+(?!by\b)(\S+))?(?:\s+by\s+(added|date))?", re.I)
# "watch LLM agents that learn skills", "watches", "unwatch 3": standing questions of this thread
_WATCH = re.compile(r"(?:(watch)(?:\s+(.*))?|(watches)|(unwatch)(?:\s+(.*))?)", re.I | re.S)


@dataclass(frozen=True)
class Message:
    """What a user said: the text, who said it, and where (conversation and thread ids)."""

    text: str
    user: str
    conversation: str
    thread: str
    history: tuple[Turn, ...] = ()  # earlier turns the platform knows of, if the core does not


@dataclass(frozen=True)
class Reply:
    """What the bot answers. ``answer`` is None for a notice (rate limit, error)."""

    text: str
    answer: Answer | None = None
    sources: list[Source] = field(default_factory=list)
    refused: bool = False
    limited: bool = False
    error: bool = False
    digest: Digest | None = None  # for "digest 7d": the window's papers in topics (``text`` is its Markdown)
    table: EvidenceTable | None = None  # the reply to "table: ...", whose text is the Markdown table


class RateLimit:
    """At most ``limit`` questions per user in any ``window`` seconds."""

    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, user: str) -> bool:
        now = time.monotonic()
        with self._lock:
            times = self._seen.setdefault(user, deque())
            while times and now - times[0] > self.window:
                times.popleft()
            if len(times) >= self.limit:
                return False
            times.append(now)
            return True


class BotCore:
    """Answers chat messages through the public API."""

    def __init__(self, assistant: Assistant, where: str = "chat"):
        self.assistant = assistant
        self.where = where  # the platform, as a watch set here records it ("slack")
        config = assistant.config
        self.rate = RateLimit(config.bot_rate_limit, config.bot_rate_window)
        self._threads: OrderedDict[tuple[str, str], list[Turn]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def question_of(text: str) -> str:
        """The question without the bot's @-mention."""
        return " ".join(_MENTION.sub(" ", text or "").split())

    def reply(self, message: Message) -> Reply:
        """Answer one message; a user error or a failing LLM is a polite reply, not an exception."""
        if not self.rate.allow(message.user):
            window = int(self.assistant.config.bot_rate_window)
            return Reply(
                f"You have asked {self.rate.limit} questions in the last {window} seconds; "
                "please wait a moment before asking again.",
                limited=True,
            )
        text = self.question_of(message.text)
        command = _DIGEST.fullmatch(text)
        watching = _WATCH.fullmatch(text)
        key = (message.conversation, message.thread)
        with self._lock:
            history = list(self._threads.get(key) or message.history)
        try:
            if command:
                digest = self.assistant.digest(command[1] or "7d", by=(command[2] or "added").lower())
                return Reply(digest.to_markdown(), digest=digest)
            if asked := _TABLE.match(text):
                return self.table(asked.group(1))
            if watching:
                return Reply(self._watch(watching, message))
            answer = self.assistant.ask(text, history=history)
        except AssistantError as exc:  # a user error, or the index or LLM failing: its one sentence
            return Reply(f"Sorry, I could not answer: {exc}.", error=True)
        except Exception:  # a bug: the user gets a sentence, the log gets the traceback
            log.exception("answering a chat message failed")
            return Reply("Sorry, something went wrong while answering; the details are in the bot's log.", error=True)
        with self._lock:
            self._threads[key] = [*history, Turn.from_answer(answer)]
            self._threads.move_to_end(key)
            while len(self._threads) > THREADS_KEPT:
                self._threads.popitem(last=False)
        return Reply(answer.text, answer=answer, sources=answer.sources, refused=answer.refused)

    def table(self, request: str) -> Reply:
        """An evidence table as Markdown: of a topic ("table: continual learning for LLMs"), or of
        papers separated by semicolons or lines ("table: SkillMimic; EvoStruggle")."""
        papers = [p.strip() for p in re.split(r"[;\n]", request) if p.strip()]
        made = self.assistant.table(papers=papers) if len(papers) > 1 else self.assistant.table(topic=request)
        return Reply(made.to_markdown(), table=made)

    def _watch(self, command: re.Match[str], message: Message) -> str:
        """``watch QUESTION`` (new papers that answer it are posted in this thread), ``watches``,
        ``unwatch N``."""
        if command[1]:
            made = self.assistant.watch(command[2] or "", self.where, message.conversation, message.thread)
            return (
                f"Watching: {made.question} (watch {made.id}). After each ingest I will post the new papers "
                "that answer it here."
            )
        if command[4]:
            wanted = (command[5] or "").strip().lstrip("#")
            if wanted not in {str(w.id) for w in self._watches_here(message)}:
                raise WatchError(f"there is no watch {wanted} here; write `watches` to list the ones set here")
            gone = self.assistant.unwatch(wanted)
            return f"Stopped watching: {gone.question} (watch {gone.id})."
        mine = self._watches_here(message)
        if not mine:
            return "No watches in this conversation; write `watch` and a question to add one."
        return "Watches here:\n" + "\n".join(f"{w.id}. {w.question}" for w in mine)

    def _watches_here(self, message: Message) -> list[Watch]:
        """The watches set on this platform in this conversation: the ones ``watches`` lists and
        ``unwatch`` may remove."""
        return [w for w in self.assistant.watches() if w.where == self.where and w.channel == message.conversation]
