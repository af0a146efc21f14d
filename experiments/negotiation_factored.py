"""Negotiation with item-factored credit assignment: the first classroom AA agents that cooperate (discrete bids).

Every other Negotiation experiment (``experiments/results/NOTES.md``) multiplies the *whole* co-player
advantage ``A^2_t`` by the log-probability of all three proposals. The reward is a sum over items
and the policy a product over items, so each item's proposal can be credited with its own part:

- policy: three independent categoricals over ``levels`` evenly spaced bids in ``[0, 5]`` (the
  authors' repository has such a discrete variant; ``--levels 0`` keeps the paper's squashed Gaussian);
- policy-gradient weight of item ``i``: ``A^1_t - sum_{j != i} c^1_{t,j}``, with ``c^p_{t,j}`` player
  ``p``'s reward on item ``j`` centred over the batch (the other items' rewards do not depend on the
  bid on item ``i`` given the state, so subtracting them leaves the expectation unchanged);
- Advantage Alignment weight of item ``i`` (eq. 8 with the co-player factor restricted to item ``i``'s
  immediate reward): ``beta * (sum_{k<t} 0.9^(t-1-k) c^1_k) * c^2_{t,i}``, ``c^1_k`` the agent's
  centred reward of round ``k``. The effect of the current bid on the co-player's *later* rounds is
  dropped from this factor (it is still in the policy-gradient weight through ``A^1``).

REINFORCE with these weights, the classroom preset otherwise (batch 128, 16 rounds, lr 1e-3).
``--beta 0`` is the naive control with the same estimator. With continuous bids (``--levels 0``) the
latent Gaussian's entropy bonus does not stop the bids from piling up at 5 (its entropy does not depend
on the mean); ``--squashed-entropy`` puts the bonus on the entropy of the bids instead.

The library's rule ``aa_factored`` (:mod:`aa_lib.algos.factored`, trained by the plain ``Trainer``) is the
continuous version of this estimator; it writes the past sum as eq. 8 does (``sum_{k<t} 0.9^(t-k)``), so
its ``beta = 11`` is this script's ``beta = 10`` (``10 / 0.9``).

Run: ``python experiments/negotiation_factored.py --levels 2 --beta 5 --seeds 0 1 2`` (about 90 s per
seed on one CPU thread); results are appended to ``experiments/results/negotiation/factored.json``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from aa_lib.agents.distributions import CategoricalDist
from aa_lib.agents.networks import Body, mlp
from aa_lib.agents.policies import _NeuralPolicy
from aa_lib.games.negotiation import N_ITEMS
from aa_lib.training.presets import preset
from aa_lib.training import Trainer

try:  # as a script, and when loaded by the tests
    from negotiation_pathwise import append_record, discounted_past, train_and_evaluate
except ImportError:  # pragma: no cover
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from negotiation_pathwise import append_record, discounted_past, train_and_evaluate


class FactoredCategorical(CategoricalDist):
    """Independent categoricals per item: ``logits [..., 3, K]``; latents are level indices ``[..., 3]``."""

    def __init__(self, logits: torch.Tensor, levels: torch.Tensor):
        super().__init__(logits)
        self.levels = levels

    def to_env(self, latent: torch.Tensor) -> torch.Tensor:
        return self.levels[latent.long()]

    def item_log_prob(self, latent: torch.Tensor) -> torch.Tensor:
        """``[..., 3]`` log-probability of each item's level."""
        return super().log_prob(latent)

    def log_prob(self, latent: torch.Tensor) -> torch.Tensor:
        return self.item_log_prob(latent).sum(-1)

    def entropy(self) -> torch.Tensor:
        return super().entropy().sum(-1)


class DiscreteBidPolicy(_NeuralPolicy):
    """GRU body (as the continuous policy) and one categorical head per item over ``levels`` bids."""

    def __init__(self, obs_shape, hidden: int, recurrent: bool, levels: int, high: float = 5.0):
        super().__init__()
        self.body = Body(tuple(obs_shape), hidden, "mlp", 2, recurrent)
        self.head = mlp([hidden, hidden, N_ITEMS * levels], activate_last=False)
        self.register_buffer("levels", torch.linspace(0.0, high, levels))

    def distribution(self, features: torch.Tensor) -> FactoredCategorical:
        return FactoredCategorical(self.head(features).unflatten(-1, (N_ITEMS, len(self.levels))), self.levels)


