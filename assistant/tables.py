"""Evidence tables: one row per paper, one column per question a reader of a field asks of each
paper (the problem, the method, the data and benchmarks, the headline result, whether code or data
are released), every cell citing the abstract sentence it came from.

The extractive filling takes whole sentences of the abstract by their rhetorical role
(``assistant/roles.py``) and a few plain signals, so every filled cell is a span of its paper's
abstract. An LLM backend fills a row per paper from a JSON reply; each cell it writes is checked
like an answer sentence (supported by the paper's abstract, else emptied with the reason), and a
row whose LLM call fails is filled extractively instead, with a notice saying so.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from assistant.answer import MARKER, Source
from assistant.citations import cite, defuse
from assistant.roles import Role, availability, contribution, headline_result, roles
from index.text import sentence_spans

COLUMNS = ("problem", "method", "data", "result", "code")
HEADERS = {
    "problem": "Problem",
    "method": "Method (contribution)",
    "data": "Data and benchmarks",
    "result": "Headline result",
    "code": "Code or data released",
}
# why a cell the abstract does not fill is empty
NOT_STATED = {
    "problem": "not stated: the abstract opens with what the paper does",
    "method": "not stated: the abstract is empty",
    "data": "not stated: no dataset or benchmark named",
    "result": "not stated: no result reported",
    "code": "not stated: no release of code or data mentioned",
}
UNSUPPORTED = "left empty: the LLM's text for this cell is not supported by the abstract"
MAX_PAPERS = 20

Support = Callable[[str, Source], tuple[float, str]]  # claim, source -> (score 0..1, best abstract sentence)


@dataclass(frozen=True)
class Cell:
    """One cell: ``text`` (a span of the cited abstract, or an LLM's text the abstract supports),
    the abstract ``sentence`` it came from, and the paper it cites as [``number``]; an empty cell
    has no text and says why in ``reason``."""

    column: str
    paper_id: str
    number: int
    text: str = ""
    sentence: str = ""
    reason: str | None = None

    @property
    def empty(self) -> bool:
        return not self.text

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "sentence": self.sentence, "paper_id": self.paper_id, "citation": self.number,
                "reason": self.reason}  # fmt: skip


@dataclass(frozen=True)
class Row:
    """One paper: its number (every cell of the row cites [number]), identity and cells in
    ``COLUMNS`` order."""

    number: int
    paper_id: str
    title: str
    url: str | None
    cells: tuple[Cell, ...]
    backend: str = "extractive"  # what filled this row

    def cell(self, column: str) -> Cell:
        return self.cells[COLUMNS.index(column)]


@dataclass(frozen=True)
class EvidenceTable:
    """A table of papers: rows in order (the retrieval ranking for a topic, the order given for a
    list), the topic it was made for, the backend that filled it and any notice."""

    rows: tuple[Row, ...]
    topic: str | None = None
    backend: str = "extractive"
    notice: str | None = None  # e.g. that the LLM failed and some rows were filled extractively
    filters: str | None = None  # filters read from the topic, in words
    columns: tuple[str, ...] = field(default=COLUMNS)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``assistant table --json`` and ``POST /v1/table``."""
        return {
            "topic": self.topic,
            "backend": self.backend,
            "notice": self.notice,
            "filters": self.filters,
            "columns": [{"key": c, "header": HEADERS[c]} for c in self.columns],
            "rows": [
                {
                    "number": r.number,
                    "paper_id": r.paper_id,
                    "title": r.title,
                    "url": r.url,
                    "backend": r.backend,
                    "cells": {c.column: c.to_dict() for c in r.cells},
                }  # fmt: skip
                for r in self.rows
            ],
        }

    def header(self) -> list[str]:
        """The column headings of ``grid`` and the Markdown table."""
        return ["#", "Paper", *(HEADERS[c] for c in self.columns)]

    def grid(self) -> list[list[str]]:
        """The rows as plain text under ``header()``: number, title, then each cell citing [n], or
        the reason it is empty."""
        return [
            [str(r.number), r.title, *(cite(c.text, c.number) if c.text else c.reason or "" for c in r.cells)]
            for r in self.rows
        ]

    def to_markdown(self) -> str:
        """A Markdown table whose cells cite [n], the numbered papers under it, then any notes."""
        head = self.header()
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in self.rows:
            cells = [cite(_md_cell(c.text), c.number) if c.text else f"*{_md_cell(c.reason or '')}*" for c in row.cells]
            lines.append("| " + " | ".join([str(row.number), _md_cell(row.title), *cells]) + " |")
        lines.append("")
        for row in self.rows:
            link = f" <{row.url}>" if row.url and _web(row.url) else ""
            lines.append(f"{row.number}. {_md_cell(row.title)} (id {row.paper_id}){link}")
        notes = [f"Topic: {self.topic}" if self.topic else "", f"Filters read from the topic: {self.filters}"
                 if self.filters else "", f"Note: {self.notice}" if self.notice else ""]  # fmt: skip
        notes = [n for n in notes if n]
        return "\n".join(lines + ([""] + notes if notes else [])) + "\n"

    def to_csv(self) -> str:
        """One line per paper: number, id, title, URL, then each column's cited text (or why it is empty)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["number", "paper_id", "title", "url", *self.columns])
        for row in self.rows:
            writer.writerow([row.number, row.paper_id, _csv_text(row.title), row.url or "",
                             *(_csv_text(c.text or c.reason or "") for c in row.cells)])  # fmt: skip
        return out.getvalue()


def _csv_text(text: str) -> str:
    """Text a spreadsheet shows as text: one that opens like a formula ("=HYPERLINK(...)") is quoted."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _md_cell(text: str) -> str:
    """Text that stays inside one Markdown table cell: pipes escaped, lines joined, [n] defused."""
    return defuse(" ".join(text.split())).replace("|", "\\|")


def _web(url: str) -> bool:
    return url.lower().startswith(("http://", "https://")) and not any(c in url for c in "<> ")


# the extractive filling

_PROBLEM = re.compile(
    r"\b(?:however|but|yet|although|despite|challeng\w*|problem\w*|difficult\w*|limit\w*|lack\w*|insufficient"
    r"|inadequate|fail\w*|struggl\w*|remains?|unclear|unknown|poorly|costly|expensive|bottleneck\w*|gap|issue\w*"
    r"|suffer\w*|hinder\w*|not|little|few|rarely|ignore\w*|overlook\w*|scarce|hard|open question)\b",
    re.I,
)
_DATA_WORD = re.compile(
    r"\b(?:data ?sets?|benchmarks?|corpus|corpora|test ?beds?|test sets?|leaderboards?|evaluation suites?"
    r"|(?:collect|curat|annotat|record)\w* (?:\w+ ){0,3}(?:videos|images|recordings|dialogues|trajectories))\b",
    re.I,
)
_EVALUATED_ON = re.compile(
    r"\b(?:evaluat\w*|experiments?|test\w*|benchmark\w*|validat\w*|trained|fine-tuned)\b(?: [\w-]+){0,4} (?:on|across)"
    r"\b(?P<what>(?: [\w-]+){0,6} (?:tasks?|data ?sets?|benchmarks?|suites?|corpus|corpora|splits?|environments))?",
    re.I,
)
_OTHERS = re.compile(r"\b(?:existing|traditional|prior|previous|conventional|current)\b", re.I)
_OURS = re.compile(r"\b(?:we|our|this (?:paper|work))\b", re.I)
_NAMED = re.compile(r"\b[A-Z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*\b")
# capitalised identifiers that name no dataset: models, fields, units, venues
_GENERIC = frozenset(
    """AI ML NLP CV RL IL CL QA LLM LLMs LM LMs VLM VLMs MLLM MLLMs VLA VLAs GPU GPUs CPU CPUs TPU API APIs SOTA
    CNN CNNs RNN RNNs GNN GNNs LSTM MLP MLPs RGB RGBD FPS SFT RLHF DPO PPO LoRA PEFT CoT ICL RAG KD MoE PhD URL
    HTTP GitHub HuggingFace ArXiv OpenAI ChatGPT GPT GPT-3 GPT-3.5 GPT-4 GPT-4o Llama LLaMA Llama-2 Llama-3 BERT
    RoBERTa T5 Transformer Transformers ACL EMNLP NAACL NeurIPS ICML ICLR CVPR ICCV ECCV AAAI IJCAI TL DR""".split()
)


_MODIFIERS = ("-based", "-like", "-style", "-driven", "-specific", "-level", "-aware", "-free", "-only", "-scale")


def _named(sentence: str, own: set[str]) -> list[str]:
    """Capitalised identifiers in ``sentence`` that may name a dataset or benchmark (GSM8K,
    HumanEval, CIFAR-100): an inner capital or a digit, not generic and not the paper's own names."""
    found = []
    for name in _NAMED.findall(sentence):
        parts = re.split(r"[-.]", name)  # "Pre-Training" is two words; "HumanEval", "GSM8K", "MNIST" are names
        coined = any(any(ch.isupper() or ch.isdigit() for ch in part[1:]) for part in parts)
        if name.lower().endswith(_MODIFIERS):  # "CNN-based" describes, it names nothing
            continue
        defined = f"({name})" in sentence  # "Continual Pre-Training (CPT)": a term, not a dataset
        if coined and len(name) >= 3 and name not in _GENERIC and name not in own and not defined:
            found.append(name)
    return found


def _name_weight(name: str) -> float:
    """How surely an identifier names data: GSM8K, HumanEval and MNIST more than a short acronym."""
    return 0.75 if any(ch.isdigit() or ch.islower() for ch in name) or len(name) >= 4 else 0.4


def _own_names(title: str, contribution_sentence: str | None) -> set[str]:
    """The identifiers the paper calls itself by: those in its title and its contribution sentence."""
    return set(_NAMED.findall(title)) | set(_NAMED.findall(contribution_sentence or ""))


def _data_sentence(abstract: str, title: str, method: str | None) -> str | None:
    """The sentence that best names the paper's data or benchmarks: dataset words ("dataset",
    "benchmark", "corpus"), "evaluated on ...", and capitalised identifiers that are not the paper's
    own names; never the background (other people's data) or the release sentence."""
    own = _own_names(title, method)
    best, best_score = None, 0.0
    for sentence, role in roles(abstract):
        if role in (Role.BACKGROUND, Role.AVAILABILITY):
            continue
        if _OTHERS.search(sentence) and not _OURS.search(sentence):
            continue  # other people's data ("existing datasets lack ...")
        evaluated = _EVALUATED_ON.search(sentence)
        score = 2.0 * bool(_DATA_WORD.search(sentence))
        score += (2.0 if evaluated["what"] else 1.25) if evaluated else 0.0  # "evaluated on ... tasks": 2
        score += min(sum(_name_weight(n) for n in set(_named(sentence, own))), 2.25)
        score += 0.25 * bool(re.search(r"\d", sentence))
        if score >= 2.0 and score > best_score:
            best, best_score = sentence, score
    return best


def _problem_sentence(abstract: str, method: str | None) -> str | None:
    """The motivation before the contribution: the last sentence before it that names a problem
    ("However, existing benchmarks are insufficient ..."), else the last one before it."""
    before: list[str] = []
    for sentence, role in roles(abstract):
        if role is Role.CONTRIBUTION or sentence == method:
            break
        if role is Role.BACKGROUND:
            before.append(sentence)
    return next((s for s in reversed(before) if _PROBLEM.search(s)), before[-1] if before else None)


def extract_row(number: int, source: Source) -> Row:
    """A row filled with whole sentences of the abstract, chosen by role."""
    abstract = source.abstract
    method = contribution(abstract)
    found = {
        "problem": _problem_sentence(abstract, method),
        "method": method,
        "data": _data_sentence(abstract, source.title, method),
        "result": headline_result(abstract),
        "code": availability(abstract),
    }
    cells = tuple(
        Cell(c, source.paper_id, number, text, text) if (text := found[c]) else
        Cell(c, source.paper_id, number, reason=NOT_STATED[c])
        for c in COLUMNS
    )  # fmt: skip
    return Row(number, source.paper_id, source.title, source.url, cells)


# the LLM filling

_NULLS = {"", "null", "none", "n/a", "na", "not stated", "not mentioned", "not reported", "unknown", "-"}


def _norm(text: str) -> str:
    return " ".join(text.split())


def _quoted(text: str, abstract: str) -> str | None:
    """The abstract sentence(s) holding ``text`` word for word (spaces aside), else None."""
    whole = _norm(abstract)
    span = _norm(text).rstrip(".")
    found = re.search(rf"(?<!\w){re.escape(span)}(?!\w)", whole) if span else None  # "solves 9" is not "solves 95%"
    if found is None:
        return None
    at = found.start()
    covering = [whole[s:e] for s, e in sentence_spans(whole) if s < at + len(span) and e > at]
    return " ".join(covering) or None


def checked_cell(column: str, value: Any, number: int, source: Source, support: Support, min_support: float) -> Cell:
    """An LLM's cell, kept when it quotes the abstract or the abstract supports it (as every answer
    sentence is checked), else emptied with the reason."""
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value if v)
    text = _norm(MARKER.sub("", str(value or ""))).strip(" \"'“”")
    if text.lower().rstrip(".") in _NULLS:
        return Cell(column, source.paper_id, number, reason=NOT_STATED[column])
    quoted = _quoted(text, source.abstract)
    if quoted:
        return Cell(column, source.paper_id, number, text, quoted)
    score, sentence = support(text, source)
    if score >= min_support and sentence:
        return Cell(column, source.paper_id, number, text, sentence)
    return Cell(column, source.paper_id, number, reason=UNSUPPORTED)


