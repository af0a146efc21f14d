"""The exact Coin Game solver (aa_lib.exact.coin_best_response) against Monte Carlo play in CoinGame.

- exact evaluation of fixed policies (always "right"; a shortest-path racer = AD itself) matches
  the mean rewards of simulated games with ``CoinAlwaysDefect`` as the co-player;
- the best response is at least as good as those policies, and the solver checks its input;
- AD's move table is the uniform distribution over its shortest-path moves;
- the numbers of experiments/results/NOTES.md (session 6), printed by the thin driver
  experiments/coin_best_response.py.
"""

import numpy as np
import pytest
import torch

from aa_lib.agents.scripted import CoinAlwaysDefect
from aa_lib.exact.coin_best_response import always_defect_moves, coin_best_response
from aa_lib.games import CoinGame
from aa_lib.games.coin import moves_towards
from experiment_scripts import load_experiment

N = 9


def _always_right():
    probs = np.zeros((N, N, N, 2, 4))
    probs[..., 0] = 1.0
    return probs


def _racer():
    """AD's own move distribution, as a policy table (my cell, AD cell, coin, mine)."""
    m, _, c, _ = torch.meshgrid(*(torch.arange(N),) * 3, torch.arange(2), indexing="ij")
    closer = moves_towards(m.reshape(-1), c.reshape(-1), 3).reshape(N, N, N, 2, 4)
    closer[closer.sum(-1) == 0] = True  # the coin under me (unreachable states): any move
    return (closer / closer.sum(-1, keepdim=True)).numpy()


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
    exact = coin_best_response(8, policy_probs=probs)
    me, ad = _simulate(probs, 8)
    # standard error of a per-step mean over 20000 games of 8 steps: below 0.006
    assert abs(exact.me - me) < 0.02 and abs(exact.ad - ad) < 0.02, (exact.me, me, exact.ad, ad)
    if policy == "right":
        assert exact.ad - exact.me > 0.2  # a walker that ignores the coin is robbed: a real signal
    else:
        assert abs(exact.me) < 1e-9 and abs(exact.ad) < 1e-9  # AD against itself: symmetric


def test_best_response_dominates_and_input_checks():
    best = coin_best_response(8)
    assert best.me >= coin_best_response(8, policy_probs=_always_right()).me - 1e-12
    assert best.me >= coin_best_response(8, policy_probs=_racer()).me - 1e-12
    margin = coin_best_response(8, objective="margin")
    assert margin.me - margin.ad >= best.me - best.ad - 1e-12
    assert best.policy.shape == (8, N, N, N, 2) and best.policy.dtype == torch.long
    with pytest.raises(ValueError, match="objective"):
        coin_best_response(8, objective="spite")
    with pytest.raises(ValueError, match="policy_probs"):
        coin_best_response(8, policy_probs=np.ones((N, N, N, 2, 4)))
    with pytest.raises(ValueError, match="episode_length"):
        coin_best_response(0)
    with pytest.raises(ValueError, match="grid_size"):
        coin_best_response(4, grid_size=1)


def test_always_defect_moves_are_uniform_over_shortest_path_moves():
    table = always_defect_moves(3)
    assert table.shape == (N, N, 4)
    # from cell 0 (row 0, col 0) to the centre 4: right or down; to cell 1: right; to cell 2: left (wrap)
    assert table[0, 4].tolist() == [0.5, 0.0, 0.5, 0.0]
    assert table[0, 1].tolist() == [1.0, 0.0, 0.0, 0.0] and table[0, 2].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert table[0, 8].tolist() == [0.0, 0.5, 0.0, 0.5]
    sums = table.sum(-1)
    assert torch.equal(sums, 1.0 - torch.eye(N, dtype=torch.float64))  # zeros on the coin's own cell


def test_notes_numbers_and_the_driver():
    """The table of experiments/results/NOTES.md (session 6), as the driver prints it (rounded to 6)."""
    cbr = load_experiment("coin_best_response")
    rows = {(r["episode_length"], r["objective"]): r for T in (2, 16) for r in cbr.main(["--episode-length", str(T)])}
    assert rows[2, "own"] == {"objective": "own", "episode_length": 2, "me": 0.036281, "AD": 0.027211,
                              "margin": 0.00907}
    assert rows[2, "margin"]["margin"] == 0.018141
    assert (rows[16, "own"]["me"], rows[16, "own"]["AD"], rows[16, "margin"]["margin"]) == (3.2e-05, -2.9e-05, 6.1e-05)
    assert coin_best_response(1).me == 0.0 and coin_best_response(1).ad == 0.0
