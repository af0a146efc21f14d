"""Throughput of the language-model agents on the text IPD: rollouts and training iterations.

    OMP_NUM_THREADS=1 python benchmarks/llm_throughput.py                 # batch 32 and 64, CPU (+ CUDA if any)
    python benchmarks/llm_throughput.py --batch-sizes 32 --repeats 10 --json /tmp/llm.json

Measured with the tiny model of ``aa_lib.llm.tiny_model`` (Qwen2-style, hidden 64, 2 layers,
4 heads, ~134 k parameters with the text IPD's vocabulary; randomly initialised, which costs the
same as a pre-trained prior: every IPD answer is one constrained token) and LoRA r8 on every
linear layer, 10-round text IPD (132 tokens per seat and game):

- ``rollout``: games per second of :func:`aa_lib.llm.play_games` in self-play (both seats the live
  adapter, one batched forward per round, KV cache); ``rollout, no KV cache`` recomputes every
  sequence at every step (the ratio is what the cache saves);
- ``iteration``: seconds per :meth:`LLMTrainer.step` (rollout, AA credit, one Adam step) in
  self-play (both seats' rows trained); ``iteration, buffer k/draw`` with an agent buffer of ``k``
  past snapshots and p = 0.5 (only the learner seat trained), the co-player drawn per game
  (``game``, the paper) or once per batch (``batch``): peft's mixed-adapter batches cost more per
  distinct adapter in the batch.

The research prototype's reference is ~0.4 s per iteration for 32 games with a 125 k-parameter
model on one CPU thread (REFERENCES "LLM follow-up"); the script prints the ratio to it. Each
figure is the median over ``--repeats`` timed runs after one warm-up (wall clock), with the
thread's CPU time beside it (steadier on a shared machine). CUDA figures are added when a GPU is
usable.
"""
from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aa_lib.games.text import TextIPD  # noqa: E402
from aa_lib.llm import LLMConfig, LLMTrainer, play_games, snapshot_adapter, tiny_model  # noqa: E402

PROTOTYPE_SECONDS_PER_ITERATION = 0.4  # 32 games, 125 k parameters, one CPU thread


def _timed(fn, repeats: int):
    fn()  # warm-up
    walls, cpus = [], []
    for _ in range(repeats):
        sync()
        wall, cpu = time.perf_counter(), time.thread_time()
        fn()
        sync()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.thread_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _trainer(base, tokenizer, batch: int, device: str, buffer: int, draw: str = "game") -> LLMTrainer:
    config = LLMConfig(game="text-ipd", batch_size=batch, group_size=8, lora_r=8, lora_alpha=16.0, lr=2e-3,
                       algo="aa", beta=1.0, gamma=0.9, buffer_every=None if buffer == 0 else 10 ** 6,
                       buffer_capacity=max(buffer, 1), buffer_prob=0.5, buffer_draw=draw, device=device, seed=0)
    trainer = LLMTrainer(config, copy.deepcopy(base).to(device), tokenizer)
    if buffer:
        gen = torch.Generator().manual_seed(1)
        for _ in range(buffer):  # distinct snapshots, as after buffer * every iterations of training
            snap = {k: v + 0.01 * torch.randn(v.shape, generator=gen) for k, v in
                    snapshot_adapter(trainer.model, "live").items()}
            trainer.model = trainer.buffer.add(trainer.model, snap)
        trainer.model.set_adapter("live")
    return trainer


def measure(device: str, batch_sizes, repeats: int, buffers, draws):
    game = TextIPD()
    base, tokenizer = tiny_model(game.vocabulary(), seed=0)
    rows = []
    for batch in batch_sizes:
        trainer = _trainer(base, tokenizer, batch, device, 0)
        for label, kv in (("rollout", True), ("rollout, no KV cache", False)):
            wall, cpu = _timed(lambda: play_games(game, trainer.model, tokenizer, ["live", "live"], batch, 0,
                                                  kv_cache=kv), repeats)
            rows.append(dict(device=device, batch=batch, what=label, seconds=wall, cpu_seconds=cpu,
                             games_per_second=batch / wall))
        wall, cpu = _timed(trainer.step, repeats)
        rows.append(dict(device=device, batch=batch, what="iteration", seconds=wall, cpu_seconds=cpu,
                         games_per_second=batch / wall))
        for k in buffers:
            for draw in draws:
                trainer = _trainer(base, tokenizer, batch, device, k, draw)
                wall, cpu = _timed(trainer.step, repeats)
                rows.append(dict(device=device, batch=batch, what=f"iteration, buffer {k}/{draw}", seconds=wall,
                                 cpu_seconds=cpu, games_per_second=batch / wall))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--buffers", type=int, nargs="*", default=[2, 16],
                        help="agent-buffer sizes to time iterations with (0 entries: self-play only)")
    parser.add_argument("--buffer-draws", nargs="+", default=["game", "batch"], choices=["game", "batch"],
                        help="LLMConfig.buffer_draw values to time (a member per game, or one per batch)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--skip-cuda", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = measure("cpu", args.batch_sizes, args.repeats, args.buffers, args.buffer_draws)
    if torch.cuda.is_available() and not args.skip_cuda:
        rows += measure("cuda", args.batch_sizes, args.repeats, args.buffers, args.buffer_draws)
    print(f"text IPD, 10 rounds, tiny model, LoRA r8; torch {torch.__version__}, {args.threads} CPU thread(s)")
    print(f"{'device':>6} {'batch':>5}  {'what':<27} {'s (wall)':>9} {'s (cpu)':>8} {'games/s':>8}  ratio")
    cpu_times = {(r["batch"], r["what"]): r["seconds"] for r in rows if r["device"] == "cpu"}
    for r in rows:
        if r["what"].startswith("iteration") and r["device"] == "cpu":
            # seconds per iteration, scaled to 32 games, against the prototype's 0.4 s
            ratio = f"{PROTOTYPE_SECONDS_PER_ITERATION / (r['seconds'] * 32 / r['batch']):.2f}x prototype (per game)"
        elif r["what"] == "rollout, no KV cache":
            ratio = f"KV cache {r['seconds'] / cpu_times.get((r['batch'], 'rollout'), r['seconds']):.2f}x faster" \
                if r["device"] == "cpu" else ""
        elif r["device"] == "cuda":
            ratio = f"{cpu_times[(r['batch'], r['what'])] / r['seconds']:.2f}x CPU"
        else:
            ratio = ""
        print(f"{r['device']:>6} {r['batch']:>5}  {r['what']:<27} {r['seconds']:9.3f} {r['cpu_seconds']:8.3f} "
              f"{r['games_per_second']:8.1f}  {ratio}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
