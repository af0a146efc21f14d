"""LLMTrainer: the rules train with finite losses, the loss is the documented one, checkpoints resume exactly."""
import copy
import math
import os

import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("peft")

from aa_lib.games.text import TextIPD  # noqa: E402
from aa_lib.llm import (BASE, LLM_PRESETS, LLMConfig, LLMTrainer, llm_preset, round_advantages,  # noqa: E402
                        round_credit, snapshot_adapter, tiny_model, token_credit)
from aa_lib.llm.trainer import build_base_model  # noqa: E402


@pytest.fixture(scope="module")
def base():
    return tiny_model(TextIPD().vocabulary(), hidden=32, layers=1, heads=2, seed=0)


def _config(**changes):
    values = dict(game="text-ipd", game_options={"n_rounds": 3}, batch_size=8, group_size=4, lora_r=4,
                  lora_alpha=8.0, lr=0.01, buffer_every=2, buffer_capacity=2, buffer_prob=0.5, seed=0)
    values.update(changes)
    return LLMConfig(**values)


def _trainer(base, **changes):
    model, tokenizer = base
    return LLMTrainer(_config(**changes), copy.deepcopy(model), tokenizer)


@pytest.mark.parametrize("algo", ["naive", "sum_rewards", "aa"])
def test_five_iterations_of_each_rule(base, algo):
    trainer = _trainer(base, algo=algo, entropy_coef=0.01, kl_coef=0.01)
    before = snapshot_adapter(trainer.model, "live")
    history = trainer.train(5)
    assert len(history) == 5 and trainer.iteration == 5
    for h in history:
        assert all(math.isfinite(v) for v in h.values())
        assert h["action_tokens"] > 0 and h["grad_norm"] > 0
    assert history[0]["kl"] == pytest.approx(0.0, abs=1e-9)  # a fresh adapter is the base model
    assert history[-1]["kl"] > 0
    after = snapshot_adapter(trainer.model, "live")
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert trainer.buffer.n_added == 3  # iterations 0, 2, 4


def test_loss_is_reinforce_on_the_round_credit(base):
    """The first step's loss equals -(1/N) sum credit * log pi, computed here by hand."""
    trainer = _trainer(base, algo="aa", beta=0.7, aa_gamma=0.8, buffer_every=None, importance_cap=None)
    metrics = trainer.step()
    batch = trainer.last_batch
    rewards = batch.game_rewards.double() * (1 / 5)
    credit = round_credit(round_advantages(rewards, torch.zeros(8, dtype=torch.long), 0.9), "aa", 0.7, 0.8)
    assert torch.allclose(trainer.credit(batch), credit)
    rows = torch.arange(batch.tokens.shape[0])  # self-play: every row is the live adapter's
    assert torch.equal(trainer.trained_rows(batch), rows)
    data = batch.select_rows(rows)
    per_token = token_credit(credit, batch.row_seat, batch.row_game, data["round_index"])
    logp = data["behaviour_logp"]  # log pi before the step
    expected = -(per_token * logp)[data["action_mask"]].sum() / data["action_mask"].sum()
    assert metrics["loss"] == pytest.approx(float(expected), rel=1e-5)
    assert metrics["action_tokens"] == 2 * 8 * 3


def test_buffer_coplayers_are_not_trained(base):
    trainer = _trainer(base, buffer_every=1, buffer_prob=1.0, train_live_coplayer=True)
    trainer.step()  # iteration 0: the buffer gets its first snapshot before the rollout
    batch = trainer.last_batch
    assert set(batch.row_policy[8:]) == {"live_buffer0"}
    assert torch.equal(trainer.trained_rows(batch), torch.arange(8))  # seat 0 only
    solo = _trainer(base, buffer_every=None, train_live_coplayer=False)
    solo.step()
    assert torch.equal(solo.trained_rows(solo.last_batch), torch.arange(8))


def test_fixed_opponents(base):
    model, tokenizer = base
    trainer = LLMTrainer(_config(buffer_every=None), copy.deepcopy(model), tokenizer, opponents=[BASE])
    trainer.step()
    assert set(trainer.last_batch.row_policy[8:]) == {BASE} and trainer.buffer is None
    with pytest.raises(ValueError, match="not in the model"):
        LLMTrainer(_config(adapter_name="other"), trainer.model, tokenizer, opponents=["missing"])


