"""Sweeps: many training runs (games x rules x settings x seeds) on Ray Tune, one trial per process.

    aa sweep coin --algo aa ppo --seeds 0-9 --set beta=0.5,1,2
    aa sweep ipd --algo aa naive --seeds 0-4 --iterations 300 --address auto    # an existing Ray cluster

The same in Python::

    result = run_sweep(["coin"], ["aa", "ppo"], seeds=range(10), grid={"beta": [0.5, 1, 2]}, out_dir="runs/sweep")
    print(result.summary_text())

Two layers:

- :func:`run_trials` runs any function ``fn(params, report) -> dict`` once per :class:`Trial`,
  either on Ray Tune (``backend="ray"``: a local Ray started in this process, or the
  cluster at ``address``; each trial in its own worker process with ``threads`` torch
  threads) or here, one after another (``backend="serial"``). A trial that raises is
  reported (:class:`TrialOutcome` with the traceback) and the others go on. A progress
  bar counts finished and failed trials and shows the latest report of the running ones.
  ``assets/make_assets.py`` runs its seeds through it.
- :func:`run_sweep` builds the grid, runs :func:`train_trial` for every trial that is not
  finished yet, and writes the table.

A sweep directory (``out_dir``)::

    sweep.json          the grid of the last invocation
    runs/<trial>/       one run directory per trial, as ``aa train`` writes it: config.json,
                        metrics.csv, metrics.jsonl, checkpoint.pt, best.pt, summary.json
                        (written last: the trial is finished), error.txt (the last failure),
                        tensorboard/ (with ``tensorboard=True``)
    results.csv         one row per trial: its setting, status, final metrics
    summary.csv         one row per setting: seeds done, mean and standard error of ``metric``
                        (its value at the final iteration) over the seeds
    tune/               Ray Tune's own records (backend "ray")

Resuming: run the same sweep again. Finished trials (``summary.json`` with at least the
planned iterations) are skipped; an interrupted trial continues from its
``checkpoint.pt`` (written every ``checkpoint_every`` iterations) exactly as an
uninterrupted run would, its metric logs cut back to the checkpoint; failed trials run
again. A run directory that holds a run of another configuration is refused (ValueError)
rather than mixed. The grid may grow (more seeds, values or iterations) between invocations.

Grid axes (``grid``, the ``--set KEY=V1,V2,...`` of ``aa sweep``): any key of
:func:`aa_lib.training.overrides.parse_overrides` (``batch_size``, ``game_options.layout``,
``algo_options.clip``...) and the shorthand ``beta`` for ``algo_options.beta`` (the AA weight,
eq. 8). An ``algo_options`` axis applies only to the rules that have that option: ``--algo aa
ppo --set beta=0.5,1,2`` gives three AA settings and one PPO setting, not three identical PPO ones.

On a cluster, every node needs aa_lib installed (the same version) and ``out_dir`` on a file
system all nodes share (the trials write their run directories there, and the driver reads
them back to skip finished trials).
"""
from __future__ import annotations

import csv
import itertools
import json
import math
import os
import tempfile
import time
import traceback
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from .training.threads import DEFAULT_THREADS, set_threads, torch_threads

__all__ = ["Trial", "TrialOutcome", "SweepTrial", "SweepResult", "BACKENDS", "ALIASES", "run_trials", "error_summary",
           "parse_seeds", "parse_grid", "sweep_trials", "train_trial", "run_sweep"]

BACKENDS = ("ray", "serial")
#: Shorthand grid keys and the override key each stands for.
ALIASES = {"beta": "algo_options.beta"}
#: Finished-trial marker of a run directory (written last, atomically).
SUMMARY_FILE = "summary.json"
ERROR_FILE = "error.txt"
CLUSTER_HINT = ('pip install -e ".[cluster]" (ray[tune]); or run the trials one after another in this process '
                'with backend="serial" (aa sweep --serial)')


# =============================================================================== trials on Ray
@dataclass
class Trial:
    """One unit of work: ``name`` (unique; used for directories and the progress display) and
    ``params``, the argument of the trial function (picklable; plain values travel best)."""

    name: str
    params: Any


