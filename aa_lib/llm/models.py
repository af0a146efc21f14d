"""Causal language models and tokenizers: any Hugging Face model, and a tiny one built here.

- :func:`load_causal_lm`: a Hugging Face causal LM and its tokenizer from a local folder
  (or a hub id such as ``"Qwen/Qwen2.5-7B-Instruct"`` on a machine with internet).
- :func:`tiny_model`: a small Qwen2-style transformer (~0.1-1 M parameters) with a word-level
  tokenizer built from a text game's vocabulary (:meth:`TextGame.vocabulary`) and a chat
  template, for teaching on a CPU. It starts untrained; :func:`aa_lib.llm.prior.pretrain_prior`
  gives it a prior from scripted play.
- :func:`save_model`: ``save_pretrained`` of both, so that :func:`load_causal_lm` reloads the folder.

The tiny tokenizer splits on whitespace only (``WhitespaceSplit``), the same rule as
:func:`aa_lib.games.text.words`, so every canonical game text encodes and decodes losslessly.
Its chat template renders ``<|user|> text <|end|> <|assistant|> answer <|end|> ...``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Optional, Tuple

import torch

from .._validation import check_device, check_positive_int
from ._deps import quiet_hf, require

__all__ = ["SPECIAL_TOKENS", "CHAT_TEMPLATE", "word_level_tokenizer", "tiny_model", "load_causal_lm", "save_model",
           "count_parameters"]

#: The tiny tokenizer's special tokens: padding, unknown word, the two role headers, end of a message.
SPECIAL_TOKENS = {"pad": "<|pad|>", "unk": "<|unk|>", "user": "<|user|>", "assistant": "<|assistant|>",
                  "end": "<|end|>"}

#: The tiny model's chat template (Jinja): every message is ``<|role|> content <|end|>``; the generation
#: prompt is the assistant header. Rendering is prefix-stable (a longer chat extends a shorter one).
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|' + message['role'] + '|> ' + message['content'] + ' <|end|> ' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|assistant|> ' -}}{%- endif -%}"
)

# Classes whose saved tokenizer AutoTokenizer may replace by the model type's own tokenizer class
# (transformers 5 does so for model_type "qwen2"); a folder that names one of them is loaded with it.
_GENERIC_TOKENIZER_CLASSES = ("TokenizersBackend", "PreTrainedTokenizerFast")


def word_level_tokenizer(vocabulary: Iterable[str]):
    """A word-level ``PreTrainedTokenizerFast`` over ``vocabulary`` plus :data:`SPECIAL_TOKENS`.

    Ids: the five special tokens first (pad 0, unk 1, user 2, assistant 3, end 4), then the words
    in sorted order, so the same vocabulary always gives the same ids. End of message ``<|end|>``
    is the EOS token. Unknown words encode as ``<|unk|>``.
    """
    require()
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = sorted({str(w) for w in vocabulary})
    if not words:
        raise ValueError("vocabulary must hold at least one word")
    bad = [w for w in words if not w or any(c.isspace() for c in w) or w in SPECIAL_TOKENS.values()]
    if bad:
        raise ValueError(f"vocabulary words must be non-empty, without whitespace and not special tokens; "
                         f"got {bad[:5]}")
    specials = list(SPECIAL_TOKENS.values())
    vocab = {token: i for i, token in enumerate(specials + words)}
    core = Tokenizer(models.WordLevel(vocab, unk_token=SPECIAL_TOKENS["unk"]))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token=SPECIAL_TOKENS["pad"], unk_token=SPECIAL_TOKENS["unk"],
        eos_token=SPECIAL_TOKENS["end"],
        additional_special_tokens=[SPECIAL_TOKENS["user"], SPECIAL_TOKENS["assistant"]],
        clean_up_tokenization_spaces=False)
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def tiny_model(vocabulary: Iterable[str], hidden: int = 64, layers: int = 2, heads: int = 4,
               intermediate: Optional[int] = None, max_positions: int = 1024, seed: int = 0):
    """A small Qwen2-style causal LM and its word-level tokenizer, randomly initialised.

    With the defaults (hidden 64, 2 layers, 4 heads, MLP 4 x hidden, tied embeddings) and the
    text IPD's ~30-word vocabulary it has ~133 k parameters.

    Args:
        vocabulary: the words of a game (``game.vocabulary()``).
        hidden: model width; must be divisible by ``heads``.
        layers: transformer blocks.
        heads: attention heads (as many key/value heads).
        intermediate: MLP width (``4 * hidden`` if None).
        max_positions: longest sequence the rotary embedding is configured for.
        seed: initialisation seed.

    Returns:
        ``(model, tokenizer)``, the model in eval mode on the CPU in float32.
    """
    require()
    from transformers import Qwen2Config, Qwen2ForCausalLM

    hidden, layers, heads = (check_positive_int(v, n) for v, n in ((hidden, "hidden"), (layers, "layers"),
                                                                    (heads, "heads")))
    if hidden % heads:
        raise ValueError(f"hidden={hidden} must be divisible by heads={heads}")
    intermediate = 4 * hidden if intermediate is None else check_positive_int(intermediate, "intermediate")
    tokenizer = word_level_tokenizer(vocabulary)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=intermediate, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=check_positive_int(
            max_positions, "max_positions"), tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id, bos_token_id=None, use_cache=True, initializer_range=hidden ** -0.5)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = Qwen2ForCausalLM(config)
    return model.eval(), tokenizer


def _load_tokenizer(name_or_path: str):
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    config_file = Path(name_or_path) / "tokenizer_config.json"
    if config_file.is_file():
        with open(config_file) as handle:
            declared = json.load(handle).get("tokenizer_class")
        if declared in _GENERIC_TOKENIZER_CLASSES:
            return PreTrainedTokenizerFast.from_pretrained(name_or_path)
    return AutoTokenizer.from_pretrained(name_or_path)


def load_causal_lm(name_or_path, device="cpu", dtype: torch.dtype = torch.float32) -> Tuple[object, object]:
    """Any Hugging Face causal language model and its tokenizer.

    Args:
        name_or_path: a local folder written by ``save_pretrained`` (e.g. by :func:`save_model`), or a
            hub id where the machine has internet (set ``HF_HUB_OFFLINE=1`` to forbid downloads).
        device: torch device of the model.
        dtype: parameter dtype (float32 on a CPU; bfloat16 for large models on a GPU).

    Returns:
        ``(model, tokenizer)``; the model is in eval mode (the rollouts and the loss never use dropout,
        so that training recomputes exactly the sampling log-probabilities). A tokenizer without a
        padding token gets its EOS token as padding.
    """
    transformers, _ = require()
    device = check_device(device)
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype such as torch.float32, got {dtype!r}")
    if not isinstance(name_or_path, (str, os.PathLike)) or not str(name_or_path):
        raise TypeError(f"name_or_path must be a folder or a hub id (str), got {name_or_path!r}")
    name_or_path = str(name_or_path)
    transformers.utils.logging.disable_progress_bar()
    with quiet_hf():
        try:
            tokenizer = _load_tokenizer(name_or_path)
            model = transformers.AutoModelForCausalLM.from_pretrained(name_or_path, dtype=dtype)
        except OSError as error:
            raise OSError(f"cannot load a causal LM from {name_or_path!r}: not a model folder, and the hub is "
                          f"unreachable or the id unknown ({error})") from error
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(device).eval(), tokenizer


def save_model(model, tokenizer, folder) -> Path:
    """Write ``model`` and ``tokenizer`` with ``save_pretrained`` to ``folder`` (created); returns the path."""
    transformers, _ = require()
    transformers.utils.logging.disable_progress_bar()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with quiet_hf():
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return folder


def count_parameters(model, trainable_only: bool = False) -> int:
    """Number of parameters of ``model`` (only those with ``requires_grad`` if ``trainable_only``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
