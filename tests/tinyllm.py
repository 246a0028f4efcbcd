"""A real, tiny llama-architecture GGUF model, written at test time (no weights can be downloaded).

Random weights, a 384-token SentencePiece-style vocabulary with byte fallback, the ChatML chat
template, 2 layers 256 wide: about 1 MB, loaded by llama.cpp in well under a second. Its text is
noise, so tests assert structure (streaming, finish, citation handling), never wording.
"""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np

VOCAB_SIZE = 384
EMBED, LAYERS, HEADS, FF, CONTEXT = 256, 2, 4, 512, 16384  # the vocabulary is tiny, so prompts run long
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>'"
    " + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
WORDS = (
    "the of and to in a is that for on with as by we are this from be an our which model models learning "
    "paper data task tasks skill skills transfer language method results show propose dataset training "
    "agents new performance can large"
).split()


def _vocabulary() -> tuple[list[str], list[float], list[int]]:
    """Tokens, scores and token types (1 normal, 2 unknown, 3 control, 6 byte)."""
    tokens = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
    types = [2, 3, 3, 3, 3]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [6] * 256
    pieces = ["\u2581", "\u2581["] + list(string.ascii_letters + string.digits + "[].,;:()-%")
    pieces += [f"\u2581{w}" for w in WORDS] + [f"[{n}]" for n in range(1, 6)]
    pieces = list(dict.fromkeys(pieces))[: VOCAB_SIZE - len(tokens)]
    tokens += pieces
    types += [1] * len(pieces)
    filler = VOCAB_SIZE - len(tokens)
    tokens += [f"\u2581w{i}" for i in range(filler)]
    types += [1] * filler
    scores = [0.0] * 261 + [-float(len(t)) for t in tokens[261:]]
    return tokens, scores, types


def write_tiny_gguf(path: Path) -> Path:
    """Write the tiny model to ``path`` (deterministic) and return the path."""
    import gguf

    rng = np.random.default_rng(0)

    def weight(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float16)

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(EMBED)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FF)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_rope_dimension_count(EMBED // HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    tokens, scores, types = _vocabulary()
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(4)  # <|im_end|> ends a ChatML turn
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHATML)

    writer.add_tensor("token_embd.weight", weight(VOCAB_SIZE, EMBED))
    for i in range(LAYERS):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(EMBED, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(f"blk.{i}.{name}.weight", weight(EMBED, EMBED))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(EMBED, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", weight(FF, EMBED))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", weight(FF, EMBED))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", weight(EMBED, FF))
    writer.add_tensor("output_norm.weight", np.ones(EMBED, dtype=np.float32))
    writer.add_tensor("output.weight", weight(VOCAB_SIZE, EMBED))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
