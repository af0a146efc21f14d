"""Exact learning dynamics on memory-one iterated games, many seeds at once.

Each learner ascends its own per-step value ``u_i = (1 - gamma) V_i`` (the exact
values of :func:`aa_lib.exact.memory_one.memory_one_values`), with gradients from
autograd. Three update rules, each a function
``rule(theta_self, theta_other, game, gamma, lookahead_lr) -> gradient direction``
written from the learner's own seat:

``naive``
    ``grad_1 u_1(th1, th2)`` -- plain policy-gradient ascent.

``lola_shaping``  (original LOLA, Foerster et al. 2018, eq. 4.2 of their paper)
    ``grad_1 u_1 + eta * grad_1 [ stopgrad(grad_2 u_1) . grad_2 u_2 ]``: the
    first-order Taylor expansion of the look-ahead, of which only the shaping term
    (how my parameters change the other's naive step, projected on how that step
    helps me) is kept. The term ``grad_2 u_1 . grad_1 grad_2 u_2`` is a mixed
    second derivative.

``lola_lookahead``  (the look-ahead or "LOLA-DiCE-style" form)
    ``grad_1 u_1(th1, th2 + eta grad_2 u_2(th1, th2))``, differentiating through the
    opponent's imagined naive step. To first order in ``eta`` this equals
    ``lola_shaping`` plus ``eta grad_1 (grad_2 u_1) . grad_2 u_2``, a term the
    original form drops.

``pola``  (proximal LOLA, :mod:`aa_lib.exact.pola`)
    LOLA's look-ahead with proximal steps in policy space; returns a displacement.

The seeds are independent, so the gradient of the *sum* over seeds of a value gives
every seed's own gradient in one backward pass.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import torch

from .._validation import (check_bool, check_finite, check_gamma, check_int, check_last_dim, check_number,
                           check_positive_int, check_tensor)
from ..games.matrix import PRISONERS_DILEMMA, as_payoff_tensor
from .memory_one import per_step_values
from .pola import pola_direction

__all__ = [
    "naive_direction",
    "lola_shaping_direction",
    "lola_lookahead_direction",
    "RULES",
    "LearningHistory",
    "run_exact_learning",
    "is_tft_like",
    "swap_seats",
]


def swap_seats(game) -> torch.Tensor:
    """Payoff tensor of the same game seen with the players' roles exchanged."""
    return as_payoff_tensor(game).flip(0)


def naive_direction(theta_self, theta_other, game, gamma, lookahead_lr: float = 0.0) -> torch.Tensor:
    """``grad_self u_self``, ``[..., 5]``. ``lookahead_lr`` is ignored (uniform signature)."""
    th1 = theta_self.detach().requires_grad_(True)
    u1, _ = per_step_values(th1, theta_other.detach(), game, gamma)
    (g1,) = torch.autograd.grad(u1.sum(), th1)
    return g1


def lola_shaping_direction(theta_self, theta_other, game, gamma, lookahead_lr: float = 1.0) -> torch.Tensor:
    """Original LOLA: ``grad_1 u_1 + eta grad_1 [stopgrad(grad_2 u_1) . grad_2 u_2]``, ``[..., 5]``."""
    th1 = theta_self.detach().requires_grad_(True)
    th2 = theta_other.detach().requires_grad_(True)
    u1, u2 = per_step_values(th1, th2, game, gamma)
    g1_own, g2_of_u1 = torch.autograd.grad(u1.sum(), (th1, th2), create_graph=False, retain_graph=True)
    (g2_of_u2,) = torch.autograd.grad(u2.sum(), th2, create_graph=True)
    shaping_objective = (g2_of_u1.detach() * g2_of_u2).sum()
    (shaping,) = torch.autograd.grad(shaping_objective, th1)
    return g1_own + lookahead_lr * shaping


def lola_lookahead_direction(theta_self, theta_other, game, gamma, lookahead_lr: float = 1.0) -> torch.Tensor:
    """Look-ahead LOLA: ``grad_1 u_1(th1, th2 + eta grad_2 u_2(th1, th2))``, ``[..., 5]``."""
    th1 = theta_self.detach().requires_grad_(True)
    th2 = theta_other.detach().requires_grad_(True)
    _, u2 = per_step_values(th1, th2, game, gamma)
    (g2,) = torch.autograd.grad(u2.sum(), th2, create_graph=True)
    u1_after, _ = per_step_values(th1, th2 + lookahead_lr * g2, game, gamma)
    (g1,) = torch.autograd.grad(u1_after.sum(), th1)
    return g1


