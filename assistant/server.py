"""`assistant serve`: an OpenAI-compatible HTTP API over the public Python API (FastAPI on uvicorn).

Routes: ``POST /v1/chat/completions`` (the OpenAI chat format; ``model`` picks the answering
backend, ``stream: true`` answers as server-sent events), ``GET /v1/models``, ``POST /v1/search``,
``GET /v1/papers/{id}``, ``POST /v1/export`` (papers as BibTeX, RIS or CSL-JSON) and
``GET /healthz``. Every completion carries the checked answer, its citations and sources in the
extra field ``paper_assistant`` (``Answer.to_dict()``); a stream carries it in its last chunk
before ``data: [DONE]``. Errors are OpenAI-shaped JSON,
``{"error": {"message", "type", "param", "code"}}``, with the CLI's one-sentence messages.

When an API key is set (``ASSISTANT_API_KEY``), every route but ``/healthz`` wants it as
``Authorization: Bearer <key>``. The Assistant blocks (retrieval, the LLM), so it is only ever
called from the threadpool, never on the event loop.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, replace
from typing import Annotated, Any

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from assistant import (
    Answer,
    Assistant,
    AssistantError,
    BackendError,
    ConfigError,
    ExportError,
    FilterError,
    Filters,
    QuestionError,
    Source,
    StoreError,
    Turn,
    WatchError,
    export_format,
)

log = logging.getLogger("assistant.server")
API_KEY_VARIABLE = "ASSISTANT_API_KEY"
EXTRA_FIELD = "paper_assistant"  # the completion's (and the last chunk's) field holding Answer.to_dict()
OWNER = "paper-assistant"
MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")  # a citation in an answer's text: [1] or [1, 3]
MIN_TITLE_CHARS = 12  # shorter titles ("Attention") would be found in any text


class ApiError(Exception):
    """An error the API answers with directly: status, one sentence, OpenAI's type and code."""

    def __init__(self, status: int, message: str, type_: str, code: str, param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type_, code, param


def classify(exc: Exception) -> ApiError:
    """The status, type and code of any error a request can raise (the one place they are chosen)."""
    if isinstance(exc, ApiError):
        return exc
    message = str(exc)
    if isinstance(exc, StoreError):
        return ApiError(503, message, "service_unavailable", "index_unavailable")
    if isinstance(exc, BackendError):
        return ApiError(503, message, "service_unavailable", "llm_unavailable")
    if isinstance(exc, QuestionError):
        return ApiError(400, message, "invalid_request_error", "invalid_question", "messages")
    if isinstance(exc, FilterError):
        return ApiError(400, message, "invalid_request_error", "invalid_filter")
    if isinstance(exc, ExportError) and exc.papers:
        return ApiError(404, message, "invalid_request_error", "paper_not_found", "papers")
    if isinstance(exc, ExportError):
        return ApiError(400, message, "invalid_request_error", "invalid_export", "format")
    if isinstance(exc, WatchError):
        return ApiError(404, message, "invalid_request_error", "watch_not_found", "watch_id")
    if isinstance(exc, ConfigError):
        return ApiError(400, message, "invalid_request_error", "invalid_config")
    if isinstance(exc, AssistantError):  # the others (the embedding model, an ingest holding the index)
        return ApiError(503, message, "service_unavailable", "unavailable")
    if isinstance(exc, RequestValidationError):
        return ApiError(400, _validation_message(exc), "invalid_request_error", "invalid_request")
    if isinstance(exc, HTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return ApiError(exc.status_code, f"{exc.detail}".lower(), "invalid_request_error", code)
    log.error("unexpected error answering a request", exc_info=exc)
    return ApiError(500, f"unexpected {type(exc).__name__}; see the server's log", "server_error", "internal_error")


def error_body(error: ApiError) -> dict[str, Any]:
    return {"error": {"message": error.message, "type": error.type, "param": error.param, "code": error.code}}


async def _error_response(request: Request, exc: Exception) -> JSONResponse:
    error = classify(exc)
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    return JSONResponse(error_body(error), status_code=error.status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON"
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "the request body"
    return f"invalid request: {where}: {str(first.get('msg', 'invalid value')).lower()}"


# request bodies


class Message(BaseModel):
    """One chat message; other OpenAI fields (name, tool calls, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: only the text ones are read
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class FilterFields(BaseModel):
    """The search and chat requests' own fields (``extra_body`` in the openai client)."""

    k: int | None = Field(None, ge=1, le=100, description="Papers to read (default: the config's top_k).")
    since: str | None = Field(None, description="Only papers dated on or after this ISO date (YYYY[-MM[-DD]]).")
    until: str | None = Field(None, description="Only papers dated on or before this ISO date.")
    organization: str | None = Field(None, description="Only papers from this organisation.")
    category: str | None = Field(None, description="Only papers in this arXiv category or archive (cs.LG, cs).")
    venue: str | None = Field(None, description="Only papers whose venue holds these words (NeurIPS).")
    doi: str | None = Field(None, description="Only the paper with this DOI.")

    def filters(self) -> Filters | None:
        """The filters asked for; none at all lets the assistant read them from the question."""
        return (
            Filters(
                date_from=self.since,
                date_to=self.until,
                organization=self.organization,
                category=self.category,
                venue=self.venue,
                doi=self.doi,
            )
            or None
        )


class ChatRequest(FilterFields):
    """OpenAI's chat request; sampling options (temperature, max_tokens, ...) are accepted and
    ignored, since the backend's own settings apply."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[Message] = Field(min_length=1)
    stream: bool = False


class SearchRequest(FilterFields):
    query: str


class ExportRequest(BaseModel):
    papers: list[str] = Field(max_length=1000, description="Paper ids (or titles), as search gives them.")
    format: str = Field("bib", description="bib (BibTeX), ris (RIS) or csl (CSL-JSON).")


class TableRequest(BaseModel):
    """``POST /v1/table``: a topic (its top ``k`` papers) or a list of papers, not both."""

    topic: str | None = Field(None, description="What the papers are about; the table holds its top k papers.")
    papers: list[str] | None = Field(None, description="The papers instead: ids, titles or names, in order.")
    k: int = Field(5, ge=1, le=20, description="Papers for a topic.")
    model: str | None = Field(None, description="The backend that fills the cells (default: the server's).")


# reading a conversation


def conversation(messages: list[Message], titles: Callable[[], Iterable[str]] = tuple) -> tuple[str, list[Turn]]:
    """The question (the last message, from the user) and the earlier user/assistant pairs as
    turns. A turn's cited papers come from the ``paper_assistant`` field when the client sent the
    answer's back, else from the indexed ``titles`` its text names (plain OpenAI clients send
    only the text)."""
    spoken = [m for m in messages if m.role in ("user", "assistant")]  # system prompts: ours apply
    if not spoken or spoken[-1].role != "user":
        raise ApiError(400, "the last message must be the user's question", "invalid_request_error",
                       "invalid_messages", "messages")  # fmt: skip
    turns = []
    for asked, said in zip(spoken[:-1], spoken[1:-1]):
        if asked.role == "user" and said.role == "assistant":
            cited = _cited_titles(said) or _named_titles(said.text(), titles())
            turns.append(Turn(asked.text(), said.text(), cited))
    return spoken[-1].text(), turns


def _cited_titles(message: Message) -> tuple[str, ...]:
    """The titles an earlier answer cited, from the ``paper_assistant`` field sent back with it."""
    extra = (message.model_extra or {}).get(EXTRA_FIELD)
    if not isinstance(extra, dict):
        return ()
    rows = sorted(extra.get("citations") or [], key=lambda c: c.get("number", 0)) or extra.get("sources") or []
    return tuple(str(r["title"]) for r in rows if isinstance(r, dict) and r.get("title"))


def _named_titles(text: str, titles: Iterable[str]) -> tuple[str, ...]:
    """The indexed titles written in ``text``, in the order it names them."""
    found = {t: text.find(t) for t in titles if len(t) >= MIN_TITLE_CHARS}
    return tuple(sorted((t for t, at in found.items() if at >= 0), key=found.__getitem__))


# response bodies


def _completion(answer: Answer, model: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": None,
        EXTRA_FIELD: answer.to_dict(),
    }


def _chunk(ident: str, model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return {"id": ident, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [choice]}  # fmt: skip


def _event(payload: dict[str, Any] | str) -> str:
    return f"data: {payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)}\n\n"


def _source_dict(source: Source) -> dict[str, Any]:
    return asdict(replace(source, score=round(source.score, 6)))


async def _events(first: str | Answer | None, items: Iterator[str | Answer], model: str) -> AsyncIterator[str]:
    """The OpenAI chunk stream: the text as written, then (when the citation check changed what it
    says) the checked answer, then a last chunk holding ``paper_assistant``, then ``[DONE]``."""
    ident = f"chatcmpl-{uuid.uuid4().hex}"
    written: list[str] = []
    item: str | Answer | None = first
    try:
        yield _event(_chunk(ident, model, {"role": "assistant", "content": ""}))
        while isinstance(item, str):
            written.append(item)
            yield _event(_chunk(ident, model, {"content": item}))
            item = await run_in_threadpool(next, items, None)
        if isinstance(item, Answer):
            if not says_the_same("".join(written), item.text):  # the CLI too shows the checked text then
                yield _event(_chunk(ident, model, {"content": f"\n\nChecked answer:\n{item.text}"}))
            yield _event({**_chunk(ident, model, {}, "stop"), EXTRA_FIELD: item.to_dict()})
    except Exception as exc:  # the status line is sent: the error goes in the stream, as OpenAI does
        yield _event(error_body(classify(exc)))
    finally:
        await run_in_threadpool(_close, items)
    yield _event("[DONE]")


def says_the_same(draft: str, checked: str) -> bool:
    """Whether the streamed draft and the checked answer hold the same words and cite the same
    sources (the check often only moves a marker: "participants. [1]" -> "participants [1].")."""

    def reading(text: str) -> tuple[list[str], set[str]]:
        cited = {n.strip() for m in MARKER.findall(text) for n in m.split(",")}
        return re.findall(r"\w+", MARKER.sub(" ", text)), cited

    return reading(draft) == reading(checked)


def _close(items: Iterator[str | Answer]) -> None:
    close = getattr(items, "close", None)
    if close is not None:
        try:
            close()  # a client that went away: stop the backend writing
        except ValueError:  # still running in a worker thread; it ends on its own
            pass


# the app


def create_app(assistant: Assistant, api_key: str | None = None, cors_origins: Sequence[str] = ()) -> FastAPI:
    """The HTTP API over ``assistant``; with ``api_key``, requests must send it as a Bearer token;
    ``cors_origins`` lists the browser origins allowed to call it (none by default)."""
    app = FastAPI(title="Paper assistant", summary="Cited answers from research-paper abstracts, OpenAI-compatible.")
    app.state.assistant, app.state.api_key = assistant, api_key.encode() if api_key else None
    for error in (ApiError, AssistantError, RequestValidationError, HTTPException, Exception):
        app.add_exception_handler(error, _error_response)
    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"])  # fmt: skip
    app.include_router(api)
    app.include_router(open_routes)
    return app


def _assistant(request: Request) -> Assistant:
    return request.app.state.assistant


def _require_key(request: Request) -> None:
    """With an API key set, the request must carry it as ``Authorization: Bearer <key>``."""
    expected = request.app.state.api_key
    if expected is None:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if not given or scheme.lower() != "bearer":
        raise ApiError(401, "this server needs an API key; send it as 'Authorization: Bearer <key>'",
                       "invalid_request_error", "missing_api_key")  # fmt: skip
    if not secrets.compare_digest(given.strip().encode(), expected):  # constant time: no guessing by timing
        raise ApiError(401, "the API key is not valid for this server", "invalid_request_error", "invalid_api_key")


api = APIRouter(dependencies=[Depends(_require_key)])
open_routes = APIRouter()
Answering = Annotated[Assistant, Depends(_assistant)]


def backend_for(assistant: Assistant, model: str) -> str:
    """The answering backend a request's ``model`` names; an unknown one is a 404 listing them."""
    names = assistant.backends()
    if model not in names:
        raise ApiError(404, f"the model {model!r} does not exist here; choose one of: {', '.join(names)}",
                       "invalid_request_error", "model_not_found", "model")  # fmt: skip
    return model


def _read_request(assistant: Assistant, body: ChatRequest) -> tuple[str, str, list[Turn], Filters | None]:
    """The backend, question, earlier turns and filters of a chat request (a 400 or 404 if bad)."""
    backend = backend_for(assistant, body.model)
    question, history = conversation(body.messages, lambda: [p.title for p in assistant.papers()])
    return backend, question, history, body.filters()


@api.post("/v1/chat/completions")
async def chat_completions(body: ChatRequest, assistant: Answering) -> Any:
    """Answer the last user message, citing papers; the earlier messages are the conversation."""
    backend, question, history, filters = await run_in_threadpool(_read_request, assistant, body)
    if not body.stream:
        answer = await run_in_threadpool(assistant.ask, question, body.k, filters, history, backend)
        return _completion(answer, backend)
    items = assistant.stream(question, body.k, filters, history, backend)
    first = await run_in_threadpool(next, items, None)  # errors before the first byte keep their status
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(_events(first, items, backend), media_type="text/event-stream", headers=headers)


@api.get("/v1/models")
def models(assistant: Answering) -> dict[str, Any]:
    """The answering backends, as OpenAI lists models."""
    return {"object": "list", "data": [_model(name) for name in assistant.backends()]}


@api.get("/v1/models/{model}")
def model(model: str, assistant: Answering) -> dict[str, Any]:
    """One answering backend, as OpenAI describes a model."""
    return _model(backend_for(assistant, model))


@api.post("/v1/search")
def search(body: SearchRequest, assistant: Answering) -> dict[str, Any]:
    """The papers that best match ``query``, best first, within the filters."""
    found = assistant.retrieve(body.query, body.k, body.filters())
    return {"object": "list", "query": body.query, "data": [_source_dict(s) for s in found]}


@api.post("/v1/table", response_model=None)
def table(body: TableRequest, request: Request, assistant: Answering, format: str | None = None) -> Any:  # noqa: A002
    """An evidence table, as JSON (``EvidenceTable.to_dict()``), or as CSV with ``?format=csv`` or
    ``Accept: text/csv``."""
    if format not in (None, "json", "csv"):
        raise ApiError(400, f"unknown format {format!r}; use json or csv", "invalid_request_error", "invalid_format",
                       "format")  # fmt: skip
    backend = backend_for(assistant, body.model) if body.model else None
    try:
        made = assistant.table(body.papers, body.topic, body.k, backend)
    except AssistantError as exc:  # classified as every error is; the field at fault is the table's own
        error = classify(exc)
        if error.param == "messages":
            error.param = "papers" if body.papers is not None else "topic"
        raise error from None
    if format == "csv" or (format is None and "text/csv" in request.headers.get("accept", "")):
        from fastapi.responses import Response

        return Response(made.to_csv(), media_type="text/csv; charset=utf-8")
    return {"object": "evidence_table", **made.to_dict()}


@api.get("/v1/papers/{paper_id:path}")
def paper(paper_id: str, assistant: Answering) -> dict[str, Any]:
    """One indexed paper by its id (as search results and citations give it)."""
    for p in assistant.papers():
        if p.paper_id == paper_id:
            return {"object": "paper", **{k: v for k, v in asdict(p).items() if k != "sources"}}
    raise ApiError(404, f"no indexed paper has the id {paper_id!r}; find ids with POST /v1/search",
                   "invalid_request_error", "paper_not_found", "paper_id")  # fmt: skip


@api.post("/v1/export")
def export_papers(body: ExportRequest, assistant: Answering) -> Response:
    """The papers as one BibTeX, RIS or CSL-JSON file, with its media type."""
    form = export_format(body.format)
    text = assistant.export(body.papers, form.name)
    headers = {"Content-Disposition": f'attachment; filename="papers{form.suffix}"'}
    return Response(text, media_type=f"{form.media_type}; charset=utf-8", headers=headers)


@api.get("/v1/digest")
def digest(assistant: Answering, since: str = "7d", until: str | None = None, by: str = "added") -> dict[str, Any]:
    """The papers of a time window in topics, each with what it does: ``since`` and ``until`` are
    7d, 2w, 24h back or dates; ``by`` is ``added`` (when they entered the index) or ``date``."""
    return {"object": "digest", **assistant.digest(since, until, by).to_dict()}


# watches: standing questions; after every ingest, the new papers that answer them


class WatchRequest(BaseModel):
    question: str = Field(description="The standing question, e.g. 'LLM agents that learn reusable skills'.")


@api.post("/v1/watches", status_code=201)
def watch_add(body: WatchRequest, assistant: Answering) -> dict[str, Any]:
    """Keep a question: every ingest reports the new papers that answer it."""
    return {"object": "watch", **assistant.watch(body.question, where="http").to_dict()}


@api.get("/v1/watches")
def watch_list(assistant: Answering) -> dict[str, Any]:
    return {"object": "list", "data": [{"object": "watch", **w.to_dict()} for w in assistant.watches()]}


@api.post("/v1/watches/check")
def watch_check(assistant: Answering) -> dict[str, Any]:
    """Look now for new papers that answer the watches; the watches that have some, with them."""
    return {"object": "list", "data": [r.to_dict() for r in assistant.check_watches()]}


@api.delete("/v1/watches/{watch_id}")
def watch_remove(watch_id: str, assistant: Answering) -> dict[str, Any]:
    return {"object": "watch", "deleted": True, **assistant.unwatch(watch_id).to_dict()}


@api.get("/v1/watches/{watch_id}/papers")
def watch_papers(watch_id: str, assistant: Answering) -> dict[str, Any]:
    """Every paper the watch has reported, oldest first, each with what it does and its citation."""
    report = assistant.watch_papers(watch_id)
    return {"object": "list", "watch": report.watch.to_dict(), "data": [p.to_dict() for p in report.papers]}


@api.get("/v1/watches/{watch_id}/feed.atom")
def watch_feed(watch_id: str, request: Request, assistant: Answering) -> Response:
    """The watch's reported papers as an Atom 1.0 feed, for a feed reader."""
    text = assistant.watch_papers(watch_id).to_atom(str(request.url))
    return Response(text, media_type="application/atom+xml; charset=utf-8")


@open_routes.get("/healthz")
def healthz(assistant: Answering) -> dict[str, Any]:
    """Whether the index answers: its paper and chunk counts and its generation (no key needed)."""
    stats = assistant.stats()
    return {"status": "ok", "papers": stats.get("papers"), "chunks": stats.get("chunks"),
            "generation": stats.get("generation"), "backends": assistant.backends()}  # fmt: skip


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": OWNER}


def run(
    assistant: Assistant,
    host: str = "127.0.0.1",
    port: int = 8000,
    cors_origins: Sequence[str] = (),
    api_key: str | None = None,
    log_level: str = "warning",
) -> None:
    """Serve the HTTP API on host:port until interrupted; the key defaults to $ASSISTANT_API_KEY."""
    api_key = api_key if api_key is not None else os.environ.get(API_KEY_VARIABLE) or None
    assistant.retrieve("warm up")  # load the index and the model before the first request
    app = create_app(assistant, api_key=api_key, cors_origins=cors_origins)
    # bound here, so a port in use is an OSError for the CLI and the line below names the real port
    sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, access_log=False))
    shown = f"[{host}]" if ":" in host else host
    lock = " (API key required)" if api_key else ""
    print(f"Serving the OpenAI-compatible API on http://{shown}:{sock.getsockname()[1]}/v1{lock}", flush=True)
    server.run(sockets=[sock])


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m assistant.server``: ``assistant serve`` by another name."""
    from assistant.cli import run_command

    return run_command("serve", argv)


if __name__ == "__main__":
    sys.exit(main())
