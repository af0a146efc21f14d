"""The aa command line: train, probe, league, resume."""
import json

import pytest
import torch

from aa_lib.cli import main


def test_train_probe_league_and_resume(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "ipd", "--algo", "naive", "--preset", "classroom", "--iterations", "2", "--batch-size", "4",
            "--run-dir", str(run), "--quiet", "--set", "hidden=8", "game_options={'episode_length': 4}"]
    assert main(args) == 0
    for name in ("config.json", "metrics.csv", "metrics.jsonl", "checkpoint.pt", "best.pt", "summary.json"):
        assert (run / name).exists(), name
    summary = json.loads((run / "summary.json").read_text())
    assert summary["iterations"] == 2 and set(summary["p_cooperate_self_play"]) == {"start", "CC", "CD", "DC", "DD"}
    config = json.loads((run / "config.json").read_text())
    assert config["hidden"] == 8 and config["batch_size"] == 4

    # resume continues from the checkpoint up to the new iteration count
    assert main(args[:7] + ["3"] + args[8:] + ["--resume"]) == 0
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3

    capsys.readouterr()
    assert main(["probe", str(run / "checkpoint.pt"), "--batch-size", "16"]) == 0
    probe = json.loads(capsys.readouterr().out)
    assert 0.0 <= probe["p_cooperate"]["start"] <= 1.0 and "vs_always_defect" in probe

    out = tmp_path / "league"
    assert main(["league", "ipd", "--agent", f"naive={run / 'checkpoint.pt'}", "--scripted", "AD", "AC",
                 "--batch-size", "4", "--game-options", '{"episode_length": 4}', "--out", str(out)]) == 0
    league = json.loads((out / "league.json").read_text())
    assert league["names"] == ["naive", "AD", "AC"]
    assert league["table"][1][2] == 0.0  # AD exploits AC
    assert (out / "league.png").exists()


def test_bad_arguments_fail_clearly(tmp_path):
    with pytest.raises(SystemExit):
        main(["train", "ipd", "--algo", "nonexistent"])
    with pytest.raises(SystemExit, match="unknown config field"):
        main(["train", "ipd", "--run-dir", str(tmp_path), "--set", "bogus=1"])
    with pytest.raises(SystemExit, match="aa train: error: aa_factored needs a game whose reward is split"):
        main(["train", "ipd", "--algo", "aa_factored", "--run-dir", str(tmp_path / "f"), "--iterations", "1"])


def test_cuda_without_a_gpu_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit, match="aa train: error: config.device='cuda', but torch sees no CUDA GPU"):
        main(["train", "ipd", "--device", "cuda", "--run-dir", str(tmp_path), "--iterations", "1"])


def test_only_setup_errors_become_one_line_messages(tmp_path, monkeypatch):
    with pytest.raises(SystemExit, match="aa league: error: .*episode_len"):
        main(["league", "ipd", "--scripted", "AD", "--game-options", '{"episode_len": 4}'])
    with pytest.raises(SystemExit, match="aa league: error: Expecting"):  # malformed JSON
        main(["league", "ipd", "--scripted", "AD", "--game-options", "{episode_length: 4}"])

    def broken_train(self, iterations=None):
        raise ValueError("a bug during training")

    monkeypatch.setattr("aa_lib.training.Trainer.train", broken_train)
    with pytest.raises(ValueError, match="a bug during training"):  # keeps its traceback
        main(["train", "ipd", "--algo", "naive", "--run-dir", str(tmp_path), "--iterations", "1", "--quiet"])


def test_missing_or_broken_files_and_bad_counts_fail_clearly(tmp_path, capsys):
    with pytest.raises(SystemExit, match="aa probe: error: no checkpoint at"):
        main(["probe", str(tmp_path / "missing.pt")])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit, match="aa league: error:"):
        main(["league", "ipd", "--agent", f"x={garbage}"])
    for argv in (["league", "ipd", "--scripted", "AD", "--batch-size", "0"],
                 ["league", "ipd", "--scripted", "AD", "--episodes", "-1"],
                 ["probe", str(garbage), "--batch-size", "0"],
                 ["train", "ipd", "--threads", "0"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2  # argparse's usage error
        assert "expected a positive integer" in capsys.readouterr().err
