"""The docs are current: the configuration reference is the settings' own descriptions, the
evaluation report holds every recorded first run, and every command the README shows prints what
the README shows."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

from assistant.evaluate import load_first_runs
from index.config import reference

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_the_configuration_page_is_generated_from_the_settings():
    assert (DOCS / "configuration.md").read_text(encoding="utf-8") == reference(), (
        "docs/configuration.md is stale: run `python -m index.config > docs/configuration.md`"
    )


def test_the_evaluation_report_holds_every_first_run():
    report = (DOCS / "evaluation.md").read_text(encoding="utf-8")
    runs = load_first_runs()
    assert runs, "no first run is recorded"
    for run in runs:
        assert f"| {run['set']} | {run['code']} | {run['date']} |" in report, (
            f"docs/evaluation.md lacks the first run of {run['set']}: "
            "run `assistant eval --markdown > docs/evaluation.md`"
        )


def test_the_backend_is_named_by_the_same_keyword_as_the_setting():
    from assistant import Assistant, Config

    assert Assistant(llm="openai", llm_base_url="http://127.0.0.1:9/v1").config.llm == "openai"
    base = Config(llm_model="m")
    chosen = Assistant(base, llm="openai")
    assert (chosen.config.llm, chosen.config.llm_model) == ("openai", "m")


README = DOCS.parent / "README.md"


def readme_commands() -> list[tuple[str, list[str]]]:
    """The ``$ assistant ...`` lines of the README's console blocks, each with the output lines shown."""
    commands: list[tuple[str, list[str]]] = []
    inside = False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```console"
        elif inside and line.startswith("$ assistant "):
            commands.append((line.removeprefix("$ "), []))
        elif inside and commands:
            commands[-1][1].append(line)
    return commands


def test_the_readme_has_commands_to_run():
    assert len(readme_commands()) >= 10


@pytest.mark.parametrize(("command", "shown"), readme_commands(), ids=[c for c, _ in readme_commands()])
def test_every_command_the_readme_shows_prints_what_it_shows(command, shown, readme_store, capsys):
    """Run as the README shows it, on the bundled corpus; each shown line is the output's line, or
    its beginning where the README cuts it with an ellipsis."""
    from assistant.cli import main

    assert main(["--data-dir", str(readme_store), *shlex.split(command)[1:]]) == 0
    printed = capsys.readouterr().out.splitlines()
    for n, line in enumerate(shown):
        assert n < len(printed), f"{command}: {n} lines printed, the README shows {len(shown)}"
        head = line.removesuffix("…").rstrip()
        assert printed[n] == line or (line.endswith("…") and printed[n].startswith(head)), (command, printed[n])


@pytest.fixture(scope="module")
def readme_store(bundled, tmp_path_factory) -> Path:
    """A copy of the session's index of the bundled corpus: the README's commands change it (a watch)."""
    store = tmp_path_factory.mktemp("readme") / "store"
    shutil.copytree(bundled.config.data_dir, store)
    return store
