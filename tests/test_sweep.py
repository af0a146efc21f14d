"""Sweeps (aa_lib.sweep, aa sweep): the grid, the table, resume and failures; one tiny sweep on a local Ray."""
import csv
import json
import math
import re
import sys

import pytest
import torch

from aa_lib.sweep import (Trial, parse_grid, parse_seeds, run_sweep, run_trials, sweep_trials, train_trial)

#: Two iterations of 16 IPD games of 4 rounds: a trial takes a fraction of a second.
FIXED = {"iterations": 2, "batch_size": 16, "game_options": {"episode_length": 4}}


def _params(trial, **extra):
    return {"config": trial.config.to_dict(), "run_dir": str(trial.run_dir), "checkpoint_every": 1, **extra}


class _Interrupt:
    """Callback: a KeyboardInterrupt after ``after`` iterations (what Ctrl-C or a killed job leaves behind)."""

    def __init__(self, after):
        self.after = after

    def on_iteration_end(self, trainer, metrics):
        if trainer.iteration == self.after:
            raise KeyboardInterrupt


def _jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


# ----------------------------------------------------------------------------- the grid
def test_parse_seeds():
    assert parse_seeds(["0-3", "7", "2"]) == [0, 1, 2, 3, 7]
    assert parse_seeds(range(3)) == [0, 1, 2]
    for bad in (["3-1"], ["x"], []):
        with pytest.raises(ValueError, match="seeds"):
            parse_seeds(bad)


def test_parse_grid_reads_values_with_the_override_parser():
    grid = parse_grid(["beta=0.5,1,2", "batch_size=64", "game_options.layout=open,small",
                       "algo_options.time_weight=None"])
    assert grid == {"beta": [0.5, 1, 2], "batch_size": [64], "game_options.layout": ["open", "small"],
                    "algo_options.time_weight": [None]}
    assert parse_grid(["game_options.values={'a': 1, 'b': 2},(1, 2)"]) == \
        {"game_options.values": [{"a": 1, "b": 2}, (1, 2)]}  # commas inside brackets do not split
    with pytest.raises(ValueError, match="unknown config field 'bogus'"):
        parse_grid(["bogus=1,2"])
    with pytest.raises(ValueError, match="batch_size must be of type int"):
        parse_grid(["batch_size=64,0.5"])
    with pytest.raises(ValueError, match="given twice"):
        parse_grid(["beta=1", "beta=2"])
    with pytest.raises(ValueError, match="empty value"):
        parse_grid(["beta=1,,2"])


def test_grid_of_rules_settings_and_seeds(tmp_path):
    trials = sweep_trials(["coin"], ["aa", "ppo"], ["0-1"], parse_grid(["beta=0.5,1,2"]), out_dir=tmp_path,
                          fixed={"iterations": 7})
    assert [t.name for t in trials] == [
        "coin_aa_beta=0.5_s0", "coin_aa_beta=0.5_s1", "coin_aa_beta=1_s0", "coin_aa_beta=1_s1",
        "coin_aa_beta=2_s0", "coin_aa_beta=2_s1", "coin_ppo_s0", "coin_ppo_s1"]  # beta is no PPO option
    aa = trials[2]
    assert aa.config.algo_options["beta"] == 1 and aa.config.seed == 0 and aa.config.iterations == 7
    assert aa.run_dir == tmp_path / "runs" / "coin_aa_beta=1_s0"
    assert trials[-1].setting == {"beta": "-"} and "beta" not in trials[-1].config.algo_options
    with pytest.raises(ValueError, match="sweep trial ipd_aa_s0: .*batch_size"):
        sweep_trials(["ipd"], ["aa"], [0], fixed={"batch_size": 0}, out_dir=tmp_path)


# ----------------------------------------------------------------------------- running trials
def test_run_trials_reports_a_failure_and_runs_the_others():
    def fn(params, report):
        report({"x": params})
        if params == 2:
            raise ValueError("two is not allowed")
        return params * 10

    seen = []
    outcomes = run_trials(fn, [Trial(f"t{i}", i) for i in range(4)], backend="serial", progress=False,
                          on_outcome=lambda o: seen.append(o.name))
    assert seen == ["t0", "t1", "t2", "t3"]
    assert [outcomes[f"t{i}"].result for i in (0, 1, 3)] == [0, 10, 30]
    assert outcomes["t2"].status == "failed" and outcomes["t2"].error_line == "ValueError: two is not allowed"
    assert outcomes["t2"].error.startswith("Traceback") and "in fn" in outcomes["t2"].error
    with pytest.raises(ValueError, match="unique"):
        run_trials(fn, [Trial("a", 1), Trial("a", 2)], backend="serial")
    with pytest.raises(ValueError, match="backend"):
        run_trials(fn, [Trial("a", 1)], backend="dask")


