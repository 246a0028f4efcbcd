"""A local stand-in for an OpenAI-compatible server, for tests and benchmarks.

`StandIn` serves ``POST /v1/chat/completions`` on 127.0.0.1 from a thread per request, the way
vLLM, Ollama or OpenAI itself take many requests at once. Each request is answered after
``delay`` seconds, streamed as server-sent events in OpenAI's chunk format (``stream: true``) or
as one chat completion. It records the request bodies and the most requests it had in flight at
once. With ``hold_until=n`` it holds every request until n have been in flight together once (or
``hold_timeout`` passes), so a test can show that requests overlap without timing anything.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.helpers import send_json

REPLY = "The first source reports this result [1]."


class StandIn:
    """An OpenAI-compatible chat server on 127.0.0.1; use as a context manager."""

    def __init__(
        self,
        delay: float = 1.0,
        reply: str | Callable[[dict[str, Any]], str] = REPLY,
        hold_until: int = 0,
        hold_timeout: float = 30.0,
        n_ctx: int | None = None,
    ):
        self.delay, self._reply = delay, reply
        self.n_ctx = n_ctx  # served context, reported at /props as llama.cpp does; longer requests get HTTP 400
        self.rejected = 0
        self.hold_until, self.hold_timeout = hold_until, hold_timeout
        self.requests: list[dict[str, Any]] = []
        self.in_flight = self.max_in_flight = 0
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        """The base URL a client is given, ending in /v1."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def reset(self) -> None:
        """Forget the requests seen so far."""
        with self._changed:
            self.requests, self.max_in_flight = [], self.in_flight

    def __enter__(self) -> StandIn:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reply_to(self, body: dict[str, Any]) -> str:
        return self._reply(body) if callable(self._reply) else self._reply

    def arrived(self, body: dict[str, Any]) -> None:
        with self._changed:
            self.requests.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._changed.notify_all()
            if self.hold_until:
                self._changed.wait_for(lambda: self.max_in_flight >= self.hold_until, self.hold_timeout)

    def answered(self) -> None:
        """Called before the last bytes of an answer are written: once the client has read its
        reply the request no longer counts, so the count never exceeds what the client sends."""
        with self._changed:
            self.in_flight -= 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if self.path.rstrip("/") != "/props" or standin.n_ctx is None:
                    self.send_error(404)
                    return
                send_json(self, 200, {"default_generation_settings": {"n_ctx": standin.n_ctx}, "total_slots": 1})

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self.send_error(404)
                    return
                if standin.n_ctx is not None and tokens(body) > standin.n_ctx:
                    standin.rejected += 1
                    message = f"the request exceeds the available context size ({standin.n_ctx} tokens)"
                    send_json(
                        self, 400, {"error": {"code": 400, "message": message, "type": "exceed_context_size_error"}}
                    )
                    return
                standin.arrived(body)
                self.pending = True
                try:
                    time.sleep(standin.delay)
                    model = body.get("model", "stand-in")
                    reply = standin.reply_to(body)
                    if body.get("stream"):
                        self._stream(model, reply)
                    else:
                        self._complete(model, reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (its timeout): nobody is left to answer
                finally:
                    self._answered()

            def _answered(self) -> None:
                if self.pending:
                    self.pending = False
                    standin.answered()

            def _stream(self, model: str, reply: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                words = reply.split(" ")
                deltas = [{"role": "assistant", "content": ""}] + [
                    {"content": w if i == 0 else " " + w} for i, w in enumerate(words)
                ]
                for delta in deltas:
                    self._event(_chunk(model, delta, None))
                self._event(_chunk(model, {}, "stop"))
                self._answered()
                self.wfile.write(b"data: [DONE]\n\n")

            def _event(self, payload: dict[str, Any]) -> None:
                self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
                self.wfile.flush()

            def _complete(self, model: str, reply: str) -> None:
                payload = {
                    "id": "chatcmpl-standin",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply, "refusal": None},
                            "logprobs": None,
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self._answered()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def tokens(body: dict[str, Any]) -> int:
    """Tokens a request takes in a llama.cpp-like server: its messages at four characters a token
    (the bundled abstracts run 4.3-5.4 in real tokenizers), and the answer it may write."""
    chars = sum(len(m.get("content", "")) for m in body.get("messages", []))
    return chars // 4 + int(body.get("max_tokens") or 0)


def _chunk(model: str, delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
    """One ``chat.completion.chunk`` as OpenAI streams it."""
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_standin",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