@dataclass
class TrialOutcome:
    """What became of a trial: ``status`` "done" with the function's ``result``, or "failed" with ``error``
    (the traceback, or Ray's message when the worker process died)."""

    name: str
    status: str
    result: Any = None
    error: Optional[str] = None
    error_summary: Optional[str] = None

    @property
    def error_line(self) -> str:
        """One line naming the error (``ValueError: ...``)."""
        return self.error_summary or _last_line(self.error)


def _last_line(text: Optional[str]) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def error_summary(err: BaseException) -> str:
    """``module.ErrorType: first line of the message`` (the last line of a traceback can be a mere hint)."""
    kind = type(err)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    lines = str(err).strip().splitlines()
    return f"{name}: {lines[0]}" if lines else name


def _require_ray():
    """``(ray, ray.tune)``, or an ImportError that names the ``cluster`` extra."""
    try:
        import ray
        from ray import tune
    except ImportError as err:
        raise ImportError(f"sweeps on Ray need the cluster extra: {CLUSTER_HINT}") from err
    return ray, tune


class _Progress:
    """A tqdm.auto bar over trials: done / failed counts and the latest report of a running trial."""

    def __init__(self, total: int, enabled: bool, desc: str = "sweep"):
        self.bar = None
        self.done = self.failed = 0
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="trial")

    def report(self, name: str, values: Mapping[str, Any]) -> None:
        if self.bar is not None:
            shown = " ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items())
            self.bar.set_postfix_str(f"done {self.done} failed {self.failed} | {name}: {shown}", refresh=True)

    def finished(self, outcome: TrialOutcome) -> None:
        if outcome.status == "done":
            self.done += 1
        else:
            self.failed += 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"done {self.done} failed {self.failed} | last: {outcome.name} {outcome.status}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _call(fn: Callable, trial_params, report: Callable[[dict], None]) -> TrialOutcome:
    """Run one trial function and catch its exception (the outcome, without the name)."""
    try:
        return TrialOutcome("", "done", result=fn(trial_params, report))
    except Exception as err:
        return TrialOutcome("", "failed", error=traceback.format_exc(), error_summary=error_summary(err))


def _tune_trial(config: dict, fn=None, params=None) -> None:
    """The Ray Tune trainable: one trial in a worker process (one call per trial)."""
    from ray import tune

    set_threads(config["threads"])
    name = config["trial"]

    def report(values: dict) -> None:
        tune.report({"progress": json.dumps(values, default=str)})

    outcome = _call(fn, params[name], report)
    tune.report({"outcome": json.dumps({"status": outcome.status, "result": outcome.result, "error": outcome.error,
                                        "error_summary": outcome.error_summary}, default=str)})


