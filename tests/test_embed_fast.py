"""The int8 embedding backend: selectable by name, and its vectors close to the float32 model's."""

from __future__ import annotations

import numpy as np
import pytest

from index.config import BUNDLED_CORPUS, Config
from index.embed import EMBEDDERS, EmbeddingError, OnnxEmbedder, make_embedder
from index.parse import parse_source

pytestmark = pytest.mark.slow

# Measured on the bundled corpus (721 chunks and 426 titles): cosine to float32 mean 0.9939, min 0.9858.
MEAN_COSINE = 0.99
MIN_COSINE = 0.975


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Titles and abstracts of some bundled papers, long and short."""
    page = sorted(BUNDLED_CORPUS.iterdir())[0]
    papers = parse_source(str(page), page.read_text(encoding="utf-8")).papers[:40]
    return [f"{p.title}\n{p.abstract}" for p in papers] + [p.title for p in papers[:10]]


@pytest.fixture(scope="module")
def int8() -> OnnxEmbedder:
    embedder = make_embedder(Config(embed_backend="onnx-int8"))
    assert isinstance(embedder, OnnxEmbedder)
    return embedder


def test_int8_backend_is_selectable_by_name(int8):
    assert "onnx-int8" in EMBEDDERS and "onnx" in EMBEDDERS  # the float32 path stays selectable
    assert int8.graph.name.endswith("-int8v1.onnx")
    with pytest.raises(EmbeddingError, match="onnx-int8"):
        make_embedder(Config(embed_backend="no-such-backend"))


def test_int8_vectors_are_close_to_float32(int8, texts):
    float32 = make_embedder(Config(embed_backend="onnx"))
    assert not float32.variant and int8.variant == "int8"
    fast, exact = int8.embed(texts), float32.embed(texts)
    assert fast.shape == exact.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(fast, axis=1), 1, atol=1e-5)
    cosine = (fast * exact).sum(axis=1)
    assert cosine.mean() >= MEAN_COSINE, cosine.mean()
    assert cosine.min() >= MIN_COSINE, cosine.min()
    # every text's nearest float32 neighbour is itself: rankings survive quantisation
    assert ((fast @ exact.T).argmax(axis=1) == np.arange(len(texts))).all()


def test_int8_query_matches_float32_ranking(int8, embedder, texts):
    question = "Which papers study continual learning without forgetting?"
    documents = embedder.embed(texts)
    exact = documents @ embedder.embed_query(question)
    fast = documents @ int8.embed_query(question)  # int8 queries against a float32 index
    assert abs(fast - exact).max() < 0.04
    assert set(np.argsort(-fast)[:3]) & set(np.argsort(-exact)[:3])


def test_int8_backend_embeds_questions_with_the_float32_graph(texts):
    """Documents in bulk go through int8; a question through float32, so only one side of each
    cosine carries the quantisation error. A process that only asks never loads the int8 graph."""
    asker = make_embedder(Config(embed_backend="onnx-int8"))
    float32 = make_embedder(Config(embed_backend="onnx"))
    question = "How do agents learn new skills without forgetting old ones?"
    assert np.allclose(asker.embed_query(question), float32.embed_query(question), atol=1e-5)
    assert list(asker._sessions) == [False]
    bulk = asker.embed(texts[:4])
    assert list(asker._sessions) == [False, True]
    assert not np.allclose(bulk, float32.embed(texts[:4]), atol=1e-4)  # the bulk path really is int8
