"""Answering backends by name. Adding one is a new module and one line in ``BACKENDS``.

Optional libraries are imported inside each backend, so ``import assistant`` needs only the
core dependencies, and a missing one names the extra to install.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from assistant.backends.base import AnswerBackend, BackendError

if TYPE_CHECKING:
    from assistant.retrieve import HybridSearch
    from index.config import Config


def _extractive(config: Config, search: HybridSearch) -> AnswerBackend:
    from assistant.backends.extractive import ExtractiveBackend

    return ExtractiveBackend(config, search.keyword, search.embedder.embed_queries)


def _openai(config: Config, search: HybridSearch) -> AnswerBackend:
    from assistant.backends.openai_backend import OpenAIBackend

    return OpenAIBackend(config)


def _llama_cpp(config: Config, search: HybridSearch) -> AnswerBackend:
    from assistant.backends.llama_cpp_backend import LlamaCppBackend

    return LlamaCppBackend(config)


def _llamaindex(config: Config, search: HybridSearch) -> AnswerBackend:
    from assistant.backends.llamaindex_backend import LlamaIndexBackend

    return LlamaIndexBackend(config)


BACKENDS: dict[str, Callable[[Config, HybridSearch], AnswerBackend]] = {
    "extractive": _extractive,
    "openai": _openai,
    "llama-cpp": _llama_cpp,
    "llamaindex": _llamaindex,
}


def make_backend(name: str, config: Config, search: HybridSearch) -> AnswerBackend:
    """Build the backend called ``name``; an unknown name lists the valid ones."""
    factory = BACKENDS.get(name)
    if factory is None:
        raise BackendError(f"unknown answering backend {name!r}; choose one of: {', '.join(BACKENDS)}")
    return factory(config, search)


__all__ = ["AnswerBackend", "BackendError", "BACKENDS", "make_backend"]
