"""Cited question answering over research-paper abstracts."""

from assistant.answer import Answer, Citation, Source
from assistant.api import Assistant, QuestionError
from index.config import Config, ConfigError
from index.store import Filters, StoreError

__all__ = [
    "Answer",
    "Assistant",
    "Citation",
    "Config",
    "ConfigError",
    "Filters",
    "QuestionError",
    "Source",
    "StoreError",
]
