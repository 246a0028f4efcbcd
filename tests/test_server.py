"""The HTTP API, for real: the `assistant serve` process on 127.0.0.1 (over the bundled corpus, with an API
key, one allowed browser origin and an OpenAI backend pointed at a closed port), the official
`openai` client for chat completions, plain and streaming, and plain HTTP (httpx) for the other
routes and for every error."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest
from fastapi.testclient import TestClient

from assistant import BackendError
from assistant.server import _events, create_app, says_the_same
from tests.conftest import REPO, free_port, stop, wait_for_http

pytestmark = pytest.mark.slow

KEY = "test-api-key-0123456789"
ORIGIN = "http://localhost:3000"
FACT = "How many participants took part in the struggle-determination video dataset?"
EVO = "EvoStruggle"  # the paper that answers FACT
OFF_TOPIC = "What is the boiling point of tungsten in a vacuum?"
EMPTY = "the question is empty; type a question about the indexed papers"  # the CLI's message too


@pytest.fixture(scope="module")
def server(bundled, tmp_path_factory):
    """The real `assistant serve` process; yields its base URL, the closed port its OpenAI backend
    uses and its log."""
    port, closed = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_"))}
    env.update(ASSISTANT_API_KEY=KEY, ASSISTANT_LLM_BASE_URL=f"http://127.0.0.1:{closed}/v1",
               ASSISTANT_LLM_RETRIES="0", ASSISTANT_LLM_TIMEOUT="10")  # fmt: skip
    log = tmp_path_factory.mktemp("server") / "server.log"
    script = Path(sys.executable).with_name("assistant")
    argv = [str(script), "--data-dir", str(bundled.config.data_dir), "serve", "--host", "127.0.0.1", "--port",
            str(port), "--cors-origin", ORIGIN]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/healthz", proc, 120, "the API server")
    except RuntimeError:
        raise RuntimeError(f"the API server did not start: {log.read_text()[-2000:]}") from None
    yield {"url": url, "closed": closed, "log": log}
    stop(proc)


@pytest.fixture
def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server['url']}/v1", api_key=KEY, max_retries=0)


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server["url"], headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as c:
        yield c


def ask(http: httpx.Client, question: str, model: str = "extractive", **extra) -> httpx.Response:
    return http.post("/v1/chat/completions", json={"model": model, "messages": [{"role": "user", "content": question}],
                                                   **extra})  # fmt: skip


def assert_error(response: httpx.Response, status: int, code: str, message: str | None = None) -> str:
    """An OpenAI-shaped error with this status and code, and a one-sentence message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["code"] == code
    said = error["message"]
    assert said and "\n" not in said and "Traceback" not in said and said.count(". ") == 0
    if message is not None:
        assert said == message
    return said


def assert_cited(extra: dict, paper: str = EVO) -> None:
    """The extra field holds a cited answer whose citations point at its sources."""
    assert extra["refused"] is False and extra["citations"]
    source_ids = {s["paper_id"] for s in extra["sources"]}
    assert {c["paper_id"] for c in extra["citations"]} <= source_ids
    assert paper in extra["citations"][0]["title"] and extra["citations"][0]["quotes"]


# the openai client


def test_openai_client_gets_a_cited_answer_with_its_sources(client):
    completion = client.chat.completions.create(model="extractive", messages=[{"role": "user", "content": FACT}])
    text = completion.choices[0].message.content or ""
    assert "76 participants" in text and "[1]" in text
    assert completion.choices[0].finish_reason == "stop" and completion.model == "extractive"
    extra = (completion.model_extra or {})["paper_assistant"]
    assert extra["answer"] == text and extra["backend"] == "extractive"
    assert_cited(extra)
    assert "76 participants" in extra["citations"][0]["quotes"][0]


def test_openai_client_streams_and_reads_the_sources_from_the_final_chunk(client):
    stream = client.chat.completions.create(
        model="extractive", messages=[{"role": "user", "content": FACT}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "76 participants" in text and "[1]" in text
    assert len({c.id for c in chunks}) == 1 and chunks[0].choices[0].delta.role == "assistant"
    with_extra = [c for c in chunks if "paper_assistant" in (c.model_extra or {})]
    assert with_extra == [chunks[-1]] and chunks[-1].choices[0].finish_reason == "stop"
    extra = (chunks[-1].model_extra or {})["paper_assistant"]
    assert_cited(extra)
    assert says_the_same(text, extra["answer"])  # the checked answer says what was streamed


def test_a_stream_is_server_sent_events_ending_in_done(http):
    with http.stream("POST", "/v1/chat/completions", json={"model": "extractive", "stream": True,
                     "messages": [{"role": "user", "content": FACT}]}) as response:  # fmt: skip
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]" and '"paper_assistant"' in events[-2]


def test_a_refusal_is_an_ordinary_answer(client):
    for stream in (False, True):
        reply = client.chat.completions.create(
            model="extractive", messages=[{"role": "user", "content": OFF_TOPIC}], stream=stream
        )
        chunks = list(reply) if stream else [reply]
        extra = (chunks[-1].model_extra or {})["paper_assistant"]
        assert extra["refused"] is True and extra["sources"] and not extra["citations"]
        said = "".join((c.choices[0].delta.content or "") if stream else (c.choices[0].message.content or "")
                       for c in chunks)  # fmt: skip
        assert said == extra["answer"] and "closest papers" in said


def test_earlier_messages_make_a_follow_up(client):
    first = client.chat.completions.create(model="extractive", messages=[{"role": "user", "content": FACT}])
    earlier = {"role": "assistant", "content": first.choices[0].message.content,
               "paper_assistant": (first.model_extra or {})["paper_assistant"]}  # fmt: skip
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": FACT}, earlier,
                {"role": "user", "content": "How many hours of video does it have?"}]  # fmt: skip
    completion = client.chat.completions.create(model="extractive", messages=messages)  # type: ignore[arg-type]
    extra = (completion.model_extra or {})["paper_assistant"]
    assert extra["question"] == "How many hours of video does it have?"
    assert EVO in (extra["standalone_question"] or "")  # "it" is the paper the first answer cited
    assert_cited(extra)
    assert "61.68 hours" in (completion.choices[0].message.content or "")


