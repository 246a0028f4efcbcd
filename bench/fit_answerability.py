"""Refit the extractive reader's topic model (assistant/judge.py) and write its weights to
assistant/data/judge.json.

    python bench/fit_answerability.py [--check] [--without SET ...]

Data: the tuning part of assistant/data/questions.jsonl (never the held-out part), written for this
project from the bundled corpus and shipped under the project's licence. Each question is read and
retrieved as the product reads and retrieves it; the label is whether its topic is in the abstracts
(every question but those about a topic no abstract covers: a detail a paper's abstract lacks is a
topic it covers). Logistic regression (scikit-learn, L2, C chosen by 5-fold cross-validation over
whole question sets, so no fold is fitted on questions written with the ones it predicts, with a
fixed seed, on features rounded to FEATURE_DECIMALS and one BLAS thread), so a rerun writes the
same weights (``--without SET`` leaves out the question sets merged after the shipped fit, as its
provenance says). The refusal threshold is the highest at which the cross-validated model refuses
at most MAX_REFUSED of the answerable questions; the answer threshold, the lowest at which at most
MAX_ABSENT_ANSWERED of the questions on topics no abstract covers would be answered without a
hedge: in between, the closest match is given, hedged. ``--check`` fits and prints without writing.
About a minute on two cores.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
from _common import FEATURE_DECIMALS, best_logistic, fit_provenance, single_threaded, write_weights

from assistant import Assistant
from assistant.evaluate import DEFAULT_QUESTIONS, load_questions
from assistant.judge import FEATURES, WEIGHTS_FILE, Vectors, Weights, features
from assistant.questions import Kind, core, read

SEED = 0
MAX_REFUSED = 0.03  # answerable questions the model may refuse (cross-validated)
MAX_ABSENT_ANSWERED = 0.10  # questions on a topic no abstract covers it may answer without a hedge


def rows(
    assistant: Assistant, without: frozenset[str] = frozenset()
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], list[str]]:
    """Features, labels (topic covered), answerable, question types and the set each question was
    written in (its id's prefix) of the tuning part, less the sets in ``without``."""
    search = assistant.open().search
    vectors = Vectors(search.embedder.embed_queries)
    x, covered, answerable, kinds, sets = [], [], [], [], []
    for q in load_questions(DEFAULT_QUESTIONS):
        if q.split != "tuning" or q.id.rsplit("-", 1)[0] in without:
            continue
        question = read(core(q.question))
        k = assistant.config.list_top_k if question.kind is Kind.WHICH and not question.single else None
        sources = search.search(question.text, k)
        if not sources:
            continue
        x.append(features(question, sources, search.keyword, Weights.of(question.text, vectors)))
        covered.append(int(q.type != "absent"))
        answerable.append(q.answerable)
        kinds.append(q.type)
        sets.append(q.id.rsplit("-", 1)[0])
    return np.round(np.array(x), FEATURE_DECIMALS), np.array(covered), np.array(answerable), kinds, sets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fit and print, do not write the weights")
    parser.add_argument(
        "--without",
        action="append",
        default=[],
        metavar="SET",
        help="leave out a question set (an id prefix such as 'za'); the shipped weights name theirs",
    )
    args = parser.parse_args()
    without = frozenset(args.without)
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    x, y, answerable, kinds, sets = rows(Assistant(), without)
    # whole question sets held out together: each fold's questions were written apart from the
    # ones it is fitted on, as the next user's questions will be
    folds = list(GroupKFold(5, shuffle=True, random_state=SEED).split(x, y, groups=sets))
    auc, c, p = best_logistic(x, y, folds, (0.3, 1.0, 3.0, 10.0))
    ordered = np.sort(p[answerable])
    refuse_below = float(ordered[int(MAX_REFUSED * len(ordered))])
    absent = np.sort(p[y == 0])
    answer_at = max(refuse_below, float(absent[min(len(absent) - 1, int((1 - MAX_ABSENT_ANSWERED) * len(absent)))]))
    fitted = LogisticRegression(C=c, max_iter=10_000, fit_intercept=False).fit(x, y)
    weights = {f: round(float(w), 4) for f, w in zip(FEATURES, fitted.coef_[0])}
    types = np.array(kinds)
    print(
        f"{len(y)} tuning questions, C={c}, cross-validated AUC {auc:.3f}, "
        f"refuse below {refuse_below:.3f}, answer at {answer_at:.3f}"
    )
    for t in sorted(set(kinds)):
        q = p[types == t]
        hedged = np.mean((q >= refuse_below) & (q < answer_at))
        print(f"  {t:<11} refused {np.mean(q < refuse_below):.3f}  hedged {hedged:.3f}")
    print(json.dumps(weights, indent=1))
    if args.check:
        return 0
    provenance = fit_provenance(
        "bench/fit_answerability.py",
        ("questions", len(y)),
        f"scikit-learn LogisticRegression(C={c}, no intercept: 'bias' is a feature), "
        f"5-fold CV over question sets, seed {SEED}",
        auc,
        without,
    )
    payload = {
        "weights": weights,
        "refuse_below": round(refuse_below, 4),
        "answer_at": round(answer_at, 4),
        "provenance": provenance,
    }
    write_weights(WEIGHTS_FILE, payload)
    return 0


if __name__ == "__main__":
    with single_threaded():
        sys.exit(main())
