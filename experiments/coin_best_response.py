"""Exact best responses to the Coin Game's Always Defect: how well can *any* agent do against it?

Read one way, the paper's league (Fig. 2) has Advantage Alignment beating Always Defect (AA 0.15,
AD -0.08 per step). Against our AD (``CoinAlwaysDefect``: a shortest torus path to the coin, whatever
its colour, ties broken at random; the authors' league code plays the same AD under the same rules)
this script computes, by backward induction over the whole state space, the largest per-step reward
any agent can get, and the largest margin (own reward minus AD's) any agent can get. Both are about
zero in 16-step episodes, so the pair can only read AD 0.15, AA -0.08 (``experiments/results/NOTES.md``,
session 11):

- state ``(my cell, AD's cell, coin cell, coin is mine)``: ``9 * 9 * 9 * 2`` states on the 3 x 3 torus;
- AD's move is uniform over the moves that shorten its torus distance to the coin;
- after a pickup the new coin has the other colour and a uniformly random free cell (the rules of
  :class:`aa_lib.games.CoinGame`); the start is uniform as in ``CoinGame.reset``;
- ``V_t(s) = max_a sum_b p(b | s) [r(s, a, b) + E V_{t+1}(s')]`` over an episode of ``T`` steps
  (the paper's league: 16), undiscounted, reported per step.

``tests/test_coin_best_response.py`` checks the solver against Monte Carlo play in ``CoinGame``.

Run: ``python experiments/coin_best_response.py [--episode-length 16] [--penalty -2]`` (about a second).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

import numpy as np
import torch

from aa_lib.agents.scripted import _coin_move_targets, _torus_distance

OBJECTIVES = ("own", "margin")


def move_table(g: int) -> np.ndarray:
    """``[g*g, 4]`` cell reached by each move on the torus (the scripted agents' geometry)."""
    return _coin_move_targets(torch.arange(g * g), g).numpy()


def torus_distance(a, b, g: int) -> np.ndarray:
    """Number of moves between flat cells ``a`` and ``b`` (numpy arrays, broadcast)."""
    return _torus_distance(torch.as_tensor(a), torch.as_tensor(b), g).numpy()


@dataclass
class Solution:
    """Per-step expected rewards of the best response (``me``) and of AD, from the uniform start."""

    objective: str
    episode_length: int
    me: float
    ad: float
    #: ``[T, g2, g2, g2, 2]`` optimal move index at each step and state (my cell, AD cell, coin, mine).
    policy: np.ndarray


def solve(episode_length: int = 16, penalty: float = -2.0, objective: str = "own", g: int = 3,
          policy_probs: np.ndarray | None = None) -> Solution:
    """Backward induction for the best response to ``CoinAlwaysDefect`` (see the module docstring).

    ``objective="own"`` maximises the agent's own return; ``"margin"`` its return minus AD's.
    ``policy_probs`` ``[g2, g2, g2, 2, 4]`` (move probabilities per state, stationary) evaluates that
    policy exactly instead of optimising (the returned ``policy`` is then its most likely move).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if policy_probs is not None:
        policy_probs = np.asarray(policy_probs, dtype=float)
        if policy_probs.shape != (g ** 2,) * 3 + (2, 4) or not np.allclose(policy_probs.sum(-1), 1):
            raise ValueError(f"policy_probs must be move probabilities of shape {(g ** 2,) * 3 + (2, 4)}")
    if not isinstance(episode_length, int) or episode_length < 1:
        raise ValueError(f"episode_length must be a positive int, got {episode_length!r}")
    n = g * g
    moves = move_table(g)
    m, a, c, mine = np.meshgrid(np.arange(n), np.arange(n), np.arange(n), np.arange(2), indexing="ij")
    # AD's move distribution p[s, b]: uniform over the moves that shorten its distance to the coin.
    closer = torus_distance(moves[a], c[..., None], g) < torus_distance(a, c, g)[..., None]  # [...,4]
    p_ad = closer / np.maximum(closer.sum(-1, keepdims=True), 1)
    m2 = moves[m][..., :, None] * np.ones(4, dtype=int)          # [..., my move, AD move]
    a2 = moves[a][..., None, :] * np.ones((4, 1), dtype=int)
    cc, own = c[..., None, None], mine[..., None, None]
    pick_me, pick_ad = m2 == cc, a2 == cc
    r_me = pick_me + penalty * (pick_ad & (own == 1))
    r_ad = pick_ad + penalty * (pick_me & (own == 0))
    picked = pick_me | pick_ad
    # number of free cells after the move, for the uniform respawn
    n_free = n - 1 - (m2 != a2)
    value = np.zeros((n, n, n, 2))   # V_{t+1}: the agent's objective-to-go
    own_to_go = np.zeros_like(value)  # expected own reward to go under the chosen policy
    ad_to_go = np.zeros_like(value)
    policy = np.zeros((episode_length, n, n, n, 2), dtype=np.int64)
    rows, cols, same_cell = np.arange(n)[:, None], np.arange(n)[None, :], np.eye(n, dtype=bool)[..., None]

    def expect(table):
        """E[table(s')] for every (s, my move, AD move) ``[n, n, n, 2, 4, 4]``."""
        stay = table[m2, a2, cc, own]
        # respawn: mean over the cells free of both players, colour flipped
        occupied = table[rows, cols, rows] + np.where(same_cell, 0.0, table[rows, cols, cols])  # [n, n, 2]
        respawn = (table.sum(2) - occupied)[m2, a2, 1 - own] / n_free
        return np.where(picked, respawn, stay)

    for t in reversed(range(episode_length)):
        q_own = r_me + expect(own_to_go)
        q_ad = r_ad + expect(ad_to_go)
        q_obj = (r_me if objective == "own" else r_me - r_ad) + expect(value)
        q_obj, q_own, q_ad = [(p_ad[..., None, :] * q).sum(-1) for q in (q_obj, q_own, q_ad)]  # [..., 4]
        if policy_probs is None:
            best = policy[t] = q_obj.argmax(-1)
            take = lambda q: np.take_along_axis(q, best[..., None], -1)[..., 0]  # noqa: E731
        else:
            policy[t] = policy_probs.argmax(-1)
            take = lambda q: (policy_probs * q).sum(-1)  # noqa: E731
        value, own_to_go, ad_to_go = take(q_obj), take(q_own), take(q_ad)
    # uniform start: independent uniform cells, uniform colour, coin uniform on the free cells
    free = ~((c == m) | (c == a))
    start = free / free.sum((2, 3), keepdims=True) / (n * n)
    return Solution(objective, episode_length, float((start * own_to_go).sum()) / episode_length,
                    float((start * ad_to_go).sum()) / episode_length, policy)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episode-length", type=int, default=16)
    parser.add_argument("--penalty", type=float, default=-2.0)
    args = parser.parse_args(argv)
    rows = []
    for objective in OBJECTIVES:
        s = solve(args.episode_length, args.penalty, objective)
        rows.append({"objective": objective, "episode_length": s.episode_length, "me": round(s.me, 6),
                     "AD": round(s.ad, 6), "margin": round(s.me - s.ad, 6)})
        print(json.dumps(rows[-1]))
    return rows


if __name__ == "__main__":
    main()
