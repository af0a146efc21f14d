"""The exact Coin Game solver of experiments/coin_best_response.py against Monte Carlo play in CoinGame.

- exact evaluation of fixed policies (always "right"; a shortest-path racer = AD itself) matches
  the mean rewards of simulated games with ``CoinAlwaysDefect`` as the co-player;
- the best response is at least as good as those policies, and the solver checks its input.
"""

import numpy as np
import pytest
import torch

from aa_lib.agents.scripted import CoinAlwaysDefect
from aa_lib.games import CoinGame
from experiment_scripts import load_experiment

cbr = load_experiment("coin_best_response")

N = 9


def _always_right():
    probs = np.zeros((N, N, N, 2, 4))
    probs[..., 0] = 1.0
    return probs


def _racer():
    """AD's own move distribution, as a policy table (my cell, AD cell, coin, mine)."""
    moves = cbr.move_table(3)
    m, a, c, mine = np.meshgrid(*(np.arange(N),) * 3, np.arange(2), indexing="ij")
    closer = cbr.torus_distance(moves[m], c[..., None], 3) < cbr.torus_distance(m, c, 3)[..., None]
    closer[closer.sum(-1) == 0] = True  # the coin under me (unreachable states): any move
    return closer / closer.sum(-1, keepdims=True)


def _simulate(probs, episode_length, games=20000, seed=0):
    """Mean per-step rewards (me = red seat, AD = blue seat) of ``probs`` against CoinAlwaysDefect."""
    env = CoinGame(episode_length=episode_length)
    gen = torch.Generator().manual_seed(seed)
    obs = env.reset(games, generator=gen)
    ad = CoinAlwaysDefect()
    table = torch.tensor(probs, dtype=torch.float64)
    total = torch.zeros(2, dtype=torch.float64)
    for _ in range(episode_length):
        mine = (env.coin_owner == 0).long()
        p = table[env.positions[0], env.positions[1], env.coin, mine]
        mine_move = torch.multinomial(p, 1, generator=gen).squeeze(-1)
        result = env.step(torch.stack([mine_move, ad.act(obs[1], gen)]))
        obs = result.obs
        total += result.rewards.double().sum(1)
    return (total / (games * episode_length)).tolist()


@pytest.mark.parametrize("policy", ["right", "racer"])
def test_exact_evaluation_matches_simulation(policy):
    probs = _always_right() if policy == "right" else _racer()
    exact = cbr.solve(8, policy_probs=probs)
    me, ad = _simulate(probs, 8)
    # standard error of a per-step mean over 20000 games of 8 steps: below 0.006
    assert abs(exact.me - me) < 0.02 and abs(exact.ad - ad) < 0.02, (exact.me, me, exact.ad, ad)
    if policy == "right":
        assert exact.ad - exact.me > 0.2  # a walker that ignores the coin is robbed: a real signal
    else:
        assert abs(exact.me) < 1e-9 and abs(exact.ad) < 1e-9  # AD against itself: symmetric


def test_best_response_dominates_and_input_checks():
    best = cbr.solve(8)
    assert best.me >= cbr.solve(8, policy_probs=_always_right()).me - 1e-12
    assert best.me >= cbr.solve(8, policy_probs=_racer()).me - 1e-12
    margin = cbr.solve(8, objective="margin")
    assert margin.me - margin.ad >= best.me - best.ad - 1e-12
    with pytest.raises(ValueError, match="objective"):
        cbr.solve(8, objective="spite")
    with pytest.raises(ValueError, match="policy_probs"):
        cbr.solve(8, policy_probs=np.ones((N, N, N, 2, 4)))
