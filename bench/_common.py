"""What the benchmarks share: the repository on ``sys.path``, an offline environment for the
processes they start, the dev questions, the bundled papers as ingest reads them, percentiles
and disk sizes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SCRIPT = Path(sys.executable).with_name("assistant")
DEV = REPO.parent / "shared" / "eval" / "dev_questions.jsonl"
ENV = {
    **os.environ,
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",  # no fork warnings from the tokenizers library
}


def dev_questions(fallback: list[str]) -> list[str]:
    """The dev questions' texts, or ``fallback`` where ../shared is not beside the repository."""
    if DEV.exists():
        return [json.loads(line)["question"] for line in DEV.read_text().splitlines() if line.strip()]
    return fallback


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
