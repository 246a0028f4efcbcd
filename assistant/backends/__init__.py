"""Answering backends by name. Adding one is a new module and one line in ``BACKENDS``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from assistant.backends.base import AnswerBackend, BackendError, Draft

if TYPE_CHECKING:
    from assistant.retrieve import HybridSearch
    from index.config import Config


def _extractive(config: Config, search: HybridSearch) -> AnswerBackend:
    from assistant.backends.extractive import ExtractiveBackend

    return ExtractiveBackend(config, search.keyword.idf)


BACKENDS: dict[str, Callable[[Config, HybridSearch], AnswerBackend]] = {
    "extractive": _extractive,
}


def make_backend(config: Config, search: HybridSearch) -> AnswerBackend:
    """Build the configured backend; an unknown name lists the valid ones."""
    factory = BACKENDS.get(config.llm)
    if factory is None:
        raise BackendError(f"unknown answering backend {config.llm!r}; choose one of: {', '.join(BACKENDS)}")
    return factory(config, search)


__all__ = ["AnswerBackend", "BackendError", "Draft", "BACKENDS", "make_backend"]
