"""Cited question answering over research-paper abstracts: the public surface.

Adapters (the CLI, ``ui.py``, the bots, the MCP and HTTP servers) import only these names. Every
error a user can act on is an ``AssistantError`` whose message is one sentence saying what to do;
each keeps its older base too (``ValueError`` or ``RuntimeError``), so existing handlers still work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assistant.answer import Answer, Citation, Source, Turn
from assistant.api import Assistant, Conversation, QuestionError
from assistant.backends import BackendError
from assistant.citations import defuse
from assistant.digest import Digest
from assistant.tables import EvidenceTable
from assistant.watches import Watch, WatchError, WatchPaper, WatchReport
from index.config import Config, ConfigError, mask_secrets_in_logs
from index.embed import EmbeddingError
from index.errors import AssistantError
from index.formats.export import EXPORT_FORMATS, ExportError, ExportFormat, export, export_format
from index.ingest import IngestError, IngestReport
from index.records import Paper
from index.store import FilterError, Filters, StoreError

if TYPE_CHECKING:
    from assistant.slack import SlackConfigError
    from index.fetch import FetchError, FetchReport


def __getattr__(name: str) -> Any:
    # the Slack adapter imports this package, so its error is loaded on first use, not here;
    # fetching needs httpx, which asking does not
    if name == "SlackConfigError":
        from assistant.slack import SlackConfigError

        return SlackConfigError
    if name in ("FetchError", "FetchReport"):
        import index.fetch

        return getattr(index.fetch, name)
    raise AttributeError(f"module 'assistant' has no attribute {name!r}")


__all__ = [
    "EXPORT_FORMATS",
    "Answer",
    "Assistant",
    "AssistantError",
    "BackendError",
    "Citation",
    "Config",
    "ConfigError",
    "Conversation",
    "Digest",
    "EmbeddingError",
    "ExportError",
    "ExportFormat",
    "EvidenceTable",
    "FetchError",
    "FetchReport",
    "FilterError",
    "Filters",
    "IngestError",
    "IngestReport",
    "Paper",
    "QuestionError",
    "SlackConfigError",
    "Source",
    "StoreError",
    "Turn",
    "Watch",
    "WatchError",
    "WatchPaper",
    "WatchReport",
    "defuse",
    "export",
    "export_format",
    "mask_secrets_in_logs",
]
