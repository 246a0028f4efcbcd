"""Fit the "no abstract is about this" model of assistant/answerability.py on the TUNING part of
assistant/data/questions.jsonl (never the held-out part), and print the weights to paste into
ABSENT_WEIGHTS / ABSENT_BIAS.

    python bench/fit_answerability.py [--data-dir DIR]

Rows are the tuning questions that reach the check (not metadata questions, not questions that
name an indexed paper, not those a missing detail already answers); the label is whether the
question is unanswerable. Logistic regression, features as ``absent_features`` computes them from
the sources the product itself retrieves; L2 and threshold chosen by 5-fold cross-validation
within the tuning part: the most unanswerable questions refused with at most MAX_WRONG of the
answerable ones refused.
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

MAX_WRONG = 0.025  # answerable questions this model may refuse (others are refused for other reasons)


def rows(assistant: Assistant) -> list[tuple[str, tuple[float, ...], int, float]]:
    """(id, features, unanswerable, current probability) for each tuning question the check sees."""
    search = assistant.open().search
    out = []
    for q in load_questions(DEFAULT_QUESTIONS):
        if q.split != "tuning":
            continue
        answer = assistant.ask(q.question)
        sources = answer.sources
        if (
            not sources
            or read(q.question).kind is Kind.METADATA
            or named_sources(q.question, sources, search.keyword.idf)
        ):
            continue
        if answer.refused and answer.citations:  # a gap said of one paper: decided before the check
            continue
        x = absent_features(q.question, sources, search.keyword.idf)
        out.append((q.id, x, int(not q.answerable), absent_probability(q.question, sources, search.keyword.idf)))
    return out


def fit(x: np.ndarray, y: np.ndarray, l2: float, steps: int = 5000) -> np.ndarray:
    """Logistic regression on standardised features; the weights returned are for raw features,
    bias last."""
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-z @ w))
        w -= 0.5 * (z.T @ (p - y) / len(y) + l2 * np.r_[w[:-1], 0])
    raw = w[:-1] / std
    return np.r_[raw, w[-1] - float(raw @ mean)]


def predict(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(x @ w[:-1] + w[-1])))


def cross_validate(x: np.ndarray, y: np.ndarray, l2: float, threshold: float, folds: int = 5) -> tuple[float, float]:
    """Refused share of the unanswerable and of the answerable, each question predicted by a
    model fitted without its fold."""
    order = np.random.default_rng(0).permutation(len(y))
    p = np.zeros(len(y))
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        p[test] = predict(fit(x[train], y[train], l2), x[test])
    refused = p >= threshold
    return float(refused[y == 1].mean()), float(refused[y == 0].mean())


# batches written after the first fits, each before any was run
FRESH_BATCHES = ("h-", "i-", "j-", "k-", "l-", "m-", "n-", "o-", "p-", "q-", "r-")


def by_batch(data: list[tuple[str, tuple[float, ...], int, float]], l2: float, threshold: float) -> None:
    """Leave one fresh batch out: fit on the rest of the tuning part, predict the batch. The
    closest estimate within the tuning part of how the model does on questions it was not fitted on."""
    for prefix in FRESH_BATCHES:
        test = [r for r in data if r[0].startswith(prefix)]
        train = [r for r in data if not r[0].startswith(prefix)]
        if not test:
            continue
        w = fit(np.array([r[1] for r in train]), np.array([r[2] for r in train]), l2)
        y = np.array([r[2] for r in test])
        refused = predict(w, np.array([r[1] for r in test])) >= threshold
        print(
            f"  batch {prefix}: fitted without it, {int(refused[y == 1].sum())} of {int((y == 1).sum())} unanswerable"
            f" and {int(refused[y == 0].sum())} of {int((y == 0).sum())} answerable refused"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO / "bench" / ".cache" / "fit-store")
    args = parser.parse_args()
    data = rows(Assistant(Config(data_dir=args.data_dir)))
    x = np.array([r[1] for r in data])
    y = np.array([r[2] for r in data])
    print(f"{len(data)} tuning questions reach the check; {int(y.sum())} unanswerable")
    grid = []
    for l2 in (0.001, 0.01, 0.03, 0.1, 0.3):
        for threshold in (0.4, 0.5, 0.6, 0.7):
            caught, wrong = cross_validate(x, y, l2, threshold)
            grid.append((wrong <= MAX_WRONG, caught, -wrong, l2, threshold))
    _, caught, wrong, l2, threshold = max(grid)
    wrong = -wrong
    print(f"5-fold CV on the tuning part: l2 {l2}, threshold {threshold}: {caught:.2f} of the unanswerable refused,")
    print(f"{wrong:.3f} of the answerable refused")
    by_batch(data, l2, threshold)
    w = fit(x, y, l2)
    print(f"ABSENT_WEIGHTS = ({', '.join(f'{v:.2f}' for v in w[:-1])})")
    print(f"ABSENT_BIAS = {w[-1]:.2f}")
    print(f"ABSENT_THRESHOLD = {threshold}")


if __name__ == "__main__":
    main()
