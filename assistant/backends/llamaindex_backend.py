"""Any LlamaIndex ``LLM`` as the answering backend: Anthropic, Bedrock, Gemini, Ollama, vLLM,
OpenAI-like servers... every LlamaIndex LLM integration plugs in, and its answers get the same
prompt, the same fitting to the context window and the same citation check as the others.

Given as an object (``Assistant(llm=Ollama(model="llama3.1"))``) or in the config by class path and
keyword arguments (``llm = "llamaindex"``, ``llm_class = "llama_index.llms.ollama.Ollama"``,
``llm_kwargs = {model = "llama3.1", request_timeout = 60}``).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

from assistant.backends.base import BackendError
from assistant.backends.generative import GenerativeBackend
from index.config import Config


def load_llm(class_path: str | None, kwargs: dict[str, Any]) -> Any:
    """The LlamaIndex LLM named by ``class_path`` ("llama_index.llms.ollama.Ollama"), built with
    ``kwargs``; a missing integration is one sentence naming its package."""
    if not class_path or "." not in class_path:
        raise BackendError(
            "the llamaindex backend needs llm_class, the class path of a LlamaIndex LLM "
            "(for example llama_index.llms.ollama.Ollama)"
        )
    module_name, _, class_name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except ModuleNotFoundError:
        package = module_name.replace("_", "-").replace(".", "-")
        raise BackendError(f"cannot import {module_name}; install its integration: pip install {package}") from None
    except AttributeError:
        raise BackendError(f"{module_name} has no class {class_name}; check llm_class") from None
    try:
        return cls(**kwargs)
    except Exception as exc:  # the integration's own validation: say which settings it refused
        raise BackendError(f"cannot build {class_name} from llm_kwargs ({type(exc).__name__}: {exc})") from None


class LlamaIndexBackend(GenerativeBackend):
    """Writes with a LlamaIndex ``LLM`` through its ``stream_chat``."""

    name = "llamaindex"

    def __init__(self, config: Config, llm: Any = None):
        super().__init__(config)
        self.llm = llm if llm is not None else load_llm(config.llm_class, dict(config.llm_kwargs))
        if not hasattr(self.llm, "stream_chat"):
            raise BackendError(f"{type(self.llm).__name__} is not a LlamaIndex LLM (it has no stream_chat)")

    @property
    def where(self) -> str:
        model = getattr(getattr(self.llm, "metadata", None), "model_name", None)
        return f"{type(self.llm).__name__}" + (f" ({model})" if model else "")

    @property
    def max_concurrency(self) -> int:
        return self.config.llm_max_concurrency

    @property
    def context_window(self) -> int:
        """The LLM's own context window when it states one, else ``llm_context_window``."""
        stated = getattr(getattr(self.llm, "metadata", None), "context_window", None)
        if "llm_context_window" in self.config.model_fields_set or not isinstance(stated, int) or stated <= 0:
            return self.config.llm_context_window
        return stated

    def _chat(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        from llama_index.core.llms import ChatMessage

        chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
        try:
            for response in self.llm.stream_chat(chat):
                if response.delta:
                    yield response.delta
        except BackendError:
            raise
        except Exception as exc:  # an integration raises its own errors; the user gets one sentence
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise BackendError(
                f"the LlamaIndex LLM {self.where} failed ({type(exc).__name__}: {reason}); "
                "check its settings and that its service is reachable"
            ) from None
