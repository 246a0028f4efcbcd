"""Split abstracts into sentence-aligned windows that fit the embedding model.

MiniLM reads at most 256 word pieces; most abstracts are longer. Each window carries the
paper's title and holds whole sentences; the windows partition the abstract, so nothing is
silently truncated, and they are balanced in length, which keeps attention cost down.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from index.records import Chunk, Paper, chunk_id
from index.text import sentence_spans

CountTokens = Callable[[list[str]], list[int]]
SPECIAL_TOKENS = 2  # [CLS] and [SEP]


def chunk_text(title: str, window: str) -> str:
    """What gets embedded for a window."""
    return f"{title}\n{window}"


def _windows(lengths: list[int], budget: int) -> list[tuple[int, int]]:
    """Group consecutive sentences (by token length) into as few windows of at most
    ``budget`` tokens as greedy packing allows, balanced in size so that no window is a stub.

    Returns (first, last+1) sentence index pairs that partition the sentences.
    """
    count = max(1, math.ceil(sum(lengths) / budget))
    while True:
        target = sum(lengths) / count
        windows: list[tuple[int, int]] = []
        first = 0
        while first < len(lengths):
            last, used = first, 0
            while last < len(lengths) and (last == first or used + lengths[last] <= budget):
                if last > first and used >= target:
                    break
                used += lengths[last]
                last += 1
            windows.append((first, last))
            first = last
        if len(windows) <= count or count >= len(lengths):
            return windows
        count += 1


def _split_long(text: str, start: int, end: int, count: CountTokens, budget: int) -> list[tuple[int, int]]:
    """Cut one over-long sentence at word boundaries into pieces of at most ``budget`` tokens."""
    pieces: list[tuple[int, int]] = []
    words = text[start:end].split(" ")
    lengths = count(words)
    piece_start, used, offset = start, 0, start
    for word, n in zip(words, lengths):
        if used and used + n > budget:
            pieces.append((piece_start, offset - 1))
            piece_start, used = offset, 0
        used += n
        offset += len(word) + 1
    pieces.append((piece_start, end))
    return pieces


def chunk_paper(paper: Paper, count: CountTokens, max_tokens: int) -> list[Chunk]:
    """Chunks of one paper; a short abstract gives a single chunk."""
    abstract = paper.abstract
    title_tokens = count([paper.title + "\n"])[0]
    budget = max(16, max_tokens - SPECIAL_TOKENS - title_tokens)
    sentence_list = sentence_spans(abstract)
    spans: list[tuple[int, int]] = []
    for (s, e), n in zip(sentence_list, count([abstract[s:e] for s, e in sentence_list])):
        spans.extend(_split_long(abstract, s, e, count, budget) if n > budget else [(s, e)])
    lengths = count([abstract[s:e] for s, e in spans])
    chunks = []
    for i, (first, last) in enumerate(_windows(lengths, budget)):
        start, end = spans[first][0], spans[last - 1][1]
        chunks.append(
            Chunk(
                chunk_id=chunk_id(paper.paper_id, paper.text_hash, i),
                paper_id=paper.paper_id,
                index=i,
                text=chunk_text(paper.title, abstract[start:end]),
                start=start,
                end=end,
            )
        )
    return chunks
