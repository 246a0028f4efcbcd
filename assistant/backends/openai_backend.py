"""The OpenAI API, or any OpenAI-compatible server (Ollama, vLLM, LM Studio, llama.cpp's server),
through the official ``openai`` client. Servers answer many requests at once, so up to
``llm_max_concurrency`` are sent at a time; their tokenizer is unknown here, so prompts are
measured with the base class's conservative estimate."""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cached_property
from typing import Any

from assistant.backends.base import BackendError
from assistant.backends.generative import GenerativeBackend
from index.config import Config, redact_url

DEFAULT_MODEL = "gpt-4o-mini"
OPENAI_CONTEXT_WINDOW = 128_000  # what the OpenAI API's chat models read, unless llm_context_window says otherwise
LOCAL_KEY = "not-needed"  # local servers ignore the key, but the client insists on one
PROBE_TIMEOUT = 3.0  # seconds to wait for a server to say its context window


def _context_in(reply: Any, model: str) -> int | None:
    """The served context window in a ``/v1/models``, ``/props`` or ``/api/show`` reply."""
    if not isinstance(reply, dict):
        return None
    for entry in reply.get("data") or []:  # vLLM: {"data": [{"id": ..., "max_model_len": 8192}]}
        if isinstance(entry, dict) and entry.get("max_model_len") and entry.get("id") in (model, None):
            return int(entry["max_model_len"])
    settings = reply.get("default_generation_settings")  # llama.cpp: {"n_ctx": ...} or inside the settings
    n_ctx = reply.get("n_ctx") or (settings.get("n_ctx") if isinstance(settings, dict) else None)
    if n_ctx:
        return int(n_ctx)
    parameters = str(reply.get("parameters") or "")  # Ollama: "num_ctx 8192" in the Modelfile parameters
    for line in parameters.splitlines():
        key, _, value = line.partition(" ")
        if key == "num_ctx" and value.strip().isdigit():
            return int(value)
    info = reply.get("model_info")
    if isinstance(info, dict):
        lengths = [int(v) for k, v in info.items() if k.endswith(".context_length") and isinstance(v, int)]
        return min(lengths) if lengths else None
    return None


class OpenAIBackend(GenerativeBackend):
    name = "openai"

    def __init__(self, config: Config):
        super().__init__(config)
        try:
            import openai
        except ImportError:
            raise BackendError(
                "the openai backend needs the 'openai' extra: pip install 'paper-assistant[openai]'"
            ) from None
        self._openai = openai
        key = os.environ.get(config.llm_api_key_env)
        if not key and not config.llm_base_url:
            raise BackendError(
                f"the openai backend needs an API key in ${config.llm_api_key_env}, "
                "or --base-url pointing at a local OpenAI-compatible server"
            )
        self.model = config.llm_model or DEFAULT_MODEL
        self.client = openai.OpenAI(
            api_key=key or LOCAL_KEY,
            base_url=config.llm_base_url,
            timeout=config.llm_timeout,
            max_retries=config.llm_retries,
        )

    @property
    def where(self) -> str:
        return redact_url(str(self.client.base_url).rstrip("/"))

    @property
    def max_concurrency(self) -> int:
        return self.config.llm_max_concurrency

    @property
    def context_window(self) -> int:
        """``llm_context_window`` when it was set; else what the server says it serves (see
        ``served_context``); for the OpenAI API itself 128k; else the setting's default."""
        if "llm_context_window" in self.config.model_fields_set:
            return self.config.llm_context_window
        if self.config.llm_base_url is None:
            return OPENAI_CONTEXT_WINDOW
        return self.served_context or self.config.llm_context_window

    @cached_property
    def served_context(self) -> int | None:
        """The context window the server reports, asked once: vLLM's ``max_model_len`` in
        ``/v1/models``, llama.cpp's ``n_ctx`` in ``/props``, Ollama's ``num_ctx`` (else the model's
        ``context_length``) in ``/api/show``; None when it reports none."""
        import httpx

        base = str(self.client.base_url).rstrip("/")
        root = base.removesuffix("/v1")
        probes: list[tuple[str, str, dict[str, Any] | None]] = [
            ("GET", f"{base}/models", None),
            ("GET", f"{root}/props", None),
            ("POST", f"{root}/api/show", {"model": self.model}),
        ]
        for method, url, body in probes:
            try:
                reply = httpx.request(method, url, json=body, timeout=PROBE_TIMEOUT)
                found = _context_in(reply.json(), self.model) if reply.status_code == 200 else None
            except (httpx.HTTPError, ValueError):
                found = None
            if found:
                return found
        return None

    def _chat(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        openai = self._openai
        try:
            stream: Any = self.client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=max_tokens,
                temperature=self.config.llm_temperature,
                stream=True,
            )
            with stream:  # closes the connection when the reader goes away
                for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield chunk.choices[0].delta.content
        except openai.APITimeoutError:
            raise BackendError(
                f"the LLM server at {self.where} did not answer within {self.config.llm_timeout:g} s; "
                "check that it is running, or raise llm_timeout"
            ) from None
        except openai.APIConnectionError:
            raise BackendError(
                f"cannot reach the LLM server at {self.where}; check that it is running and the URL is right"
            ) from None
        except openai.AuthenticationError:
            raise BackendError(
                f"the LLM server at {self.where} rejected the API key; check ${self.config.llm_api_key_env}"
            ) from None
        except openai.RateLimitError:
            raise BackendError(
                f"the LLM server at {self.where} is rate-limiting requests (HTTP 429); wait and try again"
            ) from None
        except openai.NotFoundError:
            raise BackendError(
                f"the LLM server at {self.where} does not know the model {self.model!r}; check --model"
            ) from None
        except openai.BadRequestError as exc:
            if "context" in str(exc).lower():
                raise BackendError(
                    f"the LLM server at {self.where} rejected a request longer than its context window; set "
                    f"llm_context_window to the server's context size (now {self.context_window} tokens)"
                ) from None
            raise BackendError(f"the LLM server at {self.where} answered HTTP 400; check its log") from None
        except openai.APIStatusError as exc:
            raise BackendError(
                f"the LLM server at {self.where} answered HTTP {exc.status_code}; check its log"
            ) from None
