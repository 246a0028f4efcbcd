"""Prompt and wording templates, shipped as text files beside this module.

A folder given as ``prompts_dir`` in the config overrides any template it holds.
"""

from __future__ import annotations

from pathlib import Path

BUNDLED = Path(__file__).resolve().parent


def load(name: str, override_dir: Path | None = None) -> str:
    """The template ``name`` (without .txt), from ``override_dir`` if it has one."""
    for folder in (override_dir, BUNDLED):
        if folder is not None and (folder / f"{name}.txt").is_file():
            return (folder / f"{name}.txt").read_text(encoding="utf-8").strip()
    raise FileNotFoundError(f"no prompt template {name!r} in {override_dir or BUNDLED}")
