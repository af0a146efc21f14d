"""Environment throughput on CPU: steps per second of every game, and the Coin Game against JaxMARL.

    python benchmarks/env_throughput.py                      # everything
    python benchmarks/env_throughput.py --games coin --skip-jaxmarl
    python benchmarks/env_throughput.py --batch-sizes 1 64 4096 65536 --seconds 2
    python benchmarks/env_throughput.py --games coin --batch-sizes 4096 --skip-jaxmarl  # and 1 vs default threads
    OMP_NUM_THREADS=1 python benchmarks/env_throughput.py --games commons --single-thread \
        --batch-sizes 1 64 4096 --baseline /tmp/aa_old    # Commons Harvest: planes vs compact, vs an old tree

Commons Harvest is also measured with both observation formats (``planes``, float32,
and ``compact``, one uint8 code per cell) in its default setting and in
``CommonsConfig.paper_setting()``, with ratios; ``--baseline DIR`` measures the
default setting of another copy of the library too (e.g. ``git archive <commit>
aa_lib | tar -x -C DIR``), for before/after figures in one run. Rates are given
per wall-clock second and per CPU second of the thread (steadier on a busy
machine). At large batches the planes cost mostly the allocation of a fresh
observation per step (79 MiB at batch 4096): a rollout should store the compact
codes and expand them (``env.expand_observation``) when a network needs planes.

"Environment steps per second" counts single-game steps: a batched step of B
games is B environment steps. Actions are drawn at random beforehand, so the
figures measure the environment alone (with its action checks), including the
resets between episodes.

JaxMARL's Coin Game runs in a separate virtual environment that this script
creates once (``$AA_LIB_JAXMARL_VENV`` or ``~/.cache/aa_lib/jaxmarl-venv``,
``pip install jaxmarl``); if that fails the comparison is skipped with a
message. It is timed the same way (a Python loop over a jitted, vmapped
``step`` with random actions), and also as one jitted ``lax.scan`` over an
episode, JAX's fastest usage. Variant difference: JaxMARL's Coin Game keeps two
coins (one of each colour) on the board, has 5 actions (with "stay"), tracks
episode statistics and resets itself inside ``step``; ours has one coin whose
colour alternates (the variant of the paper's league).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import replace
from pathlib import Path
from typing import Optional

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aa_lib.games import CoinGame, CommonsHarvest, IteratedMatrixGame, NegotiationGame, make_generator  # noqa: E402

GAMES = {
    "iterated": lambda: IteratedMatrixGame(episode_length=16),
    "coin": lambda: CoinGame(episode_length=50),
    "negotiation": lambda: NegotiationGame(episode_length=50),
    "commons": lambda: CommonsHarvest(),
}


def available_memory() -> int:
    """Bytes of available memory (MemAvailable), or 8 GiB when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 * 2 ** 30


def random_actions(env, batch: int, count: int, gen: torch.Generator) -> list:
    """``count`` joint actions for ``env`` drawn beforehand."""
    if env.action_kind == "discrete":
        return [torch.randint(env.n_actions, (env.n_players, batch), generator=gen) for _ in range(count)]
    return [env.action_high * torch.rand(env.n_players, batch, env.action_dim, generator=gen) for _ in range(count)]


def measure(env, batch: int, seconds: float, seed: int = 0) -> dict:
    """Steps ``env`` with random actions for about ``seconds``; returns timings (wall clock and thread CPU)."""
    gen = make_generator(seed)
    actions = random_actions(env, batch, 16, gen)
    env.reset(batch, generator=gen)
    env.step(actions[0])  # warm-up
    steps, start, cpu_start = 0, time.perf_counter(), time.thread_time()
    while True:
        if env.episode_over:
            env.reset(batch, generator=gen)
        env.step(actions[steps % len(actions)])
        steps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and steps >= 3:
            break
    cpu = time.thread_time() - cpu_start
    return {"env_steps_per_s": batch * steps / elapsed, "us_per_batched_step": 1e6 * elapsed / steps,
            "env_steps_per_cpu_s": batch * steps / cpu}