def test_missing_ray_names_the_cluster_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"cluster extra: pip install -e \"\.\[cluster\]\""):
        run_trials(lambda p, r: p, [Trial("a", 1)], backend="ray")


def test_interrupted_trial_resumes_exactly(tmp_path):
    trial, = sweep_trials(["ipd"], ["aa"], [0], out_dir=tmp_path / "a", fixed=dict(FIXED, iterations=3))
    straight, = sweep_trials(["ipd"], ["aa"], [0], out_dir=tmp_path / "b", fixed=dict(FIXED, iterations=3))
    with pytest.raises(KeyboardInterrupt):
        train_trial(_params(trial, checkpoint_every=2), callbacks=[_Interrupt(after=3)])
    assert len(_jsonl(trial.run_dir / "metrics.jsonl")) == 3  # logged past the checkpoint at iteration 2
    assert not (trial.run_dir / "summary.json").exists() and not (trial.run_dir / "error.txt").exists()
    summary = train_trial(_params(trial, checkpoint_every=2))
    reference = train_trial(_params(straight))
    assert summary["final"] == reference["final"] and summary["iterations"] == 3
    assert _jsonl(trial.run_dir / "metrics.jsonl") == _jsonl(straight.run_dir / "metrics.jsonl")
    assert (trial.run_dir / "metrics.csv").read_text() == (straight.run_dir / "metrics.csv").read_text()
    assert not (trial.run_dir / "error.txt").exists()


def test_serial_sweep_table_skip_and_growth(tmp_path):
    result = run_sweep(["ipd"], ["aa", "ppo"], ["0-1"], parse_grid(["beta=0.5,1"]), out_dir=tmp_path,
                       fixed=FIXED, backend="serial", progress=False, checkpoint_every=1)
    assert result.count("done") == 6 and result.skipped == 0 and not result.interrupted
    finals = {r["trial"]: json.loads((tmp_path / "runs" / r["trial"] / "summary.json").read_text())["final"]
              for r in result.rows}
    for setting in result.summary:  # mean and standard error over the two seeds, from the summaries
        names = [r["trial"] for r in result.rows if r["algo"] == setting["algo"] and r["beta"] == setting["beta"]]
        values = [finals[n]["reward"] for n in names]
        assert len(values) == 2 and setting["done"] == 2
        assert setting["mean"] == pytest.approx(sum(values) / 2, abs=1e-12)
        assert setting["se"] == pytest.approx(abs(values[0] - values[1]) / 2, abs=1e-12)  # std/sqrt(2), n=2
    assert [(s["algo"], s["beta"]) for s in result.summary] == [("aa", 0.5), ("aa", 1), ("ppo", "-")]
    csv_rows = (tmp_path / "results.csv").read_text().splitlines()
    assert len(csv_rows) == 7 and csv_rows[0].startswith("trial,game,algo,seed,beta,status,iterations")
    assert re.search(r"^ipd +ppo +- +2/2 +-?\d+\.\d{4} ± \d+\.\d{4}", result.summary_text(), flags=re.M)

    stamp = (tmp_path / "runs" / "ipd_ppo_s0" / "summary.json").stat().st_mtime_ns
    again = run_sweep(["ipd"], ["aa", "ppo"], ["0-1"], parse_grid(["beta=0.5,1"]), out_dir=tmp_path,
                      fixed=FIXED, backend="serial", progress=False)
    assert again.skipped == 6 and again.outcomes == {} and again.summary == result.summary
    assert (tmp_path / "runs" / "ipd_ppo_s0" / "summary.json").stat().st_mtime_ns == stamp

    longer = run_sweep(["ipd"], ["ppo"], [0], out_dir=tmp_path, fixed=dict(FIXED, iterations=3),
                       backend="serial", progress=False)  # more iterations: the finished trial continues
    assert longer.skipped == 0 and longer.rows[0]["iterations"] == 3
    assert len(_jsonl(tmp_path / "runs" / "ipd_ppo_s0" / "metrics.jsonl")) == 3
    with pytest.raises(ValueError, match="holds a run of another configuration .*batch_size"):
        run_sweep(["ipd"], ["ppo"], [0], out_dir=tmp_path, fixed=dict(FIXED, batch_size=8), backend="serial")


def test_single_seed_has_no_standard_error(tmp_path):
    result = run_sweep(["ipd"], ["naive"], [0], out_dir=tmp_path, fixed=FIXED, backend="serial", progress=False)
    assert math.isnan(result.summary[0]["se"]) and not math.isnan(result.summary[0]["mean"])


