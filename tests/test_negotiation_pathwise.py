"""The pathwise AA-term experiment of experiments/negotiation_pathwise.py: its estimator is right.

- the reparameterised bids equal the bids that were played;
- the pathwise gradient of the co-player's expected reward agrees with the score-function
  (REINFORCE) estimate of the same gradient;
- where the bids sum past 5, the uncentred "co-player's help" weights have a positive mean (the
  Jensen bias reported in experiments/results/NOTES.md); the centred ones have mean zero;
- the discounted past sum against its definition.
"""
from pathlib import Path

import pytest
import torch

from aa_lib.training.presets import preset
from experiment_scripts import load_experiment

npw = load_experiment("negotiation_pathwise")


@pytest.fixture(scope="module")
def trainer_and_batch():
    torch.manual_seed(0)
    config = preset("negotiation", "aa", batch_size=2048, seed=3, iterations=1, algo_options={"beta": 0.0})
    trainer = npw.PathwiseShapingTrainer(config, "coplayer", beta_pathwise=1.0, past_discount=0.9)
    _, traj, mask = trainer.collect()
    est = trainer.estimate(traj)
    rows = trainer._rows(0, mask)
    batch = trainer.learner_batch(traj, est, rows)
    played = torch.cat([traj.env_actions[s][idx] for s, idx in rows])
    return trainer, batch, played


def test_reparameterised_bids_are_the_played_bids(trainer_and_batch):
    trainer, batch, played = trainer_and_batch
    _, bids = npw.reparameterised_bids(trainer.policy, batch.obs, batch.actions)
    assert torch.allclose(bids, played, atol=1e-5)


def test_pathwise_gradient_agrees_with_the_score_function_gradient(trainer_and_batch):
    trainer, batch, _ = trainer_and_batch
    x, policy = trainer._extra, trainer.policy
    params = [p for p in policy.parameters()]
    dist, bids = npw.reparameterised_bids(policy, batch.obs, batch.actions)
    co_reward = npw.seat_reward(trainer.env, x["other_bid"], bids, x["other_values"])  # [N, T]
    pathwise = torch.autograd.grad(co_reward.mean(), params, allow_unused=True, retain_graph=True)
    log_probs = dist.log_prob(batch.actions)
    centred = (co_reward - co_reward.mean(0, keepdim=True)).detach()  # a baseline keeps it unbiased
    score = torch.autograd.grad((centred * log_probs).mean(), params, allow_unused=True)
    flat = lambda g: torch.cat([(t if t is not None else torch.zeros_like(p)).flatten()  # noqa: E731
                                for t, p in zip(g, params)])
    a, b = flat(pathwise), flat(score)
    cosine = float(a @ b / (a.norm() * b.norm()))
    assert cosine > 0.9, cosine
    assert 0.5 < float(b.norm() / a.norm()) < 2.0


def test_coplayer_help_is_biased_upwards_and_the_centred_version_is_not(trainer_and_batch):
    # Bids in [2.5, 5] sum to at least 5, where r^1 = a v / (a + b) is convex in b (Jensen).
    trainer, _, _ = trainer_and_batch
    g = torch.Generator().manual_seed(0)
    own, other = 2.5 + 2.5 * torch.rand(4096, 16, 3, generator=g), 2.5 + 2.5 * torch.rand(4096, 16, 3, generator=g)
    values = torch.where(torch.rand(4096, 16, 3, generator=g) < 0.5, 1.0, 5.0)
    reward = npw.seat_reward(trainer.env, own, other, values)
    helped = npw.past_weights("coplayer", reward, own, other, values, trainer.env)
    centred = npw.past_weights("coplayer_centred", reward, own, other, values, trainer.env)
    assert float(helped.mean()) > 10 * float(helped.std()) / helped.numel() ** 0.5
    assert torch.allclose(centred.mean(0), torch.zeros(16), atol=1e-6)


def test_discounted_past_matches_its_definition():
    a1 = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    w = npw.discounted_past(a1, 0.5)
    assert torch.allclose(w, torch.tensor([[0.0, 1.0, 2.5, 4.25]]))


def test_seat_reward_is_the_game_reward(trainer_and_batch):
    trainer, _, _ = trainer_and_batch
    mine, theirs = torch.tensor([[5.0, 0.0, 2.0]]), torch.tensor([[5.0, 3.0, 1.0]])
    values = torch.tensor([[5.0, 1.0, 1.0]])
    expected = (5 / 10 * 5 + 0 + 2 / 5 * 1) / 15
    assert torch.allclose(npw.seat_reward(trainer.env, mine, theirs, values), torch.tensor([expected]))
