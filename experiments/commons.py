"""Commons Harvest at classroom scale: Proximal AA vs PPO vs PPO with summed rewards, and the beta ablation.

One command trains one configuration from the ``("commons", "classroom")``
preset (with optional overrides), evaluates it with 5-seat focal/invader
protocol of :func:`aa_lib.evaluation.commons.focal_evaluation` and appends
one JSON line (configuration, wall time, training curve, metrics) to
``experiments/results/commons/runs.jsonl``::

    python experiments/commons.py --algo paa --label paa_base
    python experiments/commons.py --algo ppo --label ppo_base
    python experiments/commons.py --algo paa --beta 2 --label paa_b2
    python experiments/commons.py --algo ppo --set actor_lr=3e-3 --set algo_options.entropy_coef=0.05
    python experiments/commons.py --references        # scripted populations (random, greedy)

Every run uses ``torch.set_num_threads(1)``. The log of every configuration
tried, with the measured numbers and wall times, is
``experiments/results/commons/NOTES.md``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from aa_lib.evaluation.commons import classify_behaviour, focal_evaluation, normalised_score, reference_returns
from aa_lib.training.presets import preset
from aa_lib.games import make_env
from aa_lib.training import Trainer
from aa_lib.training.checkpoint import save_checkpoint
from aa_lib.training.overrides import apply_overrides, parse_overrides

RESULTS = Path(__file__).resolve().parent / "results" / "commons"


def build_config(algo: str, beta, seed: int, iterations, overrides=()):
    """The classroom preset of ``algo`` with ``--beta``, ``--seed``, ``--iterations`` and the ``--set``
    strings applied in that order (:func:`aa_lib.training.overrides.apply_overrides`; a ``--set`` of
    the same field wins)."""
    fixed = {"seed": seed}
    if beta is not None:
        fixed["algo_options.beta"] = beta
    if iterations:
        fixed["iterations"] = iterations
    return apply_overrides(preset("commons", algo, "classroom"), {**fixed, **parse_overrides(overrides)})


def run(args) -> dict:
    config = build_config(args.algo, args.beta, args.seed, args.iterations, args.set)
    trainer = Trainer(config)
    start = time.time()
    curve = []
    while trainer.iteration < config.iterations:
        m = trainer.step()
        curve.append(round(m["reward"], 4))
        if trainer.iteration % 10 == 0:
            print(f"{args.label} it {trainer.iteration}: reward/step {m['reward']:.4f} "
                  f"entropy {m.get('entropy', float('nan')):.2f} ({time.time() - start:.0f}s)", flush=True)
    wall = time.time() - start
    env = make_env("commons", **config.game_options)
    policy = trainer.policy.eval()
    ev = focal_evaluation(policy, env, episodes=args.episodes, seed=1)
    refs = reference_returns(env, episodes=args.episodes, seed=1)
    record = {"label": args.label, "algo": args.algo, "seed": args.seed, "wall_time_s": round(wall, 1),
              "iterations": trainer.iteration, "config": config.to_dict(), "curve": curve,
              "metrics": {k: round(v, 4) for k, v in ev.metrics.items()},
              "errors": {k: round(v, 4) for k, v in ev.errors.items()},
              "normalised": round(normalised_score(ev.metrics["return/focal"], refs), 3),
              "behaviour": classify_behaviour(ev.metrics, refs), "references": refs}
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / "runs.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
    if args.save:
        save_checkpoint({"config": config.to_dict(), "policy": policy.state_dict()}, RESULTS / f"{args.label}.pt")
    return record


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", default="paa")
    parser.add_argument("--beta", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--set", action="append", default=[],
                        help="override key=value, e.g. game_options.layout=open (repeatable; aa_lib.training.overrides)")
    parser.add_argument("--label", default=None)
    parser.add_argument("--episodes", type=int, default=128, help="evaluation games per setting")
    parser.add_argument("--save", action="store_true", help="also save the policy (not committed)")
    parser.add_argument("--references", action="store_true", help="only measure the scripted populations")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.references:
        env = make_env("commons", **preset("commons", "ppo").game_options)
        start = time.time()
        for name in ("Random", "Greedy"):
            from aa_lib.agents.scripted import scripted_agent
            ev = focal_evaluation(scripted_agent(env, name), env, episodes=args.episodes, seed=1)
            print(name, {k: round(v, 3) for k, v in ev.metrics.items()})
        print(f"{time.time() - start:.0f}s")
        return
    args.label = args.label or f"{args.algo}_s{args.seed}"
    record = run(args)
    shown = {k: v for k, v in record["metrics"].items() if not k.startswith("first_half")}
    print(json.dumps({"label": record["label"], "wall_time_s": record["wall_time_s"], "normalised":
                      record["normalised"], "behaviour": record["behaviour"], **shown}))


if __name__ == "__main__":
    main()
