"""Evidence tables over the bundled corpus: every filled cell is a cited span of its paper's
abstract, an empty one says why; the Markdown, CSV and JSON forms; bad input; the CLI, the HTTP API,
MCP and the chat bot once each; and an LLM (the OpenAI-compatible stand-in) whose cells are checked."""

from __future__ import annotations

import csv
import io
import json
import logging

import anyio
import pytest

from assistant import Assistant, EvidenceTable, QuestionError
from assistant.tables import COLUMNS, UNSUPPORTED, Cell, Row
from tests.openai_standin import StandIn

pytestmark = pytest.mark.slow

# by name, by id, by title in another case, by title: every way a paper is named
PAPERS = ["SkillMimic", "6e053f37831b", "resolving interference when merging models", "ManiSkill2", "Memory Networks"]
TITLES = [
    "SkillMimic: Learning Reusable Basketball Skills from Demonstrations",
    "EvoStruggle: A Dataset Capturing the Evolution of Struggle across Activities and Skill Levels",
    "Resolving Interference When Merging Models",
    "ManiSkill2: A Unified Benchmark for Generalizable Manipulation Skills",
    "Memory Networks",
]


def norm(text: str) -> str:
    return " ".join(text.split())


def assert_cited_spans(table: EvidenceTable, assistant: Assistant) -> None:
    """Every filled cell is a span of its own paper's abstract, cites that paper as [row number]
    and comes from a sentence of it; every empty cell says why."""
    for row in table.rows:
        abstract = norm(assistant.find_paper(row.paper_id).abstract)
        assert [c.column for c in row.cells] == list(COLUMNS)
        for cell in row.cells:
            assert (cell.paper_id, cell.number) == (row.paper_id, row.number)
            if cell.empty:
                assert cell.reason and cell.reason.startswith(("not stated", "left empty")), cell
                continue
            assert norm(cell.text) in abstract, (row.title, cell.column)
            assert norm(cell.text).rstrip(".") in norm(cell.sentence) and norm(cell.sentence) in abstract
            assert cell.reason is None


@pytest.fixture(scope="module")
def table(bundled) -> EvidenceTable:
    return bundled.table(papers=PAPERS)


def test_named_papers_make_one_row_each_of_cited_spans(table, bundled):
    assert [r.title for r in table.rows] == TITLES and [r.number for r in table.rows] == [1, 2, 3, 4, 5]
    assert table.backend == "extractive" and table.notice is None
    assert_cited_spans(table, bundled)
    evo, memory = table.rows[1], table.rows[4]
    assert "76 participants" in evo.cell("data").text and "34.56%" in evo.cell("result").text
    assert evo.cell("problem").text.startswith("However, existing manipulation datasets")
    assert "github.com/FELIXFENG2019/EvoStruggle" in evo.cell("code").text
    assert memory.cell("method").text == "We describe a new class of learning models called memory networks."
    assert memory.cell("code").reason == "not stated: no release of code or data mentioned"
    assert memory.cell("problem").empty  # the abstract opens with what the paper does
    filled = sum(not c.empty for r in table.rows for c in r.cells)
    assert filled >= 18  # most cells are filled; the rest say why not


def test_markdown_csv_and_json_forms(table):
    markdown = table.to_markdown()
    lines = markdown.splitlines()
    assert lines[0].startswith("| # | Paper | Problem | Method (contribution) |") and lines[1].startswith("|---|")
    rows = lines[2:7]
    assert all(line.count(" | ") == 6 and line.startswith(f"| {n} |") for n, line in enumerate(rows, 1))
    assert "76 participants [2]." in rows[1] and "*not stated: no result reported*" in rows[4]
    assert f"5. {TITLES[4]} (id " in markdown  # the numbered papers under the table

    parsed = list(csv.DictReader(io.StringIO(table.to_csv())))
    assert [r["title"] for r in parsed] == TITLES
    assert list(parsed[0]) == ["number", "paper_id", "title", "url", *COLUMNS]
    assert parsed[1]["result"] == table.rows[1].cell("result").text
    assert parsed[4]["code"] == "not stated: no release of code or data mentioned"

    shape = json.loads(json.dumps(table.to_dict()))
    assert [c["key"] for c in shape["columns"]] == list(COLUMNS)
    cell = shape["rows"][1]["cells"]["data"]
    assert cell["citation"] == 2 and cell["paper_id"] == table.rows[1].paper_id and "76 participants" in cell["text"]


