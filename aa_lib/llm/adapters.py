"""LoRA adapters (peft) and the agent buffer of past adapter snapshots.

- :func:`lora_config`: LoRA of rank ``r`` and scale ``alpha`` on every linear layer (peft's
  ``"all-linear"``: attention and MLP projections, not the output head); no dropout.
- :func:`add_adapter`, :func:`snapshot_adapter`, :func:`load_adapter_snapshot`,
  :func:`adapter_parameters`: add a named adapter, copy its weights, load a copy into another name.
- :class:`AgentBuffer`: past snapshots of the learner (one every ``every`` iterations, at most
  ``capacity``, oldest dropped first) and scripted agents; per game, the co-player seat is a
  uniformly drawn member with probability ``prob``, else the live adapter (REFERENCES: every 10
  iterations, up to 28 kept, ``prob`` 0.5). Each snapshot lives in its own adapter slot of the
  model, so learner and buffer rows share one forward (peft mixed-adapter batches).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Union

import torch

from .._validation import check_positive_int, check_probabilities
from ..games.text import TextAgent
from ._deps import quiet_hf, require
from .forward import BASE, is_peft_model

__all__ = ["lora_config", "add_adapter", "snapshot_adapter", "load_adapter_snapshot", "adapter_parameters",
           "AgentBuffer"]


def lora_config(r: int = 8, alpha: float = 16, target_modules: Union[str, Sequence[str]] = "all-linear"):
    """A peft ``LoraConfig`` for a causal LM: rank ``r``, scale ``alpha / r``, no dropout, no bias.

    Dropout stays 0: rollouts and the loss must compute the same log-probabilities.
    """
    _, peft = require()
    r = check_positive_int(r, "r")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha > 0:
        raise ValueError(f"alpha must be a positive number, got {alpha!r}")
    targets = target_modules if isinstance(target_modules, str) else list(target_modules)
    return peft.LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, bias="none", target_modules=targets,
                           task_type="CAUSAL_LM")


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name or name == BASE or "." in name:
        raise ValueError(f"adapter name must be a non-empty string without '.', not {BASE!r}; got {name!r}")
    return name


def _adapter_tensors(model, name: str):
    marker = f".{name}."
    return [(key, p) for key, p in model.named_parameters() if marker in key]


def add_adapter(model, name: str, config, trainable: bool = False, seed: int = 0):
    """Add a fresh adapter ``name`` (LoRA's B = 0: it starts equal to the base model).

    Args:
        model: a causal LM (wrapped into a peft model here) or a peft model (the adapter is added).
        name: the new adapter's name.
        config: a ``LoraConfig`` (see :func:`lora_config`).
        trainable: whether its parameters require gradients (only the learner's do).
        seed: seed of LoRA's random A matrices (peft draws them from torch's global generator, which is
            left untouched here), so that the same seed gives the same adapter.

    Returns:
        the peft model (use it from now on). The active adapter is unchanged, except that the first
        adapter of a plain model becomes active.
    """
    _, peft = require()
    _check_name(name)
    device = next(model.parameters()).device
    cuda = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with quiet_hf(), torch.random.fork_rng(devices=cuda):
        torch.manual_seed(int(seed))
        if is_peft_model(model):
            if name in model.peft_config:
                raise ValueError(f"the model already has an adapter named {name!r}")
            model.add_adapter(name, config)
        else:
            model = peft.get_peft_model(model, config, adapter_name=name)
    for _, p in _adapter_tensors(model, name):
        p.requires_grad_(trainable)
    return model.eval()


def adapter_parameters(model, name: str) -> List[torch.nn.Parameter]:
    """The parameters of adapter ``name`` in a fixed order (for the optimiser)."""
    params = [p for _, p in _adapter_tensors(model, name)]
    if not params:
        raise ValueError(f"the model has no adapter named {name!r}")
    return params


def snapshot_adapter(model, name: str) -> Dict[str, torch.Tensor]:
    """A copy of adapter ``name``'s weights (CPU tensors, keys without the adapter name).

    Later training of the adapter never changes the snapshot.
    """
    _, peft = require()
    if not is_peft_model(model) or name not in model.peft_config:
        raise ValueError(f"the model has no adapter named {name!r}")
    with quiet_hf():
        state = peft.get_peft_model_state_dict(model, adapter_name=name)
    return {key: value.detach().to("cpu", copy=True) for key, value in state.items()}


def load_adapter_snapshot(model, snapshot: Dict[str, torch.Tensor], name: str, config=None):
    """Load ``snapshot`` into adapter ``name`` (created from ``config`` if missing); returns the model."""
    _, peft = require()
    if not isinstance(snapshot, dict) or not snapshot:
        raise ValueError("snapshot must be a non-empty dict of tensors from snapshot_adapter")
    if not is_peft_model(model) or name not in model.peft_config:
        if config is None:
            raise ValueError(f"the model has no adapter named {name!r}; pass config to create it")
        model = add_adapter(model, name, config)
    expected = set(snapshot_adapter(model, name))
    if set(snapshot) != expected:
        missing = sorted(expected - set(snapshot))[:3]
        raise ValueError(f"snapshot keys do not match adapter {name!r} (missing {missing}, "
                         f"unexpected {sorted(set(snapshot) - expected)[:3]})")
    device = next(model.parameters()).device
    with quiet_hf(), torch.no_grad():
        peft.set_peft_model_state_dict(model, {k: v.to(device) for k, v in snapshot.items()}, adapter_name=name)
    return model


class AgentBuffer:
    """Past snapshots of the learner's adapter, and scripted agents, as co-players.

    Args:
        config: the ``LoraConfig`` of the snapshots' adapter slots.
        capacity: most snapshots kept (the oldest goes first).
        every: snapshot every ``every`` iterations (``None``: only explicit :meth:`add`).
        prob: probability that a game's co-player is a buffer member rather than the live adapter.
        scripted: scripted agents that are members from the start (never dropped).
        prefix: adapter slot names are ``f"{prefix}{k}"``.
    """

    def __init__(self, config, capacity: int = 28, every: Optional[int] = 10, prob: float = 0.5,
                 scripted: Sequence[TextAgent] = (), prefix: str = "buffer"):
        self.config = config
        self.capacity = check_positive_int(capacity, "capacity")
        self.every = None if every is None else check_positive_int(every, "every")
        check_probabilities(torch.tensor(float(prob)), "prob")
        self.prob = float(prob)
        if not all(isinstance(a, TextAgent) for a in scripted):
            raise TypeError("scripted must hold TextAgent objects")
        self.scripted = list(scripted)
        self.prefix = _check_name(prefix)
        self.snapshots: List[Dict[str, torch.Tensor]] = []  # oldest first
        self.slots: List[str] = []  # adapter slot of each snapshot
        self.n_added = 0

    def __len__(self) -> int:
        return len(self.snapshots) + len(self.scripted)

    @property
    def members(self) -> List[Union[str, TextAgent]]:
        """Adapter slot names (oldest first), then the scripted agents."""
        return list(self.slots) + list(self.scripted)

    def due(self, iteration: int) -> bool:
        """True when a snapshot is due at ``iteration`` (0, every, 2 every, ...)."""
        return self.every is not None and iteration % self.every == 0

    def add(self, model, snapshot: Dict[str, torch.Tensor]):
        """Add a snapshot (dropping the oldest when full); loads it into its slot. Returns the model."""
        if len(self.snapshots) == self.capacity:
            slot = self.slots.pop(0)
            self.snapshots.pop(0)
        else:
            used = set(self.slots)
            slot = next(f"{self.prefix}{k}" for k in range(self.capacity) if f"{self.prefix}{k}" not in used)
        model = load_adapter_snapshot(model, snapshot, slot, self.config)
        self.snapshots.append({k: v.clone() for k, v in snapshot.items()})
        self.slots.append(slot)
        self.n_added += 1
        return model

    def sample(self, batch_size: int, live: str, generator: torch.Generator,
               draw: str = "game") -> List[Union[str, TextAgent]]:
        """The co-player of each game: a uniformly drawn member with probability ``prob``, else ``live``.

        ``draw="game"`` draws the member for every game (the paper); ``"batch"`` draws one member for
        all the buffer games of the batch: each game's co-player has the same distribution, but a batch
        holds at most two adapters, and peft's mixed-adapter forward costs more per distinct adapter
        (about 1.5x per iteration of the tiny model with 16 snapshots, on a CPU).
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        if draw not in ("game", "batch"):
            raise ValueError(f"draw must be 'game' or 'batch', got {draw!r}")
        use_member = (torch.rand(batch_size, generator=generator) < self.prob).tolist()
        pick = torch.randint(max(len(self), 1), (batch_size if draw == "game" else 1,), generator=generator).tolist()
        pick = pick * (batch_size // len(pick))
        members = self.members
        if not members:
            return [live] * batch_size
        return [members[k] if u else live for u, k in zip(use_member, pick)]

    def state_dict(self) -> dict:
        """Snapshots, slots and counters, plus the scripted members' generator states (weights_only-safe)."""
        return {"snapshots": [dict(s) for s in self.snapshots], "slots": list(self.slots), "n_added": self.n_added,
                "scripted_generators": [a.generator.get_state() for a in self.scripted]}

    def load_state_dict(self, model, state: dict):
        """Restore :meth:`state_dict` (loads every snapshot into its slot); returns the model."""
        if len(state["scripted_generators"]) != len(self.scripted):
            raise ValueError("the checkpoint's buffer has a different number of scripted members")
        self.snapshots, self.slots = [], []
        for snapshot, slot in zip(state["snapshots"], state["slots"]):
            model = load_adapter_snapshot(model, snapshot, slot, self.config)
            self.snapshots.append({k: v.clone() for k, v in snapshot.items()})
            self.slots.append(slot)
        self.n_added = int(state["n_added"])
        for agent, gen_state in zip(self.scripted, state["scripted_generators"]):
            agent.generator.set_state(gen_state)
        return model
