"""Negotiation Game: does a lower-variance estimate of the AA term make classroom AA cooperate?

An experiment, not a library algorithm (the answer was no; see the section "Session 4" of
``experiments/results/NOTES.md``). The shaping term of eq. 8 is

    sum_t  beta * w_t * A^2_t * grad log pi^1(a_t | h_t),   w_t = sum_{k<t} gamma_aa^(t-1-k) A^1_k.

In the Negotiation Game each round's rewards are a known, differentiable function of both
proposals, so two substitutions lower its variance:

- *pathwise co-player factor*: ``A^2_t grad log pi^1(a_t)`` is replaced by the gradient of the
  co-player's reward ``r^2(a_t(theta), b_t)`` through the reparameterised proposal
  ``a_t(theta) = squash(mean_theta(h_t) + std_theta * eps_t)`` (same expectation for the
  immediate-reward part of ``A^2``; the effect of ``a_t`` on later rounds is dropped);
- past weights ``A^1_k`` (``--past``):
    ``own_reward``: the learner's reward, centred over the batch at each step;
    ``coplayer``: how much the co-player's proposal helped the learner,
        ``r^1(a_k, b_k) - r^1(a_k, mean_batch b_k)`` -- **biased**: ``r^1`` is convex in ``b`` where
        ``a + b > 5``, so by Jensen this is positive on average and acts as a prosocial bonus;
    ``coplayer_centred``: the same, centred over the batch at each step (mean zero).

The policy-gradient part is the preset's (GAE advantages); the score-function AA term is off
(beta = 0) so that the pathwise term is the only shaping. Usage (about 1 min per run and seed on
one CPU thread):

    python experiments/negotiation_pathwise.py --past coplayer --beta 100 --seeds 0 1 2
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from aa_lib.agents.scripted import scripted_agent
from aa_lib.evaluation import play
from aa_lib.games.negotiation import OBS_LAYOUT
from aa_lib.training.presets import preset
from aa_lib.training import Trainer
from aa_lib.training.rollout import collect_rollout

PAST_WEIGHTS = ("own_reward", "coplayer", "coplayer_centred")


def past_weights(kind: str, own_reward, own_bid, other_bid, own_values, env) -> torch.Tensor:
    """Per-step ``A^1_k`` ``[N, T]`` for the past-weight ``kind`` (see the module docstring)."""
    if kind == "own_reward":
        return own_reward - own_reward.mean(0, keepdim=True)
    mean_other = other_bid.mean(0, keepdim=True).expand_as(other_bid)
    helped = (seat_reward(env, own_bid, other_bid, own_values)
              - seat_reward(env, own_bid, mean_other, own_values))
    return helped - helped.mean(0, keepdim=True) if kind == "coplayer_centred" else helped


def seat_reward(env, mine, theirs, my_values) -> torch.Tensor:
    """Reward ``[...]`` of a player bidding ``mine`` against ``theirs`` (``[..., 3]``), differentiable."""
    return env.rewards_of(torch.stack([mine, theirs]), torch.stack([my_values, my_values]))[0]


def discounted_past(a1: torch.Tensor, discount: float) -> torch.Tensor:
    """``w_t = sum_{k<t} discount^(t-1-k) a1_k`` along the last dimension ``[..., T]`` (0 at t = 0)."""
    w, acc = torch.zeros_like(a1), torch.zeros_like(a1[..., 0])
    for t in range(1, a1.shape[-1]):
        acc = discount * acc + a1[..., t - 1]
        w[..., t] = acc
    return w


def reparameterised_bids(policy, obs, latents):
    """``(distribution, bids [N, T, 3])``: the played bids written as ``squash(mean + std * eps)`` with the
    noise ``eps`` that produced the stored ``latents``, so they are differentiable in the policy's parameters."""
    dist = policy.sequence_distribution(obs)
    std = dist.log_std.exp()
    noise = ((latents - dist.mean) / std).detach()
    return dist, dist.to_env(dist.mean + std * noise)


