"""LoRA adapters via peft: snapshots, loading, and the agent buffer."""
import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("peft")

from aa_lib.games.text import TextIPD, make_text_agent  # noqa: E402
from aa_lib.llm import (BASE, AgentBuffer, adapter_parameters, add_adapter, load_adapter_snapshot,  # noqa: E402
                        lora_config, snapshot_adapter, tiny_model)


@pytest.fixture
def lm():
    game = TextIPD(n_rounds=2)
    model, tokenizer = tiny_model(game.vocabulary(), hidden=32, layers=1, heads=2, seed=0)
    config = lora_config(r=4, alpha=8)
    model = add_adapter(model, "learner", config, trainable=True)
    return model, config


def _train_a_little(model, name, steps=3):
    params = adapter_parameters(model, name)
    optimizer = torch.optim.Adam(params, lr=0.05)
    x = torch.randint(5, 20, (4, 8), generator=torch.Generator().manual_seed(0))
    for _ in range(steps):
        loss = model(x).logits.square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _logits(model, name):
    x = torch.randint(5, 20, (3, 7), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return model(x, adapter_names=[name] * 3).logits


def test_lora_on_every_linear_layer(lm):
    model, config = lm
    targets = {key.split(".lora_A")[0].rsplit(".", 1)[-1] for key, _ in model.named_parameters()
               if ".lora_A.learner." in key}
    assert targets == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert config.r == 4 and config.lora_alpha == 8 and config.lora_dropout == 0.0
    trainable = {key for key, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(".learner." in key for key in trainable)  # base weights stay frozen
    # a fresh adapter (B = 0) is the base model
    with torch.no_grad():
        assert torch.equal(_logits(model, "learner"), _logits(model, BASE))


def test_snapshot_loads_exactly_into_another_adapter(lm):
    model, config = lm
    _train_a_little(model, "learner")
    snapshot = snapshot_adapter(model, "learner")
    model = load_adapter_snapshot(model, snapshot, "copy", config)
    assert torch.equal(_logits(model, "copy"), _logits(model, "learner"))
    assert not torch.equal(_logits(model, "copy"), _logits(model, BASE))
    assert not any(p.requires_grad for key, p in model.named_parameters() if ".copy." in key)


def test_snapshot_is_unchanged_by_later_training(lm):
    model, config = lm
    _train_a_little(model, "learner")
    buffer = AgentBuffer(config, capacity=3, every=1, prob=0.5)
    snapshot = snapshot_adapter(model, "learner")
    frozen = {k: v.clone() for k, v in snapshot.items()}
    model = buffer.add(model, snapshot)
    slot_logits = _logits(model, buffer.slots[0])
    model.set_adapter("learner")
    _train_a_little(model, "learner")
    assert all(torch.equal(snapshot[k], frozen[k]) and torch.equal(buffer.snapshots[0][k], frozen[k]) for k in frozen)
    assert torch.equal(_logits(model, buffer.slots[0]), slot_logits)
    assert not torch.equal(_logits(model, "learner"), slot_logits)


def test_buffer_keeps_the_newest_snapshots_in_reused_slots(lm):
    model, config = lm
    buffer = AgentBuffer(config, capacity=2, every=5, prob=0.5, prefix="buf")
    marks = []
    for k in range(3):
        with torch.no_grad():
            for p in adapter_parameters(model, "learner"):
                p.fill_(0.01 * (k + 1))
        marks.append(0.01 * (k + 1))
        model = buffer.add(model, snapshot_adapter(model, "learner"))
    assert buffer.slots == ["buf1", "buf0"] and buffer.n_added == 3 and len(buffer) == 2
    held = [float(next(iter(s.values())).flatten()[0]) for s in buffer.snapshots]
    assert held == pytest.approx(marks[1:])  # the oldest went first
    # slot buf0 now holds the third snapshot
    assert torch.equal(_logits(model, "buf0"), _logits(model, "learner"))
    assert [buffer.due(i) for i in range(11)] == [i % 5 == 0 for i in range(11)]


def test_buffer_draws_coplayers(lm):
    model, config = lm
    game = TextIPD(n_rounds=2)
    allc = make_text_agent(game, "always_cooperate")
    buffer = AgentBuffer(config, capacity=4, every=None, prob=0.5, scripted=[allc])
    model = buffer.add(model, snapshot_adapter(model, "learner"))
    draws = buffer.sample(4000, "learner", torch.Generator().manual_seed(0))
    counts = {"learner": draws.count("learner"), "slot": draws.count(buffer.slots[0]),
              "scripted": sum(d is allc for d in draws)}
    assert sum(counts.values()) == 4000
    assert abs(counts["learner"] / 4000 - 0.5) < 0.03
    assert abs(counts["slot"] / 4000 - 0.25) < 0.03 and abs(counts["scripted"] / 4000 - 0.25) < 0.03
    assert buffer.sample(5, "learner", torch.Generator().manual_seed(0)) == \
        buffer.sample(5, "learner", torch.Generator().manual_seed(0))
    # one member per batch: every buffer game of a batch gets the same one, each member as often overall
    gen = torch.Generator().manual_seed(0)
    per_batch = [buffer.sample(8, "learner", gen, draw="batch") for _ in range(400)]
    members = [{m if isinstance(m, str) else m.name for m in draws if m != "learner"} for draws in per_batch]
    assert all(len(m) <= 1 for m in members)
    scripted_batches = sum(any(m is allc for m in draws) for draws in per_batch)
    assert 150 < scripted_batches < 250
    with pytest.raises(ValueError, match="draw"):
        buffer.sample(8, "learner", torch.Generator(), draw="round")
    never = AgentBuffer(config, capacity=2, prob=0.0, scripted=[allc])
    always = AgentBuffer(config, capacity=2, prob=1.0, scripted=[allc])
    assert never.sample(50, "learner", torch.Generator()) == ["learner"] * 50
    assert always.sample(50, "learner", torch.Generator()) == [allc] * 50
    empty = AgentBuffer(config, capacity=2, prob=1.0)
    assert empty.sample(3, "learner", torch.Generator()) == ["learner"] * 3


def test_buffer_state_round_trip(lm):
    model, config = lm
    game = TextIPD(n_rounds=2)
    buffer = AgentBuffer(config, capacity=2, prob=0.5, scripted=[make_text_agent(game, "random")])
    _train_a_little(model, "learner")
    model = buffer.add(model, snapshot_adapter(model, "learner"))
    state = buffer.state_dict()
    fresh_model, _ = tiny_model(game.vocabulary(), hidden=32, layers=1, heads=2, seed=0)
    fresh_model = add_adapter(fresh_model, "learner", config, trainable=True)
    fresh = AgentBuffer(config, capacity=2, prob=0.5, scripted=[make_text_agent(game, "random")])
    fresh_model = fresh.load_state_dict(fresh_model, state)
    assert fresh.slots == buffer.slots and fresh.n_added == 1
    assert torch.equal(_logits(fresh_model, fresh.slots[0]), _logits(model, buffer.slots[0]))


def test_adapter_errors(lm):
    model, config = lm
    with pytest.raises(ValueError, match="already has an adapter"):
        add_adapter(model, "learner", config)
    with pytest.raises(ValueError, match="adapter name"):
        add_adapter(model, BASE, config)
    with pytest.raises(ValueError, match="no adapter named"):
        snapshot_adapter(model, "missing")
    with pytest.raises(ValueError, match="keys do not match"):
        load_adapter_snapshot(model, {"nonsense": torch.zeros(1)}, "learner")
    with pytest.raises(ValueError, match="r must be"):
        lora_config(r=0)
    with pytest.raises(ValueError, match="prob"):
        AgentBuffer(config, prob=1.5)