def parse_reply(reply: str) -> dict[str, Any] | None:
    """The JSON object in a model's reply (bare, or in a code fence), or None."""
    start, end = reply.find("{"), reply.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        parsed = json.loads(reply[start : end + 1])
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def llm_rows(
    sources: Sequence[Source],
    complete: Callable[[list[dict[str, str]]], str],
    prompt: str,
    support: Support,
    min_support: float,
    workers: int = 1,
    backend: str = "llm",
) -> list[Row | Exception]:
    """One row per source from the LLM (``complete``: messages in, the whole reply out), or the
    error that kept it from one; up to ``workers`` papers are asked at once."""
    from assistant.backends.base import BackendError

    def row(numbered: tuple[int, Source]) -> Row | Exception:
        number, source = numbered
        user = f"Title: {defuse(source.title)}\n\nAbstract:\n{defuse(source.abstract)}"
        try:
            reply = complete([{"role": "system", "content": prompt}, {"role": "user", "content": user}])
        except BackendError as exc:
            return exc
        parsed = parse_reply(reply)
        if parsed is None:
            return BackendError("the LLM did not reply with a JSON object")
        cells = tuple(checked_cell(c, parsed.get(c), number, source, support, min_support) for c in COLUMNS)
        return Row(number, source.paper_id, source.title, source.url, cells, backend)

    numbered = list(enumerate(sources, 1))
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(numbered)))) as pool:
        return list(pool.map(row, numbered))