def test_markdown_keeps_each_cell_in_its_column():
    cells = tuple(Cell(c, "p", 1, "a | b\nc [3] d.", "a | b\nc [3] d.") for c in COLUMNS)
    row = Row(1, "p", "A | title\nover two lines", None, cells)
    line = EvidenceTable((row,)).to_markdown().splitlines()[2]
    assert line.count(" | ") == 6 and "a \\| b c (3) d [1]." in line and "A \\| title over two lines" in line


def test_a_topic_gives_its_top_k_papers(bundled):
    made = bundled.table(topic="Compare the papers on continual learning for LLMs", k=3)
    assert len(made.rows) == 3 and made.topic == "continual learning for LLMs"
    assert all("ontinual" in r.title or "ifelong" in r.title for r in made.rows)
    assert_cited_spans(made, bundled)


@pytest.mark.parametrize(
    "given, message",
    [
        ({}, "give a topic or a list of papers for the table"),
        ({"papers": ["SkillMimic"], "topic": "skills"}, "give a topic or a list of papers for the table, not both"),
        ({"papers": [" ", ""]}, "the list of papers is empty; give the ids, titles or names of the papers"),
        (
            {"papers": ["SkillMimic", "No Such Paper"]},
            "no indexed paper has the id, title or name 'No Such Paper'; search for it first",
        ),
        ({"topic": " \n "}, "the topic is empty; give a few words on what the papers are about, or name the papers"),
        ({"topic": "skills", "k": 0}, "a table holds 1 to 20 papers; ask for k between 1 and 20"),
    ],
)
def test_bad_input_is_one_sentence(bundled, given, message):
    with pytest.raises(QuestionError) as raised:
        bundled.table(**given)
    assert str(raised.value) == message


# the faces


@pytest.fixture
def restore_logging():
    """The CLI's main installs the secret filter for the whole process; put things back after."""
    factory = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(factory)


