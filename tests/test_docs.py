"""The docs that code writes are current: the configuration reference is the settings' own
descriptions, and the evaluation report holds every recorded first run."""

from __future__ import annotations

from pathlib import Path

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
