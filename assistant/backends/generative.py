"""What every LLM backend shares: the prompts, fitting them to the model's context, streaming,
how many generations run at once, follow-up rewriting, failures.

A concrete backend writes one method, ``_chat``: messages in, text pieces out, raising
BackendError with one sentence a user can act on. It may say how many generations it serves at
once (``max_concurrency``, default 1) and count tokens with the model's own tokenizer
(``count_tokens``, default a conservative estimate).
"""

from __future__ import annotations

import math
import queue
import threading
from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import replace
from typing import NamedTuple

from assistant.answer import Source, Turn
from assistant.backends.base import AnswerBackend, BackendError
from assistant.citations import defuse
from assistant.questions import Question
from index.config import Config

MAX_SENTENCES = 6
HISTORY_TURNS = 3  # earlier turns shown to the model when rewriting a follow-up
ABSTRACT_CHARS = 2500  # per source in the prompt; abstracts are rarely longer
# A server's tokenizer is unknown here. OpenAI's (cl100k, o200k) read the bundled abstracts at 5.4
# characters a token, 4.3 for the densest; models with smaller vocabularies need more tokens.
CHARS_PER_TOKEN = 3.0
TEMPLATE_TOKENS = 48  # the chat template's role markers, and a margin for counting the parts one by one
MIN_ABSTRACT_CHARS = 400  # sources are shortened to this before any is left out
ELLIPSIS = " …"


class Fitted(NamedTuple):
    """The sources as they fit the model's context window: the kept ones, best first (the lower
    ranked ones maybe shortened), and a notice for the answer when some were left out."""

    sources: list[Source]
    notice: str | None


def source_block(n: int, source: Source) -> str:
    """Source ``n`` as the model sees it: number, title, date, abstract. The abstract's own [n]
    markers are defused, so the only [n] the model sees are the sources' numbers."""
    when = f" ({source.date_text})" if source.date_text else ""
    return f"[{n}] {defuse(source.title)}{when}\n{defuse(source.abstract[:ABSTRACT_CHARS])}"


def format_sources(sources: list[Source]) -> str:
    """The numbered sources as the model sees them, one block each."""
    return "\n\n".join(source_block(n, s) for n, s in enumerate(sources, 1))


def cut(text: str, chars: int) -> str:
    """``text`` cut to about ``chars`` characters at a word boundary, marked with an ellipsis."""
    if len(text) <= chars:
        return text
    head = text[:chars]
    head = head.rsplit(None, 1)[0] if " " in head else head
    return head.rstrip(" ,;:") + ELLIPSIS


