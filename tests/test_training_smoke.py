"""Every learning rule trains for a few iterations on every game of the suite (smoke)."""
import math

import pytest
import torch

from aa_lib.training import TrainConfig, Trainer

GAMES = {
    "ipd": dict(game_options={"episode_length": 4}),
    "coin": dict(game_options={"episode_length": 4}),
    "negotiation": dict(game_options={"episode_length": 4}),
    "commons": dict(horizon=3, replay_seats=2),
}
ALGOS = ["naive", "ppo", "ppo_sr", "aa", "paa", "aa_spiteful", "loqa", "lola_dice", "aa_factored"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny tensors: one torch thread is fastest (2 threads make Commons' small convolutions
    several times slower on a busy 2-core machine)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _unsupported(game, algo):
    if algo == "loqa" and game == "negotiation":
        return "needs a discrete-action game"
    if algo == "lola_dice" and game == "commons":
        return "two-player games only"
    if algo == "aa_factored" and game != "negotiation":
        return "needs a game whose reward is split over action dimensions"
    return None


@pytest.mark.parametrize("game", list(GAMES))
@pytest.mark.parametrize("algo", ALGOS)
def test_each_algorithm_trains_on_each_game(game, algo):
    batch = 2 if game == "commons" else 4
    config = TrainConfig(game=game, algo=algo, batch_size=batch, hidden=8, iterations=2,
                         replay_capacity=2, current_agent_fraction=0.5, replay_groups=1,
                         algo_options={"entropy_coef": 0.01}, **GAMES[game])
    reason = _unsupported(game, algo)
    if reason:
        with pytest.raises(ValueError, match=reason.split()[0]):
            Trainer(config).train()
        return
    trainer = Trainer(config)
    before = [p.detach().clone() for p in trainer.policy.parameters()]
    history = trainer.train()
    assert len(history) == 2
    assert all(math.isfinite(v) for m in history for v in m.values())
    after = list(trainer.policy.parameters())
    assert any(not torch.equal(b, a) for b, a in zip(before, after))
