"""The one typed configuration, built at the entry point and passed down.

Precedence, lowest first: defaults, a TOML file (``--config`` or ``ASSISTANT_CONFIG``),
environment variables ``ASSISTANT_<FIELD>`` and explicit keyword overrides.
Unknown keys are rejected, so a typo fails loudly instead of being ignored.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from index.errors import AssistantError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_CORPUS = Path(__file__).resolve().parent / "corpus"  # package data: in a checkout and in the wheel
APP_NAME = "paper-assistant"
ENV_PREFIX = "ASSISTANT_"
MASK = "***"
_SECRET_PARAM = re.compile(r"key|token|secret|passw|sig|auth|cred", re.I)
_SECRET_FIELD = re.compile(r"(?:^|_)(?:key|token|secret|password)$")
_URL_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s@]+@", re.I)
SECRET_VARIABLES = (
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "ASSISTANT_UI_PASSWORD",
    "ASSISTANT_API_KEY",
)


def redact_url(url: str) -> str:
    """The URL for logs and messages: a password or token in it (user info, or a query value
    such as ``?api_key=``) is replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class ConfigError(AssistantError, ValueError):
    """A configuration value is invalid; the message says which one and why."""


class Config(BaseModel):
    """Settings for ingestion and answering. Each field's description is its documentation."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)  # "~" in defaults expands too

    # where things live
    data_dir: Path = Field(
        default_factory=lambda: platformdirs.user_data_path(APP_NAME) / "store",
        description="Folder for the Chroma store and keyword index (default: the platform's user data "
        "folder, e.g. ~/.local/share/paper-assistant/store).",
    )
    cache_dir: Path = Field(
        default_factory=lambda: platformdirs.user_cache_path(APP_NAME),
        description="Folder for derived models (the ONNX export), shared by indexes (default: the platform's "
        "user cache folder, e.g. ~/.cache/paper-assistant).",
    )
    sources: list[Path] = Field([BUNDLED_CORPUS], description="Files or folders ingested by default.")
    chroma_host: str | None = Field(None, description="Use a Chroma server at this host instead of the embedded store.")
    chroma_port: int = Field(8000, description="Port of the Chroma server, when chroma_host is set.")
    collection: str = Field("papers", description="Name prefix of the Chroma collections.")

    # ingestion
    embed_backend: str = Field(
        "onnx-int8",
        description="Embedding backend: onnx-int8 (documents int8, questions float32; built locally), "
        "onnx (the same export in float32) or sentence-transformers (float32, torch).",
    )
    embed_model: str = Field("all-MiniLM-L6-v2", description="Embedding model: a bundled name or a local folder.")
    embed_batch_size: int = Field(8, ge=1, description="Texts per embedding batch.")
    chunk_tokens: int = Field(
        256, ge=32, description="Most word pieces per chunk, title included (capped by the model)."
    )

    # fetching (`assistant fetch`)
    fetch_dir: Path | None = Field(
        None,
        description="Folder `assistant fetch` saves the arXiv and Daily Papers responses in, read by every "
        "ingest given no paths besides sources (default: sources beside data_dir, e.g. "
        "~/.local/share/paper-assistant/sources).",
    )
    arxiv_api_url: str = Field("https://export.arxiv.org/api/query", description="The arXiv API's query endpoint.")
    daily_papers_url: str = Field(
        "https://huggingface.co/api/daily_papers", description="The Hugging Face Daily Papers API endpoint."
    )
    fetch_delay_s: float = Field(
        3.0,
        ge=0,
        description="Least seconds between two requests to the same host (arXiv's rule: one every 3 s, "
        "kept for export.arxiv.org whatever this says).",
    )
    fetch_timeout_s: float = Field(
        30.0, gt=0, description="Seconds to wait for one response before it counts as failed."
    )
    fetch_retries: int = Field(
        3,
        ge=0,
        le=10,
        description="Retries of a request after a connection error, HTTP 429 or 5xx, waiting longer each time "
        "(exponential backoff with jitter, at least the server's Retry-After).",
    )
    user_agent: str = Field(
        default_factory=lambda: _user_agent(),
        description="User-Agent of fetch requests: the product, its version and where to learn about it; "
        'add a contact, e.g. "paper-assistant/0.1.0 (mailto:you@example.org)".',
    )

    # retrieval
    top_k: int = Field(5, ge=1, le=100, description="Papers returned by retrieval and shown as sources.")
    list_top_k: int = Field(
        10, ge=1, le=100, description='Papers read for "which papers..." questions, which list every one that matches.'
    )
    refresh_seconds: float = Field(
        5.0,
        ge=0,
        description="How often a running assistant checks whether another process's ingest changed the "
        "papers, and if so reopens the index in the background (0: on every question).",
    )
    candidates: int = Field(
        50, ge=5, description="Candidate papers taken from each of BM25 and dense search before scoring."
    )

    # answering
    llm: str = Field("extractive", description="Answering backend: extractive, openai, llama-cpp or llamaindex.")
    llm_model: str | None = Field(
        None, description="Model name (openai: default gpt-4o-mini) or GGUF file path (llama-cpp)."
    )
    llm_base_url: str | None = Field(None, description="Base URL of an OpenAI-compatible server, e.g. .../v1.")
    llm_class: str | None = Field(
        None, description='llamaindex backend: class path of a LlamaIndex LLM ("llama_index.llms.ollama.Ollama").'
    )
    llm_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="llamaindex backend: keyword arguments for llm_class (a TOML table)."
    )
    llm_api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable that holds the API key.")
    llm_timeout: float = Field(60.0, gt=0, description="Seconds to wait for the LLM before giving up.")
    llm_retries: int = Field(1, ge=0, le=10, description="Retries after a failed LLM call (connection, 429, 5xx).")
    llm_max_tokens: int = Field(512, ge=16, description="Most tokens the LLM may write per answer.")
    llm_temperature: float = Field(0.1, ge=0, le=2, description="Sampling temperature of the LLM.")
    llm_context_window: int = Field(
        4096,
        ge=512,
        description="Tokens the model reads and writes per request, prompt and answer together. When it is not set, "
        "an OpenAI-compatible server is asked (vLLM, llama.cpp's server, Ollama) and this default is used only if "
        "it does not say; the OpenAI API itself gets 128k; in-process llama.cpp uses it as n_ctx.",
    )
    llm_max_concurrency: int = Field(
        8,
        ge=1,
        description="Most requests sent at once to an OpenAI-compatible server (in-process llama.cpp "
        "always writes one answer at a time).",
    )
    llm_threads: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="CPU threads in-process llama.cpp uses to read the prompt and write the answer "
        "(default: every core).",
    )
    llm_fallback: bool = Field(
        False, description="When the LLM fails, answer with the extractive backend instead (the answer says so)."
    )
    min_support: float = Field(
        0.5, description="A cited sentence must share this much with the cited abstract (lexical or cosine)."
    )
    answer_floor: float = Field(
        0.15,
        ge=0,
        le=1,
        description="Below this cosine similarity of the best paper nothing retrieved is usable, and every "
        "backend's answer is a refusal naming the closest papers; above it the backend decides.",
    )
    max_question_chars: int = Field(2000, ge=10, description="Longest question accepted.")
    watch_threshold: float = Field(
        0.55,
        ge=0,
        le=1,
        description="A new paper answers a watch (a standing question) when the cosine similarity between the "
        "question and one of its chunks is at least this (chosen on the bundled corpus by "
        "bench/watch_threshold.py).",
    )
    watch_interval: float = Field(
        60.0,
        gt=0,
        description="Seconds between two looks of the chat bot for new papers that answer its watches, "
        "whichever process ingested them; it posts them where each watch was set.",
    )
    auto_filters: bool = Field(
        True, description='Read filters from the question ("since 2024", "from ByteDance Seed"); shown with the answer.'
    )
    bot_rate_limit: int = Field(5, ge=1, description="Questions one chat user may ask per bot_rate_window.")
    bot_rate_window: float = Field(60.0, gt=0, description="Seconds of the bot's per-user rate limit window.")
    prompts_dir: Path | None = Field(None, description="Folder overriding the bundled prompt templates.")

    @field_validator("data_dir", "cache_dir", "prompts_dir")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def keyword_dir(self) -> Path:
        return self.data_dir / "keyword"

    @property
    def fetch_folder(self) -> Path:
        """Where `assistant fetch` saves what it fetched: fetch_dir, or sources beside data_dir."""
        return (self.fetch_dir or self.data_dir.parent / "sources").expanduser()

    @property
    def ingest_sources(self) -> list[Path]:
        """What an ingest given no paths reads: sources, and the fetch folder once something was
        fetched into it (else the next plain ingest would remove the fetched papers)."""
        folder = self.fetch_folder
        inside = any(folder.is_relative_to(s.expanduser()) for s in self.sources)
        # the default folder sits beside data_dir, where a user's own "sources" folder may be: it
        # counts only once fetch has written its arxiv/ or daily/ folder into it
        fetched = folder.is_dir() if self.fetch_dir else any((folder / f).is_dir() for f in ("arxiv", "daily"))
        return [*self.sources, folder] if fetched and not inside else list(self.sources)

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Config:
        """Build a config from a TOML file, ``ASSISTANT_*`` variables and overrides."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        path = path or env.get(f"{ENV_PREFIX}CONFIG")
        if path:
            values.update(_read_toml(Path(path)))
        for name, field in cls.model_fields.items():
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is not None and raw != "":
                values[name] = _from_env(raw, field.annotation)
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"config field {where!r}: {first['msg']}") from None

    def describe(self) -> dict[str, Any]:
        """The settings as plain values, for `stats` and logs, with secrets masked: credentials in
        URLs, and any field named ``*_key``, ``*_token``, ``*_secret`` or ``*_password``."""
        values = self.model_dump(mode="json")
        for name, value in values.items():
            if isinstance(value, str) and "://" in value:
                values[name] = redact_url(value)
            elif value and _SECRET_FIELD.search(name):
                values[name] = MASK
            elif isinstance(value, dict):  # llm_kwargs may hold an api_key
                values[name] = {k: MASK if v and _SECRET_PARAM.search(k) else v for k, v in value.items()}
        return values


