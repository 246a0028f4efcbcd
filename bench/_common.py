"""What the benchmarks share: the repository on ``sys.path``, an offline environment for the
processes they start, the dev questions, the bundled papers as ingest reads them, percentiles
and disk sizes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SCRIPT = Path(sys.executable).with_name("assistant")
QUESTIONS = REPO / "assistant" / "data" / "questions.jsonl"  # the repository's own evaluation set
ENV = {
    **os.environ,
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",  # no fork warnings from the tokenizers library
}


def dev_questions(fallback: list[str] | None = None) -> list[str]:
    """The texts of the 29 dev questions (ids "dev-*") of the repository's evaluation set."""
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [q["question"] for q in rows if q["id"].startswith("dev-")] or list(fallback or [])


def bundled_papers():
    """The bundled corpus as ``assistant ingest`` reads it: parsed, merged by title."""
    from index.config import BUNDLED_CORPUS
    from index.ingest import distinct_papers, read_sources

    return distinct_papers(read_sources([BUNDLED_CORPUS])[0])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def disk_mb(*paths: Path) -> float:
    return sum(f.stat().st_size for p in paths if p.exists() for f in p.rglob("*") if f.is_file()) / 1e6


def fit_provenance(script: str, rows: tuple[str, int], model: str, auc: float, without: frozenset[str]) -> dict:
    """Where a model fitted on the tuning part came from, for its weights file: the script and how
    to rerun it (leaving out the question sets ``without``), the data, how many ``rows`` ("questions",
    1540), the model, its cross-validated AUC and the date."""
    from datetime import date

    return {
        "script": script,
        "data": "the tuning part of assistant/data/questions.jsonl, written for this project from the bundled "
        "corpus (same licence as the project)",
        rows[0]: int(rows[1]),
        "model": model,
        "cross_validated_auc": round(float(auc), 4),
        "fitted": date.today().isoformat(),
        "rerun": f"python {script}" + "".join(f" --without {s}" for s in sorted(without)),
    }


# features are rounded to this many decimals before fitting: the embedder's threaded sums differ in
# their last bits from run to run, and a threshold taken at a quantile of cross-validated
# probabilities could then move by a step
FEATURE_DECIMALS = 4


def best_logistic(x, y, folds: list, cs: tuple[float, ...]) -> tuple[float, float, Any]:
    """The L2 logistic regression (no intercept: the features carry a bias) whose ``folds``
    cross-validated probabilities rank ``y`` best: (AUC, its C, those probabilities)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict

    fits = []
    for c in cs:
        model = LogisticRegression(C=c, max_iter=10_000, fit_intercept=False)
        p = cross_val_predict(model, x, y, cv=folds, method="predict_proba")[:, 1]
        fits.append((roc_auc_score(y, p), c, p))
    return max(fits, key=lambda f: f[0])


def single_threaded():
    """One BLAS thread while fitting, for the same reason as ``FEATURE_DECIMALS``."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def write_weights(path: Path, payload: dict) -> None:
    """Write a fitted model's weights file (``payload`` as indented JSON) and say so."""
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(REPO)}")
