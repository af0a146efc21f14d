"""Token-level REINFORCE on the generated tokens (LLM follow-up; REFERENCES "LLM follow-up").

For the ``N`` generated tokens ``x_n`` of the trained rows, with credit ``c_n`` (the credit of the
token's round, :mod:`aa_lib.llm.credit`) and the constrained policy ``pi`` of
:mod:`aa_lib.llm.decoding`:

    loss = - (1/N) sum_n  rho_n c_n log pi(x_n | context_n)
           - entropy_coef * (1/N) sum_n H(pi(. | context_n))
           + kl_coef      * (1/N) sum_n KL(pi(. | context_n) || pi_base(. | context_n))

``rho_n = min(pi(x_n) / mu(x_n), importance_cap)`` (detached) corrects for a behaviour policy ``mu``
that differs from the trained one (the reference's vLLM/trainer mismatch, cap 2); here sampling and
training use the same model, so ``rho = 1`` up to rounding. ``pi_base`` is the model with its adapters
disabled. One Adam step per batch, gradients clipped by global norm.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import torch

from .decoding import constrained_entropy, constrained_log_probs
from .forward import logits_at

__all__ = ["TokenLogProbs", "token_log_probs", "reinforce_loss", "LossParts"]


@dataclass
class TokenLogProbs:
    """Log-probabilities of the generated tokens of some rows, flattened in row-major order.

    Attributes:
        log_probs: ``[N]`` ``log pi(x_n)``; all_log_probs: ``[N, V]`` the whole constrained distribution;
        allowed: bool ``[N, V]``; position: ``(row, column)`` index pair of each token.
    """

    log_probs: torch.Tensor
    all_log_probs: torch.Tensor
    allowed: torch.Tensor
    position: tuple


def token_log_probs(model, tokens: torch.Tensor, attention_mask: torch.Tensor, action_mask: torch.Tensor,
                    constraint: torch.Tensor, allowed: torch.Tensor, adapters: Sequence[str],
                    share_prefix: bool = True) -> TokenLogProbs:
    """Recompute ``log pi`` of every generated token with one full-sequence forward.

    Args:
        model: the causal LM (peft model with the named adapters).
        tokens, attention_mask, action_mask, constraint: ``[R, L]`` from a :class:`RolloutBatch` (right-padded).
        allowed: bool ``[K, V]`` the constraint sets.
        adapters: the adapter (or ``BASE``) of each row.
        share_prefix: compute the prefix that all rows share once (see :func:`~aa_lib.llm.forward.logits_at`).
    """
    # the logits at position l choose the token at l + 1
    target = action_mask[:, 1:]
    rows, cols = target.nonzero(as_tuple=True)
    columns = torch.unique(cols)  # sorted
    logits = logits_at(model, tokens, attention_mask, columns, adapters, share_prefix)
    chosen = logits[rows, torch.searchsorted(columns, cols)]  # [N, V]
    mask = allowed[constraint[rows, cols + 1]]
    all_log_probs = constrained_log_probs(chosen, mask)
    picked = all_log_probs.gather(-1, tokens[rows, cols + 1].unsqueeze(-1)).squeeze(-1)
    return TokenLogProbs(picked, all_log_probs, mask, (rows, cols + 1))


@dataclass
class LossParts:
    """The loss and its parts (floats, for logging)."""

    loss: torch.Tensor
    policy_gradient: float
    entropy: float
    kl: float
    n_tokens: int
    importance_weight: float


def reinforce_loss(current: TokenLogProbs, credit: torch.Tensor, behaviour_log_probs: torch.Tensor,
                   entropy_coef: float = 0.0, kl_coef: float = 0.0, base: Optional[TokenLogProbs] = None,
                   importance_cap: Optional[float] = None) -> LossParts:
    """The token-level REINFORCE loss of the module docstring.

    Args:
        current: :func:`token_log_probs` of the trained adapter (with gradients).
        credit: ``[N]`` credit of each generated token.
        behaviour_log_probs: ``[N]`` log-probabilities recorded when sampling.
        entropy_coef, kl_coef: weights of the entropy bonus and the KL penalty.
        base: :func:`token_log_probs` of the base model (needed when ``kl_coef > 0``).
        importance_cap: cap of the truncated importance weight (None: no weight).
    """
    n = current.log_probs.shape[0]
    if n == 0:
        raise ValueError("the batch has no generated tokens to train on")
    if credit.shape != current.log_probs.shape or behaviour_log_probs.shape != credit.shape:
        raise ValueError(f"credit and behaviour_log_probs must have shape [{n}] (one per generated token)")
    log_probs = current.log_probs
    if importance_cap is None:
        weight = torch.ones_like(log_probs)
    else:
        weight = (log_probs.detach() - behaviour_log_probs.to(log_probs)).exp().clamp(max=float(importance_cap))
    policy_gradient = -(weight * credit.to(log_probs) * log_probs).sum() / n
    loss = policy_gradient
    entropy = constrained_entropy(current.all_log_probs, current.allowed).mean()
    if entropy_coef:
        loss = loss - float(entropy_coef) * entropy
    kl = torch.zeros((), device=log_probs.device)
    if kl_coef:
        if base is None:
            raise ValueError("kl_coef > 0 needs the base model's log-probabilities (base=...)")
        zeros = torch.zeros_like(current.all_log_probs)
        own = torch.where(current.allowed, current.all_log_probs, zeros)  # no -inf: gradients stay finite
        ref = torch.where(current.allowed, base.all_log_probs.detach(), zeros)
        kl = (own.exp() * (own - ref) * current.allowed).sum(-1).mean()
        loss = loss + float(kl_coef) * kl
    return LossParts(loss=loss, policy_gradient=float(policy_gradient.detach()), entropy=float(entropy.detach()),
                     kl=float(kl.detach()), n_tokens=n, importance_weight=float(weight.mean()))


def loss_summary(parts: LossParts) -> Dict[str, float]:
    """The logged numbers of a :class:`LossParts`."""
    return {"loss": float(parts.loss.detach()), "policy_gradient": parts.policy_gradient, "entropy": parts.entropy,
            "kl": parts.kl, "action_tokens": float(parts.n_tokens), "importance_weight": parts.importance_weight}
