"""The evaluation harness behind ``assistant eval``.

Reads questions in JSON Lines (id, type, split, question, gold_titles, answer_keywords, answerable,
gap_terms; ``dev_questions.jsonl``'s older shape also reads) and measures, through the public API,
per question type and per split: retrieval hits, keyword coverage of the answers, refusals of
unanswerable questions and false refusals, whether the gold papers are cited, and latency.

The repository's own set, ``assistant/data/questions.jsonl``, was written from the bundled corpus and
split once, by paper, into a tuning part (two thirds) and a held-out part (one third): no paper
has questions in both. Thresholds are tuned on the tuning part only.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.api import Assistant
from index.records import normalise_title

DEFAULT_QUESTIONS = Path(__file__).resolve().parent / "data" / "questions.jsonl"  # package data
FIRST_RUNS = Path(__file__).resolve().parent / "data" / "first_runs.json"  # figures of question sets run once
UNANSWERABLE = ("absent", "gap", "unanswerable")


@dataclass
class Question:
    id: str
    type: str
    question: str
    gold_titles: list[str] = field(default_factory=list)
    answer_keywords: list[str] = field(default_factory=list)
    answerable: bool = True
    gap_terms: list[str] = field(default_factory=list)
    split: str = "tuning"


def load_questions(path: Path) -> list[Question]:
    """Read a JSON Lines question file; a bad line raises ValueError naming the line."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            kind = str(d.get("type", ""))
            gold = list(d.get("gold_titles") or [])
            questions.append(
                Question(
                    id=str(d.get("id", number)),
                    type=kind,
                    question=str(d["question"]),
                    gold_titles=gold,
                    answer_keywords=list(d.get("answer_keywords") or []),
                    answerable=bool(d.get("answerable", bool(gold) and kind not in UNANSWERABLE)),
                    gap_terms=list(d.get("gap_terms") or []),
                    split=str(d.get("split", "tuning")),
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path}:{number}: not a question record ({exc})") from None
    return questions


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def judge(q: Question, ranked: list[str], answer: Any) -> dict[str, Any]:
    """One question's row: what a reader would check of its answer."""
    gold = [normalise_title(t) for t in q.gold_titles]
    cited = {normalise_title(c.title) for c in answer.citations}
    text = answer.text.lower()
    single = len(gold) == 1
    return {
        "id": q.id,
        "type": q.type,
        "split": q.split,
        "kind": answer.kind,
        "answerable": q.answerable,
        "hit1": ranked[:1] == gold[:1] if single else None,
        "hit5": gold[0] in ranked[:5] if single else None,
        "recall10": sum(g in ranked for g in gold) / len(gold) if len(gold) > 1 else None,
        "keywords": all(k.lower() in text for k in q.answer_keywords) if q.answer_keywords and q.answerable else None,
        "refused": answer.refused,
        "hedged": answer.hedged,
        "cited_gold": gold[0] in cited if single and q.answerable else None,
        "answered_citing_gold": (not answer.refused and gold[0] in cited) if single and q.answerable else None,
        "cited_all_gold": all(g in cited for g in gold) if len(gold) > 1 and q.answerable else None,
        "gap_named": all(t.lower() in text for t in q.gap_terms) if q.gap_terms else None,
        "answer": answer.text,
    }


def evaluate(assistant: Assistant, questions: list[Question]) -> dict[str, Any]:
    """Run every question through retrieve() and ask(); the metrics overall, per split and per
    type, and the per-question rows."""
    rows = []
    latencies = []
    for q in questions:
        ranked = [normalise_title(s.title) for s in assistant.retrieve(q.question, k=10)]
        started = time.perf_counter()
        answer = assistant.ask(q.question)
        latencies.append(time.perf_counter() - started)
        rows.append(judge(q, ranked, answer))
    splits = sorted({r["split"] for r in rows}, key=lambda s: (s != "tuning", s))
    return {
        "metrics": {**metrics(rows), **_latency(latencies)},
        "splits": {s: metrics([r for r in rows if r["split"] == s]) for s in splits},
        "types": {
            s: {t: metrics([r for r in rows if r["split"] == s and r["type"] == t]) for t in _types(rows)}
            for s in splits
        },
        "questions": rows,
    }


def _types(rows: Iterable[dict]) -> list[str]:
    return sorted({r["type"] for r in rows})


def _share(rows: list[dict], key: str, where=lambda r: True) -> float | None:
    values = [r[key] for r in rows if r[key] is not None and where(r)]
    return round(sum(values) / len(values), 4) if values else None


def metrics(rows: list[dict]) -> dict[str, Any]:
    """The shares over ``rows``; None where no question measures it."""
    return {
        "questions": len(rows),
        "hit@1": _share(rows, "hit1"),
        "hit@5": _share(rows, "hit5"),
        "multi_recall@10": _share(rows, "recall10"),
        "fact_keywords": _share(rows, "keywords", lambda r: r["type"] == "fact"),
        "all_keywords": _share(rows, "keywords"),
        "refused_unanswerable": _share(rows, "refused", lambda r: not r["answerable"]),
        "false_refusal": _share(rows, "refused", lambda r: r["answerable"]),
        "hedged_answerable": _share(rows, "hedged", lambda r: r["answerable"]),
        "hedged_unanswerable": _share(rows, "hedged", lambda r: not r["answerable"]),
        "gold_cited": _share(rows, "cited_gold"),
        "described_answered": _share(rows, "answered_citing_gold", lambda r: r["type"] == "paraphrase"),
        "absent_refused": _share(rows, "refused", lambda r: r["type"] == "absent"),
        "gap_refused": _share(rows, "refused", lambda r: r["type"] == "gap"),
        "multi_all_gold_cited": _share(rows, "cited_all_gold"),
        "gap_named": _share(rows, "gap_named"),
    }


def _latency(latencies: list[float]) -> dict[str, Any]:
    return {
        "ask_p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "ask_p95_ms": round(1000 * _percentile(latencies, 0.95), 1),
    }


def format_report(report: dict[str, Any]) -> str:
    """Per split (tuning | held-out), the headline metrics, then per question type."""
    splits = list(report["splits"])
    keys = [k for k in report["metrics"] if k in next(iter(report["splits"].values()), {})]
    width = max(len(k) for k in keys)
    lines = [f"{'':<{width}}  " + "  ".join(f"{s:>9}" for s in splits)]
    for k in keys:
        cells = ["n/a" if (v := report["splits"][s][k]) is None else str(v) for s in splits]
        lines.append(f"{k:<{width}}  " + "  ".join(f"{c:>9}" for c in cells))
    lines.append("")
    for s in splits:
        lines.append(f"by type, {s}:")
        shown = [k for k in keys if k != "multi_recall@10"]
        lines.append(f"  {'type':<12} " + " ".join(f"{k[:10]:>10}" for k in shown))
        for t, m in report["types"][s].items():
            if m["questions"]:
                cells = [
                    "-" if m[k] is None else f"{m[k]:.2f}" if isinstance(m[k], float) else str(m[k]) for k in shown
                ]
                lines.append(f"  {t:<12} " + " ".join(f"{c:>10}" for c in cells))
    lines.append("")
    lines.append(f"ask p50 {report['metrics']['ask_p50_ms']} ms, p95 {report['metrics']['ask_p95_ms']} ms")
    return "\n".join(lines)


# The figures of the report, in its order, with what each measures
HEADLINE = (
    ("questions", "questions"),
    ("false_refusal", "answerable questions refused"),
    ("hedged_answerable", "answerable questions answered with a hedge"),
    ("described_answered", "papers described in everyday words: answered citing the paper"),
    ("absent_refused", "topics no abstract covers: refused"),
    ("hedged_unanswerable", "unanswerable questions given a hedged closest match"),
    ("gap_refused", "details a named abstract lacks: refused"),
    ("fact_keywords", "fact answers with every keyword"),
    ("gold_cited", "single-paper questions citing the paper"),
    ("multi_all_gold_cited", "multi-paper questions citing every paper"),
    ("hit@5", "the paper in the top 5 retrieved"),
)


def first_run(report: dict[str, Any], name: str, when: str, code: str | None = None) -> dict[str, Any]:
    """The record of a question set's first run: its name, the code it ran on, date and figures."""
    return {"set": name, "code": code, "date": when, **{k: report["metrics"].get(k) for k, _ in HEADLINE}}


def load_first_runs(path: Path = FIRST_RUNS) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def record_first_run(record: dict[str, Any], path: Path = FIRST_RUNS) -> None:
    """Append ``record`` to the first runs, unless that question set has one: a first run is run once."""
    runs = load_first_runs(path)
    if any(r["set"] == record["set"] for r in runs):
        raise ValueError(f"{record['set']} already has a first run recorded in {path}")
    path.write_text(json.dumps([*runs, record], indent=1) + "\n", encoding="utf-8")


def _cell(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def markdown_report(report: dict[str, Any], command: str, when: str, first_runs: list[dict[str, Any]]) -> str:
    """The evaluation report as Markdown: per part of the question set, then the first runs of
    question sets written after the code they measure (``docs/evaluation.md``)."""
    splits = list(report["splits"])
    lines = [
        "# Evaluation",
        "",
        f"Written by `{command}` on {when}. The question set (`assistant/data/questions.jsonl`) was written from "
        "the bundled corpus and split by paper into a tuning part, on which the answering is tuned, and a "
        "held-out part, which is only ever run to report it. Extractive backend.",
        "",
        "| figure | " + " | ".join(splits) + " |",
        "|---|" + "---|" * len(splits),
    ]
    for key, label in HEADLINE:
        lines.append(f"| {label} | " + " | ".join(_cell(report["splits"][s].get(key)) for s in splits) + " |")
    lines += [
        "",
        f"Ask latency over the run: p50 {report['metrics']['ask_p50_ms']} ms, p95 "
        f"{report['metrics']['ask_p95_ms']} ms.",
        "",
    ]
    for s in splits:
        types = {t: m for t, m in report["types"][s].items() if m["questions"]}
        lines += [
            f"## {s} part, by kind of question",
            "",
            "| kind | questions | refused | keywords | paper cited |",
            "|---|---|---|---|---|",
        ]
        for t, m in types.items():
            refused = m["false_refusal"] if m["false_refusal"] is not None else m["refused_unanswerable"]
            cited = m["gold_cited"] if m["gold_cited"] is not None else m["multi_all_gold_cited"]
            lines.append(f"| {t} | {m['questions']} | {_cell(refused)} | {_cell(m['all_keywords'])} | {_cell(cited)} |")
        lines.append("")
    lines.append(first_runs_section(first_runs))
    return "\n".join(lines)


def first_runs_section(first_runs: list[dict[str, Any]]) -> str:
    """The report's table of first runs of new question sets."""
    lines = [
        "## New questions, first run",
        "",
        "Each set below was written by someone who had not read the answering code, about the papers "
        "with the fewest questions in the set above, and run once before anything was changed for it "
        "(`assistant eval FILE --record-first-run`); it then joined the tuning part. These are the figures "
        "to expect on questions the assistant has never seen; `code` is the commit that answered them.",
        "",
        "| question set | code | date | " + " | ".join(label for key, label in HEADLINE) + " |",
        "|---|---|---|" + "---|" * len(HEADLINE),
    ]
    for r in first_runs:
        cells = " | ".join(_cell(r.get(k)) for k, _ in HEADLINE)
        lines.append(f"| {r['set']} | {r.get('code', '–')} | {r['date']} | {cells} |")
    return "\n".join(lines) + "\n"
