"""Agent replay buffer: past policies kept as opponents (LOQA; paper App. B, Tables 1-4).

Every ``push_every`` iterations a copy of the learner's parameters is pushed;
when full, the oldest entry is dropped. Opponents are sampled uniformly with an
explicit generator. Parameters are stored on the CPU as plain tensors so the
buffer can be saved in a checkpoint and loaded with ``weights_only=True``.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Dict, List

import torch

from .._validation import check_positive_int

__all__ = ["AgentReplayBuffer"]


class AgentReplayBuffer:
    """A FIFO of policy parameter snapshots.

    Args:
        capacity: maximum number of snapshots (Tables 1-2: 10000).
        push_every: push one snapshot every this many iterations (Table 1: 1, Table 2: 10).
    """

    def __init__(self, capacity: int, push_every: int = 1):
        self.capacity = check_positive_int(capacity, "capacity")
        self.push_every = check_positive_int(push_every, "push_every")
        self.snapshots: List[Dict[str, torch.Tensor]] = []

    def __len__(self) -> int:
        return len(self.snapshots)

    def maybe_push(self, policy: torch.nn.Module, iteration: int) -> bool:
        """Push a snapshot of ``policy`` if ``iteration`` is a multiple of ``push_every``."""
        if iteration % self.push_every != 0:
            return False
        self.push(policy)
        return True

    def push(self, policy: torch.nn.Module) -> None:
        snapshot = OrderedDict((k, v.detach().to("cpu", copy=True)) for k, v in policy.state_dict().items())
        self.snapshots.append(snapshot)
        if len(self.snapshots) > self.capacity:
            self.snapshots.pop(0)

    def sample_indices(self, n: int, generator: torch.Generator) -> List[int]:
        """``n`` indices drawn uniformly with replacement."""
        if not self.snapshots:
            raise ValueError("cannot sample from an empty agent replay buffer")
        return torch.randint(len(self.snapshots), (n,), generator=generator).tolist()

    def load_into(self, index: int, policy: torch.nn.Module) -> torch.nn.Module:
        """Load snapshot ``index`` into ``policy`` (same architecture) and return it."""
        policy.load_state_dict(self.snapshots[index])
        return policy

    def state_dict(self) -> dict:
        return {"capacity": self.capacity, "push_every": self.push_every,
                "snapshots": [dict(s) for s in self.snapshots]}

    def load_state_dict(self, state: dict) -> None:
        self.capacity, self.push_every = int(state["capacity"]), int(state["push_every"])
        self.snapshots = [OrderedDict(s) for s in state["snapshots"]]
