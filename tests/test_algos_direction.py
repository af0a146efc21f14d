"""Short IPD runs from a uniform policy: naive learners defect, Advantage Alignment becomes reciprocal.

Memory-one policies keep the runs fast; the full-history (GRU) result is in experiments/ipd_history.py.
The settings were checked on seeds 0-4: every assertion below holds with margin on all of them
(naive/PPO: P(C) <= 0.15 in every state; AA/LOQA: P(C | CC) >= 0.94, P(C | DC) >= 0.90,
P(C | CD) <= 0.26, P(C | DD) <= 0.11); the tests use seed 0.
"""
import pytest
import torch

from aa_lib.exact.memory_one import policy_logits
from aa_lib.training import TrainConfig, Trainer

UNIFORM = [0.5, 0.5, 0.5, 0.5, 0.5]  # P(C | start, CC, CD, DC, DD) at the start of training


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny tensors: one torch thread is fastest (and much faster on a busy 2-core machine)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _run(algo, iterations=40, seed=0):
    # One-step TD errors in the shaping term (shaping_gae_lambda=0) keep the estimate of eq. 8
    # free of the products of both players' future TD errors (see experiments/results/NOTES.md);
    # with them the shaping term is smaller, hence beta = 4.
    config = TrainConfig(game="ipd", algo=algo, game_options={"episode_length": 8}, policy="memory_one",
                         batch_size=128, actor_lr=0.08, critic_lr=3e-3, critic_updates=4, critic_recurrent=False,
                         center_advantages=True, shaping_gae_lambda=0.0, hidden=16, gamma=0.9,
                         iterations=iterations, seed=seed,
                         algo_options={"beta": 4.0} if algo in ("aa", "loqa", "paa") else {})
    trainer = Trainer(config)
    with torch.no_grad():
        trainer.policy.theta.copy_(policy_logits(UNIFORM).float())
    trainer.train()
    return torch.sigmoid(trainer.policy.theta.detach())


@pytest.mark.parametrize("algo", ["naive", "ppo"])
def test_naive_learners_lose_cooperation(algo):
    p = _run(algo)
    assert p.max() < 0.35, p  # defects in every state


@pytest.mark.parametrize("algo", ["aa", "loqa"])
def test_advantage_alignment_keeps_reciprocity(algo):
    p = _run(algo)
    assert p[1] > 0.7 and p[3] > 0.6, p  # cooperates after CC and after DC (the other cooperated)
    assert p[2] < 0.35 and p[4] < 0.35, p  # retaliates after CD and DD (the other defected)
