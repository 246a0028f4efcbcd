"""A tiny llama-architecture GGUF model, written at test time (no weights can be downloaded here).

`write_tiny_gguf(path)` trains a 1024-piece SentencePiece BPE vocabulary on the English text
below, then writes a 2-layer, 256-wide llama model with random weights (numpy seed 0) and the
ChatML chat template: 3.5 MB, written in about 0.1 s, loaded by llama.cpp (llama-cpp-python,
in-process or its OpenAI-compatible server) in a few milliseconds. The same bytes every time.

Its text output is noise: word pieces, digits and now and then a citation such as "[1]".
Tests built on it assert structure (finish reasons, streaming chunks, citation handling),
never wording.

Needs the `gguf`, `sentencepiece` and `numpy` packages (imported lazily, so collecting tests
does not require them).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import gguf
    import sentencepiece

# Shape: tiny, so the file is 3.5 MB and a token costs well under a millisecond.
EMBED, LAYERS, HEADS, FF = 256, 2, 4, 512
# The context the model claims to have been trained for. Callers choose their own n_ctx up to
# this; the app sends several abstracts (thousands of tokens), so leave plenty of room.
CONTEXT = 32768
# 256 of the pieces are byte fallbacks; the rest are BPE merges. A larger vocabulary means
# shorter prompts (about 2.4 characters a token on abstracts here, against 1.5 with 384), so
# a prompt carrying five abstracts still fits n_ctx=4096.
VOCAB_SIZE = 1024

# Special tokens. SentencePiece puts user-defined symbols right after unk/bos/eos, so the ids
# are fixed: 0 <unk>, 1 <s>, 2 </s>, 3 <|im_start|>, 4 <|im_end|>, then the citation markers.
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
# Citation markers as single tokens, so that the noise contains "[1]" now and then, the way the
# app's prompt asks a real model to cite.
CITATIONS = [f"[{n}]" for n in range(1, 10)]
EOS_ID = 4  # <|im_end|>: a ChatML turn ends there, so generation stops there

# Output shaping (see _write_tensors), in logits: the spread of the random part, the lift of
# the citation tokens, and how far below that the end of turn sits right after a newline.
LOGIT_NOISE = 0.15
CITATION_LIFT = 0.2
EOS_AFTER_NEWLINE = 3.0

# ChatML, as Qwen and many others use it; no BOS (the template starts with <|im_start|>).
CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# GGUF token types (llama.cpp's llama_token_type).
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, BYTE = 1, 2, 3, 4, 6

# Training text for the vocabulary: research-abstract English with numbers and citations, so
# the pieces look like the words the app's prompts are made of.
TEXT = """\
Large language models have shown strong performance on many natural language processing tasks [1].
We propose a new method for retrieval augmented generation that grounds each answer in the retrieved abstracts [2].
Our model is trained on a large dataset of 12,000 research papers and evaluated on 5 benchmarks [3].
The results show that the proposed approach improves accuracy by 4.5 points over strong baselines [1][2].
In this paper, we study how agents learn new skills from demonstrations and transfer them to unseen tasks.
We introduce a benchmark with 240 participants who recorded 1,200 videos of everyday activities [4].
Experiments on three datasets demonstrate that the representation generalizes across domains and languages.
The question answering system cites the numbered sources it was given and refuses when the answer is missing.
We analyze the effect of model size, training data and context length on the quality of the generated text.
A transformer encoder produces dense embeddings, and a sparse keyword index ranks documents with BM25 [5].
Hybrid retrieval combines both rankings, which helps when a query contains rare names or numbers.
The authors report a mean score of 71.3 on the test set and release their code and data to the community.
Reinforcement learning from human feedback aligns the policy with the preferences of annotators [6].
We find that chain of thought prompting improves reasoning on mathematical problems and on planning tasks.
This work presents a simple and efficient framework for learning visual representations without labels [7].
The network is evaluated in simulation and on a real robot, where it reaches a success rate of 85 percent.
Previous methods require expensive supervision; in contrast, our method uses only weak signals from the web.
We describe the architecture, the optimization procedure and the hyperparameters used in all experiments.
An ablation study shows which components matter most, and an error analysis explains the remaining failures.
The dataset contains questions, answers and evidence sentences, split into training, validation and test sets [8].
Participants were asked to rate the fluency, relevance and correctness of each response on a scale of 1 to 5.
These findings suggest that smaller models can match larger ones when they are given better context [9].
Finally, we discuss the limitations of our study, its broader impact, and directions for future research.
Recent work on instruction tuning uses synthetic data generated by a teacher model to train a smaller student [2][3].
We collect human preference judgments for 3,500 pairs of responses and train a reward model to predict them.
Our evaluation covers code generation, summarization, translation, classification and open-domain question answering.
Compared with prior state-of-the-art systems, the method reduces memory usage by half while keeping the same latency.
Multimodal models that process images, video and audio together remain difficult to evaluate in a consistent way [4].
We show that the learned policy is robust to noise, distribution shift and adversarial perturbations of the input.
Each abstract is split into chunks, embedded with a sentence encoder, and stored with its title, authors and year.
The graph neural network predicts molecular properties and outperforms previous approaches on 7 of 9 tasks [5].
Surprisingly, scaling the number of parameters does not always help; the quality of the data is often more important.
We also consider efficiency: training takes 16 hours on 8 GPUs, and inference runs in real time on a single CPU.
Users can ask follow-up questions, and the assistant resolves references such as “it”, “they” or “the second paper”.
A theoretical analysis provides convergence guarantees under mild assumptions — for example, bounded gradients.
Self-supervised pretraining on unlabeled text, followed by fine-tuning on a few examples, is a strong recipe [6].
The survey organizes existing methods into a taxonomy · retrieval · reasoning · planning · memory · tool use.
Our open-source toolkit provides data loaders, metrics and evaluation scripts, and it is easy to extend.
"""


def _train_vocabulary(workdir: Path) -> tuple[list[str], list[float], list[int]]:
    """Train a SentencePiece BPE model on TEXT; return its tokens, scores and GGUF token types."""
    import sentencepiece as spm

    corpus = workdir / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    prefix = workdir / "tiny"
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(prefix),
        model_type="bpe",
        vocab_size=VOCAB_SIZE,
        # llama.cpp's "llama" tokenizer replays SentencePiece BPE by piece score; these settings
        # match LLaMA's own tokenizer: no normalization, a leading "▁", digits split, bytes as
        # a fallback for characters the vocabulary lacks (accents, Greek, emoji in abstracts).
        normalization_rule_name="identity",
        add_dummy_prefix=True,
        split_digits=True,
        byte_fallback=True,
        character_coverage=1.0,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        user_defined_symbols=[IM_START, IM_END, *CITATIONS],
        # A tiny corpus: let the trainer stop short of VOCAB_SIZE rather than fail, and keep it
        # single-threaded and quiet so the result is deterministic.
        hard_vocab_limit=False,
        num_threads=1,
        minloglevel=2,
    )
    processor = spm.SentencePieceProcessor(model_file=str(prefix) + ".model")
    tokens, scores, types = [], [], []
    for i in range(processor.get_piece_size()):
        tokens.append(processor.id_to_piece(i))
        scores.append(processor.get_score(i))
        types.append(_token_type(processor, i))
    return tokens, scores, types


def _token_type(processor: sentencepiece.SentencePieceProcessor, i: int) -> int:
    """GGUF type of piece i; the ChatML markers must be CONTROL so llama.cpp renders them
    as special tokens in prompts and never prints them."""
    piece = processor.id_to_piece(i)
    if processor.is_unknown(i):
        return UNKNOWN
    if processor.is_control(i) or piece in (IM_START, IM_END):
        return CONTROL
    if processor.is_byte(i):
        return BYTE
    if piece in CITATIONS:
        return USER_DEFINED
    return NORMAL


def _output_bias(tokens: list[str], types: list[int]) -> np.ndarray:
    """Logit offset per token. Unknown, byte and control tokens (but the end of turn) are kept
    out of the reply, so the noise is word pieces rather than stray bytes (which would not even
    decode as UTF-8); citation markers get a small lift so replies carry some, in and out of range.
    """
    bias = np.zeros(len(tokens), dtype=np.float32)
    for i, (token, kind) in enumerate(zip(tokens, types)):
        if kind in (UNKNOWN, BYTE) or (kind == CONTROL and i != EOS_ID):
            bias[i] = -30.0
        elif token in CITATIONS:
            bias[i] = CITATION_LIFT
    return bias


def _write_metadata(writer: gguf.GGUFWriter, tokens: list[str], scores: list[float], types: list[int]) -> None:
    """Hyperparameters and tokenizer: everything llama.cpp reads before the tensors."""
    import gguf

    writer.add_name("tiny-random-llama")
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(EMBED)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FF)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_rope_dimension_count(EMBED // HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)

    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(EOS_ID)
    # The template starts each turn with <|im_start|> itself: a BOS would be one token too many.
    writer.add_add_bos_token(False)
    writer.add_add_eos_token(False)
    writer.add_chat_template(CHATML)


def _write_tensors(writer: gguf.GGUFWriter, bias: np.ndarray, newline_id: int) -> None:
    """Random f16 weights (f32 norms), deterministic from numpy's default_rng(0), shaped so that
    the model behaves like a noisy bigram sampler with a per-token logit bias.

    The residual stream is dominated by the token embedding (the layers' 0.02-scale weights add
    little), so the logits are roughly norm(embedding of the last token) @ output.weight.T:
    - hidden dimension 0 of every embedding is a constant, so column 0 of output.weight acts as
      the per-token bias that llama's architecture has no tensor for;
    - the other columns give each token a random logit of about LOGIT_NOISE, small enough that
      a low temperature (the app uses 0.1) still samples widely over the vocabulary;
    - the end-of-turn row points away from the newline's embedding, and the ChatML generation
      prompt ends with a newline, so a reply never ends before its first token (an empty reply).
    """
    rng = np.random.default_rng(0)
    vocab = len(bias)

    def weight(rows: int, cols: int, scale: float = 0.02) -> np.ndarray:
        return (rng.standard_normal((rows, cols)) * scale).astype(np.float32)

    embeddings = weight(vocab, EMBED, scale=0.5)
    embeddings[:, 0] = 1.0
    writer.add_tensor("token_embd.weight", embeddings.astype(np.float16))
    for i in range(LAYERS):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(EMBED, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(f"blk.{i}.{name}.weight", weight(EMBED, EMBED).astype(np.float16))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(EMBED, dtype=np.float32))
        # numpy shapes are (out, in); the writer stores them in ggml's reversed order itself.
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", weight(FF, EMBED).astype(np.float16))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", weight(FF, EMBED).astype(np.float16))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", weight(EMBED, FF).astype(np.float16))
    writer.add_tensor("output_norm.weight", np.ones(EMBED, dtype=np.float32))

    # What the final RMS norm makes of an embedding: dimension 0 becomes ~constant (h0), the
    # rest a vector of length ~sqrt(EMBED - h0**2).
    normed = embeddings / np.sqrt((embeddings**2).mean(axis=1, keepdims=True))
    h0 = float(normed[:, 0].mean())
    rest_length = float(np.linalg.norm(normed[:, 1:], axis=1).mean())
    output = weight(vocab, EMBED, scale=LOGIT_NOISE / rest_length)
    output[:, 0] = bias / h0
    newline = normed[newline_id, 1:]
    output[EOS_ID, 1:] = -EOS_AFTER_NEWLINE * newline / np.linalg.norm(newline) / rest_length
    writer.add_tensor("output.weight", output.astype(np.float16))


def write_tiny_gguf(path: Path) -> Path:
    """Write a tiny llama-architecture GGUF model (random weights) loadable by llama.cpp; return path.

    Deterministic for given package versions: the same bytes on every call.
    """
    import gguf

    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="tiny-gguf-") as tmp:
        tokens, scores, types = _train_vocabulary(Path(tmp))
    writer = gguf.GGUFWriter(str(path), "llama")
    _write_metadata(writer, tokens, scores, types)
    _write_tensors(writer, _output_bias(tokens, types), newline_id=tokens.index("<0x0A>"))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