class PathwiseShapingTrainer(Trainer):
    """The preset's learner plus ``beta_pathwise * mean(w_t r^2(a_t(theta), b_t))`` in the actor objective."""

    def __init__(self, config, past: str, beta_pathwise: float, past_discount: float):
        super().__init__(config)
        self.past, self.beta_pathwise, self.past_discount = past, beta_pathwise, past_discount
        self._extra = None

    def learner_batch(self, traj, est, rows):
        batch = super().learner_batch(traj, est, rows)
        take = lambda f: torch.cat([f(s)[idx] for s, idx in rows])  # noqa: E731
        high = self.env.high_value
        own_bid, other_bid = take(lambda s: traj.env_actions[s]), take(lambda s: traj.env_actions[1 - s])
        own_values = take(lambda s: traj.obs[s][..., OBS_LAYOUT["own_values"]] * high)
        other_values = take(lambda s: traj.obs[s][..., OBS_LAYOUT["other_values"]] * high)
        a1 = past_weights(self.past, take(lambda s: traj.rewards[s]), own_bid, other_bid, own_values, self.env)
        self._extra = dict(other_bid=other_bid, other_values=other_values,
                           w=discounted_past(a1, self.past_discount))
        return batch

    def _update_actor(self, learner, batch):
        x, policy = self._extra, learner.policy
        loss, metrics = self.algo.actor_loss(policy, batch, self.algo.final_weights(batch))
        _, bids = reparameterised_bids(policy, batch.obs, batch.actions)
        pathwise = (x["w"] * seat_reward(self.env, x["other_bid"], bids, x["other_values"])).mean()
        loss = loss - self.beta_pathwise * pathwise
        learner.actor_opt.zero_grad(set_to_none=True)
        loss.backward()
        self._clip_and_step(policy.parameters(), learner.actor_opt)
        metrics.update(actor_loss=float(loss.detach()), pathwise_objective=float(pathwise.detach()),
                       past_weight_mean=float(x["w"].mean()), past_weight_std=float(x["w"].std()))
        return metrics


def low_value_items(traj, seat: int = 0) -> torch.Tensor:
    """``[B, T, 3]`` True where ``seat`` values the item at 1 (the observation holds values / 5)."""
    return traj.obs[seat, ..., OBS_LAYOUT["own_values"]] < 0.5


def reactivity(traj) -> float:
    """Slope of the learner's mean bid on its low-value items at round t on the co-player's mean bid
    on the learner's high-value items at round t - 1 (0: history-blind; > 0: reciprocates)."""
    low = low_value_items(traj)
    bids, other = traj.env_actions[0], traj.env_actions[1]
    high_prev = (~low[:, :-1]).float()
    grab = (other[:, :-1] * high_prev).sum(-1) / high_prev.sum(-1).clamp_min(1)
    low_now = low[:, 1:].float()
    mine = (bids[:, 1:] * low_now).sum(-1) / low_now.sum(-1).clamp_min(1)
    ok = (high_prev.sum(-1) > 0) & (low_now.sum(-1) > 0)
    g, m = grab[ok], mine[ok]
    return float(((g - g.mean()) * (m - m.mean())).mean() / g.var().clamp_min(1e-8))


@torch.no_grad()
def evaluate(policy, env, games: int = 512, seed: int = 99) -> dict:
    g = torch.Generator().manual_seed(seed)
    ad, ac = scripted_agent(env, "AD"), scripted_agent(env, "AC")
    self_play, vs_ad, vs_ac = play(env, [policy, policy], games, g), play(env, [policy, ad], games, g), \
        play(env, [policy, ac], games, g)
    traj = collect_rollout(env, [policy, policy], games, g)
    low = low_value_items(traj)  # bids pooled over all rounds (bid_profile averages per episode)
    bids = traj.env_actions[0]
    return {"self": float(self_play[0]), "vs_AD": [float(vs_ad[0]), float(vs_ad[1])],
            "vs_AC": [float(vs_ac[0]), float(vs_ac[1])], "bid_low": float(bids[low].mean()),
            "bid_high": float(bids[~low].mean()), "reactivity": reactivity(traj)}


def train_and_evaluate(trainer, seed: int) -> dict:
    """Train ``trainer`` to its configured iterations, evaluate its policy (:func:`evaluate`), print and
    return the result with the seed and the training wall time."""
    start = time.time()
    trainer.train()
    trainer.policy.eval()
    result = {"seed": seed, "wall_s": round(time.time() - start, 1), **evaluate(trainer.policy, trainer.env)}
    print(json.dumps(result), flush=True)
    return result


def append_record(path, record: dict, key: tuple) -> None:
    """Add ``record`` to the JSON list at ``path``, replacing a record with the same values of ``key``."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(out.read_text()) if out.exists() else []
    same = lambda r: all(r.get(k) == record[k] for k in key)  # noqa: E731
    out.write_text(json.dumps([r for r in existing if not same(r)] + [record], indent=1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--past", choices=PAST_WEIGHTS, default="coplayer_centred")
    parser.add_argument("--beta", type=float, default=100.0, help="weight of the pathwise shaping term")
    parser.add_argument("--past-discount", type=float, default=0.9)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--iterations", type=int, default=600)
    parser.add_argument("--out", default="experiments/results/negotiation/pathwise.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    runs = []
    for seed in args.seeds:
        config = preset("negotiation", "aa", "classroom", seed=seed, iterations=args.iterations,
                        algo_options={"beta": 0.0})
        trainer = PathwiseShapingTrainer(config, args.past, args.beta, args.past_discount)
        runs.append(train_and_evaluate(trainer, seed))
    record = {"past": args.past, "beta": args.beta, "past_discount": args.past_discount,
              "iterations": args.iterations, "runs": runs}
    append_record(args.out, record, ("past", "beta"))


if __name__ == "__main__":
    main()
