"""Short IPD runs from a uniform policy: naive learners defect, Advantage Alignment becomes reciprocal.

Memory-one policies keep the runs fast; the full-history (GRU) result is in experiments/ipd_history.py.
"""
import pytest
import torch

from aa_lib.exact.memory_one import policy_logits
from aa_lib.training import TrainConfig, Trainer

UNIFORM = [0.5, 0.5, 0.5, 0.5, 0.5]  # P(C | start, CC, CD, DC, DD) at the start of training


def _run(algo, iterations=40, seed=0):
    config = TrainConfig(game="ipd", algo=algo, game_options={"episode_length": 8}, policy="memory_one",
                         batch_size=128, actor_lr=0.05, critic_lr=3e-3, critic_updates=4, critic_recurrent=False,
                         center_advantages=True, hidden=16, gamma=0.9, iterations=iterations, seed=seed,
                         algo_options={"beta": 1.0} if algo in ("aa", "loqa", "paa") else {})
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