def _run_serial(fn, trials, threads, progress: _Progress, on_outcome) -> Dict[str, TrialOutcome]:
    outcomes = {}
    with torch_threads(threads):
        for trial in trials:
            outcome = _call(fn, trial.params, lambda values, _n=trial.name: progress.report(_n, values))
            outcome.name = trial.name
            outcomes[trial.name] = outcome
            progress.finished(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
    return outcomes


def _tune_callback(tune, progress: _Progress, outcomes: Dict[str, TrialOutcome], on_outcome):
    """A ``tune.Callback`` (made once Ray is imported) feeding the progress bar and collecting outcomes."""

    def record(outcome: TrialOutcome) -> None:
        if outcome.name in outcomes:
            return
        outcomes[outcome.name] = outcome
        progress.finished(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    class _Collect(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            name = trial.config["trial"]
            if "progress" in result:
                progress.report(name, json.loads(result["progress"]))
            if "outcome" in result:
                payload = json.loads(result["outcome"])
                record(TrialOutcome(name, payload["status"], payload.get("result"), payload.get("error"),
                                    payload.get("error_summary")))

        def on_trial_error(self, iteration, trials, trial, **info):  # the worker died (crash, memory)
            message = getattr(trial, "error_msg", None) or f"Ray reported the trial as errored ({trial.error_file})"
            record(TrialOutcome(trial.config["trial"], "failed", error=str(message)))

    return _Collect()


def _run_ray(fn, trials, threads, progress, on_outcome, address, num_cpus, gpus_per_trial,
             storage_dir) -> Dict[str, TrialOutcome]:
    ray, tune = _require_ray()
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # with verbose=0: no tables of Tune's own (the bar is ours)
    started = False
    if not ray.is_initialized():
        import logging

        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if address is None:  # the embedded local instance: nothing to set up
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        started = True
    outcomes: Dict[str, TrialOutcome] = {}
    storage = Path(storage_dir) if storage_dir is not None else Path(tempfile.mkdtemp(prefix="aa_lib_tune_"))
    storage.mkdir(parents=True, exist_ok=True)
    try:
        resources = {"cpu": threads or 1, "gpu": gpus_per_trial}
        trainable = tune.with_resources(
            tune.with_parameters(_tune_trial, fn=fn, params={t.name: t.params for t in trials}), resources)
        tuner = tune.Tuner(
            trainable,
            param_space={"trial": tune.grid_search([t.name for t in trials]), "threads": threads},
            tune_config=tune.TuneConfig(trial_dirname_creator=lambda t: t.config["trial"], reuse_actors=False),
            run_config=tune.RunConfig(
                storage_path=str(storage.resolve()), name=time.strftime("tune-%Y%m%d-%H%M%S"), verbose=0,
                callbacks=[_tune_callback(tune, progress, outcomes, on_outcome)],
                failure_config=tune.FailureConfig(max_failures=0)))
        results = tuner.fit()
        for result in results:  # anything the callback missed (a result not delivered before the end)
            name = result.config["trial"]
            if name in outcomes:
                continue
            if "outcome" in (result.metrics or {}):
                payload = json.loads(result.metrics["outcome"])
                outcomes[name] = TrialOutcome(name, payload["status"], payload.get("result"), payload.get("error"),
                                              payload.get("error_summary"))
            elif result.error is not None:
                outcomes[name] = TrialOutcome(name, "failed", error=str(result.error))
    finally:
        if started:
            ray.shutdown()
    return outcomes


def run_trials(fn: Callable[[Any, Callable[[dict], None]], Any], trials: Sequence[Trial], *,
               backend: str = "ray", address: Optional[str] = None, num_cpus: Optional[int] = None,
               threads: Optional[int] = DEFAULT_THREADS, gpus_per_trial: float = 0.0, progress: bool = True,
               on_outcome: Optional[Callable[[TrialOutcome], None]] = None,
               storage_dir=None) -> Dict[str, TrialOutcome]:
    """Run ``fn(trial.params, report)`` for every trial; returns ``{name: TrialOutcome}``.

    Args:
        fn: the trial function. It may call ``report({"iteration": 3, "reward": 0.4})`` to show
            progress; its return value (JSON-serialisable for the ``ray`` backend) is the outcome's
            ``result``; an exception makes the trial "failed" and the others go on. For the ``ray``
            backend it is pickled to the workers (a module-level function of an installed package
            travels by reference; one of a script by value).
        trials: the trials, names unique.
        backend: ``"ray"`` (Ray Tune; needs the ``cluster`` extra) or ``"serial"`` (here, in order).
        address: ``None``: start a local Ray in this process (unless one is already initialised,
            which is then used and left running); else the address of a running cluster
            (``"auto"``, ``"ray://host:10001"``).
        num_cpus: CPUs of the local Ray instance (None: all); trials run ``num_cpus / threads`` at a time.
        threads: torch CPU threads (and Ray CPUs) per trial (None: torch's default).
        gpus_per_trial: GPUs Ray reserves per trial (fractions share one).
        progress: show a progress bar (tqdm.auto).
        on_outcome: called in this process with each :class:`TrialOutcome` as it arrives.
        storage_dir: where Ray Tune keeps its records (None: a temporary folder).

    A trial whose outcome never arrived (the sweep was interrupted) is missing from the result.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    trials = list(trials)
    for trial in trials:
        if not isinstance(trial, Trial):
            raise TypeError(f"trials must be Trial objects, got {type(trial).__name__}")
    names = [t.name for t in trials]
    if len(set(names)) != len(names):
        raise ValueError(f"trial names must be unique, got duplicates {sorted({n for n in names if names.count(n) > 1})}")
    if threads is not None:
        threads = int(threads)
        if threads < 1:
            raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    if not trials:
        return {}
    if backend == "ray":
        _require_ray()  # fail before anything starts
    bar = _Progress(len(trials), progress)
    try:
        if backend == "serial":
            return _run_serial(fn, trials, threads, bar, on_outcome)
        return _run_ray(fn, trials, threads, bar, on_outcome, address, num_cpus, gpus_per_trial, storage_dir)
    finally:
        bar.close()


# =============================================================================== the grid
def parse_seeds(tokens: Iterable) -> List[int]:
    """``["0-3", "7"]`` -> ``[0, 1, 2, 3, 7]`` (ranges inclusive; ints are taken as they are; order kept,
    duplicates dropped). ValueError naming the token otherwise."""
    seeds: List[int] = []
    for token in tokens:
        if isinstance(token, bool):
            raise ValueError(f"seeds: expected an integer or a range a-b, got {token!r}")
        if isinstance(token, int):
            values = [token]
        else:
            text = str(token).strip()
            low, dash, high = text.partition("-")
            try:
                if dash and low:  # "a-b"
                    a, b = int(low), int(high)
                    if b < a:
                        raise ValueError
                    values = list(range(a, b + 1))
                else:
                    values = [int(text)]
            except ValueError:
                raise ValueError(f"seeds: expected an integer or a range a-b with a <= b, got {token!r}") from None
        seeds += [s for s in values if s not in seeds]
    if not seeds:
        raise ValueError("seeds: give at least one seed")
    return seeds


def _split_values(text: str) -> List[str]:
    """``"0.5,1,{'a': 1, 'b': 2}"`` -> ``["0.5", "1", "{'a': 1, 'b': 2}"]``: commas inside brackets or
    quotes do not split (write a tuple value in brackets: ``(0, 0.1)``)."""
    parts, depth, quote, current = [], 0, None, ""
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += ch
    parts.append(current)
    return [p.strip() for p in parts]


def parse_grid(pairs: Optional[Iterable[str]]) -> Dict[str, list]:
    """``["beta=0.5,1,2", "batch_size=64"]`` -> ``{"beta": [0.5, 1, 2], "batch_size": [64]}``.

    Each value is read and checked by :func:`aa_lib.training.overrides.parse_overrides` (the key
    against the TrainConfig fields, ``beta`` standing for ``algo_options.beta``); ValueError
    naming the key for a mistake, an empty value or a repeated key.
    """
    from .training.overrides import parse_overrides

    grid: Dict[str, list] = {}
    if pairs is None:
        return grid
    if isinstance(pairs, str):
        raise ValueError(f"grid must be a list of 'key=v1,v2,...' strings, got the single string {pairs!r}")
    for pair in pairs:
        if not isinstance(pair, str) or "=" not in pair:
            raise ValueError(f"grid entry {pair!r}: expected key=value1,value2,...")
        key, text = (s.strip() for s in pair.split("=", 1))
        if key in grid:
            raise ValueError(f"grid key {key!r} given twice; list all its values in one key=v1,v2,...")
        pieces = _split_values(text)
        if any(not p for p in pieces):
            raise ValueError(f"grid entry {pair!r}: empty value")
        target = ALIASES.get(key, key)
        values = [parse_overrides([f"{target}={p}"])[target] for p in pieces]
        grid[key] = list(dict.fromkeys(values)) if all(_hashable(v) for v in values) else values
    return grid


def _hashable(value) -> bool:
    try:
        hash(value)
        return True
    except TypeError:
        return False


def _rule_options(algo: str) -> Optional[set]:
    """Option names of learning rule ``algo`` (None when they cannot be listed)."""
    from .algos import rule_class

    cls = rule_class(algo)
    return {f.name for f in fields(cls) if f.init} if is_dataclass(cls) else None


def _applies(key: str, algo: str) -> bool:
    """Whether grid axis ``key`` applies to rule ``algo`` (``algo_options.<name>`` axes: only if it has the option)."""
    target = ALIASES.get(key, key)
    if not target.startswith("algo_options."):
        return True
    options = _rule_options(algo)
    return options is None or target.split(".", 1)[1] in options


def _label(value) -> str:
    """A value as it appears in a trial name (floats by repr, so 1 and 1.0 stay apart)."""
    text = value if isinstance(value, str) else repr(value)
    return "".join(c if c.isalnum() or c in "._+-" else "-" for c in text)


@dataclass
class SweepTrial:
    """One training run of a sweep: its name, where it writes, its setting and its full config."""

    name: str
    game: str
    algo: str
    seed: int
    setting: Dict[str, Any]  #: grid key -> value ("-" for an axis that does not apply to this rule)
    config: Any  #: the TrainConfig it trains
    run_dir: Path

    @property
    def setting_key(self) -> tuple:
        """What identifies the setting over seeds: game, rule and the grid values."""
        return (self.game, self.algo) + tuple(_label(v) for v in self.setting.values())


def sweep_trials(games: Sequence[str], algos: Sequence[str], seeds: Iterable, grid: Optional[Mapping] = None, *,
                 preset_name: str = "classroom", fixed: Optional[Mapping[str, Any]] = None,
                 out_dir="runs/sweep") -> List[SweepTrial]:
    """Every trial of the grid, in the order game, rule, setting, seed.

    Args:
        games, algos: names of the game registry and of the learning rules.
        seeds: seeds (ints or ``"a-b"`` ranges, :func:`parse_seeds`).
        grid: ``{key: [values]}`` (:func:`parse_grid`); ``algo_options`` axes apply only to the rules
            that have the option.
        preset_name: the preset every config starts from (:func:`aa_lib.training.presets.preset`).
        fixed: overrides applied to every trial (``{"iterations": 100, "device": "cuda"}``).
        out_dir: the sweep directory (run directories under ``runs/``).

    Raises:
        ValueError: an unknown game or rule, a bad override (naming the trial), or two trials
            whose names coincide.
    """
    from .training.overrides import apply_overrides
    from .training.presets import preset

    games, algos = list(games), list(algos)
    if not games or not algos:
        raise ValueError("a sweep needs at least one game and one learning rule")
    seeds = parse_seeds(seeds)
    grid = {k: list(v) for k, v in (grid or {}).items()}
    for key, values in grid.items():
        if not values:
            raise ValueError(f"grid key {key!r} has no values")
    fixed = dict(fixed or {})
    runs = Path(out_dir) / "runs"
    trials: List[SweepTrial] = []
    for game, algo in itertools.product(games, algos):
        axes = [k for k in grid if _applies(k, algo)]
        for values in itertools.product(*(grid[k] for k in axes)):
            chosen = dict(zip(axes, values))
            overrides = dict(fixed)
            overrides.update({ALIASES.get(k, k): v for k, v in chosen.items()})
            setting = {k: chosen.get(k, "-") for k in grid}
            for seed in seeds:
                name = "_".join([game, algo] + [f"{k.rsplit('.', 1)[-1]}={_label(v)}" for k, v in chosen.items()]
                                + [f"s{seed}"])
                try:
                    config = apply_overrides(preset(game, algo, preset_name), {**overrides, "seed": seed})
                except (ValueError, TypeError) as err:
                    raise type(err)(f"sweep trial {name}: {err}") from None
                trials.append(SweepTrial(name, game, algo, seed, setting, config, runs / name))
    names = [t.name for t in trials]
    if len(set(names)) != len(names):
        raise ValueError(f"two trials of the grid have the same name {[n for n in names if names.count(n) > 1][0]!r} "
                         "(two grid keys with the same last name?)")
    return trials


# =============================================================================== one training run
def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _rewrite_metrics(run_dir: Path, history: Sequence[dict]) -> None:
    """metrics.csv and metrics.jsonl holding exactly ``history`` (a resumed run drops the rows logged
    after its checkpoint)."""
    from .training.callbacks import MetricLogger

    for name in ("metrics.csv", "metrics.jsonl"):
        (run_dir / name).unlink(missing_ok=True)
    logger = MetricLogger(run_dir / "metrics.csv", run_dir / "metrics.jsonl")
    for metrics in history:
        logger.on_iteration_end(None, metrics)


class _Report:
    """Callback: pass ``iteration`` and a few metrics to the sweep's ``report`` every ``every`` iterations."""

    def __init__(self, report, every: int, keys=("reward", "cooperation")):
        self.report, self.every, self.keys = report, max(1, every), keys

    def on_iteration_end(self, trainer, metrics) -> None:
        if trainer.iteration % self.every == 0 or trainer.iteration == trainer.config.iterations:
            values = {"it": f"{trainer.iteration}/{trainer.config.iterations}"}
            values.update({k: float(metrics[k]) for k in self.keys if k in metrics})
            self.report(values)


def train_trial(params: Mapping[str, Any], report: Optional[Callable[[dict], None]] = None,
                callbacks: Sequence = ()) -> dict:
    """Train one sweep trial in its run directory (what ``aa train --run-dir`` writes); returns its summary.

    ``params``: ``config`` (a TrainConfig as a dict), ``run_dir``, ``checkpoint_every``,
    ``tensorboard`` (bool). A run directory with a ``checkpoint.pt`` is resumed from it, training up
    to ``config["iterations"]``; its metric logs are rewritten from the checkpoint's history first.
    ``callbacks`` are added after the standard ones. ``summary.json`` (iterations, wall time,
    final metrics) is written last; a failure leaves ``error.txt`` (a line naming the error, then the
    traceback) and re-raises.
    """
    from .training import CheckpointCallback, MetricLogger, TrainConfig, Trainer

    run_dir = Path(params["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / ERROR_FILE).unlink(missing_ok=True)
    try:
        config = TrainConfig.from_dict(dict(params["config"]))
        checkpoint = run_dir / "checkpoint.pt"
        saver = CheckpointCallback(checkpoint, every=int(params.get("checkpoint_every", 50)),
                                   best_path=run_dir / "best.pt")
        extra = []
        if params.get("tensorboard"):
            from .training.tensorboard import TensorBoardLogger

            extra.append(TensorBoardLogger(run_dir / "tensorboard"))
        if report is not None:
            extra.append(_Report(report, every=max(1, config.iterations // 100)))
        logger = MetricLogger(run_dir / "metrics.csv", run_dir / "metrics.jsonl")
        standard = [logger, saver] + extra + list(callbacks)
        if checkpoint.exists():
            trainer = Trainer.from_checkpoint(checkpoint, standard, device=config.device)
            trainer.config = replace(trainer.config, iterations=config.iterations)
            _rewrite_metrics(run_dir, trainer.history)
            if (run_dir / "best.pt").exists() and trainer.history:
                saver.best = max(m.get(saver.best_key, -math.inf) for m in trainer.history)
        else:
            _rewrite_metrics(run_dir, [])  # logs of a run interrupted before its first checkpoint
            trainer = Trainer(config, standard)
        (run_dir / "config.json").write_text(json.dumps(trainer.config.to_dict(), indent=2))
        start = time.time()
        history = trainer.train()
        summary = {"iterations": trainer.iteration, "wall_time_s": round(time.time() - start, 1),
                   "final": history[-1] if history else {}}
        _atomic_write(run_dir / SUMMARY_FILE, json.dumps(summary, indent=2))
        return summary
    except Exception as err:  # not KeyboardInterrupt: an interrupted trial is pending, not failed
        (run_dir / ERROR_FILE).write_text(f"{error_summary(err)}\n\n{traceback.format_exc()}")
        raise


# =============================================================================== the sweep
def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


def _finished(trial: SweepTrial) -> Optional[dict]:
    """The trial's summary if it is finished (at least the planned iterations), else None."""
    path = trial.run_dir / SUMMARY_FILE
    if not path.exists():
        return None
    summary = json.loads(path.read_text())
    return summary if summary.get("iterations", 0) >= trial.config.iterations else None


def _check_run_dir(trial: SweepTrial) -> None:
    """Refuse a run directory that holds a run of another configuration (iterations and device may differ)."""
    path = trial.run_dir / "config.json"
    if not path.exists():
        return
    saved = json.loads(path.read_text())
    planned = _jsonable(trial.config.to_dict())
    differ = sorted(k for k in set(saved) | set(planned)
                    if k not in ("iterations", "device") and saved.get(k) != planned.get(k))
    if differ:
        raise ValueError(f"{trial.run_dir} holds a run of another configuration (differs in {differ}); "
                         "use another sweep directory or delete that run")


@dataclass
class SweepResult:
    """A sweep's table: one row per trial and one per setting, and where they were written."""

    rows: List[dict]
    summary: List[dict]
    metric: str
    out_dir: Path
    grid_keys: List[str]
    skipped: int = 0
    interrupted: bool = False
    outcomes: Dict[str, TrialOutcome] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r["status"] == status)

    @property
    def failed(self) -> List[dict]:
        return [r for r in self.rows if r["status"] == "failed"]

    def summary_text(self) -> str:
        """The printed summary: one line per setting with mean and standard error over its seeds."""
        head = (f"sweep {self.out_dir}: {len(self.rows)} trials, {self.count('done')} done "
                f"({self.skipped} finished before), {self.count('failed')} failed, {self.count('pending')} pending")
        columns = ["game", "algo"] + self.grid_keys + ["seeds", f"{self.metric} (final, mean ± s.e.)"]
        table = [[str(s[c]) for c in ["game", "algo"] + self.grid_keys]
                 + [f"{s['done']}/{s['trials']}", _mean_text(s["mean"], s["se"])] for s in self.summary]
        widths = [max(len(c), *(len(r[i]) for r in table)) if table else len(c) for i, c in enumerate(columns)]
        lines = [head, "  ".join(c.ljust(w) for c, w in zip(columns, widths))]
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in table]
        for row in self.failed:
            lines.append(f"failed: {row['trial']}: {row['error']} (traceback in {row['run_dir']}/{ERROR_FILE})")
        if self.count("pending"):
            lines.append("pending trials remain: run the same command again to resume")
        return "\n".join(lines)


def _mean_text(mean: float, se: float) -> str:
    if math.isnan(mean):
        return "-"
    return f"{mean:.4f}" + ("" if math.isnan(se) else f" ± {se:.4f}")


def _rows(trials: Sequence[SweepTrial], outcomes: Mapping[str, TrialOutcome], metric: str) -> List[dict]:
    """One row per trial, from its run directory (or this invocation's outcome when the directory is
    not visible here)."""
    rows = []
    for trial in trials:
        row = {"trial": trial.name, "game": trial.game, "algo": trial.algo, "seed": trial.seed}
        row.update({k: v for k, v in trial.setting.items()})
        summary, outcome = _finished(trial), outcomes.get(trial.name)
        if summary is None and outcome is not None and outcome.status == "done":
            summary = outcome.result
        error_path = trial.run_dir / ERROR_FILE
        if summary is not None:
            row.update(status="done", iterations=summary["iterations"], wall_time_s=summary["wall_time_s"],
                       error="")
            row.update({f"final_{k}": v for k, v in summary["final"].items() if k != "iteration"})
        elif outcome is not None or error_path.exists():
            line = outcome.error_line if outcome is not None else error_path.read_text().splitlines()[0]
            row.update(status="failed", iterations="", wall_time_s="", error=line)
        else:
            row.update(status="pending", iterations="", wall_time_s="", error="")
        row["run_dir"] = str(trial.run_dir)
        rows.append(row)
    return rows


def _summary(trials: Sequence[SweepTrial], rows: Sequence[dict], metric: str, grid_keys: Sequence[str]) -> List[dict]:
    """Mean and standard error (:func:`aa_lib.evaluation.summary.mean_and_error`) of the final ``metric``
    over the seeds of each setting; NaN with fewer than one (mean) or two (error) finished seeds."""
    import torch

    from .evaluation.summary import mean_and_error

    groups: Dict[tuple, List[Tuple[SweepTrial, dict]]] = {}
    for trial, row in zip(trials, rows):
        groups.setdefault(trial.setting_key, []).append((trial, row))
    out = []
    for members in groups.values():
        trial = members[0][0]
        values = [float(r[f"final_{metric}"]) for _, r in members
                  if r["status"] == "done" and r.get(f"final_{metric}") is not None]
        mean, se = math.nan, math.nan
        if len(values) == 1:
            mean = values[0]
        elif values:
            mean, se = mean_and_error(torch.tensor(values, dtype=torch.float64))
        entry = {"game": trial.game, "algo": trial.algo}
        entry.update({k: trial.setting[k] for k in grid_keys})
        entry.update(trials=len(members), done=sum(r["status"] == "done" for _, r in members),
                     failed=sum(r["status"] == "failed" for _, r in members),
                     pending=sum(r["status"] == "pending" for _, r in members),
                     metric=metric, mean=mean, se=se, seeds=" ".join(str(t.seed) for t, r in members
                                                                     if r["status"] == "done"))
        out.append(entry)
    return out


def _write_csv(path: Path, rows: Sequence[dict]) -> None:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def run_sweep(games: Sequence[str], algos: Sequence[str], seeds: Iterable = (0,), grid: Optional[Mapping] = None, *,
              out_dir="runs/sweep", preset_name: str = "classroom", fixed: Optional[Mapping[str, Any]] = None,
              metric: str = "reward", checkpoint_every: int = 50, tensorboard: bool = False,
              backend: str = "ray", address: Optional[str] = None, num_cpus: Optional[int] = None,
              threads: Optional[int] = DEFAULT_THREADS, gpus_per_trial: Optional[float] = None,
              progress: bool = True) -> SweepResult:
    """Train every trial of the grid that is not finished yet, then write and return the table.

    The grid is as for :func:`sweep_trials`; the execution options as for :func:`run_trials`
    (``gpus_per_trial=None``: 1 when ``fixed["device"]`` is a CUDA device, else 0). ``metric`` is the
    metric summarised per setting (its value at each trial's final iteration). A KeyboardInterrupt
    still writes the table (the unfinished trials are "pending", ``interrupted=True``).
    """
    if not isinstance(metric, str) or not metric:
        raise ValueError(f"metric must be a metric name such as 'reward', got {metric!r}")
    if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be a positive integer, got {checkpoint_every!r}")
    out_dir, seeds = Path(out_dir), parse_seeds(seeds)
    trials = sweep_trials(games, algos, seeds, grid, preset_name=preset_name, fixed=fixed, out_dir=out_dir)
    for trial in trials:
        _check_run_dir(trial)
    pending = [t for t in trials if _finished(t) is None]
    if gpus_per_trial is None:
        gpus_per_trial = 1.0 if str((fixed or {}).get("device", "cpu")).startswith("cuda") else 0.0
    out_dir.mkdir(parents=True, exist_ok=True)
    grid_keys = list((grid or {}).keys())
    (out_dir / "sweep.json").write_text(json.dumps(_jsonable({
        "games": list(games), "algos": list(algos), "seeds": seeds,
        "grid": grid or {}, "preset": preset_name, "fixed": fixed or {}, "metric": metric,
        "trials": [t.name for t in trials]}), indent=2))
    jobs = [Trial(t.name, {"config": t.config.to_dict(), "run_dir": str(t.run_dir.resolve()),
                           "checkpoint_every": checkpoint_every, "tensorboard": bool(tensorboard)})
            for t in pending]
    outcomes: Dict[str, TrialOutcome] = {}  # filled as trials finish, so an interruption keeps them
    interrupted = False
    try:
        outcomes.update(run_trials(train_trial, jobs, backend=backend, address=address, num_cpus=num_cpus,
                                   threads=threads, gpus_per_trial=gpus_per_trial, progress=progress,
                                   on_outcome=lambda o: outcomes.__setitem__(o.name, o),
                                   storage_dir=out_dir / "tune"))
    except KeyboardInterrupt:
        interrupted = True
    rows = _rows(trials, outcomes, metric)
    summary = _summary(trials, rows, metric, grid_keys)
    _write_csv(out_dir / "results.csv", rows)
    _write_csv(out_dir / "summary.csv", summary)
    return SweepResult(rows, summary, metric, out_dir, grid_keys, skipped=len(trials) - len(pending),
                       interrupted=interrupted, outcomes=outcomes)