def _user_agent() -> str:
    """The default User-Agent of fetch requests: the product, its version and where it lives."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version(APP_NAME)
    except PackageNotFoundError:
        release = "0+unknown"
    return f"{APP_NAME}/{release} (+https://pypi.org/project/{APP_NAME}/)"


def _from_env(raw: str, annotation: Any) -> Any:
    """An ``ASSISTANT_*`` variable's value for a field: paths split on os.pathsep, a table as JSON."""
    if annotation == list[Path]:
        return raw.split(os.pathsep)
    if annotation == dict[str, Any]:
        import json

        try:
            return json.loads(raw)
        except ValueError:
            example = '{"model": "llama3.1"}'
            raise ConfigError(f"{raw[:40]!r} is not a JSON object; write it as JSON, e.g. {example}") from None
    return raw


class SecretFilter(logging.Filter):
    """Masks secrets in log records, in the message and in any traceback or stack logged with it:
    credentials in URLs, and the given secret values."""

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        masked = _URL_CREDENTIALS.sub(rf"\1{MASK}@", text)
        for secret in self.secrets:
            masked = masked.replace(secret, MASK)
        return masked

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:  # formatted now, as a Formatter would, so it can be masked
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


class _MaskingFactory:
    """A log record factory that masks each record as it is made (see ``mask_secrets_in_logs``)."""

    def __init__(self, base: Callable[..., logging.LogRecord], secrets: SecretFilter):
        self.base, self.secrets = base, secrets

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.base(*args, **kwargs)
        self.secrets.filter(record)
        return record


