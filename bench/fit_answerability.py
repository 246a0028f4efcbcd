"""Fit the "no abstract is about this" model of assistant/answerability.py on the TUNING part of
data/eval/questions.jsonl (never the held-out part), and print the weights to paste into
ABSENT_WEIGHTS / ABSENT_BIAS.

    python bench/fit_answerability.py [--data-dir DIR]

Rows are the tuning questions that reach the check (not metadata questions, not questions that
name an indexed paper, not those a missing detail already answers); the label is whether the
question is unanswerable. Logistic regression by gradient descent with a little L2, features as
``absent_features`` computes them from the sources the product itself retrieves.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from _common import REPO

from assistant import Assistant, Config
from assistant.answerability import absent_features, absent_probability, named_sources
from assistant.evaluate import DEFAULT_QUESTIONS, load_questions
from assistant.questions import Kind, read


def rows(assistant: Assistant) -> list[tuple[str, tuple[float, ...], int, float]]:
    """(id, features, unanswerable, current probability) for each tuning question the check sees."""
    search, _ = assistant._ready()
    out = []
    for q in load_questions(DEFAULT_QUESTIONS):
        if q.split != "tuning":
            continue
        answer = assistant.ask(q.question)
        sources = answer.sources
        if not sources or read(q.question).kind is Kind.METADATA or named_sources(q.question, sources):
            continue
        if answer.refused and answer.citations:  # a gap said of one paper: decided before the check
            continue
        x = absent_features(q.question, sources, search.keyword.idf)
        out.append((q.id, x, int(not q.answerable), absent_probability(q.question, sources, search.keyword.idf)))
    return out


def fit(x: np.ndarray, y: np.ndarray, l2: float = 0.001, steps: int = 20000) -> np.ndarray:
    x = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-x @ w))
        w -= 0.5 * (x.T @ (p - y) / len(y) + l2 * np.r_[w[:-1], 0])
    return w


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO / "bench" / ".cache" / "fit-store")
    args = parser.parse_args()
    data = rows(Assistant(Config(data_dir=args.data_dir)))
    x = np.array([r[1] for r in data])
    y = np.array([r[2] for r in data])
    w = fit(x, y)
    p = 1 / (1 + np.exp(-(np.hstack([x, np.ones((len(x), 1))]) @ w)))
    caught, wrong = int(((p >= 0.5) & (y == 1)).sum()), int(((p >= 0.5) & (y == 0)).sum())
    print(f"{len(data)} tuning questions reach the check; {int(y.sum())} unanswerable")
    print(f"ABSENT_WEIGHTS = ({', '.join(f'{v:.2f}' for v in w[:-1])})")
    print(f"ABSENT_BIAS = {w[-1]:.2f}")
    print(f"with these: {caught}/{int(y.sum())} unanswerable refused, {wrong}/{int((y == 0).sum())} answerable refused")


if __name__ == "__main__":
    main()