def item_rewards(env, traj) -> torch.Tensor:
    """``[P, B, T, 3]`` each player's reward on each item (``env.reward_parts``)."""
    return env.reward_parts(traj.obs, traj.env_actions)


def item_weights(env, traj, advantages: torch.Tensor, beta: float):
    """Per-item actor weights ``[P, B, T, 3]`` of every seat (module docstring); two players."""
    ri = item_rewards(env, traj)
    centred = ri - ri.mean(1, keepdim=True)  # [P, B, T, 3]
    pg = advantages[..., None] - (centred.sum(-1, keepdim=True) - centred)
    r = traj.rewards
    past = discounted_past(r - r.mean(1, keepdim=True), 0.9)  # [P, B, T]
    return pg + beta * past[..., None] * centred.flip(0)


class FactoredTrainer(Trainer):
    """Self-play REINFORCE with the item-factored weights; ``levels = 0`` keeps the squashed Gaussian."""

    def __init__(self, config, levels: int, beta: float, squashed_entropy: bool = False):
        self.levels, self.beta, self.squashed_entropy = int(levels), float(beta), bool(squashed_entropy)
        super().__init__(config)

    def _build_learner(self):
        learner = super()._build_learner()
        if self.levels:
            policy = DiscreteBidPolicy(self.env.observation_shape, self.config.hidden, self.config.recurrent,
                                       self.levels).to(self.device)
            learner.policy = policy
            learner.actor_opt = torch.optim.Adam(policy.parameters(), lr=self.config.actor_lr)
        return learner

    def learner_batch(self, traj, est, rows):
        batch = super().learner_batch(traj, est, rows)
        w = item_weights(self.env, traj, est.advantages, self.beta)
        batch.item_weights = torch.cat([w[s][idx] for s, idx in rows])  # [N, T, 3]
        return batch

    def _update_actor(self, learner, batch):
        """REINFORCE on per-item log-probabilities (for the squashed Gaussian the Jacobian term does not
        depend on the parameters); with ``squashed_entropy`` the bonus is ``action_entropy``'s."""
        dist = learner.policy.sequence_distribution(batch.obs)
        logp = dist.item_log_prob(batch.actions)  # [N, T, 3]
        continuous = not isinstance(dist, FactoredCategorical)
        entropy = dist.action_entropy(self.entropy_generator) if self.squashed_entropy and continuous \
            else dist.entropy()
        entropy = entropy.mean()
        loss = -(batch.item_weights * logp).sum(-1).mean() - self.algo.entropy_coef * entropy
        learner.actor_opt.zero_grad(set_to_none=True)
        loss.backward()
        self._clip_and_step(learner.policy.parameters(), learner.actor_opt)
        return {"actor_loss": float(loss.detach()), "entropy": float(entropy.detach())}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", type=int, default=2, help="bid levels per item (0: squashed Gaussian)")
    parser.add_argument("--beta", type=float, default=5.0)
    parser.add_argument("--entropy", type=float, default=0.02)
    parser.add_argument("--squashed-entropy", action="store_true",
                        help="continuous bids: entropy bonus on the bids, not on the latent Gaussian")
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", default="experiments/results/negotiation/factored.json")
    args = parser.parse_args(argv)
    if args.levels == 1 or args.levels < 0:
        raise SystemExit("--levels must be 0 (continuous) or at least 2")
    torch.set_num_threads(1)
    runs = []
    for seed in args.seeds:
        config = preset("negotiation", "naive", seed=seed, iterations=args.iterations,
                        algo_options={"entropy_coef": args.entropy})
        trainer = FactoredTrainer(config, args.levels, args.beta, args.squashed_entropy)
        runs.append(train_and_evaluate(trainer, seed))
    record = {"levels": args.levels, "beta": args.beta, "entropy": args.entropy,
              "squashed_entropy": args.squashed_entropy, "iterations": args.iterations, "runs": runs}
    append_record(args.out, record, ("levels", "beta", "entropy", "squashed_entropy", "iterations"))


if __name__ == "__main__":
    main()
