"""The evaluation harness behind ``assistant eval``.

Reads questions in the format of ``dev_questions.jsonl`` (id, type, question, gold_titles,
answer_keywords) and measures retrieval hits, keyword coverage of fact answers, refusals and
latency through the public API.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.api import Assistant
from index.records import normalise_title


@dataclass
class Question:
    id: str
    type: str
    question: str
    gold_titles: list[str] = field(default_factory=list)
    answer_keywords: list[str] = field(default_factory=list)

    @property
    def answerable(self) -> bool:
        return bool(self.gold_titles)


def load_questions(path: Path) -> list[Question]:
    """Read a JSON Lines question file; a bad line raises ValueError naming the line."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            questions.append(
                Question(
                    id=str(d.get("id", number)),
                    type=str(d.get("type", "")),
                    question=str(d["question"]),
                    gold_titles=list(d.get("gold_titles") or []),
                    answer_keywords=list(d.get("answer_keywords") or []),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a question record ({exc})") from None
    return questions


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def evaluate(assistant: Assistant, questions: list[Question]) -> dict[str, Any]:
    """Run every question through retrieve() and ask(); return the metrics and per-question rows."""
    rows = []
    latencies = []
    for q in questions:
        ranked = [normalise_title(s.title) for s in assistant.retrieve(q.question, k=10)]
        gold = [normalise_title(t) for t in q.gold_titles]
        started = time.perf_counter()
        answer = assistant.ask(q.question)
        latencies.append(time.perf_counter() - started)
        text = answer.text.lower()
        rows.append(
            {
                "id": q.id,
                "type": q.type,
                "hit1": bool(gold) and ranked[:1] == gold[:1] if len(gold) == 1 else None,
                "hit5": bool(gold) and gold[0] in ranked[:5] if len(gold) == 1 else None,
                "recall10": sum(g in ranked for g in gold) / len(gold) if len(gold) > 1 else None,
                "keywords": all(k.lower() in text for k in q.answer_keywords) if q.answer_keywords else None,
                "refused": answer.refused,
                "answerable": q.answerable,
                "answer": answer.text,
            }
        )
    return {"metrics": _metrics(rows, latencies), "questions": rows}


def _share(rows: list[dict], key: str, where=lambda r: True) -> float | None:
    values = [r[key] for r in rows if r[key] is not None and where(r)]
    return round(sum(values) / len(values), 4) if values else None


def _metrics(rows: list[dict], latencies: list[float]) -> dict[str, Any]:
    return {
        "questions": len(rows),
        "hit@1": _share(rows, "hit1"),
        "hit@5": _share(rows, "hit5"),
        "multi_recall@10": _share(rows, "recall10"),
        "fact_keywords": _share(rows, "keywords", lambda r: r["type"] == "fact"),
        "all_keywords": _share(rows, "keywords"),
        "refusal_rate_unanswerable": _share(rows, "refused", lambda r: not r["answerable"]),
        "false_refusal_rate": _share(rows, "refused", lambda r: r["answerable"]),
        "ask_p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "ask_p95_ms": round(1000 * _percentile(latencies, 0.95), 1),
    }


def format_metrics(metrics: dict[str, Any]) -> str:
    """The metrics as an aligned two-column table."""
    width = max(len(k) for k in metrics)
    return "\n".join(f"{k:<{width}}  {'n/a' if v is None else v}" for k, v in metrics.items())
