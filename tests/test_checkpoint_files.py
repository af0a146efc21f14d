"""Issue 24: one checkpoint reader that says what a file is before loading it (weights_only=True), the
game and architecture recorded in every checkpoint, stale temporaries, and the NaN guard of training."""
import hashlib
import os
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from aa_lib.evaluation import load_policy
from aa_lib.training import NonFiniteLossError, TrainConfig, Trainer
from aa_lib.training.checkpoint import (CheckpointError, checkpoint_record, load_checkpoint, load_trainer_checkpoint,
                                       remove_stale_temporaries, save_checkpoint)
from aa_lib.training.session import ScriptedOpponentTrainer

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def _tiny(**over) -> TrainConfig:
    base = TrainConfig(game="ipd", algo="naive", game_options={"episode_length": 4}, batch_size=6, hidden=8,
                       iterations=2, algo_options={"entropy_coef": 0.1})
    return replace(base, **over)


@pytest.fixture(scope="module")
def ipd_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "ipd.pt"
    trainer = Trainer(_tiny())
    trainer.train(1)
    trainer.save(path)
    return path


# ------------------------------------------------------------------ what a file is
def _write(tmp_path, name, data) -> Path:
    path = tmp_path / name
    path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data)
    return path


def test_an_empty_file_is_named_and_described(tmp_path):
    path = _write(tmp_path, "empty.pt", b"")
    with pytest.raises(CheckpointError, match=r"empty.pt is empty \(0 bytes\); expected a checkpoint dict"):
        load_checkpoint(path)


def test_a_truncated_checkpoint_is_recognised(tmp_path, ipd_checkpoint):
    data = ipd_checkpoint.read_bytes()
    path = _write(tmp_path, "cut.pt", data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=rf"cut.pt is truncated or damaged \({len(data) // 2} bytes\)"):
        load_checkpoint(path)


def test_a_text_file_is_recognised(tmp_path):
    path = _write(tmp_path, "notes.pt", "hyperparameters: lr=1e-3\n")
    with pytest.raises(CheckpointError, match="notes.pt is a text file .*'hyperparameters: lr=1e-3'.*not a PyTorch"):
        load_checkpoint(path)


def test_an_unknown_binary_file_is_recognised(tmp_path):
    path = _write(tmp_path, "noise.pt", bytes(range(1, 200)))
    with pytest.raises(CheckpointError, match="noise.pt is not a PyTorch checkpoint .*199 bytes"):
        load_checkpoint(path)


@pytest.mark.parametrize("obj,what", [(torch.arange(3), r"a bare tensor of shape \(3,\)"), ([1, 2], "a list of 2 items")])
def test_a_file_that_holds_no_dict_is_refused(tmp_path, obj, what):
    torch.save(obj, tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match=f"x.pt holds {what}, not a checkpoint"):
        load_checkpoint(tmp_path / "x.pt")


