"""Forward passes of a causal LM over several rows: adapters per row, shared prefixes, few logits.

- :func:`adapter_call`: run row ``r`` with adapter ``names[r]`` (peft mixed-adapter batches).
- :func:`logits_at`: the logits of a right-padded batch at selected sequence positions only
  (``logits_to_keep``: a 150 k-token vocabulary times every position would not fit), computing a
  prefix that every row shares once and expanding its KV cache to all rows (the rules and first
  prompt of a text game are the same in every game: about half of the tokens of a text IPD game).
"""
from __future__ import annotations

import inspect
from contextlib import nullcontext
from typing import Sequence

import torch

from ._deps import quiet_hf

__all__ = ["BASE", "is_peft_model", "model_device", "vocab_size", "adapter_call", "supports_logits_to_keep",
           "shared_prefix_length", "logits_at"]

#: Policy name of the base model (every adapter disabled), as in peft's mixed batches.
BASE = "__base__"


def is_peft_model(model) -> bool:
    """True for a peft model (it has adapters and ``disable_adapter``)."""
    return hasattr(model, "peft_config") and hasattr(model, "disable_adapter")


def model_device(model) -> torch.device:
    return next(model.parameters()).device


def vocab_size(model) -> int:
    """Width of the model's logits."""
    return int(model.get_output_embeddings().weight.shape[0])


def adapter_call(model, names: Sequence[str]):
    """``(context, kwargs)`` that run one forward with adapter ``names[r]`` on row ``r``.

    The base model (:data:`BASE`) runs with every adapter disabled; one adapter for all rows runs
    plainly when it is the active one; anything else is a peft mixed-adapter batch.
    """
    names = list(names)
    unique = set(names)
    if not is_peft_model(model):
        if unique - {BASE}:
            raise ValueError(f"the model has no adapters, so every policy must be {BASE!r}; got {sorted(unique)}")
        return nullcontext(), {}
    unknown = unique - set(model.peft_config) - {BASE}
    if unknown:
        raise ValueError(f"unknown adapter(s) {sorted(unknown)}; the model has {sorted(model.peft_config)}")
    if unique == {BASE}:
        return model.disable_adapter(), {}
    if len(unique) == 1 and names[0] == model.active_adapter:
        return nullcontext(), {}
    return nullcontext(), {"adapter_names": names}


def supports_logits_to_keep(model) -> bool:
    """Whether the (base) model's forward takes ``logits_to_keep`` (most transformers causal LMs do)."""
    cached = getattr(model, "_aa_logits_to_keep", None)
    if cached is None:
        base = model.get_base_model() if is_peft_model(model) else model
        cached = "logits_to_keep" in inspect.signature(base.forward).parameters
        try:
            model._aa_logits_to_keep = cached
        except AttributeError:  # pragma: no cover
            pass
    return cached


def shared_prefix_length(tokens: torch.Tensor, attention_mask: torch.Tensor) -> int:
    """Length of the longest prefix of real tokens that every row of ``tokens [R, L]`` shares."""
    same = (tokens == tokens[:1]).all(dim=0) & (attention_mask == 1).all(dim=0)
    differs = (~same).nonzero()
    return int(differs[0]) if len(differs) else tokens.shape[1]


def _forward(model, names, share_prefix: bool, **inputs):
    context, kwargs = adapter_call(model, names)
    with context, quiet_hf():
        return model(**inputs, **kwargs)


def logits_at(model, tokens: torch.Tensor, attention_mask: torch.Tensor, columns: torch.Tensor,
              adapters: Sequence[str], share_prefix: bool = True) -> torch.Tensor:
    """Logits ``[R, len(columns), V]`` of a right-padded batch at the sequence positions ``columns``.

    Args:
        tokens, attention_mask: ``[R, L]`` (real tokens first in each row).
        columns: sorted long ``[C]`` positions whose logits are needed.
        adapters: adapter (or :data:`BASE`) of each row.
        share_prefix: compute the prefix all rows share once (only when every row has the same adapter;
            same numbers up to float rounding).
    """
    R, L = tokens.shape
    keep = supports_logits_to_keep(model)
    prefix = shared_prefix_length(tokens, attention_mask) if share_prefix and R > 1 and len(set(adapters)) == 1 else 0
    prefix = min(prefix, L - 1)
    if prefix < 2:
        extra = {"logits_to_keep": columns} if keep else {}
        logits = _forward(model, adapters, False, input_ids=tokens, attention_mask=attention_mask, **extra).logits
        return logits if keep else logits[:, columns]
    # 1) the shared prefix once, 2) its KV cache repeated for every row, 3) the rest of every row
    head_cols, tail_cols = columns[columns < prefix], columns[columns >= prefix]
    head_keep = head_cols if len(head_cols) else torch.tensor([prefix - 1], device=tokens.device)
    extra = {"logits_to_keep": head_keep} if keep else {}
    out = _forward(model, adapters[:1], True, input_ids=tokens[:1, :prefix],
                   attention_mask=attention_mask[:1, :prefix], use_cache=True, **extra)
    head = out.logits if keep else out.logits[:, head_keep]
    cache = out.past_key_values
    cache.reorder_cache(torch.zeros(R, dtype=torch.long, device=tokens.device))
    positions = torch.arange(prefix, L, device=tokens.device).expand(R, -1)
    extra = {"logits_to_keep": tail_cols - prefix} if keep else {}
    tail = _forward(model, adapters, True, input_ids=tokens[:, prefix:], attention_mask=attention_mask,
                    position_ids=positions, past_key_values=cache, use_cache=True, **extra).logits
    if not keep:
        tail = tail[:, tail_cols - prefix]
    parts = ([head[:, :len(head_cols)].expand(R, -1, -1)] if len(head_cols) else []) + [tail]
    return torch.cat(parts, dim=1)