def test_resume_is_bit_exact(base, tmp_path):
    changes = dict(algo="aa", buffer_every=1, buffer_capacity=2, buffer_scripted=("random",), entropy_coef=0.01)
    straight = _trainer(base, **changes)
    straight.train(4)
    first = _trainer(base, **changes)
    path = tmp_path / "run" / "checkpoint.pt"
    first.train(2, checkpoint_path=path)
    assert sorted(os.listdir(path.parent)) == ["checkpoint.pt"]  # no temporary file left behind
    state = torch.load(path, weights_only=True)  # plain tensors and containers only
    assert state["iteration"] == 2 and len(state["buffer"]["snapshots"]) == 2
    model, tokenizer = base
    resumed = LLMTrainer.from_checkpoint(path, copy.deepcopy(model), tokenizer)
    resumed.train(2)
    assert resumed.history == straight.history
    ours, theirs = snapshot_adapter(resumed.model, "live"), snapshot_adapter(straight.model, "live")
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert resumed.buffer.slots == straight.buffer.slots
    assert all(torch.equal(a[k], b[k]) for a, b in zip(resumed.buffer.snapshots, straight.buffer.snapshots) for k in a)


def test_checkpoint_refuses_another_run(base, tmp_path):
    trainer = _trainer(base)
    path = trainer.save_checkpoint(tmp_path / "c.pt")
    model, tokenizer = base
    other = LLMTrainer(_config(lr=0.02), copy.deepcopy(model), tokenizer)
    with pytest.raises(ValueError, match="different config"):
        other.load_state_dict(torch.load(path, weights_only=True))
    shifted = copy.deepcopy(model)
    with torch.no_grad():
        shifted.get_input_embeddings().weight.add_(1.0)
    with pytest.raises(ValueError, match="base weights"):
        LLMTrainer.from_checkpoint(path, shifted, tokenizer)


def test_tiny_base_model_is_rebuilt_identically_from_the_config():
    config = _config(prior_transcripts=4, prior_steps=2, prior_batch=4, tiny_hidden=16, tiny_layers=1, tiny_heads=1)
    one, tok = build_base_model(config)
    two, _ = build_base_model(config)
    assert all(torch.equal(a, b) for a, b in zip(one.parameters(), two.parameters()))
    assert tok.chat_template


def test_config_validation():
    with pytest.raises(ValueError, match="algo"):
        _config(algo="lola")
    with pytest.raises(ValueError, match="game must be one of"):
        _config(game="chess")
    with pytest.raises(ValueError, match="group_size"):
        _config(batch_size=8, group_size=3)
    with pytest.raises(ValueError, match="lr"):
        _config(lr=-1.0)
    with pytest.raises(ValueError, match="gamma"):
        _config(gamma=1.5)
    with pytest.raises(ValueError, match="buffer_prob"):
        _config(buffer_prob=2.0)
    with pytest.raises(ValueError, match="dtype"):
        _config(dtype="float8")
    with pytest.raises(TypeError, match="buffer_scripted"):
        _config(buffer_scripted="random")
    with pytest.raises(ValueError, match="batch_size"):
        _config(batch_size=1, group_size=None)
    config = _config(adam_betas=[0.8, 0.9], buffer_scripted=["grim"])
    assert LLMConfig.from_dict(config.to_dict()) == config and config.adam_betas == (0.8, 0.9)
    with pytest.raises(ValueError, match="unknown LLMConfig field"):
        LLMConfig.from_dict({"learning_rate": 1.0})


def test_presets_carry_the_reference_values():
    paper = llm_preset("paper-ipd")
    assert (paper.model, paper.lora_r, paper.lora_alpha, paper.lr) == ("Qwen/Qwen2.5-7B-Instruct", 32, 64.0, 3e-6)
    assert (paper.batch_size, paper.group_size, paper.beta, paper.gamma) == (128, 8, 0.5, 0.9)
    assert (paper.buffer_every, paper.buffer_capacity, paper.buffer_prob) == (10, 28, 0.5)
    assert LLM_PRESETS["paper-split"]["beta"] == 1.0 and LLM_PRESETS["paper-split"]["batch_size"] == 64
    assert (LLM_PRESETS["paper-trust-split"]["beta"], LLM_PRESETS["paper-trust-split"]["gamma"]) == (2.0, 0.96)
    room = llm_preset("classroom-ipd", algo="naive")
    assert (room.model, room.lora_r, room.lr, room.batch_size, room.gamma, room.beta) == ("tiny", 8, 2e-3, 32, 0.9, 1.0)
    assert (room.buffer_every, room.buffer_prob, room.algo, room.aa_include_current) == (10, 0.5, "naive", False)
    with pytest.raises(ValueError, match="unknown LLM preset"):
        llm_preset("paper-chess")
