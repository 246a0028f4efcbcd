"""Cited question answering over research-paper abstracts."""

from assistant.answer import Answer, Citation, Source, Turn
from assistant.api import Assistant, Conversation, QuestionError
from assistant.backends import BackendError
from index.config import Config, ConfigError
from index.store import Filters, StoreError

__all__ = [
    "Answer",
    "Assistant",
    "BackendError",
    "Citation",
    "Conversation",
    "Config",
    "ConfigError",
    "Filters",
    "QuestionError",
    "Source",
    "StoreError",
    "Turn",
]
