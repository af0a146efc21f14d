"""TensorBoard logging: the event file holds every metric of the trainer's history, and the optional
AA-term gradient diagnostics leave the training run unchanged."""
from dataclasses import replace

import numpy as np
import pytest
import torch

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from aa_lib.training import TrainConfig, Trainer  # noqa: E402
from aa_lib.training.tensorboard import TensorBoardLogger  # noqa: E402


def _tiny(**over):
    base = TrainConfig(game="ipd", algo="aa", game_options={"episode_length": 5}, batch_size=12, hidden=8,
                       iterations=3, replay_capacity=3, replay_push_every=1, current_agent_fraction=0.5,
                       replay_groups=2, algo_options={"entropy_coef": 0.1})
    return replace(base, **over)


def _scalars(log_dir):
    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_event_file_holds_every_metric_of_the_history(tmp_path):
    trainer = Trainer(_tiny(), [TensorBoardLogger(tmp_path / "tb")])
    history = trainer.train()
    scalars = _scalars(tmp_path / "tb")
    expected = {k for m in history for k in m if k != "iteration"}
    assert set(scalars) == expected and {"reward", "cooperation", "actor_loss", "weight_abs_mean"} <= expected
    for key in expected:
        steps = [s for s, _ in scalars[key]]
        values = np.array([v for _, v in scalars[key]], dtype=np.float32)
        assert steps == [m["iteration"] for m in history]
        # TensorBoard stores float32: the values are the history's, rounded to float32, exactly
        assert np.array_equal(values, np.array([m[key] for m in history], dtype=np.float32)), key


def test_purge_step_drops_events_written_after_the_checkpoint(tmp_path):
    writer_dir = tmp_path / "tb"
    first = Trainer(_tiny(iterations=4), [TensorBoardLogger(writer_dir)])
    first.train(1)
    first.save(tmp_path / "ckpt.pt")  # checkpoint after step 0
    first.train(3)  # steps 1, 2 written, then the run "crashes"
    resumed = Trainer.from_checkpoint(tmp_path / "ckpt.pt", [TensorBoardLogger(writer_dir)])
    resumed.train(2)  # rewrites step 1 only
    straight = Trainer(_tiny(iterations=4))
    straight.train(2)
    rewards = _scalars(writer_dir)["reward"]
    assert [s for s, _ in rewards] == [0, 1]  # the stale step 2 of the interrupted run is gone
    # step 1 holds the resumed run's value, which is the uninterrupted run's
    assert np.array_equal(np.array([v for _, v in rewards], dtype=np.float32),
                          np.array([m["reward"] for m in straight.history], dtype=np.float32))


def test_alignment_diagnostics_are_logged_and_leave_the_run_unchanged(tmp_path):
    plain = Trainer(_tiny())
    plain.train()
    logged = Trainer(_tiny(), [TensorBoardLogger(tmp_path / "tb", alignment_every=2)])
    logged.train()
    assert logged.history == plain.history
    for a, b in zip(plain.policy.parameters(), logged.policy.parameters()):
        assert torch.equal(a, b)
    scalars = _scalars(tmp_path / "tb")
    cosine = scalars["aa_alignment/gae/cosine"]
    assert [s for s, _ in cosine] == [0, 2] and all(-1.0 <= v <= 1.0 for _, v in cosine)
    assert {"aa_alignment/td/pg_norm", "aa_alignment/reward/shaping_norm"} <= set(scalars)


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="alignment_every"):
        TensorBoardLogger(tmp_path, alignment_every=0)
    with pytest.raises(ValueError, match="alignment_batches"):
        TensorBoardLogger(tmp_path, alignment_batches=0)
    with pytest.raises(TypeError, match="prefix"):
        TensorBoardLogger(tmp_path, prefix=3)
    trainer = Trainer(_tiny(algo="ppo", algo_options={}), [TensorBoardLogger(tmp_path, alignment_every=1)])
    with pytest.raises(ValueError, match="AA term"):
        trainer.train()


def test_aa_train_tensorboard_option(tmp_path):
    import json

    from aa_lib.cli import main

    run_dir = tmp_path / "run"
    assert main(["train", "ipd", "--algo", "naive", "--iterations", "2", "--batch-size", "8", "--set",
                 "game_options.episode_length=3", "--run-dir", str(run_dir), "--quiet", "--tensorboard"]) == 0
    history = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    rewards = _scalars(run_dir / "tensorboard")["reward"]
    assert [s for s, _ in rewards] == [0, 1]
    assert np.array_equal(np.array([v for _, v in rewards], dtype=np.float32),
                          np.array([m["reward"] for m in history], dtype=np.float32))
