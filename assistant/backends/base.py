"""The one interface every answering backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from assistant.answer import Source


class BackendError(RuntimeError):
    """The backend cannot answer right now; the message says what happened and what to do."""


@dataclass
class Draft:
    """A backend's answer before citation checking.

    ``[n]`` in ``text`` refers to the n-th source as given to the backend (1-based).
    ``quotes`` maps a source number to the abstract sentences that support what cites it.
    """

    text: str
    quotes: dict[int, list[str]] = field(default_factory=dict)
    refused: bool = False


class AnswerBackend(ABC):
    """Writes an answer to a question from ranked sources."""

    name: str = "backend"

    @abstractmethod
    def write(self, question: str, sources: list[Source]) -> Draft:
        """Answer ``question`` from ``sources`` only, citing them as [n]."""