def test_a_follow_up_after_a_plain_openai_history(client):
    """Clients that send back only the text: the earlier answer's cited paper is found by its title."""
    first = client.chat.completions.create(model="extractive", messages=[{"role": "user", "content": FACT}])
    messages = [{"role": "user", "content": FACT}, first.choices[0].message.model_dump(exclude_none=True),
                {"role": "user", "content": "How many hours of video does it have?"}]  # fmt: skip
    completion = client.chat.completions.create(model="extractive", messages=messages)  # type: ignore[arg-type]
    assert EVO in ((completion.model_extra or {})["paper_assistant"]["standalone_question"] or "")
    assert "61.68 hours" in (completion.choices[0].message.content or "")


def test_filters_are_request_fields(http):
    extra = ask(http, FACT, since="2030-01-01").json()["paper_assistant"]
    assert extra["refused"] is True and extra["sources"] == []


def test_concurrent_requests_are_all_answered(server):
    def one(_: int) -> int:
        with httpx.Client(base_url=server["url"], headers={"Authorization": f"Bearer {KEY}"}, timeout=120) as c:
            response = ask(c, FACT)
            return response.status_code if response.json()["paper_assistant"]["citations"] else -1

    with ThreadPoolExecutor(max_workers=20) as pool:
        assert list(pool.map(one, range(20))) == [200] * 20


# the other routes


def test_models_are_the_answering_backends(client, http):
    listed = http.get("/v1/models").json()
    assert listed["object"] == "list" and all(m["object"] == "model" for m in listed["data"])
    ids = [m["id"] for m in listed["data"]]
    assert "extractive" in ids and "openai" in ids
    assert [m.id for m in client.models.list()] == ids
    assert http.get("/v1/models/extractive").json()["id"] == "extractive"


def test_search_finds_papers_within_the_filters(http, bundled):
    found = http.post("/v1/search", json={"query": "struggle determination video dataset", "k": 3}).json()
    assert found["object"] == "list" and len(found["data"]) == 3 and EVO in found["data"][0]["title"]
    assert found["data"][0]["abstract"] and found["data"][0]["score"] >= found["data"][1]["score"]
    dated = http.post("/v1/search", json={"query": "continual learning", "since": "2025-01", "until": "2025-06"})
    assert dated.json()["data"] and all("2025-01-01" <= p["date"] <= "2025-06-30" for p in dated.json()["data"])
    organization = next(p.organization for p in bundled.papers() if p.organization)
    by_org = http.post("/v1/search", json={"query": "language models", "organization": organization.upper()})
    assert by_org.json()["data"] and {p["organization"] for p in by_org.json()["data"]} == {organization}


def test_a_paper_by_its_id(http):
    hit = http.post("/v1/search", json={"query": "struggle determination video dataset", "k": 1}).json()["data"][0]
    paper = http.get(f"/v1/papers/{hit['paper_id']}").json()
    assert paper["object"] == "paper" and paper["paper_id"] == hit["paper_id"]
    assert paper["title"] == hit["title"] and "76 participants" in paper["abstract"]


def test_healthz_needs_no_key_and_counts_the_papers(server, bundled):
    health = httpx.get(f"{server['url']}/healthz").json()
    assert health["status"] == "ok" and health["papers"] == len(bundled.papers()) and health["chunks"] > 0
    assert health["generation"] == bundled.stats()["generation"]


# every error


@pytest.mark.parametrize("stream", [False, True])
def test_an_empty_question_is_400_with_the_cli_message(http, stream):
    assert_error(ask(http, " \t ", stream=stream), 400, "invalid_question", EMPTY)  # before any byte is streamed


@pytest.mark.parametrize(
    "fields, said",
    [
        ({"since": "2024-13"}, "the start date '2024-13' is not a date"),
        ({"since": "2025", "until": "2024"}, "the start date 2025-01-01 is after the end date 2024-12-31"),
        ({"organization": " "}, "the organisation"),
    ],
)
def test_a_bad_filter_is_400(http, fields, said):
    assert assert_error(ask(http, FACT, **fields), 400, "invalid_filter").startswith(said)
    assert assert_error(http.post("/v1/search", json={"query": FACT, **fields}), 400, "invalid_filter").startswith(said)


