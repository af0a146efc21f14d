"""Diagnostics of the Advantage Alignment term: which way does it push, compared with the policy gradient?

The AA actor weight is ``A^1_t + beta * shaping_t`` (eq. 8). On one fresh batch,
:func:`shaping_gradient_alignment` computes the two gradients separately,

    g_pg = grad_theta mean_{n,t} A^1_nt log pi(a_nt | h_nt)
    g_sh = grad_theta mean_{n,t} shaping_nt log pi(a_nt | h_nt)      (before beta)

and reports their norms and the cosine between them, for several estimators of
the advantages inside the shaping term:

- ``"gae"``: GAE with the policy gradient's lambda (the paper's choice);
- ``"td"``: one-step TD errors, ``r_t + gamma V(s_{t+1}) - V(s_t)``;
- ``"reward"``: the agent's *past* advantages replaced by its immediate rewards
  centred over the batch at each step (the co-player's current advantage stays GAE).

Why this matters (``experiments/results/NOTES.md``): the sample estimates of the
two advantages in eq. 8 can share noise. With GAE they share the TD errors of all
later steps (a bias in the Coin Game). With TD errors, ``delta^1_{t-1}`` contains
``gamma V^1(s_t)``: when the state ``s_t`` carries fresh exogenous randomness
(the Negotiation Game resamples the item values every round), the "past" own
advantage then depends on the *current* state, and its product with the
co-player's current advantage is no longer the past-times-present product of
eq. 8. A cosine near +1 means the AA term pushes the same way as the greedy
policy gradient: beta cannot make the agent more cooperative.
"""
from __future__ import annotations

from typing import Dict, Sequence

import torch

from ..advantages import shaping_term
from ..algos import AdvantageAlignment, centre_per_seat

__all__ = ["ESTIMATORS", "shaping_gradient_alignment", "warm_up_critic"]

#: Estimators of the advantages inside the shaping term (module docstring).
ESTIMATORS = ("gae", "td", "reward")


def warm_up_critic(trainer, iterations: int) -> float:
    """Train only the critics for ``iterations`` iterations (actor learning rates 0, restored after).

    Returns the critic's explained variance of the returns at the last iteration. Use it
    before :func:`shaping_gradient_alignment` so the advantages are those of a fitted critic.
    """
    if not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be a positive int, got {iterations!r}")
    groups = [g for learner in trainer.learners for g in learner.actor_opt.param_groups]
    rates = [g["lr"] for g in groups]
    for g in groups:
        g["lr"] = 0.0
    try:
        for _ in range(iterations):
            metrics = trainer.step()
    finally:
        for g, lr in zip(groups, rates):
            g["lr"] = lr
    return float(metrics.get("critic_explained_variance", float("nan")))


def _flat_grad(policy: torch.nn.Module, batch, weights: torch.Tensor) -> torch.Tensor:
    """``grad_theta mean(weights * log pi(a | h))`` as one flat vector (the surrogate of eq. 3)."""
    params = [p for p in policy.parameters() if p.requires_grad]
    log_probs, _ = policy.evaluate(batch.obs, batch.actions)  # [N, T]
    grads = torch.autograd.grad((weights.detach() * log_probs).mean(), params, allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).flatten() for g, p in zip(grads, params)])


def shaping_gradient_alignment(trainer, estimators: Sequence[str] = ESTIMATORS,
                               batches: int = 1) -> Dict[str, Dict[str, float]]:
    """Norms of the policy-gradient and AA-term gradients, and their cosine, on fresh batches.

    Args:
        trainer: a self-play :class:`~aa_lib.training.Trainer` whose algorithm has a
            shaping term (the AA family). Batches are collected with its rollout
            generator (so the trainer's random stream advances); nothing is updated.
        estimators: names from :data:`ESTIMATORS`.
        batches: number of fresh batches; the gradients are averaged over them before
            norms and cosines are taken (at a random policy the AA term is mostly
            noise, and one batch gives a noisy direction).

    Returns:
        ``{estimator: {"pg_norm", "shaping_norm", "cosine", "shaping_abs_mean", "split_cosine"}}``;
        ``shaping_norm`` is before the factor beta. ``split_cosine`` (NaN for one batch) is the
        cosine between the AA-term gradients averaged over the even and over the odd batches:
        a noise floor. Near 1, the AA term's direction is well measured; near 0, it is mostly
        noise and its ``cosine`` with the policy gradient means little.
    """
    algo = trainer.algo
    if not isinstance(algo, AdvantageAlignment):
        raise ValueError(f"algorithm {algo.name!r} has no shaping term (use one of the AA family)")
    if not trainer.config.self_play or len(trainer.learners) != 1:
        raise ValueError("shaping_gradient_alignment needs a self-play trainer with one learner")
    unknown = [e for e in estimators if e not in ESTIMATORS]
    if unknown or not estimators:
        raise ValueError(f"estimators must be a non-empty selection of {ESTIMATORS}, got {list(estimators)}")
    if not isinstance(batches, int) or batches < 1:
        raise ValueError(f"batches must be a positive int, got {batches!r}")
    sums = {name: {"pg": 0.0, "sh": 0.0, "abs": 0.0, "halves": [0.0, 0.0]} for name in estimators}
    for b in range(batches):
        for name, (g_pg, g_sh, shaping_abs) in _batch_gradients(trainer, estimators).items():
            sums[name]["pg"] = sums[name]["pg"] + g_pg / batches
            sums[name]["sh"] = sums[name]["sh"] + g_sh / batches
            sums[name]["abs"] += shaping_abs / batches
            sums[name]["halves"][b % 2] = sums[name]["halves"][b % 2] + g_sh
    cos = lambda a, b: float(torch.nn.functional.cosine_similarity(a, b, dim=0))  # noqa: E731
    out = {}
    for name, s in sums.items():
        out[name] = {"pg_norm": float(s["pg"].norm()), "shaping_norm": float(s["sh"].norm()),
                     "cosine": cos(s["pg"], s["sh"]), "shaping_abs_mean": s["abs"],
                     "split_cosine": cos(*s["halves"]) if batches > 1 else float("nan")}
    return out


def _batch_gradients(trainer, estimators) -> Dict[str, tuple]:
    """``{estimator: (g_pg, g_sh, mean |shaping|)}`` on one fresh batch."""
    algo, cfg = trainer.algo, trainer.config
    _, traj, learner_mask = trainer.collect()
    rows = trainer._rows(0, learner_mask)
    policy = trainer.learners[0].policy
    out = {}
    for name in estimators:
        est = trainer.estimate(traj, 0.0 if name == "td" else cfg.gae_lambda, learner_mask)
        batch = trainer.learner_batch(traj, est, rows)
        if name == "reward":  # past own advantages: immediate rewards, centred at each step as the trainer does
            rewards = centre_per_seat(traj.rewards, learner_mask)  # [P, B, T]
            batch.shaping_advantages = torch.cat([rewards[s][idx] for s, idx in rows])
        own = batch.advantages if batch.shaping_advantages is None else batch.shaping_advantages
        shaping = shaping_term(own, batch.other_advantages, batch.gamma, **algo.shaping_options(batch))
        out[name] = (_flat_grad(policy, batch, batch.advantages), _flat_grad(policy, batch, shaping),
                     float(shaping.abs().mean()))
    return out
