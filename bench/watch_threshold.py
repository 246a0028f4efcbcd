"""How close a paper must be to a standing question (a watch) to be reported: measured on the
bundled corpus and the evaluation set's "which papers ..." questions.

    python bench/watch_threshold.py [--json]

A watch reports a new paper when the best cosine between the question and one of the paper's
stored chunks (the dense similarity retrieval uses) is at least ``watch_threshold``. Each
"which papers" question with two or more gold papers stands for a watch on its topic: its gold
papers should be reported, the other 420-odd papers should not; each question about a topic no
abstract covers ("absent") should report nothing. For every threshold this prints precision,
recall and F1 over the topic questions, and the share of absent-topic questions that would report
at least one paper, on the tuning part of the set (where the threshold is chosen) and on the
held-out part (where it is checked).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from assistant import Assistant
from assistant.questions import core

QUESTIONS = Path(__file__).resolve().parent.parent / "assistant" / "data" / "questions.jsonl"
THRESHOLDS = [round(0.30 + 0.025 * i, 3) for i in range(17)]


def similarities(assistant: Assistant, rows: list[dict]) -> list[tuple[dict, dict[str, float]]]:
    search = assistant.open().search
    ids = list(search.papers)
    out = []
    for row in rows:
        vector = search.embedder.embed_query(core(row["question"]))
        out.append((row, search.store.chunk_similarity(vector, ids)))
    return out


def measure(scored: list[tuple[dict, dict[str, float]]], titles: dict[str, str], threshold: float) -> dict:
    tp = fp = fn = 0
    absent = noisy = 0
    for row, sims in scored:
        found = {pid for pid, s in sims.items() if s >= threshold}
        if row["type"] == "absent":
            absent += 1
            noisy += bool(found)
            continue
        gold = {pid for pid, t in titles.items() if t in set(row["gold_titles"])}
        tp += len(found & gold)
        fp += len(found - gold)
        fn += len(gold - found)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"threshold": threshold, "precision": round(precision, 3), "recall": round(recall, 3),
            "f1": round(f1, 3), "absent_reporting": round(noisy / absent, 3) if absent else 0.0}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    topics = [r for r in rows if r["type"] == "which" and len(r["gold_titles"]) >= 2]
    absent = [r for r in rows if r["type"] == "absent" and r.get("kind") == "which"]
    assistant = Assistant()
    titles = {p.paper_id: p.title for p in assistant.papers()}
    result = {}
    for part in ("tuning", "heldout"):
        scored = similarities(assistant, [r for r in topics + absent if r["split"] == part])
        counts = {kind: sum(r["type"] == kind for r, _ in scored) for kind in ("which", "absent")}
        result[part] = {**counts, "rows": [measure(scored, titles, t) for t in THRESHOLDS]}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for part, got in result.items():
        print(f"{part}: {got['which']} topic questions, {got['absent']} absent-topic questions")
        print("threshold  precision  recall  f1     absent reporting")
        for r in got["rows"]:
            print(f"{r['threshold']:<10} {r['precision']:<10} {r['recall']:<7} {r['f1']:<6} {r['absent_reporting']}")


if __name__ == "__main__":
    main()
