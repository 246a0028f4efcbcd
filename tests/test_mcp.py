"""The MCP server for real: `python -m assistant.mcp_server` started as its own process over the
bundled corpus, driven with the official SDK's own client over stdio and over streamable HTTP."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult

from index.store import FilterError, Filters
from tests.conftest import REPO, free_port, stop, wait_for_http

pytestmark = pytest.mark.slow

FACT = "How many participants took part in the struggle-determination video dataset?"
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, bundled) -> Path:
    """One store for the module: a copy of the session's index of the bundled corpus."""
    store = tmp_path_factory.mktemp("mcp") / "store"
    shutil.copytree(bundled.config.data_dir, store)
    return store


def server_argv(data_dir: Path, *extra: str) -> list[str]:
    return ["-m", "assistant.mcp_server", "--data-dir", str(data_dir), *extra]


def text(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def filter_sentence(**values: Any) -> str:
    """The one sentence Filters gives for these values."""
    with pytest.raises(FilterError) as raised:
        Filters(**values)
    return str(raised.value)


async def check_tools(client: Client) -> None:
    """What an agent does: list the tools, ask, search with a date filter, open a paper, make mistakes."""
    tools = {t.name: t for t in (await client.list_tools()).tools}
    watches = {"watch_add", "watch_list", "watch_remove", "watch_check"}
    faces = {"search_papers", "ask", "get_paper", "related_papers", "export_papers", "digest", "evidence_table"}
    assert set(tools) == faces | watches
    assert "[n]" in (tools["ask"].description or "") and "refus" in (tools["ask"].description or "")
    assert set(tools["search_papers"].input_schema["properties"]) == {
        "query",
        "k",
        "since",
        "until",
        "organization",
        "category",
        "venue",
        "doi",
    }
    assert tools["ask"].output_schema and "citations" in tools["ask"].output_schema["properties"]

    asked = await client.call_tool("ask", {"question": FACT})
    assert not asked.is_error, text(asked)
    answer = asked.structured_content
    assert answer is not None and not answer["refused"]
    assert "[1]" in answer["answer"] and "76" in answer["answer"]
    assert answer["citations"] and answer["citations"][0]["quotes"]
    cited = answer["citations"][0]
    assert cited["paper_id"] == answer["sources"][cited["number"] - 1]["paper_id"]
    assert "[1]" in text(asked)  # clients that read only the text content see the cited answer too
    exported = await client.call_tool("export_papers", {"paper_ids": [cited["paper_id"]], "format": "ris"})
    assert not exported.is_error and text(exported).startswith("TY  - ") and f"TI  - {cited['title']}" in text(exported)

    unfiltered = await client.call_tool("search_papers", {"query": "language model", "k": 10})
    searched = await client.call_tool("search_papers", {"query": "language model", "k": 5, "until": "2024"})
    assert not searched.is_error, text(searched)
    assert unfiltered.structured_content and searched.structured_content
    papers = searched.structured_content["papers"]
    assert papers and all(p["date"] and p["date"] <= "2024-12-31" for p in papers)
    assert any(not p["date"] or p["date"] > "2024-12-31" for p in unfiltered.structured_content["papers"])

    paper = await client.call_tool("get_paper", {"paper_id": papers[0]["paper_id"]})
    assert not paper.is_error, text(paper)
    assert paper.structured_content and paper.structured_content["title"] == papers[0]["title"]
    assert len(paper.structured_content["abstract"]) > 100

    empty = await client.call_tool("ask", {"question": "   "})
    assert empty.is_error and "the question is empty; type a question about the indexed papers" in text(empty)
    bad_date = await client.call_tool("search_papers", {"query": "video", "since": "2024-13"})
    assert bad_date.is_error and filter_sentence(date_from="2024-13") in text(bad_date)
    near = await client.call_tool("related_papers", {"paper": "SkillMimic", "k": 3})
    assert not near.is_error, text(near)
    related = near.structured_content["papers"]
    assert len(related) == 3 and all("SkillMimic" not in p["title"] for p in related)
    nowhere = await client.call_tool("related_papers", {"paper": "No Such Paper At All"})
    assert nowhere.is_error and "no indexed paper has the id, title or name" in text(nowhere)
    unknown = await client.call_tool("get_paper", {"paper_id": "no-such-paper"})
    assert unknown.is_error and "no indexed paper has the id 'no-such-paper'" in text(unknown)


def test_stdio_lists_tools_answers_with_citations_searches_and_reports_errors(data_dir, tmp_path):
    """A client that starts the server (as Claude Desktop does) gets cited answers and tool errors,
    and nothing but protocol messages on the server's stdout."""
    params = StdioServerParameters(command=sys.executable, args=server_argv(data_dir), env=OFFLINE, cwd=str(REPO))
    stray: list[Exception] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, Exception):  # a line on stdout that is not a protocol message
            stray.append(message)

    log = tmp_path / "server.log"
    with log.open("w") as errlog:

        async def session() -> None:
            transport = stdio_client(params, errlog=errlog)
            async with Client(transport, mode="legacy", message_handler=on_message) as client:  # as editors do
                await check_tools(client)

        anyio.run(session)
    assert not stray, stray
    assert "Traceback" not in log.read_text()


def test_streamable_http_lists_tools_answers_with_citations_searches_and_reports_errors(data_dir, tmp_path):
    """The server started with --http on 127.0.0.1 serves the same tools at /mcp."""
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, *server_argv(data_dir, "--http", "--port", str(port))],
            cwd=REPO,
            env={**os.environ, **OFFLINE},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", proc, 120, "the MCP server")

        async def session() -> None:
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                await check_tools(client)

        anyio.run(session)
    finally:
        stop(proc)
    assert "Traceback" not in log.read_text()