def mask_secrets_in_logs(config: Config, env: Mapping[str, str] | None = None) -> SecretFilter:
    """Mask secrets in every log record the process makes from now on: the API key
    (``llm_api_key_env``), the HTTP API key, the Slack tokens and the UI password never reach a
    log, in a message or a traceback, nor does a password in a URL. Records are masked as they are
    made, so handlers added later (uvicorn's, the last-resort stderr one) write masked text too.
    Called by each entry point; calling it again replaces the secrets."""
    env = os.environ if env is None else env
    secrets = SecretFilter(env.get(name, "") for name in (config.llm_api_key_env, *SECRET_VARIABLES))
    base = logging.getLogRecordFactory()
    if isinstance(base, _MaskingFactory):
        base = base.base
    logging.setLogRecordFactory(_MaskingFactory(base, secrets))
    return secrets


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def reference() -> str:
    """The configuration reference as Markdown (``docs/configuration.md``), from each field's
    description: ``python -m index.config > docs/configuration.md`` writes it."""
    lines = [
        "# Configuration",
        "",
        "Every setting has a default; set any of them in a TOML file (`assistant --config FILE`, or the file",
        f"named by `{ENV_PREFIX}CONFIG`), in an environment variable `{ENV_PREFIX}<NAME>`, or, for the common",
        "ones, with a command-line flag (`assistant --help`). Later ones win: file, then environment, then",
        "flags. In Python, pass them to `Config(...)` or `Assistant(...)` as keyword arguments.",
        "",
        "This page is generated from the settings' own descriptions by `python -m index.config`.",
        "",
        "| setting | environment variable | default | what it does |",
        "|---|---|---|---|",
    ]
    for name, field in Config.model_fields.items():
        if field.default_factory is not None:
            default = "see description"
        elif isinstance(field.default, Path) or (
            isinstance(field.default, list) and field.default and isinstance(field.default[0], Path)
        ):
            default = "the bundled corpus" if field.default == [BUNDLED_CORPUS] else str(field.default)
        else:
            default = f"`{json.dumps(field.default)}`"
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `{name}` | `{ENV_PREFIX}{name.upper()}` | {default} | {description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(reference(), end="")
