"""The AA-term gradient diagnostic: its gradients recombine to the actor loss's gradient; bad input."""
import math

import pytest
import torch

from aa_lib.training.presets import preset
from aa_lib.training import Trainer
from aa_lib.training.diagnostics import shaping_gradient_alignment


def _config(game="ipd", **overrides):
    options = dict(batch_size=32, iterations=2, seed=3, device="cpu")
    options.update(overrides)
    return preset(game, "aa", **options)


def _actor_gradient_norm(trainer, traj, mask):
    """Norm of the gradient of the trainer's actor loss on the learner's rows of ``traj``."""
    batch = trainer.learner_batch(traj, trainer.estimate(traj, learner_mask=mask), trainer._rows(0, mask))
    loss, _ = trainer.algo.actor_loss(trainer.policy, batch)
    grads = torch.autograd.grad(loss, list(trainer.policy.parameters()), allow_unused=True)
    return math.sqrt(sum(float((g ** 2).sum()) for g in grads if g is not None))


@pytest.mark.parametrize("game", ["ipd", "negotiation"])
def test_pg_and_shaping_gradients_recombine_to_the_actor_loss_gradient(game):
    cfg = _config(game, algo_options={"entropy_coef": 0.0, "beta": 2.0})
    out = shaping_gradient_alignment(Trainer(cfg), ["gae"])["gae"]
    # the same batch from an identical trainer, through the algorithm's own actor loss
    trainer = Trainer(cfg)
    _, traj, mask = trainer.collect()
    full = _actor_gradient_norm(trainer, traj, mask)
    beta, pg, sh, cos = 2.0, out["pg_norm"], out["shaping_norm"], out["cosine"]
    # the AA weight is A + beta * shaping, so -grad(loss) = g_pg + beta g_sh
    assert full == pytest.approx(math.sqrt(pg ** 2 + beta ** 2 * sh ** 2 + 2 * beta * pg * sh * cos), rel=1e-4)
    assert -1.0 <= cos <= 1.0 and sh > 0.0


def test_recombination_holds_with_replayed_agents_in_the_batch(tmp_path):
    """With past agents in seat 1 of some games, the diagnostic centres as the trainer does
    (the learner's games apart): its two parts still recombine to the actor loss's gradient."""
    cfg = _config("ipd", replay_capacity=4, replay_push_every=1, current_agent_fraction=0.5, replay_groups=2,
                  algo_options={"entropy_coef": 0.0, "beta": 2.0})
    trainer = Trainer(cfg)
    trainer.train(2)  # two agents in the buffer
    trainer.save(tmp_path / "t.pt")
    out = shaping_gradient_alignment(trainer, ["gae"])["gae"]
    twin = Trainer.from_checkpoint(tmp_path / "t.pt")  # the same state, so the same batch
    _, traj, mask = twin.collect()
    assert mask[1].any() and not mask[1].all()
    full = _actor_gradient_norm(twin, traj, mask)
    pg, sh, cos = out["pg_norm"], out["shaping_norm"], out["cosine"]
    assert full == pytest.approx(math.sqrt(pg ** 2 + 4.0 * sh ** 2 + 4.0 * pg * sh * cos), rel=1e-4)


def test_estimators_are_deterministic_and_differ():
    a = shaping_gradient_alignment(Trainer(_config()), batches=2)
    b = shaping_gradient_alignment(Trainer(_config()), batches=2)
    assert a == b and set(a) == {"gae", "td", "reward"}
    assert a["gae"]["pg_norm"] == a["td"]["pg_norm"] == a["reward"]["pg_norm"]  # the PG part is the same
    assert len({a[k]["shaping_norm"] for k in a}) == 3


def test_diagnostic_rejects_bad_input():
    with pytest.raises(ValueError, match="no shaping term"):
        shaping_gradient_alignment(Trainer(preset("ipd", "ppo", batch_size=8, iterations=1)))
    with pytest.raises(ValueError, match="estimators"):
        shaping_gradient_alignment(Trainer(_config()), ["lambda"])
    with pytest.raises(ValueError, match="self-play"):
        shaping_gradient_alignment(Trainer(_config(self_play=False)))


def test_warm_up_critic_leaves_the_policy_and_learning_rates_alone():
    from aa_lib.training.diagnostics import warm_up_critic

    trainer = Trainer(_config())
    before = [p.detach().clone() for p in trainer.policy.parameters()]
    critic_before = [p.detach().clone() for p in trainer.learners[0].critic.parameters()]
    lr = trainer.learners[0].actor_opt.param_groups[0]["lr"]
    explained = warm_up_critic(trainer, 3)
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.policy.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(critic_before, trainer.learners[0].critic.parameters()))
    assert trainer.learners[0].actor_opt.param_groups[0]["lr"] == lr and trainer.iteration == 3
    assert explained <= 1.0
    with pytest.raises(ValueError, match="iterations"):
        warm_up_critic(trainer, 0)


def test_several_batches_average_the_gradients():
    one = shaping_gradient_alignment(Trainer(_config()), ["gae"], batches=1)["gae"]
    two = shaping_gradient_alignment(Trainer(_config()), ["gae"], batches=2)["gae"]
    assert one != two and two["pg_norm"] > 0
    assert math.isnan(one["split_cosine"]) and -1.0 <= two["split_cosine"] <= 1.0
    # the first batch of the two-batch run is the one-batch run's batch (same seed, same stream):
    # the split cosine compares it with the second batch, and the average is their mean
    assert two["split_cosine"] < 1.0
    with pytest.raises(ValueError, match="batches"):
        shaping_gradient_alignment(Trainer(_config()), batches=0)
