"""Refit the question reader's kind model (assistant/questions.py) and write it to
assistant/data/kinds.json.

    python bench/fit_kinds.py [--check]

Data: the tuning part of assistant/data/questions.jsonl (never the held-out part) and
bench/data/kind_questions.jsonl (questions written for this model, in the many ways people ask), both
written for this project from the bundled corpus and under the project's licence; each question's ``kind``
says how it asks (a fact, a quantity, which papers, which one paper, a comparison, a summary, a
listing field, or other). Features: the question's words and word pairs, with a marker word when it
mentions a listing field (``assistant.questions.kind_text``), tf-idf weighted (the
sublinear tf-idf of scikit-learn's TfidfVectorizer, which ``assistant.questions`` computes again
in plain Python); model: multinomial logistic regression, C chosen by 5-fold cross-validation with
a fixed seed, so a rerun writes the same weights. A few seconds on two cores. ``--check`` fits and
prints without writing.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

import numpy as np
from _common import REPO

from assistant.evaluate import DEFAULT_QUESTIONS
from assistant.questions import KIND_LABELS, KINDS_FILE, TOKEN, kind_text

SEED = 0
PHRASINGS = REPO / "bench" / "data" / "kind_questions.jsonl"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fit and print, do not write the model")
    args = parser.parse_args()
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    rows = [json.loads(line) for line in DEFAULT_QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r.get("split", "tuning") == "tuning" and r.get("kind")]
    rows += [json.loads(line) for line in PHRASINGS.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [kind_text(r["question"]) for r in rows]
    labels = np.array([KIND_LABELS.index(r["kind"]) for r in rows])
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, token_pattern=TOKEN.pattern)
    x = vectorizer.fit_transform(texts)
    folds = StratifiedKFold(5, shuffle=True, random_state=SEED)
    scores = {
        c: cross_val_score(LogisticRegression(C=c, max_iter=5000), x, labels, cv=folds).mean() for c in (4, 16, 64)
    }
    c = max(scores, key=lambda k: scores[k])
    model = LogisticRegression(C=c, max_iter=5000).fit(x, labels)
    print(f"{len(rows)} questions, {x.shape[1]} features, C={c}, cross-validated accuracy {scores[c]:.3f}")
    if args.check:
        return 0
    classes = [KIND_LABELS[i] for i in model.classes_]
    vocabulary = {
        term: [round(float(vectorizer.idf_[col]), 4), *(round(float(w), 4) for w in model.coef_[:, col])]
        for term, col in sorted(vectorizer.vocabulary_.items())
    }
    payload = {
        "classes": classes,
        "intercepts": [round(float(b), 4) for b in model.intercept_],
        "vocabulary": vocabulary,
        "provenance": {
            "script": "bench/fit_kinds.py",
            "data": "the tuning part of assistant/data/questions.jsonl and bench/data/kind_questions.jsonl, written "
            "for this project from the bundled corpus (same licence as the project)",
            "questions": len(rows),
            "model": f"scikit-learn TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True) and "
            f"LogisticRegression(C={c}), 5-fold CV, seed {SEED}",
            "cross_validated_accuracy": round(float(scores[c]), 4),
            "fitted": date.today().isoformat(),
        },
    }
    KINDS_FILE.write_text(json.dumps(payload, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {KINDS_FILE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
