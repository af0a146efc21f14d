"""LOLA-DiCE: look-ahead opponent shaping with the DiCE estimator (Foerster et al. 2018).

The DiCE "magic box" ``box(x) = exp(x - stopgrad(x))`` evaluates to 1 but has
gradient ``box(x) * grad x``, so any-order gradients of

    J^i = sum_t gamma^t r^i_t box(S_t),   S_t = sum_{k <= t} log pi^1(a_k|h_k) + log pi^2(b_k|h_k)

are unbiased score-function estimates. The first-order gradient of ``J^1`` w.r.t.
``theta_1`` is REINFORCE with rewards-to-go. LOLA (look-ahead form) lets the
co-player take one imagined naive step ``theta_2' = theta_2 + alpha grad_2 J^2``
and ascends ``J^1(theta_1, theta_2'(theta_1))``, differentiating through the step.

The look-ahead objective is evaluated on the same batch, importance-weighted:
``box`` is replaced by ``exp(S'_t - stopgrad(S^behaviour_t))`` (value = the
likelihood ratio of the looked-ahead policies to those that played; it equals
the magic box when ``alpha = 0``). A DiCE baseline term
``sum_t gamma^t (1 - box(l_t)) V_t`` (Mao et al. 2019) reduces variance without bias.

LOLA-DiCE is the one rule with its own actor update (:meth:`LolaDice.update_actor`): its loss
differentiates through the co-player's policy, so it is taken per group of games (the current
agent against itself, or against one replayed agent) rather than on a stacked learner batch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import accumulate
from typing import Dict, List, Optional, Tuple

import torch
from torch.func import functional_call

from .base import LearningRule, SeatEstimates, time_discounts

__all__ = ["magic_box", "dice_objective", "LolaDice"]


def magic_box(x: torch.Tensor) -> torch.Tensor:
    """``exp(x - stopgrad(x))``: 1 in value, ``grad x`` in gradient."""
    return torch.exp(x - x.detach())


def dice_objective(log_probs: torch.Tensor, rewards: torch.Tensor, gamma: float,
                   baseline: Optional[torch.Tensor] = None,
                   behaviour_log_probs: Optional[torch.Tensor] = None) -> torch.Tensor:
    """DiCE surrogate, mean over the batch.

    Args:
        log_probs: ``[B, T]`` summed log-probabilities of all stochastic nodes of step t
            (both players' actions).
        rewards: ``[B, T]`` the rewards of the player whose objective this is.
        gamma: discount.
        baseline: ``[B, T]`` optional state values for the DiCE baseline term.
        behaviour_log_probs: ``[B, T]`` log-probabilities under the policies that played;
            when given the box becomes the importance weight ``exp(S_t - S^b_t)``.
    """
    discounts = time_discounts(gamma, rewards.shape[-1], rewards.device, rewards.dtype)
    cumulative = log_probs.cumsum(-1)
    if behaviour_log_probs is None:
        weight = magic_box(cumulative)
    else:
        weight = torch.exp(cumulative - behaviour_log_probs.cumsum(-1).detach())
    objective = (discounts * rewards * weight).sum(-1)
    if baseline is not None:
        objective = objective + (discounts * (1.0 - magic_box(log_probs)) * baseline.detach()).sum(-1)
    return objective.mean()


@dataclass
class LolaDice(LearningRule):
    """LOLA-DiCE loss for one learner against one differentiable co-player.

    Fields:
    """

    name = "lola_dice"
    #: Step size alpha of the imagined naive update of the co-player.
    lookahead_lr: float = 1.0
    #: Entropy bonus coefficient.
    entropy_coef: float = 0.0
    #: Use the DiCE baseline term with the critic's values.
    use_baseline: bool = True
    n_epochs: int = 1
    reward_sharing: bool = False
    needs_q_values: bool = field(default=False, init=False)

    # ------------------------------------------------------------ the trainer's hooks
    def validate(self, env, game: str = "") -> None:
        if env.n_players != 2:
            raise ValueError("lola_dice supports two-player games only")

    def update_actor(self, trainer, learner_index: int, chunks: List, traj, est: SeatEstimates
                     ) -> Dict[str, float]:
        """One gradient step of the learner on its :meth:`loss` in every (group of games, learner seat),
        against the co-player of that group, weighted by the group's share of the batch.

        Each group's critic values come from ``trainer.estimate`` on that group alone (with one
        group, ``est``), after this iteration's critic update.
        """
        learner = trainer.learners[learner_index]
        bounds = [0, *accumulate(c.size for c in chunks)]
        parts = [traj.games(s, e) for s, e in zip(bounds[:-1], bounds[1:])]
        est_parts = [trainer.estimate(p) for p in parts] if len(parts) > 1 else [est]
        gamma, batch_size = trainer.config.gamma, trainer.config.batch_size
        total, metrics, weight_sum = 0.0, {}, 0
        learner.actor_opt.zero_grad(set_to_none=True)
        for chunk, part, part_est in zip(chunks, parts, est_parts):
            for seat in range(2):
                if not chunk.learner_seats[seat] or chunk.policies[seat] is not learner.policy:
                    continue
                o = 1 - seat
                loss, metrics = self.loss(
                    learner.policy, chunk.policies[o], (part.obs[seat], part.obs[o]),
                    (part.actions[seat], part.actions[o]), (part.log_probs[seat], part.log_probs[o]),
                    (part.rewards[seat], part.rewards[o]), gamma, (part_est.values[seat], part_est.values[o]))
                trainer.check_loss(loss, "actor loss (lola_dice)")
                (loss * chunk.size / batch_size).backward()
                total += float(loss.detach()) * chunk.size
                weight_sum += chunk.size
        trainer.clip_and_step(learner.policy.parameters(), learner.actor_opt)
        metrics["actor_loss"] = total / max(weight_sum, 1)
        return metrics

    def loss(self, policy, opponent, obs: Tuple[torch.Tensor, torch.Tensor],
             actions: Tuple[torch.Tensor, torch.Tensor], behaviour: Tuple[torch.Tensor, torch.Tensor],
             rewards: Tuple[torch.Tensor, torch.Tensor], gamma: float,
             values: Optional[Tuple[torch.Tensor, torch.Tensor]] = None) -> Tuple[torch.Tensor, Dict[str, float]]:
        """Loss of ``policy`` (seat "1") shaping ``opponent`` (seat "2"); pairs are (own, co-player),
        each ``[B, T, ...]``; the co-player's parameters are not updated."""
        params1 = dict(policy.named_parameters())
        params2 = {k: v.detach().clone().requires_grad_(True) for k, v in opponent.named_parameters()}
        logp1, entropy = functional_call(policy, params1, (obs[0], actions[0]))
        logp2, _ = functional_call(opponent, params2, (obs[1], actions[1]))
        v1, v2 = values if (values is not None and self.use_baseline) else (None, None)
        if self.lookahead_lr != 0.0:
            inner = dice_objective(logp1 + logp2, rewards[1], gamma, v2)
            grads = torch.autograd.grad(inner, list(params2.values()), create_graph=True, allow_unused=True)
            looked = {k: p + self.lookahead_lr * g if g is not None else p
                      for (k, p), g in zip(params2.items(), grads)}
            logp2, _ = functional_call(opponent, looked, (obs[1], actions[1]))
        outer = dice_objective(logp1 + logp2, rewards[0], gamma, v1,
                               behaviour_log_probs=behaviour[0] + behaviour[1])
        mean_entropy = entropy.mean()
        loss = -outer - self.entropy_coef * mean_entropy
        return loss, {"actor_objective": float(outer.detach()), "entropy": float(mean_entropy.detach())}
