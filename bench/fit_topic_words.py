"""Refit the model that tells which words of a refused question name its topic
(``assistant.judge.WordModel``) and write assistant/data/topic_words.json.

    python bench/fit_topic_words.py [--check] [--without SET ...]

Data: the tuning part of assistant/data/questions.jsonl (never the held-out part), written for this
project from the bundled corpus and shipped under the project's licence. Every word of a tuning
question that a refusal could name (``assistant.judge.unseen``: in no indexed paper, not a
stopword, not a misspelling) is a row; it is a topic word when the question is about a topic no
abstract covers and the word is one of the terms its author marked as that topic ("federated" in
"Are there papers on federated learning ...?"), and not one otherwise ("vaguely" in "I vaguely
remember a paper ...", or any such word of a question the abstracts do answer). Logistic regression
(scikit-learn, L2, C chosen by 5-fold cross-validation over whole question sets, fixed folds, on
features rounded to FEATURE_DECIMALS and one BLAS thread), so a rerun writes the same weights. The
naming threshold is the lowest at which at least MIN_PRECISION of the words the cross-validated
model would name are marked topic words (the marks are not exhaustive: a second topic word of a
question counts against it, so the figure is a floor). ``--check`` fits and prints without writing.
Under a minute on two cores.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
from _common import FEATURE_DECIMALS, best_logistic, fit_provenance, single_threaded, write_weights

from assistant import Assistant
from assistant.evaluate import DEFAULT_QUESTIONS, load_questions
from assistant.judge import WORD_FEATURES, WORDS_FILE, unseen, word_features
from assistant.questions import core, read
from index.text import terms

MIN_PRECISION = 0.7


def rows(assistant: Assistant, without: frozenset[str]) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Features, labels (a marked topic word), the words and their question sets (id prefixes)."""
    search = assistant.open().search
    embed = search.embedder.embed_queries
    x, y, words, sets = [], [], [], []
    for q in load_questions(DEFAULT_QUESTIONS):
        group = q.id.rsplit("-", 1)[0]
        if q.split != "tuning" or group in without:
            continue
        text = read(core(q.question)).text
        marked = {t for g in q.gap_terms for t in terms(g)} if q.type == "absent" else set()
        candidates = unseen(text, search.keyword)
        if not candidates:
            continue
        whole = embed([text])[0]
        for word in candidates:
            x.append(word_features(text, word, embed, whole))
            y.append(int(bool({t for part in word.word.split("-") for t in terms(part)} & marked)))
            words.append(word.word)
            sets.append(group)
    return np.round(np.array(x), FEATURE_DECIMALS), np.array(y), words, sets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fit and print, do not write the weights")
    parser.add_argument("--without", action="append", default=[], metavar="SET", help="leave out a question set")
    args = parser.parse_args()
    without = frozenset(args.without)
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    x, y, words, sets = rows(Assistant(), without)
    folds = list(GroupKFold(5).split(x, y, groups=sets))
    auc, c, p = best_logistic(x, y, folds, (0.1, 0.3, 1.0, 3.0))
    name_at = next(
        (float(t) for t in np.sort(np.unique(p)) if y[p >= t].mean() >= MIN_PRECISION),
        1.0,
    )
    named = p >= name_at
    print(
        f"{len(y)} candidate words ({int(y.sum())} marked topic words), C={c}, cross-validated AUC {auc:.3f}; "
        f"name at {name_at:.3f}: precision {y[named].mean():.3f}, recall {named[y == 1].mean():.3f}"
    )
    print("  named, not marked:", ", ".join(sorted({w for w, n, t in zip(words, named, y) if n and not t})))
    fitted = LogisticRegression(C=c, max_iter=10_000, fit_intercept=False).fit(x, y)
    weights = {f: round(float(w), 4) for f, w in zip(WORD_FEATURES, fitted.coef_[0])}
    print(json.dumps(weights))
    if args.check:
        return 0
    provenance = fit_provenance(
        "bench/fit_topic_words.py",
        ("words", len(y)),
        f"scikit-learn LogisticRegression(C={c}, no intercept: 'bias' is a feature), 5-fold CV over question sets",
        auc,
        without,
    )
    payload = {"weights": weights, "name_at": round(name_at, 4), "provenance": provenance}
    write_weights(WORDS_FILE, payload)
    return 0


if __name__ == "__main__":
    with single_threaded():
        sys.exit(main())
