"""Throughput of the exact learners: seed-steps per second on the CPU.

Runs each update rule on the memory-one IPD for ``--seeds`` seeds and ``--steps``
steps (defaults: 1000 x 200, the issue's benchmark) and prints seed-steps/second,
plus the ratio of the vectorised runner to a one-seed-at-a-time loop.

    python benchmarks/exact_dynamics.py [--seeds 1000] [--steps 200] [--device cpu]
"""
from __future__ import annotations

import argparse
import time

import torch

from aa_lib.exact import run_exact_learning


def _time(fn, repeats: int = 1) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--loop-seeds", type=int, default=20, help="seeds for the one-at-a-time baseline")
    args = parser.parse_args()

    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}")
    print(f"{'rule':<16}{'seeds':>7}{'steps':>7}{'seconds':>10}{'seed-steps/s':>15}")
    for rule, eta in (("naive", 0.0), ("lola_shaping", 25.0), ("lola_lookahead", 25.0)):
        seconds = _time(lambda: run_exact_learning(rule, n_seeds=args.seeds, n_steps=args.steps,
                                                   lookahead_lr=eta, device=args.device))
        rate = args.seeds * args.steps / seconds
        print(f"{rule:<16}{args.seeds:>7}{args.steps:>7}{seconds:>10.2f}{rate:>15,.0f}")

    # Vectorisation pays: the same work one seed at a time.
    n = args.loop_seeds
    loop = _time(lambda: [run_exact_learning("lola_shaping", n_seeds=1, n_steps=args.steps, seed=s,
                                             lookahead_lr=25.0, device=args.device) for s in range(n)])
    batched = _time(lambda: run_exact_learning("lola_shaping", n_seeds=n, n_steps=args.steps,
                                               lookahead_lr=25.0, device=args.device))
    print(f"LOLA, {n} seeds: one at a time {loop:.2f} s, batched {batched:.2f} s, speed-up x{loop / batched:.1f}")


if __name__ == "__main__":
    main()
