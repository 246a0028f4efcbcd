"""A GGUF model run in-process by llama-cpp-python (the optional 'llama-cpp' extra).

One model in memory writes one answer at a time (the base class serialises its generations, but
never across a ``yield`` to the reader), on ``llm_threads`` cores; prompts are measured with the
model's own tokenizer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.backends.base import BackendError
from assistant.backends.generative import GenerativeBackend
from index.config import Config


class LlamaCppBackend(GenerativeBackend):
    name = "llama-cpp"

    def __init__(self, config: Config):
        super().__init__(config)
        try:
            from llama_cpp import Llama
        except ImportError:
            raise BackendError(
                "the llama-cpp backend needs the 'llama-cpp' extra: pip install 'paper-assistant[llama-cpp]'"
            ) from None
        if not config.llm_model:
            raise BackendError("the llama-cpp backend needs a GGUF file: --model PATH.gguf")
        self.path = Path(config.llm_model).expanduser()
        if not self.path.is_file():
            raise BackendError(f"no GGUF model file at {self.path}; check --model")
        try:
            self.llm = Llama(
                model_path=str(self.path),
                n_ctx=config.llm_context_window,
                n_threads=config.llm_threads,  # llama-cpp-python's default is half the cores
                n_threads_batch=config.llm_threads,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"llama.cpp could not load {self.path} ({exc}); is it a GGUF model?") from None

    @property
    def where(self) -> str:
        return str(self.path)

    @property
    def context_window(self) -> int:
        return int(self.llm.n_ctx())

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the model's own tokenizer (it only reads the vocabulary, so it
        needs no slot and may run beside a generation)."""
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _chat(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        try:
            chunks: Any = self.llm.create_chat_completion(
                messages=messages,  # type: ignore[arg-type]
                max_tokens=max_tokens,
                temperature=self.config.llm_temperature,
                stream=True,
            )
            try:
                for chunk in chunks:
                    delta = chunk["choices"][0].get("delta", {})
                    if delta.get("content"):
                        yield delta["content"]
            finally:
                chunks.close()  # a reader that went away stops the generation here
        except ValueError as exc:  # e.g. the prompt exceeds the context window
            raise BackendError(f"llama.cpp failed on {self.path.name}: {exc}; raise llm_context_window") from None
