"""Returns, advantages and the Advantage Alignment shaping term.

Everything here works on per-step tensors whose LAST dimension is time ``T``
(``[..., T]``); leading dimensions (players, batch) are carried along. Time runs
``t = 0 .. T-1``; the reward of step ``t`` is discounted by ``gamma^t`` in the
return from the start.

The heart of the module is :func:`shaping_term`, the weight that multiplies
``log pi_own(a_t | s_t)`` in the Advantage Alignment actor loss (eq. 8 of Duque
et al., ICLR 2025, and its variants). With ``A1`` the agent's advantages and
``A2`` the other player's, the paper's eq. 8 weight is

    w_t = gamma^(t+1) * (sum_{k<t} gamma^(t-k) A1_k) * A2_t.

The options change one factor each (see :func:`shaping_term`):

    w_t = time_weight(t) * sum_{k in past(t)} past_discount^(t-k) (1 - pi2_k) A1_k * A2_t

Which of these variants equals which *exact* opponent-shaping gradient is
worked out in :mod:`aa_lib.exact.shaping` and in the course notebook 05.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch

from ._validation import (check_bool, check_choice, check_finite, check_gamma, check_int, check_probabilities,
                          check_tensor)

__all__ = [
    "discounted_returns",
    "td_errors",
    "gae",
    "leave_one_out_baseline",
    "past_advantage_sum",
    "time_weights",
    "sign_mask_weights",
    "shaping_term",
    "SIGN_MASKS",
    "TIME_WEIGHTS",
]

#: The four sign cases of Fig. 1a / App. C.2, named by (sign of the agent's past
#: advantage sum, sign of the other player's current advantage).
SIGN_MASKS = {
    "cooperative": (1, 1),
    "empathetic": (1, -1),
    "vengeful": (-1, 1),
    "spiteful": (-1, -1),
}

#: Per-step prefactors of the shaping term, by the formula they implement.
TIME_WEIGHTS = ("gamma^(t+1)", "gamma^t", "gamma", "1/(1+t)", "1")


# ----------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------
def _check_series(x, name: str) -> torch.Tensor:
    """A floating-point tensor ``[..., T]`` with T >= 1 and no NaN/inf."""
    x = check_tensor(x, name)
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.dim() == 0 or x.shape[-1] == 0:
        raise ValueError(f"{name} must have shape [..., T] with T >= 1, got {tuple(x.shape)}")
    check_finite(x, name)
    return x


def _check_bootstrap(value, rewards: torch.Tensor, name: str) -> torch.Tensor:
    """``value`` as a tensor shaped like ``rewards[..., 0]`` (zeros when None)."""
    if value is None:
        return torch.zeros_like(rewards[..., 0])
    value = check_tensor(value, name).to(dtype=rewards.dtype, device=rewards.device)
    if value.shape != rewards.shape[:-1]:
        raise ValueError(
            f"{name} must have shape {tuple(rewards.shape[:-1])} (rewards without the time "
            f"dimension), got {tuple(value.shape)}"
        )
    check_finite(value, name)
    return value


# ----------------------------------------------------------------------------
# Returns and advantages
# ----------------------------------------------------------------------------
def _reverse_discounted_sum(x: torch.Tensor, decay: float, last: torch.Tensor) -> torch.Tensor:
    """``y_t = x_t + decay * y_{t+1}`` with ``y_T = last``; ``x`` is ``[..., T]``."""
    out = torch.empty_like(x)
    running = last
    for t in range(x.shape[-1] - 1, -1, -1):
        running = x[..., t] + decay * running
        out[..., t] = running
    return out


def discounted_returns(rewards, gamma: float, bootstrap=None) -> torch.Tensor:
    """Discounted return from each step: ``G_t = sum_{u >= t} gamma^(u-t) r_u + gamma^(T-t) V_boot``.

    Args:
        rewards: ``[..., T]`` per-step rewards.
        gamma: discount in [0, 1].
        bootstrap: optional ``[...]`` value of the state after the last step
            (``0`` when None: the episode ends).

    Returns:
        ``[..., T]`` returns, same dtype as ``rewards``.
    """
    rewards = _check_series(rewards, "rewards")
    gamma = check_gamma(gamma, allow_one=True)
    bootstrap = _check_bootstrap(bootstrap, rewards, "bootstrap")
    return _reverse_discounted_sum(rewards, gamma, bootstrap)


def td_errors(rewards, values, gamma: float, next_value=None) -> torch.Tensor:
    """One-step TD errors ``delta_t = r_t + gamma V_{t+1} - V_t``.

    Args:
        rewards: ``[..., T]``.
        values: ``[..., T]`` critic values ``V(s_t)``.
        gamma: discount in [0, 1].
        next_value: optional ``[...]`` value ``V(s_T)`` after the last step (0 when None).

    Returns:
        ``[..., T]``.
    """
    rewards = _check_series(rewards, "rewards")
    values = _check_series(values, "values")
    if values.shape != rewards.shape:
        raise ValueError(f"values must have the shape of rewards {tuple(rewards.shape)}, "
                         f"got {tuple(values.shape)}")
    gamma = check_gamma(gamma, allow_one=True)
    next_value = _check_bootstrap(next_value, rewards, "next_value")
    following = torch.cat([values[..., 1:], next_value.unsqueeze(-1)], dim=-1)
    return rewards + gamma * following - values


def gae(rewards, values, gamma: float, lam: float, next_value=None) -> torch.Tensor:
    """Generalised advantage estimates (Schulman et al. 2018).

    ``A_t = sum_{l >= 0} (gamma lam)^l delta_{t+l}`` with the TD errors of
    :func:`td_errors`. ``lam = 0`` gives the TD errors, ``lam = 1`` the
    discounted return minus the value.

    Args:
        rewards, values: ``[..., T]``.
        gamma: discount in [0, 1].
        lam: GAE parameter in [0, 1].
        next_value: optional ``[...]`` value after the last step (0 when None).

    Returns:
        ``[..., T]`` advantages.
    """
    lam = check_gamma(lam, "lam", allow_one=True)
    deltas = td_errors(rewards, values, gamma, next_value)
    gamma = float(gamma)
    return _reverse_discounted_sum(deltas, gamma * lam, torch.zeros_like(deltas[..., 0]))


def leave_one_out_baseline(returns, dim: int = 0) -> torch.Tensor:
    """Mean of the OTHER entries along ``dim`` (the group-relative baseline).

    For a group of ``n`` returns sharing an environment seed, the baseline of
    return ``i`` is ``(sum_j R_j - R_i) / (n - 1)``, so it is independent of
    ``R_i`` and the policy gradient stays unbiased.

    Args:
        returns: a floating-point tensor with at least 2 entries along ``dim``.
        dim: the group dimension.

    Returns:
        A tensor shaped like ``returns``.
    """
    returns = check_tensor(returns, "returns")
    if not returns.is_floating_point():
        raise TypeError(f"returns must be a floating-point tensor, got dtype {returns.dtype}")
    if returns.dim() == 0:
        raise ValueError("returns must have at least one dimension (the group)")
    try:
        n = returns.shape[dim]
    except IndexError:
        raise ValueError(f"dim={dim} is out of range for returns of shape {tuple(returns.shape)}") from None
    if n < 2:
        raise ValueError(f"leave-one-out needs at least 2 entries along dim {dim}, got {n}")
    check_finite(returns, "returns")
    total = returns.sum(dim=dim, keepdim=True)
    return (total - returns) / (n - 1)


# ----------------------------------------------------------------------------
# The Advantage Alignment shaping term
# ----------------------------------------------------------------------------
def past_advantage_sum(advantages, decay: float, include_current: bool = False) -> torch.Tensor:
    """Discounted sum of past advantages, ``S_t = sum_{k<t} decay^(t-k) A_k`` (``[..., T]``).

    With ``include_current`` the sum runs over ``k <= t`` (the current step
    enters with weight ``decay^0 = 1``). ``S_0 = 0`` when the current step is
    excluded.
    """
    advantages = _check_series(advantages, "advantages")
    decay = check_gamma(decay, "decay", allow_one=True)
    check_bool(include_current, "include_current")
    out = torch.empty_like(advantages)
    running = torch.zeros_like(advantages[..., 0])  # sum_{k<t} decay^(t-1-k) A_k
    for t in range(advantages.shape[-1]):
        strictly_past = decay * running  # sum_{k<t} decay^(t-k) A_k
        out[..., t] = strictly_past + advantages[..., t] if include_current else strictly_past
        running = strictly_past + advantages[..., t]  # becomes sum_{k<=t} decay^(t-k) A_k
        # next step multiplies by decay again: sum_{k<t+1} decay^(t+1-k) A_k
    return out


def time_weights(horizon: int, gamma: float, kind: str = "gamma^(t+1)", dtype=torch.float64,
                 device=None) -> torch.Tensor:
    """The per-step prefactor of the shaping term, ``[T]``.

    ``kind`` is one of :data:`TIME_WEIGHTS`:
      - ``"gamma^(t+1)"``: eq. 8 as printed,
      - ``"gamma^t"``: the policy-gradient discount of eqs. 3 and 6 (the exact
        opponent-shaping term has this one; see :mod:`aa_lib.exact.shaping`),
      - ``"gamma"``: the constant of Proximal AA's modified advantage (eq. 10:
        ``A* = A1 + beta * shaping`` with this prefactor),
      - ``"1/(1+t)"``: the normalisation of eq. 59,
      - ``"1"``: no prefactor.
    """
    horizon = check_int(horizon, "horizon", low=1)
    gamma = check_gamma(gamma, allow_one=True)
    check_choice(kind, "time_weight", TIME_WEIGHTS)
    t = torch.arange(horizon, dtype=dtype, device=device)
    if kind == "gamma^(t+1)":
        return torch.as_tensor(gamma, dtype=dtype, device=device) ** (t + 1)
    if kind == "gamma^t":
        return torch.as_tensor(gamma, dtype=dtype, device=device) ** t
    if kind == "gamma":
        return torch.full_like(t, gamma)
    if kind == "1/(1+t)":
        return 1.0 / (1.0 + t)
    if kind == "1":
        return torch.ones_like(t)
    raise ValueError(f"time_weight must be one of {TIME_WEIGHTS}, got {kind!r}")


def _normalise_mask_names(sign_mask) -> tuple:
    """``None``, a name, or a sequence of names -> tuple of validated names."""
    if sign_mask is None:
        return ()
    names = (sign_mask,) if isinstance(sign_mask, str) else tuple(sign_mask)
    for name in names:
        if name not in SIGN_MASKS:
            raise ValueError(f"sign_mask must be None or among {tuple(SIGN_MASKS)}, got {name!r}")
    return names


def sign_mask_weights(past_sum: torch.Tensor, other_advantages: torch.Tensor, sign_mask) -> torch.Tensor:
    """1 where the term is kept, 0 where a sign mask of App. C.2 removes it.

    A mask named e.g. ``"vengeful"`` (agent negative, other positive) removes
    the terms whose past advantage sum is < 0 and whose other-player advantage
    is > 0. Several names remove the union of their cases. Zero values belong
    to no case and are never masked.
    """
    keep = torch.ones_like(past_sum)
    for name in _normalise_mask_names(sign_mask):
        own_sign, other_sign = SIGN_MASKS[name]
        hit = (torch.sign(past_sum) == own_sign) & (torch.sign(other_advantages) == other_sign)
        keep = keep.masked_fill(hit, 0.0)
    return keep


def _check_other(other, own: torch.Tensor, name: str) -> torch.Tensor:
    """``other`` as ``[n_others, batch, T]`` (a ``[batch, T]`` input gets n_others = 1)."""
    other = _check_series(other, name)
    if other.shape == own.shape:
        return other.unsqueeze(0)
    if other.dim() == 3 and other.shape[1:] == own.shape:
        return other
    raise ValueError(
        f"{name} must have shape {tuple(own.shape)} (one co-player) or "
        f"[n_others, {', '.join(map(str, own.shape))}] (several), got {tuple(other.shape)}"
    )


def shaping_term(
    own_advantages,
    other_advantages,
    gamma: float,
    *,
    past_discount: Optional[float] = None,
    include_current: bool = False,
    normalise: bool = False,
    time_weight: Optional[str] = None,
    sign_mask: Union[None, str, Sequence[str]] = None,
    loqa_other_probs=None,
    other_reduction: str = "sum",
) -> torch.Tensor:
    """The Advantage Alignment weight of each log-probability, ``[batch, T]``.

    This is what multiplies ``log pi_own(a_t | s_t)`` in the actor loss, BEFORE
    multiplying by the Advantage Alignment weight ``beta``. The defaults give
    the paper's eq. 8:

        w_t = gamma^(t+1) * (sum_{k<t} gamma^(t-k) A1_k) * A2_t.

    In general, for each co-player j (eq. 66 sums over them):

        w_t = f(t) * sum_j mask_t^j * (sum_{k in past(t)} lambda^(t-k) (1 - pi^j_k) A1_k) * A^j_t

    Args:
        own_advantages: ``[batch, T]`` the agent's advantages ``A1_k``.
        other_advantages: ``[batch, T]`` the other player's advantages, or
            ``[n_others, batch, T]`` for several co-players.
        gamma: the discount in [0, 1] (used by the default past discount and
            the default time weight).
        past_discount: ``lambda``, the decay per step of age of the past
            advantages. ``None`` means ``gamma`` (eq. 8), or ``1.0`` when
            ``normalise`` is set (eq. 59 sums the past undiscounted). ``1.0`` is
            also the choice that makes the estimator exact (see
            :mod:`aa_lib.exact.shaping`). The paper's IPD and Coin Game runs use
            a separate "AA discount factor" of 0.9.
        include_current: sum over ``k <= t`` instead of ``k < t``.
        normalise: eq. 59: the prefactor becomes ``1/(1+t)`` and, unless
            ``past_discount`` is given, the past sum is undiscounted.
        time_weight: the prefactor ``f(t)``, one of :data:`TIME_WEIGHTS`;
            ``None`` means ``"gamma^(t+1)"`` (eq. 8), or ``"1/(1+t)"`` when
            ``normalise`` is set.
        sign_mask: ``None``, or one or several of ``"cooperative"``,
            ``"empathetic"``, ``"vengeful"``, ``"spiteful"`` (App. C.2): remove
            the terms whose (sign of the past sum, sign of ``A^j_t``) is that case.
        loqa_other_probs: optional ``[batch, T]`` (or ``[n_others, batch, T]``)
            probabilities ``pi^j(b_k | s_k)`` of the co-player's actions; each past
            advantage is multiplied by ``(1 - pi^j_k)`` (LOQA, eq. 12).
        other_reduction: ``"sum"`` (eq. 66) or ``"mean"`` over co-players.

    Returns:
        ``[batch, T]`` weights, same dtype as ``own_advantages``.
    """
    own = _check_series(own_advantages, "own_advantages")
    if own.dim() != 2:
        raise ValueError(f"own_advantages must have shape [batch, T], got {tuple(own.shape)}")
    others = _check_other(other_advantages, own, "other_advantages").to(own.dtype)
    gamma = check_gamma(gamma, allow_one=True)
    if past_discount is None:
        decay = 1.0 if normalise else gamma
    else:
        decay = check_gamma(past_discount, "past_discount", allow_one=True)
    if time_weight is None:
        time_weight = "1/(1+t)" if normalise else "gamma^(t+1)"
    elif normalise and time_weight != "1/(1+t)":
        raise ValueError(f"normalise=True asks for time_weight '1/(1+t)', but time_weight={time_weight!r}")
    if other_reduction not in ("sum", "mean"):
        raise ValueError(f"other_reduction must be 'sum' or 'mean', got {other_reduction!r}")
    _normalise_mask_names(sign_mask)  # validate early

    # Past advantages of the agent, one copy per co-player: [n_others, batch, T].
    if loqa_other_probs is None:
        past_terms = own.unsqueeze(0).expand_as(others)
    else:
        probs = _check_other(loqa_other_probs, own, "loqa_other_probs").to(own.dtype)
        check_probabilities(probs, "loqa_other_probs")
        if probs.shape[0] != others.shape[0]:
            raise ValueError(f"loqa_other_probs has {probs.shape[0]} co-players but other_advantages "
                             f"has {others.shape[0]}")
        past_terms = (1.0 - probs) * own  # (1 - pi^j(b_k|s_k)) A1_k, eq. 12
    past = past_advantage_sum(past_terms, decay, include_current)  # [n_others, batch, T]

    terms = past * others * sign_mask_weights(past, others, sign_mask)
    combined = terms.sum(0) if other_reduction == "sum" else terms.mean(0)
    return combined * time_weights(own.shape[-1], gamma, time_weight, own.dtype, own.device)


# ----------------------------------------------------------------------------
# The group-relative baseline (LLM follow-up: seed groups of games)
# ----------------------------------------------------------------------------
def group_relative_baseline(returns, group_ids, dim: int = -2) -> torch.Tensor:
    """Leave-one-out mean of ``returns`` over the OTHER games of the same seed group.

    Games that share an environment seed (the same values/hands) form a group; the baseline of
    game ``b`` is ``(sum_{b' in g(b)} R_b' - R_b) / (|g(b)| - 1)``, so it never depends on the
    game's own return and the policy gradient stays unbiased. Every other dimension (seats,
    rounds) is kept apart: the baseline is per seat and per round. With a single group this is
    :func:`leave_one_out_baseline` along ``dim``.

    Args:
        returns: floating-point tensor, e.g. ``[n_players, batch, T]`` returns-to-go.
        group_ids: long ``[batch]``, the group of each game along ``dim`` (any integer labels).
        dim: the batch (game) dimension of ``returns``; default ``-2`` (``[..., batch, T]``).

    Returns:
        a tensor shaped like ``returns``.
    """
    returns = check_tensor(returns, "returns")
    if not returns.is_floating_point():
        raise TypeError(f"returns must be a floating-point tensor, got dtype {returns.dtype}")
    if returns.dim() == 0:
        raise ValueError("returns must have at least one dimension (the games)")
    try:
        dim = range(returns.dim())[dim]
    except IndexError:
        raise ValueError(f"dim={dim} is out of range for returns of shape {tuple(returns.shape)}") from None
    group_ids = check_tensor(group_ids, "group_ids")
    if group_ids.dim() != 1 or group_ids.shape[0] != returns.shape[dim] or group_ids.is_floating_point():
        raise ValueError(f"group_ids must be an integer tensor [{returns.shape[dim]}] (one group per game along "
                         f"dim {dim}), got {group_ids.dtype} {tuple(group_ids.shape)}")
    check_finite(returns, "returns")
    labels, index = torch.unique(group_ids.to(returns.device), return_inverse=True)
    sizes = torch.bincount(index, minlength=len(labels))
    if (sizes < 2).any():
        lonely = labels[sizes < 2].tolist()
        raise ValueError(f"leave-one-out needs at least 2 games per group; group(s) {lonely[:5]} have one")
    shape = list(returns.shape)
    shape[dim] = len(labels)
    totals = torch.zeros(shape, dtype=returns.dtype, device=returns.device).index_add_(dim, index, returns)
    view = [1] * returns.dim()
    view[dim] = -1
    counts = sizes[index].to(returns.dtype).view(view)
    return (totals.index_select(dim, index) - returns) / (counts - 1)