COMMONS_CHILD = textwrap.dedent('''
    import json, sys, time
    import torch
    torch.set_num_threads(int(sys.argv[3]))
    from aa_lib.games import CommonsHarvest, make_generator
    batch_sizes, seconds = json.loads(sys.argv[1]), float(sys.argv[2])
    for B in batch_sizes:
        env = CommonsHarvest()
        gen = make_generator(0)
        actions = [torch.randint(env.n_actions, (env.n_players, B), generator=gen) for _ in range(16)]
        env.reset(B, generator=gen)
        env.step(actions[0])
        n, start, cpu = 0, time.perf_counter(), time.thread_time()
        while True:
            if env.episode_over:
                env.reset(B, generator=gen)
            env.step(actions[n % 16])
            n += 1
            if time.perf_counter() - start >= seconds and n >= 3:
                break
        wall, cpu = time.perf_counter() - start, time.thread_time() - cpu
        print(json.dumps({"batch": B, "wall": B * n / wall, "cpu": B * n / cpu}), flush=True)
''')


def run_commons_baseline(tree: Path, batch_sizes, seconds: float, threads: int) -> dict:
    """Default-setting Commons Harvest steps/s of the library copy in ``tree`` (a child process)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.run([sys.executable, "-c", COMMONS_CHILD, json.dumps(batch_sizes), str(seconds), str(threads)],
                          capture_output=True, text=True, env=env, cwd=str(tree))
    if proc.returncode != 0:
        print(f"baseline in {tree} failed: {proc.stderr[-400:]}")
    return {row["batch"]: row for row in map(json.loads, filter(None, proc.stdout.splitlines()))}


def compare_commons(batch_sizes, seconds: float, baseline: Optional[Path], threads: int) -> None:
    """Planes vs compact observations in the default and the paper setting, and an optional older tree."""
    from aa_lib.games.commons import CommonsConfig

    settings = {"default": CommonsConfig(), "paper": CommonsConfig.paper_setting()}
    print("\nCommons Harvest: observation formats (env steps/s per wall second | per CPU second; "
          "compact / planes ratio)")
    print(f"{'setting':<8} {'batch':>6} {'planes':>22} {'compact':>22} {'ratio':>6} "
          f"{'obs bytes/step planes':>22} {'compact':>9}")
    rows = {}
    for name, config in settings.items():
        for batch in batch_sizes:
            envs = {kind: CommonsHarvest(replace(config, observation=kind)) for kind in ("planes", "compact")}
            need = 6 * obs_bytes(envs["planes"], batch)
            if need > available_memory() // 2:
                print(f"{name:<8} {batch:>6} skipped (needs about {need / 2 ** 30:.1f} GiB)")
                continue
            got = {kind: measure(env, batch, seconds) for kind, env in envs.items()}
            rows[(name, batch)] = got
            p, c = got["planes"], got["compact"]
            size = {k: e.n_players * batch * math.prod(e.observation_shape) * e.observation_dtype.itemsize
                    for k, e in envs.items()}
            print(f"{name:<8} {batch:>6} {p['env_steps_per_s']:>10,.0f} | {p['env_steps_per_cpu_s']:>9,.0f} "
                  f"{c['env_steps_per_s']:>10,.0f} | {c['env_steps_per_cpu_s']:>9,.0f} "
                  f"{c['env_steps_per_cpu_s'] / p['env_steps_per_cpu_s']:>5.1f}x "
                  f"{size['planes']:>22,} {size['compact']:>9,}", flush=True)
    if baseline is None:
        return
    old = run_commons_baseline(baseline, batch_sizes, seconds, threads)
    print(f"\nCommons Harvest against the library in {baseline} (its default setting, planes), per CPU second:")
    print(f"{'batch':>6} {'baseline':>10} {'planes':>10} {'compact':>10} {'paper compact':>14}   speed-ups")
    for batch in batch_sizes:
        if batch not in old or ("default", batch) not in rows:
            continue
        base = old[batch]["cpu"]
        now = {k: rows[("default", batch)][k]["env_steps_per_cpu_s"] for k in ("planes", "compact")}
        paper = rows.get(("paper", batch), {}).get("compact", {}).get("env_steps_per_cpu_s", float("nan"))
        print(f"{batch:>6} {base:>10,.0f} {now['planes']:>10,.0f} {now['compact']:>10,.0f} {paper:>14,.0f}   "
              f"planes {now['planes'] / base:.1f}x, compact {now['compact'] / base:.1f}x, "
              f"paper compact {paper / base:.1f}x")


def obs_bytes(env, batch: int) -> int:
    n = 1
    for d in env.observation_shape:
        n *= d
    return 4 * env.n_players * batch * n


JAXMARL_CHILD = textwrap.dedent('''
    import json, sys, time
    import jax, jax.numpy as jnp, jaxmarl
    batch_sizes, seconds = json.loads(sys.argv[1]), float(sys.argv[2])
    env = jaxmarl.make("coin_game", num_inner_steps=50, num_outer_steps=1)
    step = jax.jit(jax.vmap(env.step))
    for B in batch_sizes:
        keys = jax.random.split(jax.random.PRNGKey(0), B)
        obs, state = jax.vmap(env.reset)(keys)
        acts = [{a: jax.random.randint(jax.random.PRNGKey(k * 7 + i), (B,), 0, 5) for i, a in enumerate(env.agents)}
                for k in range(16)]
        out = step(keys, state, acts[0]); jax.block_until_ready(out)
        n, start = 0, time.perf_counter()
        while True:
            keys = jax.random.split(keys[0], B)  # fresh randomness every step, as in real use
            obs, state, rew, done, info = step(keys, state, acts[n % 16])
            n += 1
            if n % 8 == 0:
                jax.block_until_ready(state)
                if time.perf_counter() - start >= seconds and n >= 8:
                    break
        jax.block_until_ready(state)
        loop = B * n / (time.perf_counter() - start)

        def episode(state, key):
            def body(s, k):
                o, s, r, d, i = jax.vmap(env.step)(jax.random.split(k, B), s, acts[0])
                return s, None
            return jax.lax.scan(body, state, jax.random.split(key, 50))[0]
        episode = jax.jit(episode)
        jax.block_until_ready(episode(state, jax.random.PRNGKey(1)))
        m, start = 0, time.perf_counter()
        while True:
            state = episode(state, jax.random.PRNGKey(m))
            jax.block_until_ready(state)
            m += 1
            if time.perf_counter() - start >= seconds:
                break
        scan = B * 50 * m / (time.perf_counter() - start)
        print(json.dumps({"batch": B, "loop": loop, "scan": scan}), flush=True)
''')


def jaxmarl_python(venv: Path, install_timeout: int) -> tuple:
    """Python of a virtual environment with jaxmarl, created on first use; (path or None, message)."""
    python = venv / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", "import jaxmarl"], capture_output=True).returncode == 0:
        return python, "reusing " + str(venv)
    try:
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        print(f"installing jaxmarl into {venv} (one time; pulls jax) ...", flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "jaxmarl"], check=True,
                       capture_output=True, timeout=install_timeout)
    except (subprocess.SubprocessError, OSError) as err:
        detail = getattr(err, "stderr", b"") or b""
        return None, f"could not install jaxmarl ({type(err).__name__}: {detail.decode(errors='ignore')[-300:]})"
    return python, "installed into " + str(venv)


def run_jaxmarl(batch_sizes, seconds, venv: Path, install_timeout: int, single_thread: bool = False) -> dict:
    python, message = jaxmarl_python(venv, install_timeout)
    print(f"JaxMARL: {message}")
    if python is None:
        print("JaxMARL comparison SKIPPED.")
        return {}
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(JAXMARL_CHILD)
        child = f.name
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    if single_thread:
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        env["OMP_NUM_THREADS"] = "1"
    try:
        proc = subprocess.run([str(python), child, json.dumps(batch_sizes), str(seconds)],
                              capture_output=True, text=True, timeout=1800, env=env)
    except subprocess.TimeoutExpired:
        print("JaxMARL comparison SKIPPED (timed out).")
        return {}
    finally:
        os.unlink(child)
    results = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            results[row["batch"]] = row
    if proc.returncode != 0:
        print("JaxMARL run failed:", proc.stderr[-500:])
    return results


def compare_threads(game: str, batch: int, seconds: float, default_threads: int) -> None:
    """Steps/s of ``game`` at ``batch`` with one torch thread and with torch's default number (one per core).

    The library's default is one thread (``aa_lib.training.threads``): on a shared 2-core machine with
    another process running, torch's default made Coin Game stepping at batch 4096 ~30x slower (0.3 M
    instead of 9-11 M game-steps/s). On an idle machine the two can be close; run it while the
    machine is busy, as it is in a sweep, to see the difference.
    """
    previous = torch.get_num_threads()
    print(f"\n{game} at batch {batch}: 1 torch thread (aa_lib's default) vs torch's default ({default_threads})")
    rates = {}
    for threads in dict.fromkeys((1, default_threads)):
        torch.set_num_threads(threads)
        rates[threads] = measure(GAMES[game](), batch, seconds)["env_steps_per_s"]
        print(f"{threads:>3} thread(s) {rates[threads]:>14,.0f} env steps/s", flush=True)
    torch.set_num_threads(previous)
    if default_threads != 1:
        print(f"1 thread / {default_threads} threads: {rates[1] / rates[default_threads]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", default=",".join(GAMES), help="comma-separated subset of " + ",".join(GAMES))
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 64, 4096, 65536])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--single-thread", action="store_true",
                        help="one thread for both torch and JAX/XLA (steadier figures on a busy machine)")
    parser.add_argument("--skip-jaxmarl", action="store_true")
    parser.add_argument("--jaxmarl-venv", type=Path,
                        default=Path(os.environ.get("AA_LIB_JAXMARL_VENV", Path.home() / ".cache/aa_lib/jaxmarl-venv")))
    parser.add_argument("--install-timeout", type=int, default=900, help="seconds allowed for pip install jaxmarl")
    parser.add_argument("--threads-game", default="coin", help="game of the 1-thread vs default-threads comparison")
    parser.add_argument("--threads-batch", type=int, default=4096, help="batch of that comparison")
    parser.add_argument("--skip-threads", action="store_true", help="no 1-thread vs default-threads comparison")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a directory holding another copy of aa_lib (e.g. an older commit) whose Commons "
                             "Harvest is measured too")
    args = parser.parse_args()
    default_threads = torch.get_num_threads()  # torch's own default, before any setting below
    if args.single_thread:
        args.threads = 1
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, CPU, {torch.get_num_threads()} threads, {os.cpu_count()} cores")
    print(f"{'game':<12} {'batch':>7} {'env steps/s':>14} {'us / batched step':>18}")
    ours = {}
    for name in args.games.split(","):
        env = GAMES[name]()
        for batch in args.batch_sizes:
            need = 6 * obs_bytes(env, batch)  # observations plus intermediates, roughly
            if need > available_memory() // 2:
                print(f"{name:<12} {batch:>7} {'skipped':>14}   (needs about {need / 2 ** 30:.1f} GiB)")
                continue
            row = measure(env, batch, args.seconds)
            ours[(name, batch)] = row
            print(f"{name:<12} {batch:>7} {row['env_steps_per_s']:>14,.0f} {row['us_per_batched_step']:>18,.1f}",
                  flush=True)
    if "commons" in args.games.split(","):
        compare_commons(args.batch_sizes, args.seconds, args.baseline, torch.get_num_threads())
    if not args.skip_threads:
        compare_threads(args.threads_game, args.threads_batch, args.seconds, default_threads)
    if args.skip_jaxmarl or "coin" not in args.games.split(","):
        return
    print("\nCoin Game: aa_lib (torch, one coin, colours alternate) vs JaxMARL (jax, two coins) on this CPU")
    theirs = run_jaxmarl(args.batch_sizes, args.seconds, args.jaxmarl_venv, args.install_timeout,
                         single_thread=args.single_thread)
    if not theirs:
        return
    print(f"{'batch':>7} {'aa_lib':>14} {'JaxMARL loop':>14} {'JaxMARL scan':>14} "
          f"{'ratio (loop)':>13} {'ratio (scan)':>13}")
    for batch in args.batch_sizes:
        if (("coin", batch) in ours) and batch in theirs:
            a, j = ours[("coin", batch)]["env_steps_per_s"], theirs[batch]
            print(f"{batch:>7} {a:>14,.0f} {j['loop']:>14,.0f} {j['scan']:>14,.0f} "
                  f"{a / j['loop']:>12.2f}x {a / j['scan']:>12.2f}x")
    print("ratio = aa_lib env steps/s divided by JaxMARL's (> 1: aa_lib faster). Variant difference: JaxMARL keeps "
          "two coins on the board, 5 actions, episode statistics and auto-reset inside step.")


if __name__ == "__main__":
    main()
