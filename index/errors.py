"""The base of every error a user can act on.

Each error under it carries one sentence saying what happened and what to do, so an adapter
(the CLI, the UI, a bot, an MCP or HTTP server) catches ``AssistantError`` alone and shows the
message as it is; anything else that escapes is a bug, and only the log gets its traceback.
Defined in ``index/`` because both halves raise such errors and ``index/`` never imports ``assistant/``.
"""

from __future__ import annotations


class AssistantError(Exception):
    """An error a user can act on; the message says what happened and what to do."""
