"""Shared fixtures: real model, real Chroma, each test's data kept under pytest's tmp dirs.

Only fixtures live here; what tests and benchmarks share as plain code is in tests/helpers.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from assistant import Assistant, Config  # noqa: E402

# the `x as x` names are re-exported for tests/test_server.py and tests/test_mcp.py, which import them from here
from tests.helpers import REPO as REPO  # noqa: E402
from tests.helpers import SMALL, write_jsonl  # noqa: E402
from tests.helpers import free_port as free_port  # noqa: E402
from tests.helpers import stop as stop  # noqa: E402
from tests.helpers import wait_for_http as wait_for_http  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path, monkeypatch):
    """Nothing a test does touches the project's own .store."""
    for name in list(os.environ):
        if name.startswith("ASSISTANT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "store"))


@pytest.fixture(scope="session")
def embedder():
    """The real MiniLM embedder, loaded once."""
    from index.embed import make_embedder

    return make_embedder(Config())


@pytest.fixture(scope="session")
def bundled(tmp_path_factory) -> Assistant:
    """An Assistant over the bundled corpus, built on first use as a new user's would be."""
    assistant = Assistant(Config(data_dir=tmp_path_factory.mktemp("bundled")))
    assistant.retrieve("warm up")  # first use builds the index of the bundled corpus
    return assistant


@pytest.fixture
def small_corpus(tmp_path) -> Path:
    """A folder with three papers as JSON Lines."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    write_jsonl(folder / "papers.jsonl", SMALL)
    return folder