def _cut_abstract(source: Source, chars: int) -> Source:
    abstract = source.abstract[:ABSTRACT_CHARS]
    return source if len(abstract) <= chars else replace(source, abstract=cut(abstract, chars))


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

    @property
    def context_window(self) -> int:
        """Tokens the model reads and writes per request: prompt and answer together."""
        return self.config.llm_context_window

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in the model's context. Without the model's tokenizer, a
        conservative estimate: a few characters a token fewer than English text usually has."""
        return math.ceil(len(text) / CHARS_PER_TOKEN)

    def messages(self, question: Question, sources: list[Source]) -> list[dict[str, str]]:
        system = self.system_prompt.format(refusal=self.refusal, max_sentences=MAX_SENTENCES)
        user = self.sources_prompt.format(sources=format_sources(sources), question=question.text)
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def scrub(self, text: str) -> str:
        """The answer without lines that repeat the model's instructions: a question or an abstract
        may ask the model to print its prompt, and a model may obey."""
        rules = self.system_prompt.format(refusal=self.refusal, max_sentences=MAX_SENTENCES).splitlines()
        rules = [_words(rule) for rule in rules if len(rule.split()) >= 5]
        lines = text.splitlines()
        kept = [line for line in lines if not any(rule in _words(line) for rule in rules)]
        return "\n".join(kept) if len(kept) < len(lines) else text

    def fit(self, question: Question, sources: list[Source]) -> Fitted:
        """The sources that fit the context window beside the instructions, the question and an
        answer of ``llm_max_tokens``. The lowest-ranked are left out while even their shortest
        form does not fit, then the kept ones are shortened, lowest-ranked first."""
        budget = self._budget(question)
        costs = [self._cost(n, s) for n, s in enumerate(sources, 1)]
        if sum(costs) <= budget:
            return Fitted(list(sources), None)
        floors = [self._cost(n, _cut_abstract(s, MIN_ABSTRACT_CHARS)) for n, s in enumerate(sources, 1)]
        keep = len(sources)
        while keep > 1 and sum(floors[:keep]) > budget:
            keep -= 1
        kept, costs = list(sources[:keep]), costs[:keep]
        for i in reversed(range(keep)):
            over = sum(costs) - budget
            if over <= 0:
                break  # the top source goes below MIN_ABSTRACT_CHARS only when it is the only one
            kept[i], costs[i] = self._shorten(i + 1, kept[i], costs[i] - over, MIN_ABSTRACT_CHARS if i else 0)
        shortened = sum(k.abstract != s.abstract for k, s in zip(kept, sources))
        return Fitted(kept, self._notice(len(sources) - keep, shortened, len(sources)))

    def _budget(self, question: Question) -> int:
        """Tokens left for the sources once everything else in the request is counted."""
        empty = self.messages(question, [])
        fixed = sum(self.count_tokens(m["content"]) for m in empty) + TEMPLATE_TOKENS
        budget = self.context_window - self.config.llm_max_tokens - fixed
        if budget <= 0:
            raise BackendError(
                f"the question and an answer of up to {self.config.llm_max_tokens} tokens leave no room for the "
                f"papers in the model's {self.context_window}-token context window; raise llm_context_window "
                "(and the server's own context size) or lower llm_max_tokens"
            )
        return budget

    def _cost(self, n: int, source: Source) -> int:
        return self.count_tokens(source_block(n, source)) + 1  # + the blank line between sources

    def _shorten(self, n: int, source: Source, target: int, floor: int) -> tuple[Source, int]:
        """Source ``n`` with its abstract cut to the longest length that costs at most ``target``
        tokens, but not below ``floor`` characters; and its cost."""
        length = len(source.abstract[:ABSTRACT_CHARS])
        lo, hi = min(floor, length), length
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._cost(n, _cut_abstract(source, mid)) <= target:
                lo = mid
            else:
                hi = mid - 1
        shortened = _cut_abstract(source, lo)
        return shortened, self._cost(n, shortened)

    def _notice(self, dropped: int, shortened: int, total: int) -> str | None:
        """What the answer says when papers were left out (shortened ones alone go unmentioned)."""
        if not dropped:
            return None
        left_out = f"the lowest-ranked {dropped} of {total} sources" if dropped > 1 else f"source {total} of {total}"
        also = f", and shortened {shortened} abstract{'s' if shortened > 1 else ''}," if shortened else ""
        return (
            f"Left out {left_out}{also} to fit the model's {self.context_window:,}-token context window; "
            "raise llm_context_window if the model can read more."
        )

    def stream(self, question: Question, sources: list[Source]) -> Iterator[str]:
        """Yield the answer from the sources that fit the model's context (see ``fit``)."""
        wrote = False
        messages = self.messages(question, self.fit(question, sources).sources)
        for piece in self._generate(messages, self.config.llm_max_tokens):
            wrote = True
            yield piece
        if not wrote:
            raise BackendError(
                f"the LLM at {self.where} returned an empty reply, as a server does for a request over its "
                f"context window; set llm_context_window to the server's context size (now {self.context_window} "
                "tokens), or check the model and its server log"
            )

    def complete(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> str:
        """The model's whole reply to ``messages`` (up to ``llm_max_tokens``), as one request
        through the backend's slots; an empty reply is a BackendError, as in ``stream``."""
        reply = "".join(self._generate(messages, max_tokens or self.config.llm_max_tokens))
        if not reply.strip():
            raise BackendError(f"the LLM at {self.where} returned an empty reply; check the model and its server log")
        return reply

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