def test_cli_prints_csv_and_errors_in_one_line(bundled, capsys, restore_logging):
    from assistant.cli import main

    data_dir = str(bundled.config.data_dir)
    assert main(["--data-dir", data_dir, "table", "--papers", "SkillMimic", "Memory Networks", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["title"] for r in rows] == [TITLES[0], TITLES[4]]
    assert main(["--data-dir", data_dir, "table", "skills", "--papers", "SkillMimic"]) == 1
    assert capsys.readouterr().err == "error: give a topic or a list of papers for the table, not both\n"


def test_http_answers_json_csv_and_errors(bundled):
    from fastapi.testclient import TestClient

    from assistant.server import create_app

    with TestClient(create_app(bundled)) as http:
        made = http.post("/v1/table", json={"topic": "continual learning for LLMs", "k": 2})
        assert made.status_code == 200 and made.json()["object"] == "evidence_table"
        assert len(made.json()["rows"]) == 2 and made.json()["rows"][0]["cells"]["method"]["citation"] == 1
        as_csv = http.post("/v1/table", json={"papers": PAPERS[:2]}, headers={"Accept": "text/csv"})
        assert as_csv.headers["content-type"].startswith("text/csv")
        assert [r["title"] for r in csv.DictReader(io.StringIO(as_csv.text))] == TITLES[:2]
        assert http.post("/v1/table?format=csv", json={"papers": PAPERS[:1]}).text.startswith("number,paper_id")
        unknown = http.post("/v1/table", json={"papers": ["No Such Paper"]})
        assert unknown.status_code == 400 and unknown.json()["error"] == {
            "message": "no indexed paper has the id, title or name 'No Such Paper'; search for it first",
            "type": "invalid_request_error",
            "param": "papers",
            "code": "invalid_question",
        }


def test_mcp_tool_returns_the_structured_table(bundled):
    from mcp import Client

    from assistant.mcp_server import create_server

    async def session() -> None:
        async with Client(create_server(bundled)) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert "evidence_table" in tools and tools["evidence_table"].output_schema
            result = await client.call_tool("evidence_table", {"papers": PAPERS[:2]})
            assert not result.is_error
            made = result.structured_content
            assert [r["title"] for r in made["rows"]] == TITLES[:2] and "| # | Paper |" in made["markdown"]
            assert "76 participants" in made["rows"][1]["cells"]["data"]["text"]
            wrong = await client.call_tool("evidence_table", {"topic": "skills", "papers": ["SkillMimic"]})
            assert wrong.is_error and "not both" in wrong.content[0].text

    anyio.run(session)


def test_chat_bot_answers_a_table_command_with_markdown(bundled):
    from assistant.bot import BotCore, Message
    from assistant.slack import SECTION_LIMIT, render

    reply = BotCore(bundled).reply(Message("<@UBOT> table: SkillMimic; EvoStruggle", "U1", "C1", "1"))
    assert reply.table is not None and not reply.error
    assert reply.text.startswith("| # | Paper |") and TITLES[1] in reply.text
    _, blocks = render(reply)
    assert all(len(b["text"]["text"]) <= SECTION_LIMIT for b in blocks)
    assert "".join(b["text"]["text"] for b in blocks).count("[2]") >= 3  # cut between lines, nothing lost


# an LLM fills the cells


def test_llm_cells_are_checked_and_a_failed_row_is_filled_extractively(bundled):
    bogus = "The moon is made of green cheese and orbits Mars twice a day."

    def reply(body: dict) -> str:
        asked = body["messages"][-1]["content"]
        if "EvoStruggle" not in asked:
            return "Sorry, I cannot help with that."  # no JSON: this row falls back
        cells = {
            "problem": "However, existing manipulation datasets have not focused on how struggle evolves over time.",
            "method": "we collect a dataset for struggle determination",  # part of a sentence
            "data": bogus,  # nothing in the abstract supports it
            "result": "Models reach 34.56% mAP across tasks and 19.24% across activities.",  # supported paraphrase
            "code": None,
        }
        return f"```json\n{json.dumps(cells)}\n```"

    with StandIn(delay=0, reply=reply) as standin:
        config = bundled.config.model_copy(
            update={"llm": "openai", "llm_base_url": standin.url, "llm_model": "m", "llm_retries": 0}
        )
        made = Assistant(config).table(papers=["EvoStruggle", "SkillMimic"])
    assert len(standin.requests) == 2 and "61.68 hours" in json.dumps(standin.requests)
    evo, skill = made.rows
    assert made.backend == evo.backend == "openai" and skill.backend == "extractive"
    assert evo.cell("data").empty and evo.cell("data").reason == UNSUPPORTED
    assert evo.cell("method").text == "we collect a dataset for struggle determination"
    assert evo.cell("method").sentence.startswith("In this work, we collect a dataset")
    assert "34.56%" in evo.cell("result").sentence and evo.cell("result").number == 1
    assert evo.cell("code").reason == "not stated: no release of code or data mentioned"
    assert made.notice == (
        "the LLM did not reply with a JSON object; filled row 2 with the extractive backend instead."
    )
    alone = bundled.table(papers=["SkillMimic"]).rows[0]
    assert [c.text for c in skill.cells] == [c.text for c in alone.cells] and skill.cells[0].number == 2
    assert bogus not in made.to_markdown()


def test_a_cell_a_spreadsheet_would_run_is_written_as_text():
    from assistant.tables import _csv_text, _quoted

    assert _csv_text('=HYPERLINK("http://evil","click")').startswith("'=") and _csv_text("plain") == "plain"
    abstract = "It solves 95% of tasks. Nothing else."
    assert _quoted("solves 9", abstract) is None  # a cut-off number is not a quote
    assert _quoted("solves 95%", abstract) == "It solves 95% of tasks."


def test_a_topic_that_starts_with_table_keeps_it():
    from assistant.api import _topic_words

    assert _topic_words("table question answering", 2000) == "table question answering"
    assert _topic_words("table of papers on continual learning", 2000) == "continual learning"
    assert _topic_words("Compare the papers on continual learning for LLMs", 2000) == "continual learning for LLMs"
