"""Re-create the small trained checkpoints that the training notebooks load (notebooks 07-10).

    python assets/make_assets.py ipd                              # AA, naive AC, PPO; seeds 0-4
    python assets/make_assets.py ipd --algos aa --seeds 0 1       # a subset
    python assets/make_assets.py ipd --evaluate-only              # re-evaluate the existing checkpoints
    python assets/make_assets.py coin --algos aa ppo --seeds 0 1 2                 # notebook 08
    python assets/make_assets.py negotiation --algos aa ppo ppo_sr --seeds 0 1 2   # notebook 09
    python assets/make_assets.py commons --algos paa ppo ppo_sr --seeds 0          # notebook 10
    python assets/make_assets.py commons --algos paa --betas 0.5 2 --seeds 0       # Fig. 8's beta ablation
    python assets/make_assets.py coin --algos aa ppo --seeds 0 1 2 --ray          # the runs in parallel on Ray

Training is deterministic on the CPU for a given seed and library version, so
re-running a command re-creates the same checkpoint. The full IPD set takes
about 10-15 minutes on one core of a 2-core CPU (15 runs of 30-90 s each).

For every (algorithm, seed) it trains with the game's classroom preset through
:func:`aa_lib.training.session.train_session` (the function behind the
notebooks' dashboards; the preset's own opponent setting, ``"replay"``), then

- saves ``assets/<game>/<algo>_s<seed>.pt``: a *slim* trainer checkpoint
  (format, config, iteration, each learner's policy, critic and target critic,
  and the reward/cooperation/loss history), about 65 KB. Optimiser states,
  generator states and the agent replay buffer are left out (they only matter
  to continue a run bit for bit), so :func:`aa_lib.evaluation.load_policy`
  loads it but ``Trainer.from_checkpoint`` does not; to warm-start training,
  load ``state["learners"][0]["policy"]`` into a new trainer's policy;
- evaluates the policy with :func:`aa_lib.evaluation.evaluate_policy`
  (per-step rewards in self-play and against scripted agents, and in the IPD
  P(cooperate | previous joint action) in self-play and against a random
  co-player, each with its Monte Carlo standard error) and writes
  ``assets/<game>/<algo>_s<seed>.json`` with those metrics, the evaluation
  protocol, the configuration, the iterations, the training wall time and the
  command that re-creates this one checkpoint.

``tests/test_assets.py`` re-evaluates every checkpoint with a fresh seed and
checks the recorded metrics within their Monte Carlo error. The total wall time
is printed at the end.

The (algorithm, beta, seed) runs go through :func:`aa_lib.sweep.run_trials`: by
default one after another in this process (as they always have), with ``--ray``
in parallel on a local Ray instance, one run per process on ``--threads`` torch
threads (``--address`` for a running cluster; the ``cluster`` extra). Each run is
seeded, so both give the same files. A run that fails is reported and the others
go on; the script then exits with status 1.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import torch

from aa_lib.evaluation import load_policy
from aa_lib.evaluation.commons import focal_evaluation
from aa_lib.training.checkpoint import save_checkpoint
from aa_lib.games import make_env
from aa_lib.evaluation import evaluate_policy
from aa_lib.sweep import Trial, run_trials
from aa_lib.training.session import train_session

ASSETS = Path(__file__).resolve().parent
#: Scripted co-players every checkpoint is evaluated against, per game.
EVAL_OPPONENTS = {"ipd": ("self", "AD", "AC", "TFT"), "coin": ("self", "AD", "AC"),
                  "negotiation": ("self", "AD", "AC"), "commons": ("self", "Greedy")}
#: Monte Carlo budget (games per co-player) and base seed of the recorded evaluation.
EVAL_EPISODES, EVAL_SEED = 1024, 12345
#: Commons Harvest: games per setting of :func:`aa_lib.evaluation.commons.focal_evaluation`
#: (self-play, and focal agents with 2 greedy invaders); its episodes are 100 steps of 5 CNN agents.
COMMONS_EVAL_EPISODES = 256
#: Commons Harvest checkpoints keep only the policy: its CNN critics would triple the file size.
COMMONS_SLIM_LEARNER_KEYS = ("policy",)


#: Learner parts and history keys kept in a shipped checkpoint.
SLIM_LEARNER_KEYS = ("policy", "critic", "target")
SLIM_HISTORY_KEYS = ("iteration", "reward", "cooperation", "entropy", "actor_loss", "critic_loss")


def slim_state(trainer) -> dict:
    """A small checkpoint: format, config, iteration, networks and a short history (see above)."""
    state = trainer.state_dict()
    keys = COMMONS_SLIM_LEARNER_KEYS if state["config"]["game"] == "commons" else SLIM_LEARNER_KEYS
    return {
        "format": state["format"], "slim": True, "config": state["config"], "iteration": state["iteration"],
        "learners": [{k: learner[k] for k in keys} for learner in state["learners"]],
        "history": [{k: m[k] for k in SLIM_HISTORY_KEYS if k in m} for m in state["history"]],
    }


def command_for(game: str, algo: str, seed: int, beta=None) -> str:
    """The command that re-creates one checkpoint (the default command re-creates them all)."""
    betas = "" if beta is None else f" --betas {beta:g}"
    return f"python assets/make_assets.py {game} --algos {algo}{betas} --seeds {seed}"


def stem_name(algo: str, seed: int, beta=None) -> str:
    """File name (without suffix) of a checkpoint: ``<algo>_s<seed>``, or ``<algo>_b<beta>_s<seed>`` with
    the decimal point of beta written ``p`` (``paa_b0p5_s0``: a dot would start the file suffix)."""
    return f"{algo}_s{seed}" if beta is None else f"{algo}_b{beta:g}_s{seed}".replace(".", "p")


def make_one(game: str, algo: str, seed: int, out: Path, device: str, beta=None) -> dict:
    """Train, save and evaluate one checkpoint (``beta``: the AA weight, None for the preset's); returns
    the recorded JSON record."""
    result = train_session(game, algo, seed=seed, device=device, opponent="replay", beta=beta)
    stem = out / stem_name(algo, seed, beta)
    save_checkpoint(slim_state(result.trainer), stem.with_suffix(".pt")).chmod(0o644)  # mkstemp makes it 0600
    last = result.history[-1]
    record = {
        "checkpoint": stem.with_suffix(".pt").name,
        "game": game, "algo": algo, "seed": seed, "preset": "classroom", "opponent": result.opponent,
        "iterations": result.iterations, "wall_time_s": round(result.wall_time_s, 1), "device": device,
        "final_training_metrics": {k: last[k] for k in ("reward", "cooperation") if k in last},
        "evaluation": None,
        "config": result.config.to_dict(),
        "command": command_for(game, algo, seed, beta), "beta": beta,
        "torch": torch.__version__, "python": platform.python_version(),
    }
    return evaluate_one(stem, record)


def make_trial(params: dict, report=None) -> dict:
    """:func:`make_one` as a trial of :func:`aa_lib.sweep.run_trials` (``params``: its keyword arguments)."""
    return make_one(params["game"], params["algo"], params["seed"], Path(params["out"]), params["device"],
                    params["beta"])


def evaluate_one(stem: Path, record: dict) -> dict:
    """Evaluate checkpoint ``stem.pt`` on the CPU, store the metrics in ``record`` and write ``stem.json``."""
    env = make_env(record["game"], **record["config"]["game_options"])
    policy = load_policy(stem.with_suffix(".pt"))
    if record["game"] == "commons":  # focal agents with greedy invaders (paper Sec. 5.4), per-capita returns
        evaluation = focal_evaluation(policy, env, episodes=COMMONS_EVAL_EPISODES, seed=EVAL_SEED + record["seed"])
    else:
        evaluation = evaluate_policy(policy, env, opponents=EVAL_OPPONENTS[record["game"]],
                                     episodes=EVAL_EPISODES, seed=EVAL_SEED + record["seed"])
    record["evaluation"] = evaluation.to_dict()
    record["command"] = command_for(record["game"], record["algo"], record["seed"], record.get("beta"))
    for part in ("metrics", "errors"):  # a state never visited has no estimate: null in JSON
        values = record["evaluation"][part]
        record["evaluation"][part] = {k: (None if math.isnan(v) else v) for k, v in values.items()}
    stem.with_suffix(".json").write_text(json.dumps(record, indent=2, allow_nan=False) + "\n")
    return record


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("game", choices=sorted(EVAL_OPPONENTS))
    parser.add_argument("--algos", nargs="+", default=["aa", "naive", "ppo"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--betas", nargs="+", type=float, default=None,
                        help="AA weights (one checkpoint each, named <algo>_b<beta>_s<seed>, e.g. paa_b0p5_s0); default: the preset's")
    parser.add_argument("--device", default="cpu", help="cpu (the shipped files) or cuda")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="re-evaluate the existing checkpoints (keeps their training records)")
    parser.add_argument("--ray", action="store_true",
                        help="train the runs in parallel on Ray, one per process (needs the cluster extra)")
    parser.add_argument("--address", help="with --ray: address of a running Ray cluster (default: a local one)")
    parser.add_argument("--num-cpus", type=int, default=None, help="with --ray: CPUs of the local Ray instance")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = ASSETS / args.game
    out.mkdir(parents=True, exist_ok=True)
    start = time.time()
    runs = [(algo, beta, seed) for algo in args.algos for beta in args.betas or [None] for seed in args.seeds]
    if args.evaluate_only:
        for algo, beta, seed in runs:
            stem = out / stem_name(algo, seed, beta)
            show(stem_name(algo, seed, beta), evaluate_one(stem, json.loads(stem.with_suffix(".json").read_text())))
    else:
        trials = [Trial(stem_name(algo, seed, beta), {"game": args.game, "algo": algo, "seed": seed, "beta": beta,
                                                      "out": str(out), "device": args.device})
                  for algo, beta, seed in runs]

        def on_outcome(outcome) -> None:
            if outcome.status == "done":
                show(outcome.name, outcome.result)
            else:
                print(f"{outcome.name}: FAILED\n{outcome.error}", file=sys.stderr, flush=True)

        backend = "ray" if args.ray or args.address else "serial"
        if backend == "ray" and __name__ != "__main__":  # imported (not run as a script): the Ray workers
            from ray import cloudpickle  # cannot import this file, so its functions travel by value

            cloudpickle.register_pickle_by_value(sys.modules[__name__])
        outcomes = run_trials(make_trial, trials, backend=backend,
                              address=args.address, num_cpus=args.num_cpus, threads=args.threads,
                              progress=False, on_outcome=on_outcome)
        failed = [t.name for t in trials if t.name not in outcomes or outcomes[t.name].status != "done"]
        if failed:
            print(f"total wall time {time.time() - start:.0f}s; FAILED or not run: {failed}")
            return 1
    print(f"total wall time {time.time() - start:.0f}s on {args.device} ({args.threads} thread(s))")


def show(name: str, record: dict) -> None:
    """One line per checkpoint: its training time and headline evaluation metrics."""
    m = record["evaluation"]["metrics"]
    shown = {k: (None if v is None else round(v, 3)) for k, v in m.items()
             if k.startswith(("reward/", "return/", "p_cooperate/random"))}
    print(f"{name}: {record['wall_time_s']:.0f}s {shown}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
