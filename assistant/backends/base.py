"""The one interface every answering backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.answer import Source, Turn
from assistant.questions import Question
from index.errors import AssistantError

if TYPE_CHECKING:
    from assistant.answerability import Focus, Gap


class BackendError(AssistantError, RuntimeError):
    """The backend cannot answer right now; the message says what happened and what to do."""


@dataclass(frozen=True)
class Verdict:
    """A reader's decision about the sources: what of the question they do not answer."""

    gaps: tuple[Gap, ...] = ()  # what the abstracts lack, said of a paper or of all of them
    answered: bool = False  # the rest of the question is answered; the gaps are said after it
    hedge: bool = False  # no abstract answers directly: the closest match is given, said so
    focus: Focus | None = None  # what the top abstracts hold of the question, as the reader found it


class AnswerBackend(ABC):
    """Writes an answer to a question from ranked sources.

    ``[n]`` in the text cites the n-th source as given (1-based). A backend that finds no answer
    in the sources writes the refusal wording it was given, or says of a paper what its abstract
    does not report; the engine checks what it wrote either way. Every backend receives the
    question as read once (``assistant.questions.Question``).
    """

    name: str = "backend"

    @abstractmethod
    def stream(self, question: Question, sources: list[Source]) -> Iterator[str]:
        """Yield the answer text as it is written."""

    def fit(self, question: Question, sources: list[Source]) -> tuple[list[Source], str | None]:
        """The sources this backend will read, and a notice when some had to be left out (a model's
        context window); by default all of them."""
        return sources, None

    def judge(self, question: Question, sources: list[Source]) -> Verdict | None:
        """A reader that decides before it writes says here what of the question the sources do not
        answer; None lets it write (an LLM decides in what it writes, which is then checked)."""
        return None

    def scrub(self, text: str) -> str:
        """The written answer without anything the backend must not show; by default all of it."""
        return text

    def write(self, question: Question, sources: list[Source]) -> str:
        """The whole answer text at once."""
        return "".join(self.stream(question, sources))

    def condense(self, question: str, history: list[Turn]) -> str:
        """Rewrite a follow-up into a standalone question. The default resolves references
        ("the second one", "it") to the papers the previous answer cited."""
        from assistant.followup import resolve_references

        return resolve_references(question, history)
