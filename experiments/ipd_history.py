"""IPD with full history (GRU policy, T = 16, gamma 0.9): AA becomes Tit-for-Tat-like, naive learners defect.

Reproduces Fig. 1b qualitatively with the classroom preset on a CPU:

    python experiments/ipd_history.py --algos aa naive ppo --seeds 0 1 2 3 4 --out experiments/results/ipd

For every (algorithm, seed) it trains a self-play learner, then measures
P(cooperate | previous joint action) in self-play and against a uniformly
random co-player, and the per-step rewards against Always Defect. Writes
``results.json`` and ``ipd_probe.png`` to ``--out`` and prints the wall time.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from aa_lib.evaluation import cooperation_probe, exploitability
from aa_lib.exact.memory_one import STATE_NAMES
from aa_lib.training.presets import preset
from aa_lib.training import Trainer


def run_one(algo: str, seed: int, preset_name: str, iterations: int | None, device: str) -> dict:
    overrides = {"seed": seed, "device": device}
    if iterations:
        overrides["iterations"] = iterations
    trainer = Trainer(preset("ipd", algo, preset_name, **overrides))
    start = time.time()
    history = trainer.train()
    wall = time.time() - start
    gen = torch.Generator(device=trainer.device).manual_seed(1000 + seed)
    self_probe = cooperation_probe(trainer.policy, trainer.env, "self", 2048, gen)
    random_probe = cooperation_probe(trainer.policy, trainer.env, "random", 2048, gen)
    vs_ad = exploitability(trainer.policy, trainer.env, "AD", 1024, gen)
    return {"algo": algo, "seed": seed, "wall_time_s": wall, "final_reward": history[-1]["reward"],
            "final_cooperation": history[-1]["cooperation"], "probe_self": self_probe.probabilities,
            "probe_self_visits": self_probe.counts, "probe_random": random_probe.probabilities,
            "vs_always_defect": vs_ad}


def summarise(runs: list) -> dict:
    out = {}
    for algo in sorted({r["algo"] for r in runs}):
        rs = [r for r in runs if r["algo"] == algo]
        probe = torch.tensor([[r["probe_random"][s] for s in STATE_NAMES] for r in rs])
        out[algo] = {
            "seeds": [r["seed"] for r in rs],
            "p_cooperate_vs_random_mean": dict(zip(STATE_NAMES, probe.mean(0).tolist())),
            "p_cooperate_vs_random_std": dict(zip(STATE_NAMES, probe.std(0, unbiased=False).tolist())),
            "self_play_reward_mean": sum(r["final_reward"] for r in rs) / len(rs),
            "self_play_cooperation_mean": sum(r["final_cooperation"] for r in rs) / len(rs),
            "reward_vs_AD_mean": sum(r["vs_always_defect"]["agent"] for r in rs) / len(rs),
            "wall_time_s_per_run": sum(r["wall_time_s"] for r in rs) / len(rs),
        }
    return out


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    width = 0.8 / len(summary)
    for i, (algo, s) in enumerate(summary.items()):
        means = [s["p_cooperate_vs_random_mean"][n] for n in STATE_NAMES]
        stds = [s["p_cooperate_vs_random_std"][n] for n in STATE_NAMES]
        ax.bar([k + i * width for k in range(5)], means, width, yerr=stds, capsize=3, label=algo)
    ax.set_xticks([k + 0.4 - width / 2 for k in range(5)], STATE_NAMES)
    ax.set_ylabel("P(C | previous joint action)")
    ax.set_ylim(0, 1.05)
    ax.legend()
    fig.savefig(path, dpi=120, bbox_inches="tight")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algos", nargs="+", default=["aa", "naive", "ppo"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--preset", default="classroom")
    parser.add_argument("--iterations", type=int)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="experiments/results/ipd")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.time()
    runs = []
    for algo in args.algos:
        for seed in args.seeds:
            run = run_one(algo, seed, args.preset, args.iterations, args.device)
            runs.append(run)
            print(f"{algo} seed {seed}: reward {run['final_reward']:.3f}, P(C|.) vs random "
                  f"{[round(run['probe_random'][s], 2) for s in STATE_NAMES]}, vs AD {run['vs_always_defect']}"
                  f", {run['wall_time_s']:.0f}s", flush=True)
    summary = summarise(runs)
    total = time.time() - start
    (out / "results.json").write_text(json.dumps({"summary": summary, "runs": runs, "total_wall_time_s": total,
                                                  "device": args.device, "preset": args.preset}, indent=2))
    plot(summary, out / "ipd_probe.png")
    print(json.dumps(summary, indent=2))
    print(f"total wall time {total:.0f}s on {args.device}")


if __name__ == "__main__":
    main()