RuleFn = Callable[..., torch.Tensor]
RULES: Dict[str, RuleFn] = {
    "naive": naive_direction,
    "lola_shaping": lola_shaping_direction,
    "lola_lookahead": lola_lookahead_direction,
    "pola": pola_direction,  # a proximal update (displacement): use lr = 1
}


def _resolve_rule(rule: Union[str, RuleFn], name: str) -> RuleFn:
    if callable(rule):
        return rule
    if rule not in RULES:
        raise ValueError(f"{name} must be one of {sorted(RULES)} or a callable, got {rule!r}")
    return RULES[rule]


def is_tft_like(p_cooperate: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Whether memory-one policies reciprocate like Tit-for-Tat, ``[...]`` bool.

    ``p_cooperate`` ``[..., 5]`` is P(C | start, CC, CD, DC, DD) from the own seat.
    Tit-for-Tat copies the other's last action: cooperate after CC and DC (the other
    cooperated), defect after CD and DD (the other defected). A policy is counted as
    TFT-like when it is on the right side of ``threshold`` in all four memory states
    (the start state is not judged).
    """
    p = check_last_dim(check_tensor(p_cooperate, "p_cooperate"), 5, "p_cooperate")
    cooperates_after_c = (p[..., 1] > threshold) & (p[..., 3] > threshold)
    defects_after_d = (p[..., 2] < threshold) & (p[..., 4] < threshold)
    return cooperates_after_c & defects_after_d


@dataclass
class LearningHistory:
    """Trajectory of a learning run, ``K`` steps over ``N`` seeds.

    Attributes:
        theta1, theta2: ``[K+1, N, 5]`` logits, each from its own seat.
        reward1, reward2: ``[K+1, N]`` exact per-step values ``(1 - gamma) V``.
        rules: the update rules of the two players.
        gamma, lr, lookahead_lr: the settings of the run.
    """

    theta1: torch.Tensor
    theta2: torch.Tensor
    reward1: torch.Tensor
    reward2: torch.Tensor
    rules: Tuple[str, str]
    gamma: float
    lr: float
    lookahead_lr: float

    @property
    def p_cooperate1(self) -> torch.Tensor:
        """P(C | start, CC, CD, DC, DD) of player 1, own seat, ``[K+1, N, 5]``."""
        return torch.sigmoid(self.theta1)

    @property
    def p_cooperate2(self) -> torch.Tensor:
        """P(C | start, CC, CD, DC, DD) of player 2, own seat, ``[K+1, N, 5]``."""
        return torch.sigmoid(self.theta2)

    @property
    def mean_reward(self) -> torch.Tensor:
        """Average per-step reward of the two players, ``[K+1, N]``."""
        return 0.5 * (self.reward1 + self.reward2)

    def final_mean_reward(self) -> float:
        """Mean over seeds and players of the last per-step reward."""
        return float(self.mean_reward[-1].mean())

    def tft_fraction(self, threshold: float = 0.5) -> float:
        """Fraction of (seed, player) pairs whose final policy is TFT-like."""
        final = torch.cat([self.p_cooperate1[-1], self.p_cooperate2[-1]])
        return float(is_tft_like(final, threshold).double().mean())


def _as_pair(value, name: str):
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be one rule or a pair of rules, got {value!r}")
        return tuple(value)
    return (value, value)


def run_exact_learning(
    rule: Union[str, RuleFn, Sequence] = "naive",
    n_seeds: int = 50,
    n_steps: int = 200,
    game=PRISONERS_DILEMMA,
    gamma: float = 0.96,
    lr: float = 1.0,
    lookahead_lr: float = 1.0,
    init_std: float = 1.0,
    seed: int = 0,
    theta1: Optional[torch.Tensor] = None,
    theta2: Optional[torch.Tensor] = None,
    device: Union[str, torch.device] = "cpu",
    progress: bool = False,
) -> LearningHistory:
    """Let two exact learners play ``n_steps`` of simultaneous gradient steps on ``n_seeds`` seeds.

    Args:
        rule: ``"naive"``, ``"lola_shaping"``, ``"lola_lookahead"``, ``"pola"`` (a proximal
            update, returned as a displacement: use ``lr=1``), a callable with the
            signature of :func:`naive_direction`, or a pair (player 1's, player 2's).
        n_seeds: number of independent runs, vectorised.
        n_steps: number of simultaneous updates.
        game: a 2x2 game (``MatrixGame`` or ``[2, 2, 2]`` payoffs).
        gamma: discount in [0, 1).
        lr: step size on the per-step value ``(1 - gamma) V``.
        lookahead_lr: the opponent step size ``eta`` that LOLA imagines.
        init_std: initial logits are drawn from ``N(0, init_std^2)``.
        seed: seed of the initial logits (ignored when ``theta1``/``theta2`` are given).
        theta1, theta2: optional initial logits ``[n_seeds, 5]``.
        device: torch device; computation is float64.
        progress: show a tqdm progress bar.

    Returns:
        :class:`LearningHistory` with the whole trajectory.
    """
    n_seeds = check_positive_int(n_seeds, "n_seeds")
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative integer, got {n_steps!r}")
    gamma = check_gamma(gamma)
    lr = check_number(lr, "lr", 0.0)
    lookahead_lr = check_number(lookahead_lr, "lookahead_lr", 0.0)
    init_std = check_number(init_std, "init_std", 0.0)
    seed = check_int(seed, "seed", -(2 ** 63), 2 ** 64 - 1)
    check_bool(progress, "progress")
    rules = _as_pair(rule, "rule")
    fns = tuple(_resolve_rule(r, "rule") for r in rules)
    names = tuple(r if isinstance(r, str) else getattr(r, "__name__", "custom") for r in rules)
    if "pola" in names and lr != 1.0:
        raise ValueError(f"the pola rule returns a proximal displacement, so it needs lr=1 (got lr={lr}); "
                         "set its step sizes with aa_lib.exact.pola.pola_rule(outer_lr=...)")
    payoffs = as_payoff_tensor(game, device=device)
    payoffs_swapped = payoffs.flip(0)  # the game from player 2's seat

    gen = torch.Generator(device="cpu").manual_seed(seed)
    init = torch.randn(2, n_seeds, 5, generator=gen, dtype=torch.float64) * init_std
    th1 = init[0] if theta1 is None else check_tensor(theta1, "theta1").to(torch.float64)
    th2 = init[1] if theta2 is None else check_tensor(theta2, "theta2").to(torch.float64)
    for name, th in (("theta1", th1), ("theta2", th2)):
        if tuple(th.shape) != (n_seeds, 5):
            raise ValueError(f"{name} must have shape ({n_seeds}, 5), got {tuple(th.shape)}")
        check_finite(th, name)  # a NaN start is the caller's, not a divergence of the learners
    th1, th2 = th1.to(device), th2.to(device)

    thetas1, thetas2, rewards1, rewards2 = [], [], [], []
    steps = range(n_steps + 1)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=f"exact {rules[0]} vs {rules[1]}", leave=False)
    for k in steps:
        with torch.no_grad():
            u1, u2 = per_step_values(th1, th2, payoffs, gamma)
        thetas1.append(th1)
        thetas2.append(th2)
        rewards1.append(u1)
        rewards2.append(u2)
        if k == n_steps:
            break
        # Player 2 sees the game from its own seat: swap the payoff rows.
        d1 = fns[0](th1, th2, payoffs, gamma, lookahead_lr)
        d2 = fns[1](th2, th1, payoffs_swapped, gamma, lookahead_lr)
        th1, th2 = th1 + lr * d1, th2 + lr * d2
        if not (torch.isfinite(th1).all() and torch.isfinite(th2).all()):
            raise FloatingPointError(f"exact learning diverged (non-finite logits) at step {k + 1} with finite "
                                     f"inputs (lr={lr}, lookahead_lr={lookahead_lr}); try a smaller lr")

    return LearningHistory(
        torch.stack(thetas1), torch.stack(thetas2), torch.stack(rewards1), torch.stack(rewards2),
        names, gamma, float(lr), float(lookahead_lr),
    )
