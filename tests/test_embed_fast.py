"""The int8 embedding backend: selectable by name, its vectors close to the float32 model's but
measurably not the same (it really is quantised), and its rankings those of the float32 model.

The reference is sentence-transformers running the model's own weights in torch: it shares no
code with the ONNX export, so a broken export, a broken quantisation or a silent fallback to the
float32 graph each fails a test below."""

from __future__ import annotations

import numpy as np
import pytest

from index.config import BUNDLED_CORPUS, Config
from index.embed import EMBEDDERS, Embedder, EmbeddingError, OnnxEmbedder, make_embedder
from index.parse import parse_source

pytestmark = pytest.mark.slow

# Measured on the bundled corpus (721 chunks and 426 titles): cosine to float32 mean 0.9939, min 0.9858;
# on the 50 texts below, mean 0.9947, min 0.9921, max 0.9964 (so 1 - cosine is 0.0053 on average).
MEAN_COSINE = 0.99
MIN_COSINE = 0.975
MAX_COSINE = 0.9995  # above this for some text, that text did not go through the int8 graph
EXACT_COSINE = 0.9999  # float32 ONNX against torch: the same model, rounding apart (measured 1.0000)
QUESTION = "Which papers study continual learning without forgetting?"


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


@pytest.fixture(scope="module")
def reference() -> Embedder:
    """The float32 model through sentence-transformers (torch), independent of the ONNX path."""
    return make_embedder(Config(embed_backend="sentence-transformers"))


@pytest.fixture(scope="module")
def reference_vectors(reference, texts) -> np.ndarray:
    return reference.embed(texts)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_int8_backend_is_selectable_by_name(int8):
    assert "onnx-int8" in EMBEDDERS and "onnx" in EMBEDDERS  # the float32 path stays selectable
    assert int8.graph.name.endswith("-int8v1.onnx") and int8.variant == "int8"
    with pytest.raises(EmbeddingError, match="onnx-int8"):
        make_embedder(Config(embed_backend="no-such-backend"))


def test_float32_onnx_reproduces_the_reference(texts, reference_vectors):
    """The float32 export is the model itself, which is what makes it the int8 graph's yardstick."""
    float32 = make_embedder(Config(embed_backend="onnx"))
    assert not float32.variant
    cosine = _cosines(float32.embed(texts), reference_vectors)
    assert cosine.min() >= EXACT_COSINE, cosine.min()


def test_int8_vectors_are_close_to_float32_but_quantised(int8, texts, reference_vectors):
    fast = int8.embed(texts)
    assert fast.shape == reference_vectors.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(fast, axis=1), 1, atol=1e-5)
    cosine = _cosines(fast, reference_vectors)
    assert cosine.mean() >= MEAN_COSINE, cosine.mean()
    assert cosine.min() >= MIN_COSINE, cosine.min()
    # the int8 graph leaves a measurable error on every text: none came from a float32 fallback
    assert cosine.max() <= MAX_COSINE, cosine.max()
    # every text's nearest float32 neighbour is itself: rankings survive quantisation
    assert ((fast @ reference_vectors.T).argmax(axis=1) == np.arange(len(texts))).all()


def test_int8_documents_rank_a_question_as_float32_documents_do(int8, reference, texts, reference_vectors):
    exact = reference_vectors @ reference.embed_query(QUESTION)
    fast = int8.embed(texts) @ int8.embed_query(QUESTION)  # int8 documents, as an int8 index holds them
    error = abs(fast - exact)
    assert error.max() < 0.04, error.max()  # measured 0.017
    assert error.mean() > 1e-3, error.mean()  # measured 0.0069: the documents really were quantised
    assert fast.argmax() == exact.argmax()
    assert len(set(np.argsort(-fast)[:3]) & set(np.argsort(-exact)[:3])) >= 2


def test_int8_backend_embeds_questions_with_the_float32_graph(reference, texts):
    """Documents in bulk go through int8; a question through float32, so only one side of each
    cosine carries the quantisation error. A process that only asks never loads the int8 graph."""
    asker = make_embedder(Config(embed_backend="onnx-int8"))
    assert isinstance(asker, OnnxEmbedder)
    question = "How do agents learn new skills without forgetting old ones?"
    assert float(asker.embed_query(question) @ reference.embed_query(question)) >= EXACT_COSINE
    assert list(asker._sessions) == [False]
    bulk = asker.embed(texts[:4])
    assert list(asker._sessions) == [False, True]
    assert _cosines(bulk, reference.embed(texts[:4])).max() <= MAX_COSINE  # the bulk path really is int8
