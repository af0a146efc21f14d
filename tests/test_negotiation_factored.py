"""The item-factored Negotiation experiment (experiments/negotiation_factored.py): its pieces are right.

- per-item rewards add up to the game's rewards;
- the factored categorical matches torch.distributions.Categorical item by item;
- the per-item weights: the policy-gradient part differs from A^1 by the other items' centred rewards,
  the AA part is the discounted past of the centred rewards times the co-player's centred item reward;
- a two-iteration run is seeded and bids only on the levels.
"""

import pytest
import torch

from aa_lib.training.presets import preset
from aa_lib.training.rollout import collect_rollout
from experiment_scripts import load_experiment

nf = load_experiment("negotiation_factored")


def _trainer(levels=2, beta=5.0, seed=0, iterations=2, squashed_entropy=False):
    config = preset("negotiation", "naive", seed=seed, iterations=iterations, batch_size=64,
                    algo_options={"entropy_coef": 0.02})
    return nf.FactoredTrainer(config, levels, beta, squashed_entropy)


def test_item_rewards_add_up_to_the_game_rewards():
    trainer = _trainer()
    traj = collect_rollout(trainer.env, [trainer.policy, trainer.policy], 64, torch.Generator().manual_seed(1))
    torch.testing.assert_close(nf.item_rewards(trainer.env, traj).sum(-1), traj.rewards)


def test_factored_categorical_matches_torch():
    logits = torch.randn(5, 3, 4)
    dist = nf.FactoredCategorical(logits, torch.linspace(0, 5, 4))
    latent = dist.sample(torch.Generator().manual_seed(0))
    ref = torch.distributions.Categorical(logits=logits)
    torch.testing.assert_close(dist.item_log_prob(latent), ref.log_prob(latent.long()))
    torch.testing.assert_close(dist.entropy(), ref.entropy().sum(-1))
    torch.testing.assert_close(dist.to_env(latent), latent * 5 / 3)  # level k -> bid 5 k / 3


def test_item_weights_against_their_definition():
    trainer = _trainer()
    _, traj, _ = trainer.collect()
    est = trainer.estimate(traj)
    w0, w1 = (nf.item_weights(trainer.env, traj, est.advantages, b) for b in (0.0, 1.0))
    ri = nf.item_rewards(trainer.env, traj)
    c = ri - ri.mean(1, keepdim=True)
    others = c.sum(-1, keepdim=True) - c
    torch.testing.assert_close(w0, est.advantages[..., None] - others)
    r = traj.rewards - traj.rewards.mean(1, keepdim=True)
    t = 5
    past = sum(0.9 ** (t - 1 - k) * r[..., k] for k in range(t))  # [P, B]
    torch.testing.assert_close((w1 - w0)[..., t, :], past[..., None] * c.flip(0)[..., t, :])
    assert torch.all((w1 - w0)[..., 0, :] == 0)  # no past at the first round


@pytest.mark.parametrize("levels,squashed", [(2, False), (0, False), (0, True)])
def test_short_run_is_seeded_and_bids_on_levels(levels, squashed):
    torch.manual_seed(0)  # the global generator must not matter: reseed it between the two runs
    a = _trainer(levels, squashed_entropy=squashed)
    a.train()
    torch.manual_seed(1)
    b = _trainer(levels, squashed_entropy=squashed)
    b.train()
    for pa, pb in zip(a.policy.parameters(), b.policy.parameters()):
        assert torch.equal(pa, pb)
    traj = collect_rollout(a.env, [a.policy, a.policy], 16, torch.Generator().manual_seed(2))
    if levels:
        assert set(traj.env_actions.unique().tolist()) <= {0.0, 5.0}
    assert torch.isfinite(torch.tensor(a.history[-1]["actor_loss"]))
