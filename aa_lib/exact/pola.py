"""Proximal LOLA (POLA, Zhao et al. 2022) on exact memory-one values.

LOLA's update depends on how the policy is parameterised: the same policies written
with other logits give other steps. POLA replaces LOLA's gradient steps by
*proximal* steps in policy space, which makes the ideal update invariant to the
parameterisation. With the exact per-step values ``u_i = (1 - gamma) V_i`` of
:mod:`aa_lib.exact.memory_one`, the ideal POLA update of player 1 is

    th2'(th1) = argmax_th2  u_2(th1, th2) - c_2 D(th2, th2_old)        (opponent's proximal step)
    th1_new   = argmax_th1  u_1(th1, th2'(th1)) - c_1 D(th1, th1_old)  (own proximal step through it)

where ``D`` is a divergence between the policies. Here ``D`` is the KL divergence
``KL(pi_new || pi_old)`` of the Bernoulli "cooperate" distributions, averaged over the
five memory states (start, CC, CD, DC, DD); POLA's own tabular experiments also weight
every state alike, its sampled version (POLA-DiCE) uses the states of fresh rollouts.
Both argmaxes are approximated as in the paper's "outer POLA": ``inner_steps``
gradient steps for the opponent (differentiated through, so that ``th2'`` depends on
``th1``), ``outer_steps`` gradient steps for the learner.

:func:`pola_direction` has the signature of the rules of
:mod:`aa_lib.exact.learning` and returns ``th1_new - th1``, so
``run_exact_learning(pola_rule(...), lr=1.0)`` applies exactly the proximal update.
With one outer and one inner step the proximal terms have zero gradient (both start
at the old policies) and the update is ``outer_lr`` times look-ahead LOLA.

The defaults are for the per-step values of the IPD with ``lookahead_lr = 1/(1 - gamma)``
(the exact LOLA reference's opponent step): 50 seeds, 50 updates,
``run_exact_learning("pola", lr=1, lookahead_lr=25)`` end at a mean of about -1.22 per
step with 70% of the policies Tit-for-Tat-like (``tests/test_exact_pola.py``).
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from .._validation import check_nonnegative, check_positive, check_positive_int
from .memory_one import per_step_values

__all__ = ["bernoulli_kl", "pola_objectives", "pola_direction", "pola_rule"]


def bernoulli_kl(theta_new: torch.Tensor, theta_old: torch.Tensor) -> torch.Tensor:
    """Mean over the 5 memory states of ``KL(Bern(sigmoid(new)) || Bern(sigmoid(old)))``, ``[...]``.

    Written with log-sigmoids, so it stays finite for large logits.
    """
    p_new = torch.sigmoid(theta_new)
    kl = (p_new * (F.logsigmoid(theta_new) - F.logsigmoid(theta_old))
          + (1 - p_new) * (F.logsigmoid(-theta_new) - F.logsigmoid(-theta_old)))
    return kl.mean(-1)


def pola_objectives(theta_self, theta_other, theta_self_old, theta_other_old, game, gamma,
                    prox_self: float, prox_other: float):
    """The two proximal objectives ``(u_1 - c_1 D_1, u_2 - c_2 D_2)``, each ``[...]`` (for tests and plots)."""
    u1, u2 = per_step_values(theta_self, theta_other, game, gamma)
    return (u1 - prox_self * bernoulli_kl(theta_self, theta_self_old),
            u2 - prox_other * bernoulli_kl(theta_other, theta_other_old))


def pola_direction(theta_self, theta_other, game, gamma, lookahead_lr: float = 1.0, *,
                   outer_lr: float = 5.0, outer_steps: int = 5, inner_steps: int = 5,
                   prox_self: float = 0.1, prox_other: float = 0.1) -> torch.Tensor:
    """POLA's proximal update of player 1 (module docstring), returned as ``th1_new - th1``, ``[..., 5]``.

    Args:
        theta_self, theta_other: logits ``[..., 5]`` of the learner and the opponent, own seats.
        game, gamma: as in :func:`aa_lib.exact.memory_one.memory_one_values`.
        lookahead_lr: step size of the opponent's imagined (inner) gradient steps.
        outer_lr: step size of the learner's (outer) gradient steps.
        outer_steps, inner_steps: numbers of outer and inner gradient steps.
        prox_self, prox_other: weights ``c_1, c_2`` of the KL terms (the inverse of POLA's
            proximal step sizes); 0 removes a proximal term.
    """
    outer_steps = check_positive_int(outer_steps, "outer_steps")
    inner_steps = check_positive_int(inner_steps, "inner_steps")
    prox_self, prox_other = check_nonnegative(prox_self, "prox_self"), check_nonnegative(prox_other, "prox_other")
    check_positive(outer_lr, "outer_lr", finite=True)
    check_positive(lookahead_lr, "lookahead_lr", finite=True)
    th1_old, th2_old = theta_self.detach(), theta_other.detach()
    th1 = th1_old.clone().requires_grad_(True)
    for _ in range(outer_steps):
        th2 = th2_old.clone().requires_grad_(True)
        for _ in range(inner_steps):  # the opponent's proximal step, a differentiable function of th1
            _, obj2 = pola_objectives(th1, th2, th1_old, th2_old, game, gamma, prox_self, prox_other)
            (g2,) = torch.autograd.grad(obj2.sum(), th2, create_graph=True)
            th2 = th2 + lookahead_lr * g2
        obj1, _ = pola_objectives(th1, th2, th1_old, th2_old, game, gamma, prox_self, prox_other)
        (g1,) = torch.autograd.grad(obj1.sum(), th1)  # seeds are independent: sum = per-seed gradients
        th1 = (th1 + outer_lr * g1).detach().requires_grad_(True)
    return th1.detach() - th1_old


def pola_rule(**options):
    """:func:`pola_direction` with fixed options, usable as a ``rule`` of ``run_exact_learning`` (use ``lr=1``).

    The opponent's step size is not an option here: ``run_exact_learning`` passes its
    ``lookahead_lr`` to every rule.
    """
    if "lookahead_lr" in options:
        raise ValueError("pola_rule: set the opponent's step with run_exact_learning(..., lookahead_lr=...), "
                         "which passes it to every rule")
    rule = functools.partial(pola_direction, **options)
    rule.__name__ = "pola"
    return rule
