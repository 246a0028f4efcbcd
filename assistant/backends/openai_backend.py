"""The OpenAI API, or any OpenAI-compatible server (Ollama, vLLM, LM Studio, llama.cpp's server),
through the official ``openai`` client. Servers answer many requests at once, so up to
``llm_max_concurrency`` are sent at a time; their tokenizer is unknown here, so prompts are
measured with the base class's conservative estimate."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from assistant.backends.base import BackendError
from assistant.backends.generative import GenerativeBackend
from index.config import Config, redact_url

DEFAULT_MODEL = "gpt-4o-mini"
OPENAI_CONTEXT_WINDOW = 128_000  # what the OpenAI API's chat models read, unless llm_context_window says otherwise
LOCAL_KEY = "not-needed"  # local servers ignore the key, but the client insists on one


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
        """``llm_context_window``; for the OpenAI API itself (no base URL), 128k unless it was set.
        A local server's context is its own setting (Ollama: num_ctx), which the API cannot read."""
        if self.config.llm_base_url is None and "llm_context_window" not in self.config.model_fields_set:
            return OPENAI_CONTEXT_WINDOW
        return self.config.llm_context_window

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
        except openai.APIStatusError as exc:
            raise BackendError(
                f"the LLM server at {self.where} answered HTTP {exc.status_code}; check its log"
            ) from None
