"""Constrained decoding: token prefix tries over the allowed answers, masks and sampling.

An action turn lists every allowed answer (``turn.choices``, e.g. ``["<A>", "<B>"]``). Their
token ids form a prefix trie; at each step only the children of the current node may be
sampled (plus EOS where an answer may end and a longer one continues), so a disallowed token
has probability exactly zero. Free messages may use every token except the tokenizer's special
tokens (EOS excepted). Each distinct set of allowed tokens gets an id in a
:class:`ConstraintTable`; the rollout records that id for every generated token so that the
training loss recomputes the log-probability of the *same* constrained distribution.

The policy of a generated token is the model's softmax renormalised over its allowed set:

    pi(x | context) = exp(z_x) / sum_{y allowed} exp(z_y)      (z: the model's logits)
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch

__all__ = ["ChoiceTrie", "ConstraintTable", "constrained_log_probs", "constrained_entropy", "sample_tokens"]


class ChoiceTrie:
    """Prefix trie of the token ids of the allowed answers of an action turn.

    Args:
        choices: the allowed answer strings.
        token_ids: their token ids (same order), non-empty and pairwise different.
        eos_id: the EOS token, allowed where an answer is complete but a longer one continues.
    """

    def __init__(self, choices: Sequence[str], token_ids: Sequence[Sequence[int]], eos_id: Optional[int]):
        if not choices:
            raise ValueError("choices must list at least one allowed answer")
        self.choices = list(choices)
        self.children: List[Dict[int, int]] = [{}]
        self.complete: List[Optional[int]] = [None]  # node -> index of the answer that ends there
        for index, ids in enumerate(token_ids):
            if not ids:
                raise ValueError(f"choice {choices[index]!r} encodes to no token")
            node = 0
            for token in ids:
                node = self.children[node].setdefault(int(token), len(self.children))
                if node == len(self.children):
                    self.children.append({})
                    self.complete.append(None)
            if self.complete[node] is not None:
                raise ValueError(f"choices {choices[self.complete[node]]!r} and {choices[index]!r} encode to the "
                                 f"same tokens")
            self.complete[node] = index
        self.eos_id = eos_id
        for node, kids in enumerate(self.children):
            if kids and self.complete[node] is not None and (eos_id is None or eos_id in kids):
                raise ValueError("an answer is a token prefix of another; that needs an EOS token that is no "
                                 "answer token")

    def allowed(self, node: int) -> Tuple[int, ...]:
        """Token ids that may follow ``node``."""
        tokens = set(self.children[node])
        if self.complete[node] is not None:
            tokens.add(self.eos_id)
        return tuple(sorted(tokens))

    def step(self, node: int, token: int) -> Tuple[Optional[int], Optional[int]]:
        """``(next node, finished answer index)``: the answer is finished at a leaf or by EOS."""
        if token == self.eos_id and self.complete[node] is not None and token not in self.children[node]:
            return None, self.complete[node]
        child = self.children[node][token]  # KeyError only if a disallowed token was sampled (a bug)
        if not self.children[child]:
            return None, self.complete[child]
        return child, None


class ConstraintTable:
    """Distinct allowed-token sets, each a row of a bool mask ``[K, vocab_size]``."""

    def __init__(self, vocab_size: int, device="cpu"):
        self.vocab_size = int(vocab_size)
        self.device = torch.device(device)
        self._ids: Dict[object, int] = {}
        self._rows: List[torch.Tensor] = []
        self._stacked: Optional[torch.Tensor] = None

    def add(self, key, tokens: Optional[Sequence[int]] = None, mask: Optional[torch.Tensor] = None) -> int:
        """The id of the set ``key`` (created from ``tokens`` or a bool ``mask [V]`` on first use)."""
        if key in self._ids:
            return self._ids[key]
        if mask is None:
            mask = torch.zeros(self.vocab_size, dtype=torch.bool)
            mask[list(tokens)] = True
        if not mask.any():
            raise ValueError(f"constraint {key!r} allows no token")
        self._ids[key] = len(self._rows)
        self._rows.append(mask.to(self.device))
        self._stacked = None
        return self._ids[key]

    @property
    def masks(self) -> torch.Tensor:
        """Bool ``[K, V]``: row ``k`` marks the tokens allowed by constraint ``k``."""
        if self._stacked is None:
            self._stacked = (torch.stack(self._rows) if self._rows
                             else torch.zeros(0, self.vocab_size, dtype=torch.bool, device=self.device))
        return self._stacked


def constrained_log_probs(logits: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """``log pi`` over the allowed tokens: ``[N, V]`` float32 (``-inf`` where not allowed).

    Args:
        logits: ``[N, V]`` model logits.
        allowed: bool ``[N, V]``.
    """
    return logits.float().masked_fill(~allowed, float("-inf")).log_softmax(dim=-1)


def constrained_entropy(log_probs: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """Entropy ``[N]`` of the constrained distributions given by :func:`constrained_log_probs`."""
    safe = torch.where(allowed, log_probs, torch.zeros_like(log_probs))  # no 0 * -inf, in values or gradients
    return -(safe.exp() * safe * allowed).sum(dim=-1)


def sample_tokens(logits: torch.Tensor, allowed: torch.Tensor, uniforms: torch.Tensor,
                  greedy: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
    """One token per row from the constrained distribution, by inverse-CDF sampling.

    Args:
        logits: ``[N, V]``; allowed: bool ``[N, V]``; uniforms: ``[N]`` in [0, 1) (from the caller's
            generator, so the draw is the same on every device); greedy: take the most likely token.

    Returns:
        ``(tokens [N] long, log_probs [N] float32)``; a token outside ``allowed`` is never returned.
    """
    log_probs = constrained_log_probs(logits, allowed)
    if greedy:
        tokens = log_probs.argmax(dim=-1)
    else:
        cdf = log_probs.exp().cumsum(dim=-1)
        target = (uniforms.to(cdf.device, cdf.dtype) * cdf[:, -1]).unsqueeze(-1)
        tokens = torch.searchsorted(cdf, target, right=True).squeeze(-1).clamp(max=cdf.shape[-1] - 1)
        # rounding at the top of the CDF can land past the last allowed token: take that token instead
        last_allowed = allowed.shape[-1] - 1 - allowed.flip(-1).int().argmax(dim=-1)
        ok = allowed.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
        tokens = torch.where(ok, tokens, last_allowed)
    return tokens, log_probs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