# ----------------------------------------------------------------------------- on Ray
def test_tiny_sweep_on_local_ray_resumes_and_reports_a_failing_trial(tmp_path, capsys):
    """Seeds 0-2 of a sweep interrupted earlier: seed 0 finished (skipped), seed 1 stopped after its first
    iteration (resumed on Ray from its checkpoint, ends exactly as an uninterrupted run), seed 2's
    checkpoint corrupted (fails, reported; seed 1 is not stopped by it). Two trials of two iterations run
    on a local Ray instance with 2 CPUs, started and shut down by the command."""
    pytest.importorskip("ray")
    from aa_lib.cli import main

    out = tmp_path / "sweep"
    grid, fixed = parse_grid(["game_options.episode_length=4"]), {"iterations": 2, "batch_size": 16}
    trials = sweep_trials(["ipd"], ["aa"], ["0-2"], grid, out_dir=out, fixed=fixed)  # as the command builds them
    train_trial(_params(trials[0]))
    with pytest.raises(KeyboardInterrupt):
        train_trial(_params(trials[1]), callbacks=[_Interrupt(after=1)])
    trials[2].run_dir.mkdir(parents=True)
    (trials[2].run_dir / "checkpoint.pt").write_bytes(b"not a checkpoint")
    stamp = (trials[0].run_dir / "summary.json").stat().st_mtime_ns
    reference, = sweep_trials(["ipd"], ["aa"], [1], grid, out_dir=tmp_path / "reference", fixed=fixed)
    expected = train_trial(_params(reference))

    code = main(["sweep", "ipd", "--algo", "aa", "--seeds", "0-2", "--iterations", "2", "--batch-size", "16",
                 "--set", "game_options.episode_length=4", "--checkpoint-every", "1", "--out", str(out),
                 "--num-cpus", "2", "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 1  # a trial failed
    with open(out / "results.csv", newline="") as f:
        rows = {r["trial"]: r for r in csv.DictReader(f)}
    assert {n: r["status"] for n, r in rows.items()} == {"ipd_aa_episode_length=4_s0": "done",
                                                          "ipd_aa_episode_length=4_s1": "done",
                                                          "ipd_aa_episode_length=4_s2": "failed"}
    assert (trials[0].run_dir / "summary.json").stat().st_mtime_ns == stamp  # skipped, not re-run
    assert _jsonl(trials[1].run_dir / "metrics.jsonl") == _jsonl(reference.run_dir / "metrics.jsonl")
    assert json.loads((trials[1].run_dir / "summary.json").read_text())["final"] == expected["final"]
    error = (trials[2].run_dir / "error.txt").read_text()  # the line naming the error, then the traceback
    assert rows["ipd_aa_episode_length=4_s2"]["error"] == error.splitlines()[0]
    assert re.match(r"[\w.]+Error: ", error) and "Traceback (most recent call last)" in error
    assert "3 trials, 2 done (1 finished before), 1 failed" in printed
    assert f"failed: ipd_aa_episode_length=4_s2: {error.splitlines()[0]}" in printed
    values = [json.loads((t.run_dir / "summary.json").read_text())["final"]["reward"] for t in trials[:2]]
    mean = sum(values) / 2
    assert f"{mean:.4f} ± {abs(values[0] - values[1]) / 2:.4f}" in printed
    import ray

    assert not ray.is_initialized()  # the command shut its Ray instance down


def test_aa_sweep_serial_command(tmp_path, capsys):
    from aa_lib.cli import main

    out = tmp_path / "sweep"
    argv = ["sweep", "ipd", "--algo", "aa", "ppo", "--seeds", "0-1", "--set", "beta=0.5,1",
            "--set", "game_options.episode_length=4", "--iterations", "2", "--batch-size", "16", "--out", str(out),
            "--serial", "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "6 trials, 6 done (0 finished before), 0 failed, 0 pending" in printed
    assert sorted(p.name for p in (out / "runs").iterdir()) == [
        "ipd_aa_beta=0.5_episode_length=4_s0", "ipd_aa_beta=0.5_episode_length=4_s1",
        "ipd_aa_beta=1_episode_length=4_s0", "ipd_aa_beta=1_episode_length=4_s1",
        "ipd_ppo_episode_length=4_s0", "ipd_ppo_episode_length=4_s1"]
    assert main(argv) == 0 and "6 done (6 finished before)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as err:
        main(["sweep", "ipd", "--set", "bogus=1,2", "--out", str(out), "--serial"])
    assert "aa sweep: error:" in str(err.value) and "bogus" in str(err.value)
