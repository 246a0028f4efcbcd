"""Retrieval quality on a BEIR-format dataset, the product beside plain baselines, in one run.

    python bench/retrieval.py --dataset ../shared/data/scifact --split test [--json]

The logic lives in assistant/beir.py (also behind ``assistant eval --beir DIR``): the corpus goes
through the product's own ingestion and hybrid retrieval, and the same queries through plain
BM25 (bm25s) and plain dense retrieval (MiniLM, exact cosine). Prints nDCG@10, recall@100 and
query latency p50 for each. Embeddings are cached under --cache, so reruns take about a minute.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from assistant.beir import format_table, run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=REPO.parent / "shared" / "data" / "scifact")
    parser.add_argument("--split", default="test")
    parser.add_argument("--cache", type=Path, default=REPO / "bench" / ".cache")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.dataset, args.split, args.cache)
    print(json.dumps(result, indent=2) if args.json else format_table(result))


if __name__ == "__main__":
    main()
