"""``assistant mcp``: the papers as an MCP server, so agents and editors can search them and ask
cited questions, over stdio (the client starts the server) or streamable HTTP (at /mcp).

A thin adapter over the public API, built with the official ``mcp`` SDK (the ``mcp`` extra).
In stdio mode stdout carries only the protocol; logs go to stderr.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, Field

from assistant import (
    EXPORT_FORMATS,
    Answer,
    Assistant,
    AssistantError,
    ConfigError,
    EvidenceTable,
    Filters,
    Paper,
    Source,
)

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

log = logging.getLogger(__name__)

INSTALL = "pip install 'paper-assistant[mcp]'"
FORMATS = list(EXPORT_FORMATS)  # "bib", "ris", "csl"
MAX_K = 20
# errors a user or an agent can act on: their one sentence goes back as the tool error
USER_ERRORS = AssistantError

INSTRUCTIONS = (
    "Answers research questions from an index of research-paper abstracts, and only from them. "
    "Use search_papers to find papers on a topic (optionally by date or organisation), ask for a "
    "cited answer in prose, get_paper for one paper's full record by its paper_id, and export_papers "
    "for BibTeX, RIS or CSL-JSON of papers by their paper_ids. "
    "Answers cite papers as [n], where n is the source's number; a refusal means the abstracts "
    "do not say, not that the server failed."
)

SEARCH = (
    "Find the indexed papers most relevant to a query, best first. Returns each paper's paper_id, "
    "title, abstract, date, organisation or author count, URL and retrieval score. Use it to see "
    "what the index holds on a topic or to collect paper_ids for get_paper; use ask for an answer "
    "in prose. Dates are YYYY, YYYY-MM or YYYY-MM-DD; papers without a known year never match a "
    "date filter. A bad filter value comes back as an error saying how to write it."
)

ASK = (
    "Answer a question from the indexed abstracts, with citations. Returns the answer text, in "
    "which [n] cites sources[n-1] (the citations list gives, for each n, the paper and the abstract "
    "sentences quoted as support), the ranked sources, and refused: true when the abstracts do not "
    "say (the text then says so and the sources are the closest papers; do not answer from them). "
    "gaps lists what was asked that the abstracts do not hold; notice carries any caveat, such as a "
    "fallback backend. Filters written into the question ('since 2024', 'from Google') are applied "
    "and reported in filters. Ask one self-contained question at a time."
)

RELATED = (
    "The indexed papers nearest in meaning to one paper (given by its paper_id, its title or a name "
    "such as 'SkillMimic'), best first, each with its abstract and a similarity score. An unknown or "
    "ambiguous paper comes back as an error saying what to give instead."
)

EXPORT = (
    "Export papers for a reference manager or a LaTeX document: BibTeX (format 'bib'), RIS ('ris') or "
    "CSL-JSON ('csl'), with every identifier the index holds (arXiv id, DOI, URL, venue, authors, date). "
    "Give the paper_ids from search_papers, related_papers or ask's citations (titles work too). "
    "Returns the file's text. An unknown paper or format comes back as an error saying what to give."
)

EVIDENCE_TABLE = (
    "An evidence table comparing papers: give a topic (the table holds its top k papers) or a list of "
    "papers (paper_ids, titles or names), not both. Each row is one paper; its cells give the problem, "
    "the method, the data and benchmarks named, the headline result and whether code or data are "
    "released. Every filled cell is text from that paper's abstract with the sentence it came from; an "
    "empty cell's reason says why (e.g. 'not stated: no result reported'). markdown holds the same table "
    "with [n] citations and the numbered papers under it."
)

GET_PAPER = (
    "Get one indexed paper by its paper_id (from search_papers or from ask's sources and "
    "citations): title, full abstract, date, organisation or author count, URL and upvotes. An "
    "unknown id comes back as an error."
)


class PaperRecord(BaseModel):
    """One indexed paper."""

    paper_id: str = Field(description="Stable id of the paper; pass it to get_paper.")
    title: str
    abstract: str
    date: str | None = Field(None, description="ISO date (YYYY-MM-DD), when the year is known.")
    date_text: str | None = Field(None, description="The date as the listing writes it.")
    organization: str | None = Field(None, description="The organisation, when the listing gives one.")
    authors: int | None = Field(None, description="Number of authors, when the listing gives it.")
    url: str | None = None
    upvotes: int | None = None
    arxiv_id: str | None = Field(None, description="The arXiv id, versions folded (2401.12345).")
    doi: str | None = None
    venue: str | None = Field(None, description="Journal, proceedings or conference, when the source gives one.")
    categories: list[str] = Field(default_factory=list, description="arXiv categories, the primary one first.")

    @classmethod
    def of(cls, paper: Paper | Source) -> PaperRecord:
        return cls(
            paper_id=paper.paper_id,
            title=paper.title,
            abstract=paper.abstract,
            date=paper.date,
            date_text=paper.date_text,
            organization=paper.organization,
            authors=paper.authors,
            url=paper.url,
            upvotes=paper.upvotes,
            arxiv_id=paper.arxiv_id,
            doi=paper.doi,
            venue=paper.venue,
            categories=list(paper.categories),
        )


class SearchHit(PaperRecord):
    score: float = Field(description="Fused retrieval score; higher is more relevant.")


class SearchResult(BaseModel):
    papers: list[SearchHit] = Field(description="The matching papers, best first; empty when none match the filters.")


class CitedPaper(BaseModel):
    number: int = Field(description="The n of the [n] marker in the answer text.")
    paper_id: str
    title: str
    quotes: list[str] = Field(description="The abstract sentences that support the claims citing this paper.")
    marks: list[str] = Field(description="The spans of those quotes that hold what was asked.")


class SourceRef(BaseModel):
    number: int = Field(description="Position in the ranking; [n] in the answer text cites source n.")
    paper_id: str
    title: str
    date: str | None = None
    organization: str | None = None
    url: str | None = None
    score: float


class AskResult(BaseModel):
    answer: str = Field(description="The answer text; [n] cites source n.")
    refused: bool = Field(description="True when the abstracts do not answer the question.")
    citations: list[CitedPaper]
    sources: list[SourceRef] = Field(description="The papers the answer was written from (or the closest ones).")
    gaps: list[str] = Field(description="What the question asks that the abstracts do not hold.")
    notice: str | None = Field(None, description="A caveat about how the answer was made, if any.")
    filters: str | None = Field(None, description="Filters read from the question, in words.")

    @classmethod
    def of(cls, answer: Answer) -> AskResult:
        return cls(
            answer=answer.text,
            refused=answer.refused,
            citations=[
                CitedPaper(
                    number=c.number, paper_id=c.paper_id, title=c.title, quotes=list(c.quotes), marks=list(c.marks)
                )
                for c in answer.citations
            ],
            sources=[
                SourceRef(
                    number=n,
                    paper_id=s.paper_id,
                    title=s.title,
                    date=s.date,
                    organization=s.organization,
                    url=s.url,
                    score=round(s.score, 6),
                )
                for n, s in enumerate(answer.sources, 1)
            ],
            gaps=list(answer.gaps),
            notice=answer.notice,
            filters=answer.filters,
        )


DIGEST = (
    "The papers of a time window grouped into topics, each topic named by its distinctive terms and "
    "each paper with one sentence of its abstract saying what it does, its paper_id, title and URL. "
    "since and until are 7d, 2w or 24h back, or a date (YYYY-MM-DD); by is 'added' (when papers "
    "entered the index: what came in lately) or 'date' (the papers' own date). An empty window "
    "says so in summary; a bad window comes back as an error saying how to write it."
)


WATCH_ADD = (
    "Keep a standing question (a watch), e.g. 'LLM agents that learn reusable skills': after every "
    "ingest, the papers new to the index that answer it are reported once each (watch_check). "
    "Returns the watch with its id. An empty question comes back as an error."
)
WATCH_CHECK = (
    "Look now for papers added since each watch last looked that answer it. Returns one report per "
    "watch with new papers: the watch, and each paper's paper_id, title, URL, contribution (one "
    "sentence of its abstract), citation and similarity score. An empty list: nothing new."
)


class DigestEntry(BaseModel):
    paper_id: str
    title: str
    url: str | None = None
    contribution: str = Field(description="What the paper does: one sentence of its abstract.")
    date: str | None = Field(None, description="The paper's own date (ISO), when known.")
    added: str | None = Field(None, description="When it entered the index (UTC ISO), when recorded.")


class DigestTopic(BaseModel):
    name: str
    terms: list[str]
    papers: list[DigestEntry]


class DigestResult(BaseModel):
    summary: str = Field(description="One sentence: how many papers in which window, in how many topics.")
    by: str
    since: str
    until: str
    papers: int
    notes: list[str] = Field(description="Papers no window of this kind can hold, and why.")
    topics: list[DigestTopic] = Field(description="Every paper of the window is in exactly one topic.")


class TableCell(BaseModel):
    text: str = Field(description="What the abstract says for this column; empty when it does not say.")
    sentence: str = Field(description="The abstract sentence the text comes from.")
    reason: str | None = Field(None, description="Why the cell is empty.")


class TableRow(BaseModel):
    number: int = Field(description="Every cell of this row cites this paper as [number].")
    paper_id: str
    title: str
    url: str | None = None
    cells: dict[str, TableCell] = Field(description="By column: problem, method, data, result, code.")


class TableResult(BaseModel):
    rows: list[TableRow]
    markdown: str = Field(description="The table in Markdown, with [n] citations and the numbered papers under it.")
    backend: str = Field(description="What filled the cells.")
    notice: str | None = Field(None, description="A caveat about how the table was made, if any.")

    @classmethod
    def of(cls, table: EvidenceTable) -> TableResult:
        rows = [TableRow(**{k: v for k, v in r.items() if k != "backend"}) for r in table.to_dict()["rows"]]
        return cls(rows=rows, markdown=table.to_markdown(), backend=table.backend, notice=table.notice)


def _sdk() -> Any:
    try:
        import mcp.server.mcpserver as sdk
    except ImportError:
        raise ConfigError(f"the MCP server needs the 'mcp' extra: {INSTALL}") from None
    return sdk


@contextmanager
def _user_errors() -> Iterator[None]:
    """A user error raised inside becomes a tool error carrying its one sentence, not a crash."""
    from mcp.server.mcpserver.exceptions import ToolError

    try:
        yield
    except USER_ERRORS as exc:
        raise ToolError(str(exc)) from None


def create_server(assistant: Assistant) -> MCPServer:
    """The MCP server over ``assistant``, with the tools search_papers, ask, related_papers,
    export_papers and get_paper."""
    sdk = _sdk()
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ToolAnnotations

    server = sdk.MCPServer(
        "paper-assistant",
        title="Paper assistant",
        instructions=INSTRUCTIONS,
        version=_version(),
        lifespan=_warm_up(assistant),
    )

    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(_request: Any) -> Any:  # over HTTP: for load balancers and for waiting until it is up
        from starlette.responses import JSONResponse

        return JSONResponse({"status": "ok", "server": "paper-assistant"})

    reads = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)

    @server.tool(title="Search papers", description=SEARCH, annotations=reads)
    def search_papers(
        query: Annotated[str, Field(description="What to look for, in words.")],
        k: Annotated[int, Field(ge=1, le=MAX_K, description="How many papers to return.")] = 5,
        since: Annotated[str | None, Field(description="Only papers dated on or after this date.")] = None,
        until: Annotated[str | None, Field(description="Only papers dated on or before this date.")] = None,
        organization: Annotated[str | None, Field(description="Only papers from this organisation.")] = None,
        category: Annotated[str | None, Field(description="Only papers in this arXiv category (cs.LG).")] = None,
        venue: Annotated[str | None, Field(description="Only papers whose venue holds these words.")] = None,
        doi: Annotated[str | None, Field(description="Only the paper with this DOI.")] = None,
    ) -> SearchResult:
        with _user_errors():
            filters = Filters(
                date_from=since, date_to=until, organization=organization, category=category, venue=venue, doi=doi
            )
            sources = assistant.retrieve(query, k, filters or None)
        return SearchResult(papers=[SearchHit(**PaperRecord.of(s).model_dump(), score=s.score) for s in sources])

    @server.tool(title="Ask with citations", description=ASK, annotations=reads)
    def ask(question: Annotated[str, Field(description="The question, in words.")]) -> AskResult:
        with _user_errors():
            return AskResult.of(assistant.ask(question))

    @server.tool(title="Related papers", description=RELATED, annotations=reads)
    def related_papers(
        paper: Annotated[str, Field(description="The paper: its paper_id, title or name.")],
        k: Annotated[int, Field(ge=1, le=MAX_K, description="How many related papers to return.")] = 5,
    ) -> SearchResult:
        with _user_errors():
            sources = assistant.related(paper, k)
        return SearchResult(papers=[SearchHit(**PaperRecord.of(s).model_dump(), score=s.score) for s in sources])

    @server.tool(title="Export papers", description=EXPORT, annotations=reads)
    def export_papers(
        paper_ids: Annotated[list[str], Field(description="The papers' ids (or titles).")],
        format: Annotated[
            str, Field(description="bib (BibTeX), ris (RIS) or csl (CSL-JSON).", json_schema_extra={"enum": FORMATS})
        ] = "bib",
    ) -> str:
        with _user_errors():
            return assistant.export(paper_ids, format)

    @server.tool(title="Digest of a time window", description=DIGEST, annotations=reads)
    def digest(
        since: Annotated[str, Field(description="Start: 7d, 2w, 24h back, or a date.")] = "7d",
        until: Annotated[str | None, Field(description="End, in the same forms (default: now).")] = None,
        by: Annotated[Literal["added", "date"], Field(description="Time added (default) or own date.")] = "added",
    ) -> DigestResult:
        with _user_errors():
            return DigestResult.model_validate(assistant.digest(since, until, by).to_dict())

    @server.tool(title="Evidence table", description=EVIDENCE_TABLE, annotations=reads)
    def evidence_table(
        topic: Annotated[str | None, Field(description="What the papers are about.")] = None,
        papers: Annotated[list[str] | None, Field(description="The papers instead: ids, titles or names.")] = None,
        k: Annotated[int, Field(ge=1, le=MAX_K, description="How many papers for a topic.")] = 5,
    ) -> TableResult:
        with _user_errors():
            return TableResult.of(assistant.table(papers, topic, k))

    @server.tool(title="Watch a question", description=WATCH_ADD)
    def watch_add(question: Annotated[str, Field(description="The standing question, in words.")]) -> dict[str, Any]:
        with _user_errors():
            return assistant.watch(question, where="mcp").to_dict()

    @server.tool(title="List watches", description="The standing questions (watches), oldest first.", annotations=reads)
    def watch_list() -> dict[str, Any]:
        return {"watches": [w.to_dict() for w in assistant.watches()]}

    @server.tool(title="Remove a watch", description="Remove a watch by its id; returns it.")
    def watch_remove(watch_id: Annotated[int, Field(description="The watch's id.")]) -> dict[str, Any]:
        with _user_errors():
            return assistant.unwatch(watch_id).to_dict()

    @server.tool(title="Check watches", description=WATCH_CHECK)
    def watch_check() -> dict[str, Any]:
        with _user_errors():
            return {"reports": [r.to_dict() for r in assistant.check_watches()]}

    @server.tool(title="Get paper", description=GET_PAPER, annotations=reads)
    def get_paper(paper_id: Annotated[str, Field(description="The paper's id.")]) -> PaperRecord:
        with _user_errors():
            paper = next((p for p in assistant.papers() if p.paper_id == paper_id.strip()), None)
        if paper is None:
            raise ToolError(f"no indexed paper has the id {paper_id!r}; search_papers gives the ids")
        return PaperRecord.of(paper)

    return server


def _warm_up(assistant: Assistant) -> Any:
    """A lifespan that opens the index (building the bundled corpus on first use) in the background,
    so the client's handshake is answered at once and the first question does not wait as long."""

    @asynccontextmanager
    async def lifespan(_server: Any) -> AsyncIterator[None]:
        def warm() -> None:
            try:
                assistant.papers()
            except Exception as exc:  # the tools report it, in one sentence, when called
                log.warning("could not open the index yet: %s", exc)

        threading.Thread(target=warm, name="mcp-warm-up", daemon=True).start()
        yield

    return lifespan


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("paper-assistant")
    except PackageNotFoundError:
        return ""


def run(
    assistant: Assistant,
    transport: Literal["stdio", "http"] = "stdio",
    host: str = "127.0.0.1",
    port: int = 8765,
) -> None:
    """Serve ``assistant`` over stdio, or over streamable HTTP at http://host:port/mcp."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if transport not in ("stdio", "http"):
        raise ConfigError(f"unknown MCP transport {transport!r}; use 'stdio' or 'http'")
    server = create_server(assistant)
    if transport == "stdio":
        server.run("stdio")
    else:
        log.info("MCP server on http://%s:%d/mcp (streamable HTTP)", host, port)
        server.run("streamable-http", host=host, port=port)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m assistant.mcp_server``: ``assistant mcp`` by another name."""
    from assistant.cli import run_command

    return run_command("mcp", argv)


if __name__ == "__main__":
    sys.exit(main())
