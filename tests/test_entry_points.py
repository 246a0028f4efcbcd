"""What every entry point sets up before it serves: the secret filter on every log record,
tracebacks included, and the UI's all-or-nothing login."""

from __future__ import annotations

import io
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from assistant import BackendError, Config, mask_secrets_in_logs

REPO = Path(__file__).resolve().parent.parent
API_KEY = "sk-test-4f9a2c7e1b"
UI_PASSWORD = "ui-pass-83e1d0"


@pytest.fixture
def log_text():
    """A logger writing to a string the way a server's log would, and the record factory put back
    afterwards (the filter is installed for the whole process)."""
    factory = logging.getLogRecordFactory()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    log = logging.getLogger("tests.entry_points")
    log.addHandler(handler)
    log.propagate = False
    yield log, out
    log.removeHandler(handler)
    log.propagate = True
    logging.setLogRecordFactory(factory)


def log_failure(log: logging.Logger) -> None:
    """Log a failing call whose exception, and the one it came from, carry the API key."""
    try:
        try:
            raise ConnectionError(f"POST https://api.example/v1/chat?key={API_KEY} refused")
        except ConnectionError as exc:
            raise BackendError(f"the LLM server rejected the API key {API_KEY}") from exc
    except BackendError:
        log.exception("answering failed")
    log.error("while asking with %s", API_KEY, exc_info=BackendError(f"bad key {API_KEY}"), stack_info=True)


def test_a_traceback_carrying_the_api_key_is_logged_masked(log_text):
    log, out = log_text
    mask_secrets_in_logs(Config(), env={"OPENAI_API_KEY": API_KEY})
    log_failure(log)
    text = out.getvalue()
    assert "Traceback (most recent call last)" in text and "ConnectionError" in text and "Stack (most recent" in text
    assert API_KEY not in text
    assert "rejected the API key ***" in text and "key=*** refused" in text and "while asking with ***" in text


def test_without_the_filter_the_key_would_reach_the_log(log_text):
    """The check above can fail: the same failure logged unfiltered shows the key."""
    log, out = log_text
    log_failure(log)
    assert API_KEY in out.getvalue()


def test_the_cli_installs_the_filter_for_every_command(log_text, tmp_path, monkeypatch, capsys):
    """`assistant ...` masks before any command runs, so the bot, MCP and HTTP servers it starts log masked."""
    from assistant.cli import main

    log, out = log_text
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("ASSISTANT_UI_PASSWORD", UI_PASSWORD)
    assert main(["ask", "   "]) == 1  # fails before answering; the filter is in place by then
    assert "the question is empty" in capsys.readouterr().err
    log_failure(log)
    log.warning("login %s", UI_PASSWORD)
    text = out.getvalue()
    assert "Traceback" in text and API_KEY not in text and UI_PASSWORD not in text and "login ***" in text


@pytest.mark.parametrize("given, missing", [("ASSISTANT_UI_USER", "ASSISTANT_UI_PASSWORD"),
                                            ("ASSISTANT_UI_PASSWORD", "ASSISTANT_UI_USER")])  # fmt: skip
def test_the_ui_refuses_to_start_with_half_a_login(given, missing, tmp_path):
    """Only one login variable set: one sentence naming both, exit status 2, and no index opened
    nor port taken (the port the UI would use is held here: launching would fail another way)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "GRADIO_"))}
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        env |= {given: UI_PASSWORD, "ASSISTANT_DATA_DIR": str(tmp_path / "store"),
                "GRADIO_SERVER_PORT": str(held.getsockname()[1]), "GRADIO_ANALYTICS_ENABLED": "False"}  # fmt: skip
        out = subprocess.run([sys.executable, str(REPO / "ui.py")], env=env, capture_output=True, text=True,
                             timeout=120, cwd=tmp_path)  # fmt: skip
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and given in lines[0] and missing in lines[0] and "Traceback" not in out.stderr
    assert lines[0].startswith("error: the UI cannot start: ")
    assert UI_PASSWORD not in out.stderr + out.stdout and "Running on" not in out.stdout
    assert not (tmp_path / "store").exists()  # it stopped before opening (or building) the index
