"""Coin Game and Negotiation Game leagues (paper Figs. 2-3) with the classroom presets, on a CPU.

One command per game trains self-play learners, plays a seeds x seeds league
with the scripted Always Cooperate (AC) / Always Defect (AD) agents (and, in the
Coin Game with the classroom preset's theft planes, the grim trigger GRIM: AC until
robbed, then AD, the reference for a reciprocal agent), and prints
the league table, the Coin Game's own-coin pickup fractions and the wall time:

    python experiments/coin_negotiation.py --game coin
    python experiments/coin_negotiation.py --game negotiation

Defaults: Coin Game AA and PPO, Negotiation item-factored AA (``aa_factored``), AA, PPO and
PPO with summed rewards (PPO-SR); seeds 0 and 1; ``torch.set_num_threads(1)`` (fastest for these small
networks on a shared CPU). Writes ``league.json`` and ``league.png`` to
``experiments/results/<game>/``. Measured numbers and every configuration tried
are in ``experiments/results/NOTES.md``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from aa_lib.agents.scripted import CoinGrimTrigger, scripted_agent
from aa_lib.evaluation import coin_pickups, run_league
from aa_lib.training.presets import preset
from aa_lib.training import Trainer

DEFAULT_ALGOS = {"coin": ["aa", "ppo"], "negotiation": ["aa_factored", "aa", "ppo", "ppo_sr"]}


def train_agents(game: str, algos, seeds, iterations, device: str):
    """Train one self-play learner per (algorithm, seed); returns agents, wall times, reward curves, env."""
    agents, walls, curves, env = {}, {}, {}, None
    for algo in algos:
        agents[algo.upper()] = []
        for seed in seeds:
            overrides = {"seed": seed, "device": device}
            if iterations:
                overrides["iterations"] = iterations
            trainer = Trainer(preset(game, algo, "classroom", **overrides))
            start = time.time()
            history = trainer.train()
            key = f"{algo}_s{seed}"
            walls[key], curves[key] = time.time() - start, [m["reward"] for m in history]
            print(f"{algo} seed {seed}: {trainer.iteration} iterations, final self-play reward "
                  f"{history[-1]['reward']:.3f} ({walls[key]:.0f} s)", flush=True)
            agents[algo.upper()].append(trainer.policy.eval())
            env = trainer.env
    return agents, walls, curves, env


def own_coin_fractions(env, agents, batch_size: int, seed: int) -> dict:
    """Own-coin share of pickups of every agent type, in self-play and against AD (mean over seeds)."""
    generator = torch.Generator(device=env.device).manual_seed(seed)
    out = {}
    for name, pool in agents.items():
        for opponent in ("self", "AD"):
            runs = [coin_pickups(agent, env, opponent, batch_size, generator) for agent in pool]
            out[f"{name} vs {opponent}"] = {k: sum(r[k] for r in runs) / len(runs) for k in runs[0]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--game", choices=["coin", "negotiation"], default="coin")
    parser.add_argument("--algos", nargs="+", help="default: coin aa ppo; negotiation aa_factored aa ppo ppo_sr")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--iterations", type=int, help="override the preset's number of iterations")
    parser.add_argument("--eval-batch", type=int, default=512, help="games per league cell and seed pair")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out or f"experiments/results/{args.game}")
    out.mkdir(parents=True, exist_ok=True)
    start = time.time()
    agents, walls, curves, env = train_agents(args.game, args.algos or DEFAULT_ALGOS[args.game], args.seeds,
                                              args.iterations, args.device)
    scripted = {name: [scripted_agent(env, name)] for name in ("AC", "AD")}
    if getattr(env, "observe_thefts", False):  # the reciprocal reference: AC until robbed, then AD
        scripted["GRIM"] = [CoinGrimTrigger()]
    league = run_league(env, {**agents, **scripted}, batch_size=args.eval_batch, seed=123)
    print("\nper-step reward of the row agent (seeds x seeds):")
    print(league.to_text())
    report = {"names": league.names, "table": league.table.tolist(), "opponent_table": league.opponent_table.tolist(),
              "std": league.std.tolist(), "seeds": args.seeds, "wall_time_s": walls, "reward_curves": curves,
              "device": args.device, "threads": args.threads}
    if args.game == "coin":
        fractions = own_coin_fractions(env, {**agents, **scripted}, args.eval_batch, seed=321)
        print("\nown-coin share of pickups (1: only its own colour, 0.5: any coin):")
        for key, value in fractions.items():
            print(f"  {key:10s} {value['own_fraction']:.2f}  (reward {value['reward']:+.3f}, "
                  f"co-player {value['opponent_reward']:+.3f})")
        report["own_coin"] = fractions
    total = time.time() - start
    report["total_wall_time_s"] = total
    (out / "league.json").write_text(json.dumps(report, indent=2))
    import matplotlib

    matplotlib.use("Agg")
    league.heatmap(title=f"{args.game}: per-step reward of row agent").savefig(out / "league.png", dpi=120,
                                                                              bbox_inches="tight")
    print(f"\ntotal wall time {total:.0f} s on {args.device} ({args.threads} thread(s)); results in {out}")


if __name__ == "__main__":
    main()
