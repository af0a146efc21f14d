"""Exact best responses to the Coin Game's Always Defect: how well can *any* agent do against it?

Read one way, the paper's league (Fig. 2) has Advantage Alignment beating Always Defect (AA 0.15,
AD -0.08 per step). Against our AD (``CoinAlwaysDefect``; the authors' league code plays the same AD
under the same rules) the largest per-step reward any agent can get, and the largest margin (own
reward minus AD's), are both about zero in 16-step episodes, so the pair can only read AD 0.15,
AA -0.08 (``experiments/results/NOTES.md``, sessions 6 and 11).

The solver is the library's :func:`aa_lib.exact.coin_best_response.coin_best_response` (backward
induction over every state; its docstring gives the model, ``tests/test_coin_best_response.py``
checks it against Monte Carlo play in ``CoinGame``). This driver prints one JSON line per objective.

Run: ``python experiments/coin_best_response.py [--episode-length 16] [--penalty -2]`` (about a second).
"""
from __future__ import annotations

import argparse
import json

import torch

from aa_lib.exact.coin_best_response import OBJECTIVES, coin_best_response


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episode-length", type=int, default=16)
    parser.add_argument("--penalty", type=float, default=-2.0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for objective in OBJECTIVES:
        s = coin_best_response(args.episode_length, args.penalty, objective)
        rows.append({"objective": objective, "episode_length": s.episode_length, "me": round(s.me, 6),
                     "AD": round(s.ad, 6), "margin": round(s.margin, 6)})
        print(json.dumps(rows[-1]))
    return rows


if __name__ == "__main__":
    main()
