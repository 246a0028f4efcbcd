"""What every LLM backend shares: the prompts, streaming, how many generations run at once,
follow-up rewriting, failures.

A concrete backend writes one method, ``_chat``: messages in, text pieces out, raising
BackendError with one sentence a user can act on. It may say how many generations it serves at
once (``max_concurrency``, default 1).
"""

from __future__ import annotations

import queue
import threading
from abc import abstractmethod
from collections.abc import Iterator

from assistant.answer import Source, Turn
from assistant.backends.base import AnswerBackend, BackendError
from assistant.citations import defuse
from index.config import Config

MAX_SENTENCES = 6
HISTORY_TURNS = 3  # earlier turns shown to the model when rewriting a follow-up
ABSTRACT_CHARS = 2500  # per source in the prompt; abstracts are rarely longer


def format_sources(sources: list[Source]) -> str:
    """The numbered sources as the model sees them: number, title, date, abstract. The abstracts'
    own [n] markers are defused, so the only [n] the model sees are the sources' numbers."""
    blocks = []
    for n, s in enumerate(sources, 1):
        when = f" ({s.date_text})" if s.date_text else ""
        blocks.append(f"[{n}] {defuse(s.title)}{when}\n{defuse(s.abstract[:ABSTRACT_CHARS])}")
    return "\n\n".join(blocks)


def _words(text: str) -> str:
    return " ".join(text.lower().split())


class GenerativeBackend(AnswerBackend):
    """An answering backend backed by a chat model."""

    def __init__(self, config: Config):
        from prompts import load

        self.config = config
        self.refusal = load("refusal", config.prompts_dir)
        self.system_prompt = load("answer", config.prompts_dir)
        self.sources_prompt = load("sources", config.prompts_dir)
        self.condense_prompt = load("condense", config.prompts_dir)
        self._slots = threading.BoundedSemaphore(self.max_concurrency)

    @property
    @abstractmethod
    def where(self) -> str:
        """The server URL or model file, for messages."""

    @abstractmethod
    def _chat(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        """Stream the model's reply to ``messages``; raise BackendError on failure."""

    @property
    def max_concurrency(self) -> int:
        """Generations this backend runs at once; 1 (one after the other) unless it can do more."""
        return 1

    def messages(self, question: str, sources: list[Source]) -> list[dict[str, str]]:
        system = self.system_prompt.format(refusal=self.refusal, max_sentences=MAX_SENTENCES)
        user = self.sources_prompt.format(sources=format_sources(sources), question=question)
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def scrub(self, text: str) -> str:
        """The answer without lines that repeat the model's instructions: a question or an abstract
        may ask the model to print its prompt, and a model may obey."""
        rules = self.system_prompt.format(refusal=self.refusal, max_sentences=MAX_SENTENCES).splitlines()
        rules = [_words(rule) for rule in rules if len(rule.split()) >= 5]
        lines = text.splitlines()
        kept = [line for line in lines if not any(rule in _words(line) for rule in rules)]
        return "\n".join(kept) if len(kept) < len(lines) else text

    def stream(self, question: str, sources: list[Source]) -> Iterator[str]:
        wrote = False
        for piece in self._generate(self.messages(question, sources), self.config.llm_max_tokens):
            wrote = True
            yield piece
        if not wrote:
            raise BackendError(f"the LLM at {self.where} returned an empty reply; check the model and its server log")

    def _generate(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        """The pieces of ``_chat``, written by a worker thread that holds one of the backend's
        ``max_concurrency`` slots while it generates. No slot is held across a ``yield`` to the
        caller: a slow reader leaves the model free once the reply is written, and a reader that
        goes away (the generator is closed) stops the worker at its next piece."""
        pieces: queue.SimpleQueue[str | Exception | None] = queue.SimpleQueue()  # None: the end
        gone = threading.Event()

        def work() -> None:
            try:
                with self._slots:
                    if gone.is_set():  # closed while waiting for a slot
                        return
                    chat = self._chat(messages, max_tokens)
                    try:
                        for piece in chat:
                            if gone.is_set():
                                break
                            if piece:
                                pieces.put(piece)
                    finally:
                        getattr(chat, "close", lambda: None)()  # ends the HTTP stream or llama.cpp's loop
            except Exception as exc:  # handed to the reader, who raises it
                pieces.put(exc)
            finally:
                pieces.put(None)

        threading.Thread(target=work, name=f"{self.name}-generate", daemon=True).start()
        try:
            while (item := pieces.get()) is not None:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            gone.set()

    def condense(self, question: str, history: list[Turn]) -> str:
        """Ask the model for a standalone question; fall back to resolving references."""
        if not history:
            return question
        lines = []
        for turn in history[-HISTORY_TURNS:]:
            cited = f" (cited: {'; '.join(turn.cited_titles)})" if turn.cited_titles else ""
            lines.append(f"User: {turn.question}\nAssistant: {turn.answer[:600]}{cited}")
        prompt = self.condense_prompt.format(history="\n".join(lines), question=question)
        reply = "".join(self._generate([{"role": "user", "content": prompt}], 96)).strip()
        rewritten = reply.splitlines()[0].strip().strip('"') if reply else ""
        if not rewritten or len(rewritten) > 4 * len(question) + 300:
            return super().condense(question, history)
        return rewritten
