"""The ``aa`` command: train, run leagues and probe policies from the shell.

    aa train ipd --algo aa --preset classroom --run-dir runs/ipd_aa
    aa train coin --algo ppo --preset paper --device cuda --iterations 2000
    aa league ipd --agent AA=runs/ipd_aa/checkpoint.pt --scripted AC AD TFT --out runs/league
    aa probe runs/ipd_aa/checkpoint.pt --opponent random
    aa train coin --algo aa --tensorboard                   # also TensorBoard logs in RUN_DIR/tensorboard
    aa sweep coin --algo aa ppo --seeds 0-9 --set beta=0.5,1,2          # a grid on Ray (aa_lib.sweep)

Every command runs torch on one CPU thread unless ``--threads`` says otherwise
(:mod:`aa_lib.training.threads`: the small networks here run fastest that way).

A run directory receives ``config.json``, ``metrics.csv``, ``metrics.jsonl``,
``checkpoint.pt`` (latest, resumable with ``--resume``) and ``best.pt`` (highest
mean reward, as the paper keeps for Negotiation).

A user's mistake (a bad option or value, a missing, damaged or wrong checkpoint, a run
folder that is a file) ends with one line ``aa <command>: error: ...`` on stderr and exit
status 2, as argparse's own usage errors do; an error raised later, during training or
evaluation, is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

__all__ = ["main", "build_parser", "CommandError"]


class CommandError(SystemExit):
    """A user's mistake: ``str(err)`` is the one line ``aa <command>: error: ...`` that :func:`main`
    prints on stderr, and the exit status is 2 (argparse's usage errors)."""

    def __init__(self, command: str, message):
        super().__init__(f"aa {command}: error: {message}")
        self.code = 2


@contextmanager
def _settings_errors(command: str):
    """Report a ValueError/TypeError/OSError raised while *setting up* a command (bad game, rule,
    option, checkpoint or folder) as :class:`CommandError` (one line, exit status 2). Errors raised
    later, during training or evaluation, keep their traceback."""
    try:
        yield
    except CommandError:
        raise
    except (ValueError, TypeError, OSError, pickle.UnpicklingError) as err:  # OSError: e.g. a missing checkpoint
        raise CommandError(command, err) from None


def _json_options(text, option: str) -> dict:
    """The JSON object given to ``option`` (e.g. ``--game-options``); a ValueError naming the option."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{err.msg} (line {err.lineno}, column {err.colno}) in {option} {text!r}: expected a JSON "
                         f"object such as '{{\"episode_length\": 16}}'") from None
    if not isinstance(value, dict):
        raise ValueError(f"{option} must be a JSON object such as '{{\"episode_length\": 16}}', got {text!r}")
    return value


def _run_dir(path: Path) -> Path:
    """Create the run folder ``path``; a ValueError if it exists as a file."""
    if path.exists() and not path.is_dir():
        raise ValueError(f"--run-dir {path} is a file, expected a folder (it receives config.json, metrics, "
                         f"checkpoint.pt...)")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (batch sizes, episodes, threads, checkpoint period)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def cmd_train(args) -> int:
    from .training.presets import preset
    from .training import CheckpointCallback, MetricLogger, ProgressBar, Trainer
    from .training.overrides import apply_overrides, parse_overrides

    with _settings_errors("train"):
        run_dir = _run_dir(Path(args.run_dir or f"runs/{args.game}_{args.algo}_{args.preset}_s{args.seed}"))
        checkpoint = run_dir / "checkpoint.pt"
        callbacks = [MetricLogger(run_dir / "metrics.csv", run_dir / "metrics.jsonl"),
                     CheckpointCallback(checkpoint, every=args.checkpoint_every, best_path=run_dir / "best.pt")]
        if not args.quiet:
            callbacks.append(ProgressBar(every=5))
        if args.resume and checkpoint.exists():
            # a checkpoint of another game is refused (it would silently train that game)
            trainer = Trainer.from_checkpoint(checkpoint, callbacks, device=args.device, game=args.game)
            if args.iterations is not None:
                trainer.config = replace(trainer.config, iterations=args.iterations)
            print(f"resumed {checkpoint} at iteration {trainer.iteration}")
        else:
            overrides = parse_overrides(args.set)
            for name in ("iterations", "batch_size", "seed", "device"):
                value = getattr(args, name)
                if value is not None:
                    overrides[name] = value
            config = apply_overrides(preset(args.game, args.algo, args.preset), overrides)
            trainer = Trainer(config, callbacks)
    (run_dir / "config.json").write_text(json.dumps(trainer.config.to_dict(), indent=2))
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.tensorboard:
        from .training.tensorboard import TensorBoardLogger

        trainer.callbacks.append(TensorBoardLogger(run_dir / "tensorboard"))
    start = time.time()
    history = trainer.train()
    summary = {"iterations": trainer.iteration, "wall_time_s": round(time.time() - start, 1),
               "final": history[-1] if history else {}}
    if trainer.config.game == "ipd":
        import torch

        from .evaluation import cooperation_probe

        probe = cooperation_probe(trainer.policy, trainer.env, "self", 1024, torch.Generator(
            device=trainer.device).manual_seed(0))
        summary["p_cooperate_self_play"] = probe.probabilities
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


def _load_agents(args, env):
    from .agents.scripted import scripted_agent
    from .evaluation import load_policy

    agents = {}
    for spec in args.agent or []:
        name, _, paths = spec.partition("=")
        if not name or not paths or any(not p for p in paths.split(",")):
            raise ValueError(f"--agent expects NAME=ckpt1,ckpt2,..., got {spec!r}")
        agents[name] = [load_policy(p, device=args.device, game=args.game) for p in paths.split(",")]
    for name in args.scripted or []:
        agents[name] = [scripted_agent(env, name)]
    if not agents:
        raise ValueError("give at least one --agent or --scripted")
    return agents


def cmd_league(args) -> int:
    from .evaluation import run_league
    from .games import make_env

    with _settings_errors("league"):
        options = _json_options(args.game_options, "--game-options")
        env = make_env(args.game, device=args.device, **options)
        agents = _load_agents(args, env)
    result = run_league(env, agents, args.batch_size, args.episodes, args.seed)
    print(result.to_text())
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "league.json").write_text(json.dumps({"names": result.names, "table": result.table.tolist(),
                                                     "opponent_table": result.opponent_table.tolist(),
                                                     "std": result.std.tolist()}, indent=2))
        import matplotlib

        matplotlib.use("Agg")
        result.heatmap().savefig(out / "league.png", dpi=120, bbox_inches="tight")
    return 0


def cmd_probe(args) -> int:
    import torch

    from .evaluation import cooperation_probe, exploitability, load_policy
    from .training.checkpoint import load_trainer_checkpoint
    from .games import make_env

    with _settings_errors("probe"):
        config = load_trainer_checkpoint(args.checkpoint, game="ipd")["config"]  # aa probe needs an IPD checkpoint
        env = make_env("ipd", device=args.device, **config["game_options"])
        policy = load_policy(args.checkpoint, device=args.device, game="ipd")
    gen = torch.Generator(device=args.device).manual_seed(args.seed)
    probe = cooperation_probe(policy, env, args.opponent, args.batch_size, gen)
    result = {"p_cooperate": probe.probabilities, "visits": probe.counts,
              "vs_always_defect": exploitability(policy, env, "AD", args.batch_size, gen)}
    print(json.dumps(result, indent=2))
    return 0


def cmd_sweep(args) -> int:
    from .sweep import parse_grid, run_sweep

    out = Path(args.out or f"runs/sweep_{'-'.join(args.games)}_{'-'.join(args.algo)}")
    fixed = {name: getattr(args, name) for name in ("iterations", "batch_size", "device")
             if getattr(args, name) is not None}
    with _settings_errors("sweep"):
        try:
            result = run_sweep(args.games, args.algo, args.seeds, parse_grid(args.set), out_dir=out,
                               preset_name=args.preset, fixed=fixed, metric=args.metric,
                               checkpoint_every=args.checkpoint_every, tensorboard=args.tensorboard,
                               backend="serial" if args.serial else "ray", address=args.address,
                               num_cpus=args.num_cpus, threads=args.threads, progress=not args.no_progress)
        except ImportError as err:  # no Ray: name the cluster extra in one line
            raise ValueError(str(err)) from None
    print(result.summary_text())
    print(f"tables: {out / 'results.csv'} (one row per trial), {out / 'summary.csv'} (one row per setting)")
    if result.interrupted:
        return 130
    return 0 if result.count("done") == len(result.rows) else 1


def build_parser() -> argparse.ArgumentParser:
    from .algos import ALGORITHMS
    from .games import GAMES

    parser = argparse.ArgumentParser(prog="aa", description="Advantage Alignment: train, league, probe, sweep.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a learner on a game")
    train.add_argument("game", choices=sorted(GAMES))
    train.add_argument("--algo", default="aa", choices=sorted(ALGORITHMS))
    train.add_argument("--preset", default="classroom", choices=["paper", "classroom"])
    train.add_argument("--iterations", type=int)
    train.add_argument("--batch-size", type=_positive_int, dest="batch_size")
    train.add_argument("--seed", type=int)
    train.add_argument("--device", default=None, help="cpu (default) or cuda")
    train.add_argument("--run-dir", help="output folder (default runs/<game>_<algo>_<preset>_s<seed>)")
    train.add_argument("--set", nargs="*", metavar="KEY=VALUE",
                       help="override TrainConfig fields (game_options.NAME=VALUE for one game option; "
                            "aa_lib.training.overrides)")
    train.add_argument("--checkpoint-every", type=_positive_int, default=50)
    train.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint.pt")
    train.add_argument("--threads", type=_positive_int, default=1, help="torch CPU threads (default 1)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--tensorboard", action="store_true",
                       help="also write TensorBoard logs to RUN_DIR/tensorboard (tensorboard --logdir runs)")
    train.set_defaults(func=cmd_train)

    league = sub.add_parser("league", help="head-to-head league, seeds x seeds")
    league.add_argument("game", choices=sorted(GAMES))
    league.add_argument("--agent", nargs="*", metavar="NAME=CKPT[,CKPT...]", help="learned agents (one per seed)")
    league.add_argument("--scripted", nargs="*", metavar="NAME", help="scripted agents, e.g. AC AD TFT Random")
    league.add_argument("--game-options", help='JSON, e.g. \'{"episode_length": 16}\'')
    league.add_argument("--batch-size", type=_positive_int, default=256)
    league.add_argument("--episodes", type=_positive_int, default=1)
    league.add_argument("--seed", type=int, default=0)
    league.add_argument("--device", default="cpu")
    league.add_argument("--out", help="folder for league.json and league.png")
    league.add_argument("--threads", type=_positive_int, default=1, help="torch CPU threads (default 1)")
    league.set_defaults(func=cmd_league)

    probe = sub.add_parser("probe", help="P(cooperate | previous joint action) of an IPD policy")
    probe.add_argument("checkpoint")
    probe.add_argument("--opponent", default="self", choices=["self", "random"])
    probe.add_argument("--batch-size", type=_positive_int, default=1024)
    probe.add_argument("--seed", type=int, default=0)
    probe.add_argument("--device", default="cpu")
    probe.add_argument("--threads", type=_positive_int, default=1, help="torch CPU threads (default 1)")
    probe.set_defaults(func=cmd_probe)

    sweep = sub.add_parser("sweep", help="train a grid of games x rules x settings x seeds on Ray, resumable",
                           description="Train every combination on Ray Tune (one trial per process; a local "
                                       "Ray by default, --address for a cluster; needs the cluster extra). "
                                       "Run it again to resume: finished trials are skipped. See aa_lib.sweep.")
    sweep.add_argument("games", nargs="+", choices=sorted(GAMES), metavar="GAME",
                       help=f"one or more of {', '.join(sorted(GAMES))}")
    sweep.add_argument("--algo", nargs="+", default=["aa"], choices=sorted(ALGORITHMS), metavar="ALGO",
                       help="learning rules (default aa)")
    sweep.add_argument("--seeds", nargs="+", default=["0"], metavar="SEEDS", help="seeds and ranges: 0-9 20 21")
    sweep.add_argument("--set", nargs="+", action="extend", metavar="KEY=V1,V2,...",
                       help="grid axes: any key of aa train --set, and beta (the AA weight) for algo_options.beta")
    sweep.add_argument("--preset", default="classroom", choices=["paper", "classroom"])
    sweep.add_argument("--iterations", type=_positive_int)
    sweep.add_argument("--batch-size", type=_positive_int, dest="batch_size")
    sweep.add_argument("--device", default=None, help="cpu (default) or cuda (one GPU per trial)")
    sweep.add_argument("--out", help="sweep folder (default runs/sweep_<games>_<algos>)")
    sweep.add_argument("--metric", default="reward", help="metric summarised per setting (final value)")
    sweep.add_argument("--checkpoint-every", type=_positive_int, default=50)
    sweep.add_argument("--tensorboard", action="store_true", help="TensorBoard logs in every run directory")
    sweep.add_argument("--address", help="a running Ray cluster (auto, ray://host:10001); default: a local Ray")
    sweep.add_argument("--num-cpus", type=_positive_int, help="CPUs of the local Ray instance (default: all)")
    sweep.add_argument("--threads", type=_positive_int, default=1, help="torch CPU threads per trial (default 1)")
    sweep.add_argument("--serial", action="store_true", help="no Ray: the trials one after another, here")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    sweep.set_defaults(func=cmd_sweep)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "threads", None) is not None:  # one thread by default (aa_lib.training.threads)
        from .training.threads import set_threads

        set_threads(args.threads)
    if getattr(args, "device", None) is None and args.command == "train":
        args.device = None
    try:
        return args.func(args)
    except CommandError as err:  # one line on stderr, exit status 2 (err.code)
        print(err, file=sys.stderr)
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
