"""The one interface every answering backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

from assistant.answer import Source, Turn
from index.errors import AssistantError


class BackendError(AssistantError, RuntimeError):
    """The backend cannot answer right now; the message says what happened and what to do."""


class AnswerBackend(ABC):
    """Writes an answer to a question from ranked sources.

    ``[n]`` in the text cites the n-th source as given (1-based). A backend that finds no answer
    in the sources writes the refusal wording it was given; the engine turns that into a refusal.
    """

    name: str = "backend"

    @abstractmethod
    def stream(self, question: str, sources: list[Source]) -> Iterator[str]:
        """Yield the answer text as it is written."""

    def fit(self, question: str, sources: list[Source]) -> tuple[list[Source], str | None]:
        """The sources this backend will read, and a notice when some had to be left out (a model's
        context window); by default all of them."""
        return sources, None

    def scrub(self, text: str) -> str:
        """The written answer without anything the backend must not show; by default all of it."""
        return text

    def write(self, question: str, sources: list[Source]) -> str:
        """The whole answer text at once."""
        return "".join(self.stream(question, sources))

    def condense(self, question: str, history: list[Turn]) -> str:
        """Rewrite a follow-up into a standalone question. The default resolves references
        ("the second one", "it") to the papers the previous answer cited."""
        from assistant.followup import resolve_references

        return resolve_references(question, history)