@pytest.mark.parametrize(
    "body, code",
    [
        ({"model": "extractive", "messages": [{"role": "assistant", "content": "Hello."}]}, "invalid_messages"),
        ({"model": "extractive", "messages": []}, "invalid_request"),
        ({"messages": [{"role": "user", "content": FACT}]}, "invalid_request"),
        ({"model": "extractive", "messages": [{"role": "user", "content": FACT}], "k": 0}, "invalid_request"),
    ],
)
def test_a_malformed_request_is_400(http, body, code):
    assert_error(http.post("/v1/chat/completions", json=body), 400, code)


def test_a_body_that_is_not_json_is_400(http):
    response = http.post("/v1/chat/completions", content=b"{not json", headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_request", "the request body is not valid JSON")


def test_an_unknown_paper_is_404(http):
    assert "'no-such-paper'" in assert_error(http.get("/v1/papers/no-such-paper"), 404, "paper_not_found")


def test_an_unknown_model_is_404(http, client):
    said = assert_error(ask(http, FACT, model="gpt-4o"), 404, "model_not_found")
    assert "'gpt-4o'" in said and "extractive" in said
    assert_error(http.get("/v1/models/gpt-4o"), 404, "model_not_found")
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": FACT}])
    assert raised.value.code == "model_not_found"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-key"}, {"Authorization": KEY}])
def test_a_missing_or_wrong_key_is_401(server, headers):
    for response in (
        httpx.get(f"{server['url']}/v1/models", headers=headers),
        httpx.post(f"{server['url']}/v1/search", json={"query": FACT}, headers=headers),
        httpx.post(f"{server['url']}/v1/chat/completions", headers=headers,
                   json={"model": "extractive", "messages": [{"role": "user", "content": FACT}]}),
    ):  # fmt: skip
        assert_error(response, 401, "invalid_api_key" if "Bearer" in headers.get("Authorization", "") else
                     "missing_api_key")  # fmt: skip
        assert response.headers["www-authenticate"] == "Bearer"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{server['url']}/v1", api_key="wrong-key", max_retries=0).models.list()


@pytest.mark.parametrize("stream", [False, True])
def test_an_unreachable_llm_server_is_503(server, http, client, stream):
    said = assert_error(ask(http, FACT, model="openai", stream=stream), 503, "llm_unavailable")
    assert said.startswith(f"cannot reach the LLM server at http://127.0.0.1:{server['closed']}/v1")
    with pytest.raises(openai.InternalServerError) as raised:
        client.chat.completions.create(model="openai", messages=[{"role": "user", "content": FACT}], stream=stream)
    assert raised.value.status_code == 503
    assert ask(http, FACT).status_code == 200  # the extractive backend still answers


def test_an_unknown_route_is_404_json(http):
    assert_error(http.get("/v1/nothing-here"), 404, "not_found")


# CORS


def test_cors_allows_only_the_configured_origin(server):
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    allowed = httpx.options(f"{server['url']}/v1/chat/completions", headers={"Origin": ORIGIN, **preflight})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == ORIGIN
    other = httpx.options(f"{server['url']}/v1/chat/completions", headers={"Origin": "http://evil.test", **preflight})
    assert "access-control-allow-origin" not in other.headers


def test_cors_is_off_unless_configured(bundled):
    with TestClient(create_app(bundled)) as local:
        response = local.get("/v1/models", headers={"Origin": ORIGIN})
        preflight = local.options("/v1/models", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers
    assert "access-control-allow-origin" not in preflight.headers


def test_says_the_same_ignores_where_a_marker_sits():
    assert says_the_same("It has 76 participants. [1]", "It has 76 participants [1].")
    assert not says_the_same("It has 76 participants [1][2].", "It has 76 participants [1].")
    assert not says_the_same("It has 76 participants [1].", "The indexed abstracts do not answer this question.")


def test_an_error_after_the_first_piece_is_an_error_event_then_done():
    """Once the status line is sent, a failing LLM ends the stream with OpenAI's error event (the
    openai client raises it), never a half answer that looks whole."""

    def items():
        yield "The first source reports"
        raise BackendError("cannot reach the LLM server at http://127.0.0.1:9/v1; check that it is running")

    pieces = items()
    first = next(pieces)

    async def collect() -> list[str]:
        return [event async for event in _events(first, pieces, "openai")]

    events = asyncio.run(collect())
    assert '"The first source reports"' in events[1] and events[-1] == "data: [DONE]\n\n"
    error = json.loads(events[-2].removeprefix("data: "))["error"]
    assert error["code"] == "llm_unavailable" and error["message"].startswith("cannot reach the LLM server")
    assert not any("paper_assistant" in e for e in events)


def test_the_server_logged_no_traceback(server):
    """Every error above was a user's, answered in one sentence: none reached the log as a crash."""
    assert "Traceback" not in server["log"].read_text()