def test_a_model_state_dict_or_another_dict_is_not_a_training_checkpoint(tmp_path):
    torch.save(torch.nn.Linear(2, 1).state_dict(), tmp_path / "model.pt")
    assert set(load_checkpoint(tmp_path / "model.pt")) == {"weight", "bias"}  # a dict: load_checkpoint reads it
    with pytest.raises(CheckpointError, match=r"model.pt holds a bare model state dict \(2 tensors"):
        load_trainer_checkpoint(tmp_path / "model.pt")
    torch.save({"format": "other/2"}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="holds a checkpoint of format 'other/2', not an aa_lib training"):
        load_trainer_checkpoint(tmp_path / "other.pt")
    torch.save({"format": "aa_lib.trainer/1", "config": {"game": "ipd"}, "learners": []}, tmp_path / "none.pt")
    with pytest.raises(CheckpointError, match="without learners"):
        load_policy(tmp_path / "none.pt")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_a_pickle_with_code_is_refused_without_running_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({"x": _Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="evil.pt holds Python objects .* refused without running them"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned.txt").exists()


def test_missing_files_and_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        load_checkpoint(tmp_path)


# ---------------------------------------------------------- game and architecture
def test_every_checkpoint_records_its_game_and_architecture(ipd_checkpoint):
    state = load_trainer_checkpoint(ipd_checkpoint)
    assert state["game"] == "ipd"
    assert state["architecture"] == {"policy": "neural", "hidden": 8, "recurrent": True, "critic_recurrent": True,
                                     "observation_shape": [5], "actions": 2}
    assert checkpoint_record(state) == {"game": "ipd", "architecture": state["architecture"]}


def test_shipped_checkpoints_without_the_record_still_load_and_are_not_rewritten():
    path = ASSETS / "coin" / "aa_s0.pt"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    state = load_trainer_checkpoint(path, game="coin")
    assert "game" not in state and "architecture" not in state  # written before the record existed
    assert checkpoint_record(state) == {"game": "coin", "architecture": {
        "policy": "neural", "hidden": 32, "recurrent": True, "critic_recurrent": False}}
    policy = load_policy(path, game="coin").state_dict()
    assert all(torch.equal(policy[k], v) for k, v in state["learners"][0]["policy"].items())
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_a_checkpoint_of_another_game_is_explained(ipd_checkpoint):
    message = (r"ipd.pt is a checkpoint of game 'ipd', neural policy \(GRU, hidden 8\), GRU critic, observations "
               r"\(5,\); expected a checkpoint of game 'coin'")
    with pytest.raises(CheckpointError, match=message):
        load_policy(ipd_checkpoint, game="coin")
    with pytest.raises(CheckpointError, match=message):
        Trainer.from_checkpoint(ipd_checkpoint, game="coin")
    with pytest.raises(CheckpointError, match=r"ASSETS_COIN is a checkpoint of game 'coin'".replace(
            "ASSETS_COIN", "aa_s0.pt")):
        load_policy(ASSETS / "coin" / "aa_s0.pt", game="ipd")


def test_a_checkpoint_of_another_architecture_is_explained(ipd_checkpoint):
    state = load_checkpoint(ipd_checkpoint)
    other = Trainer(_tiny(hidden=16))
    with pytest.raises(CheckpointError, match=r"this trainer has game 'ipd', neural policy \(GRU, hidden 16\).*: "
                                              r"hidden 8 \(expected 16\)"):
        other.load_state_dict(state, source=str(ipd_checkpoint))
    coin = Trainer(_tiny(game="coin", game_options={"episode_length": 4}))
    with pytest.raises(CheckpointError, match=r"game 'ipd' \(expected 'coin'\)"):
        coin.load_state_dict(state)
    # an old checkpoint (no record) whose parameters do not fit: the loading error is explained too
    old = {k: v for k, v in state.items() if k not in ("game", "architecture")}
    old["config"] = dict(old["config"], hidden=16)
    with pytest.raises(CheckpointError, match="its parameters do not fit this trainer's networks"):
        other.load_state_dict(old)


def test_load_policy_checks_the_learner_index(ipd_checkpoint):
    with pytest.raises(ValueError, match=r"learner must be in \[0, 0\]: .*ipd.pt holds 1 learner\(s\), got learner=3"):
        load_policy(ipd_checkpoint, learner=3)
    with pytest.raises(ValueError, match="learner must be an integer >= 0, got -1"):
        load_policy(ipd_checkpoint, learner=-1)
    with pytest.raises(TypeError, match="learner must be an integer"):
        load_policy(ipd_checkpoint, learner="0")
    stored = load_checkpoint(ipd_checkpoint)["learners"][0]["policy"]
    assert all(torch.equal(load_policy(ipd_checkpoint, learner=0).state_dict()[k], v) for k, v in stored.items())


def test_scripted_and_plain_checkpoints_are_not_confused(tmp_path, ipd_checkpoint):
    with pytest.raises(CheckpointError, match="without a scripted opponent .* resume it with Trainer.from_checkpoint"):
        ScriptedOpponentTrainer.from_checkpoint(ipd_checkpoint)
    scripted = ScriptedOpponentTrainer(_tiny(), "TFT")
    scripted.train(1)
    scripted.save(tmp_path / "tft.pt")
    with pytest.raises(CheckpointError, match="trained against the scripted opponent 'TFT'"):
        Trainer.from_checkpoint(tmp_path / "tft.pt")
    resumed = ScriptedOpponentTrainer.from_checkpoint(tmp_path / "tft.pt")
    assert resumed.opponent == "TFT" and resumed.iteration == 1


def test_a_slim_checkpoint_cannot_resume_and_an_invalid_stored_config_is_named(tmp_path):
    with pytest.raises(CheckpointError, match="aa_s0.pt is a slim checkpoint .* not resumed"):
        Trainer.from_checkpoint(ASSETS / "ipd" / "aa_s0.pt")
    trainer = Trainer(_tiny())
    state = trainer.state_dict()
    state["config"]["gamma"] = 1.5
    save_checkpoint(state, tmp_path / "edited.pt")
    with pytest.raises(CheckpointError, match=r"edited.pt holds an invalid training config: gamma must be in \[0, 1\]"):
        Trainer.from_checkpoint(tmp_path / "edited.pt")


def test_resume_is_still_bit_for_bit(tmp_path):
    straight = Trainer(_tiny())
    straight.train(3)
    first = Trainer(_tiny())
    first.train(1)
    first.save(tmp_path / "a.pt")
    resumed = Trainer.from_checkpoint(tmp_path / "a.pt", game="ipd")
    resumed.train(3)
    assert straight.history == resumed.history


# ------------------------------------------------------------ stale temporaries
def test_stale_temporaries_are_removed_and_live_ones_kept(tmp_path):
    target = tmp_path / "checkpoint.pt"
    dead_pid = 2 ** 22 + 1  # above Linux's largest pid: no such process
    stale = [tmp_path / f"checkpoint.pt.{dead_pid}.k2j3.tmp", tmp_path / "checkpoint.pt.x7y8z9.tmp"]  # 2nd: old naming
    live = tmp_path / f"checkpoint.pt.{os.getppid()}.a1b2.tmp"  # our parent process is alive
    other = tmp_path / f"best.pt.{dead_pid}.q.tmp"  # another checkpoint's temporary
    for p in (*stale, live, other):
        p.write_bytes(b"half")
    save_checkpoint({"a": torch.ones(1)}, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["checkpoint.pt", live.name, other.name])
    assert remove_stale_temporaries(tmp_path / "best.pt") == [other]


# ------------------------------------------------------------------- NaN guard
def test_nan_rewards_stop_training_naming_the_iteration_and_the_quantity():
    trainer = Trainer(_tiny())
    trainer.train(1)
    trainer.env._payoff_table[0] = float("nan")  # a broken game: (C, C) pays NaN to player 1
    with pytest.raises(NonFiniteLossError, match=r"rewards hold \d+ non-finite value\(s\) .* at training iteration 1"):
        trainer.step()


def test_a_nan_critic_stops_training_naming_the_iteration_and_the_seat():
    trainer = Trainer(_tiny())
    trainer.train(2)
    with torch.no_grad():
        next(trainer.learners[0].critic.value_head.parameters()).fill_(float("nan"))
    with pytest.raises(NonFiniteLossError, match="critic values of seat 0 hold .* at training iteration 2"):
        trainer.step()


def test_parameters_made_nan_by_a_step_stop_training():
    trainer = Trainer(_tiny())
    optimiser = trainer.learners[0].actor_opt

    def broken_step(closure=None):  # an optimiser step that overflows
        for group in optimiser.param_groups:
            for p in group["params"]:
                p.data.fill_(float("inf"))

    optimiser.step = broken_step
    with pytest.raises(NonFiniteLossError, match="policy parameters became NaN or infinite .* iteration 0"):
        trainer.step()


def test_a_horizon_longer_than_the_episode_is_refused_up_front():
    with pytest.raises(ValueError, match=r"horizon must be at most the episode length of 'ipd' \(4 steps\), got 5"):
        Trainer(_tiny(horizon=5))
    assert Trainer(_tiny(horizon=4)).config.horizon == 4
