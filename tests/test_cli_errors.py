"""Issue 24: a user's mistake given to ``aa`` ends with one line ``aa <cmd>: error: ...`` and exit status 2,
no traceback; a bug during training keeps its traceback.

Three cases run the real command in a subprocess (exit status and stderr as a shell sees them); the
others call :func:`aa_lib.cli.main` in-process (the same code path, faster).
"""
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from aa_lib.cli import main
from aa_lib.training import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ipd_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "ipd.pt"
    Trainer(TrainConfig(game="ipd", algo="naive", game_options={"episode_length": 4}, batch_size=4, hidden=8)).save(path)
    return path


def _aa(args, cwd) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "aa_lib.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def _one_line_error(result, command: str, message: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"aa {command}: error: "), result.stderr
    assert message in lines[0], lines[0]


def test_a_bad_value_in_set_is_one_line_with_status_2(tmp_path):
    _one_line_error(_aa(["train", "ipd", "--run-dir", "run", "--quiet", "--set", "gamma=1.5"], tmp_path),
                    "train", "gamma must be in [0, 1], got 1.5")
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_an_empty_checkpoint_is_one_line_with_status_2(tmp_path):
    (tmp_path / "empty.pt").write_bytes(b"")
    _one_line_error(_aa(["probe", "empty.pt"], tmp_path), "probe", "empty.pt is empty (0 bytes)")


def test_bad_json_names_the_option_with_status_2(tmp_path):
    _one_line_error(_aa(["league", "ipd", "--scripted", "AD", "--game-options", '{"episode_length": 4'], tmp_path),
                    "league", "in --game-options '{\"episode_length\": 4'")


def _main_error(argv, capsys) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err == str(info.value)
    return err


@pytest.mark.parametrize("setting,message", [
    ("algo_options.beta=1e999", "algo_options.beta must be a finite number, got inf"),
    ("algo_options.beta=Infinity", "algo_options.beta must be a finite number, got inf"),
    ("max_grad_norm=-1", "max_grad_norm must be in (0, inf), got -1.0"),
    ("horizon=99", "horizon must be at most the episode length of 'ipd' (16 steps), got 99"),
])
def test_bad_settings_of_train(tmp_path, capsys, setting, message):
    err = _main_error(["train", "ipd", "--run-dir", str(tmp_path), "--quiet", "--set", setting], capsys)
    assert err == f"aa train: error: {message}"


def test_a_run_dir_that_is_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    err = _main_error(["train", "ipd", "--run-dir", str(tmp_path / "file"), "--quiet"], capsys)
    assert err.startswith(f"aa train: error: --run-dir {tmp_path / 'file'} is a file, expected a folder")


def test_resuming_a_checkpoint_of_another_game_is_refused(tmp_path, capsys, ipd_checkpoint):
    run = tmp_path / "coin_run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(ipd_checkpoint.read_bytes())
    err = _main_error(["train", "coin", "--run-dir", str(run), "--resume", "--quiet"], capsys)
    assert "checkpoint.pt is a checkpoint of game 'ipd'" in err and "expected a checkpoint of game 'coin'" in err
    assert not (run / "summary.json").exists()  # nothing was trained


def test_bad_checkpoint_files_in_league_and_probe(tmp_path, capsys, ipd_checkpoint):
    (tmp_path / "notes.pt").write_text("not a checkpoint\n")
    err = _main_error(["league", "ipd", "--agent", f"x={tmp_path / 'notes.pt'}"], capsys)
    assert "notes.pt is a text file" in err
    err = _main_error(["league", "coin", "--agent", f"x={ipd_checkpoint}", "--scripted", "AD"], capsys)
    assert err.startswith("aa league: error: ") and "is a checkpoint of game 'ipd'" in err
    assert "expected a checkpoint of game 'coin'" in err
    err = _main_error(["league", "ipd", "--agent", "x="], capsys)
    assert err == "aa league: error: --agent expects NAME=ckpt1,ckpt2,..., got 'x='"
    data = ipd_checkpoint.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[:100])
    assert "cut.pt is truncated or damaged" in _main_error(["probe", str(tmp_path / "cut.pt")], capsys)


def test_game_options_must_be_a_json_object(capsys):
    err = _main_error(["league", "ipd", "--scripted", "AD", "--game-options", "[4]"], capsys)
    assert err == "aa league: error: --game-options must be a JSON object such as '{\"episode_length\": 16}', got '[4]'"


def test_a_bug_during_training_keeps_its_traceback(tmp_path, monkeypatch):
    def broken(self, iterations=None):
        raise RuntimeError("a bug")

    monkeypatch.setattr("aa_lib.training.Trainer.train", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["train", "ipd", "--algo", "naive", "--run-dir", str(tmp_path), "--iterations", "1", "--quiet"])
