"""One public surface: adapters import only ``assistant``, every user error is an AssistantError,
and the same failure reads the same in the CLI, the UI, the chat bot and the MCP server."""

from __future__ import annotations

import ast
import logging
import sys
from pathlib import Path

import pytest

import assistant
from assistant import AssistantError, Config

REPO = Path(__file__).resolve().parent.parent
# each adapter's file; assistant/server.py joins the list once its imports use the public names
ADAPTERS = [
    "ui.py",
    "assistant/webui.py",
    "assistant/cli.py",
    "assistant/bot.py",
    "assistant/slack.py",
    "assistant/mcp_server.py",
    "assistant/server.py",
]
# the adapter and tool modules an adapter may dispatch to, besides the package's public names
SUBMODULES = {"bot", "slack", "server", "mcp_server", "webui", "evaluate", "beir", "cli"}
PUBLIC = set(assistant.__all__) | SUBMODULES  # what `from assistant import ...` may name
PROJECT = {p.name for p in REPO.iterdir() if (p / "__init__.py").exists()} | {p.stem for p in REPO.glob("*.py")}
# each user error and the base it kept, so an older `except ValueError` still catches it
ERRORS = {
    "QuestionError": ValueError,
    "ConfigError": ValueError,
    "FilterError": ValueError,
    "SlackConfigError": ValueError,
    "StoreError": RuntimeError,
    "IngestError": RuntimeError,
    "EmbeddingError": RuntimeError,
    "BackendError": RuntimeError,
    "ExportError": ValueError,
    "WatchError": ValueError,
}


def reached_around(source: str) -> list[str]:
    """The imports in ``source`` that reach past the public surface, as written (empty: none)."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            bad += [f"import {a.name}" for a in node.names if not _allowed_module(a.name)]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            line = f"from {'.' * node.level}{module} import {', '.join(a.name for a in node.names)}"
            if node.level or not _allowed_module(module):
                bad.append(line)
            elif module == "assistant" and any(a.name not in PUBLIC for a in node.names):
                bad.append(line)
    return bad


def _allowed_module(name: str) -> bool:
    parts = name.split(".")
    if parts[0] not in PROJECT:
        return True  # the standard library or the adapter's own framework
    return parts[0] == "assistant" and (len(parts) == 1 or (len(parts) == 2 and parts[1] in SUBMODULES))


@pytest.mark.parametrize("path", ADAPTERS)
def test_adapters_import_only_the_public_api(path):
    assert reached_around((REPO / path).read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "line",
    [
        "from index.store import StoreError",
        "import index.config",
        "from assistant.api import Assistant",
        "from assistant.backends.base import BackendError",
        "from assistant import api",
        "from . import answer",
        "def f():\n    from assistant.engine import AnswerEngine",
    ],
)
def test_an_import_around_the_public_api_is_caught(line):
    ui = (REPO / "ui.py").read_text(encoding="utf-8")
    assert reached_around(ui) == []
    assert reached_around(f"{ui}\n{line}\n") != []


@pytest.mark.parametrize("path", ADAPTERS)
def test_adapters_catch_no_particular_user_error(path):
    """Only AssistantError (or a name bound to it) is caught, so no adapter words a failure its own way."""
    caught = set()
    for node in ast.walk(ast.parse((REPO / path).read_text(encoding="utf-8"))):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            caught |= {n.id for n in ast.walk(node.type) if isinstance(n, ast.Name)}
    assert caught.isdisjoint(ERRORS), caught & set(ERRORS)


def test_index_does_not_import_assistant():
    for path in (REPO / "index").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        imported += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [m for m in imported if m.split(".")[0] == "assistant"], path.name


@pytest.mark.parametrize("name, older", ERRORS.items())
def test_every_user_error_is_an_assistant_error_and_keeps_its_base(name, older):
    error = getattr(assistant, name)
    assert name in assistant.__all__
    assert issubclass(error, AssistantError) and issubclass(error, older)


def test_every_exported_error_is_an_assistant_error():
    exported = [getattr(assistant, name) for name in assistant.__all__]
    errors = [e for e in exported if isinstance(e, type) and issubclass(e, BaseException)]
    assert set(errors) >= {AssistantError, *(getattr(assistant, n) for n in ERRORS)}
    assert all(issubclass(e, AssistantError) for e in errors)


# the same failure, read through each adapter


@pytest.fixture
def restore_logging():
    """The CLI's main installs the secret filter for the whole process; put things back after."""
    factory = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(factory)


def empty_question(tmp_path: Path) -> tuple[Config, str, dict[str, str]]:
    return Config(data_dir=tmp_path / "store"), "   ", {}


def missing_index(tmp_path: Path) -> tuple[Config, str, dict[str, str]]:
    sources = tmp_path / "mine.jsonl"  # not the bundled corpus, so nothing is built on first use
    return Config(data_dir=tmp_path / "store", sources=[sources]), "What is EvoStruggle?", {"SOURCES": str(sources)}


def missing_model(tmp_path: Path) -> tuple[Config, str, dict[str, str]]:
    """The first-use build of the bundled corpus cannot load the embedding model (the UI once
    answered "Something went wrong" and the bot "something went wrong" here)."""
    model = str(tmp_path / "no-model")
    return Config(data_dir=tmp_path / "store", embed_model=model), "What is EvoStruggle?", {"EMBED_MODEL": model}


@pytest.mark.slow
@pytest.mark.parametrize("failure", [empty_question, missing_index, missing_model])
def test_the_same_failure_reads_the_same_in_every_adapter(failure, tmp_path, monkeypatch, capsys, restore_logging):
    from assistant.bot import BotCore, Message
    from assistant.cli import main

    config, question, env = failure(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(f"ASSISTANT_{name}", value)
    answering = assistant.Assistant(config)
    with pytest.raises(AssistantError) as raised:
        answering.ask(question)
    sentence = str(raised.value)
    assert sentence and "\n" not in sentence

    assert main(["ask", question]) == 1
    assert capsys.readouterr().err == f"error: {sentence}\n"
    bot = BotCore(answering).reply(Message(text=question, user="U1", conversation="C1", thread="1"))
    assert bot.error and bot.text == f"Sorry, I could not answer: {sentence}."
    mcp = pytest.importorskip("mcp.server.mcpserver.exceptions")
    from assistant.mcp_server import _user_errors

    with pytest.raises(mcp.ToolError) as tool_error, _user_errors():
        answering.ask(question)
    assert str(tool_error.value) == sentence
    sys.path.insert(0, str(REPO))
    import ui

    chat, *_ = list(ui.respond(question, [], [], "extractive", "", "", "", 5, ui.Backends(config)))[-1]
    assert chat[-1]["content"] == f"⚠️ {ui.inert(sentence)}"
