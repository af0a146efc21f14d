"""The continuous Negotiation Game of the Advantage Alignment paper (high contrast), batched.

Rules (paper Sec. 5.3 and ``shared/REFERENCES.md``):

- 3 item types, one unit of each, and 2 players;
- every round, for each item independently, player 1 values it at 1 or 5 with
  equal probability and player 2 at 6 minus that (so exactly one of them values
  it at 5); both values are public; values are resampled every round;
- both players propose at once ``p_i in [0, 5]`` per item; player ``i`` gets the
  share ``p_i / max(p_1 + p_2, 5)`` of each item, and its reward is

      r_i = sum_items  p_i / max(p_1 + p_2, 5) * v_i  / 15

  (15 = 3 items x the largest value, so rewards lie in [0, 1]);
- an episode ("trajectory") is ``episode_length`` = 50 independent rounds.

The max in the denominator breaks the invariance to the scale of proposals. The
dilemma: Always Cooperate (bid 5 on one's high-value items, 0 on the others)
earns 0.5 per round each; Always Defect (bid 5 everywhere) earns 0.3 each; AC
against AD earns 0.25 (and AD 0.55).

Observation of each player, 15 floats from its own seat::

    index  0- 2  item pool (one unit of each item: always 1)
           3- 5  own values for this round / high_value (5)     -> 0.2 or 1.0
           6- 8  own proposals of the previous round / max_proposal (5), 0 before the first
           9-11  other's values for this round / high_value
          12-14  other's proposals of the previous round / max_proposal

Actions: float ``[2, B, 3]`` proposals in ``[0, 5]``. NaN or infinite proposals
are rejected; proposals outside [0, 5] by at most ``action_tolerance`` (1e-4,
float rounding of a squashed sample ``5 * sigmoid(x)``) are clipped to the
bounds, anything further out is rejected with a ValueError.

``info`` of :meth:`NegotiationGame.step`: ``values`` ``[2, B, 3]`` (the values the
rewards were computed with) and ``proposals`` ``[2, B, 3]`` (after clipping).
"""
from __future__ import annotations

import torch

from .._validation import check_number
from .base import BatchedEnv, StepResult

__all__ = ["NegotiationGame", "N_ITEMS", "OBS_LAYOUT"]

N_ITEMS = 3
#: Slices of the 15-dim observation.
OBS_LAYOUT = {
    "item_pool": slice(0, 3),
    "own_values": slice(3, 6),
    "own_last_proposal": slice(6, 9),
    "other_values": slice(9, 12),
    "other_last_proposal": slice(12, 15),
}


class NegotiationGame(BatchedEnv):
    """A batch of continuous Negotiation Games (see the module docstring).

    Args:
        episode_length: rounds per episode.
        device: torch device of every tensor.
        low_value, high_value: the two item values (player 2's value is their sum
            minus player 1's).
        max_proposal: upper bound of a proposal.
        min_total: the ``5`` of ``max(p_1 + p_2, 5)``.
    """

    n_players = 2
    observation_shape = (15,)
    action_kind = "continuous"
    action_dim = N_ITEMS
    action_low = 0.0

    def __init__(self, episode_length: int = 50, device="cpu", *, low_value: float = 1.0,
                 high_value: float = 5.0, max_proposal: float = 5.0, min_total: float = 5.0):
        super().__init__(episode_length, device)
        low_value = check_number(low_value, "low_value", 0.0)
        high_value = check_number(high_value, "high_value", 0.0, low_open=True)
        if not low_value < high_value:
            raise ValueError(f"need 0 <= low_value < high_value, got {low_value}, {high_value}")
        # finite: the observation divides by max_proposal, the reward by max(p1 + p2, min_total)
        self.action_high = check_number(max_proposal, "max_proposal", 0.0, low_open=True)
        self.min_total = check_number(min_total, "min_total", 0.0, low_open=True)
        self.low_value, self.high_value = low_value, high_value
        # rewards are divided by (number of items x largest value): at most 1 per round
        self.reward_scale = N_ITEMS * self.high_value
        self.values = self.last_proposals = self.returns = None
        self.last_values = None  # values of the round just played (for drawing)

    def _sample_values(self) -> torch.Tensor:
        """Values ``[2, B, 3]``: player 1 gets low or high per item, player 2 the complement."""
        high_for_first = self._rand(self.batch_size, N_ITEMS) < 0.5
        v1 = torch.where(high_for_first, self.high_value, self.low_value)
        return torch.stack([v1, (self.low_value + self.high_value) - v1])

    def _reset(self) -> torch.Tensor:
        self.values = self._sample_values()
        self.last_proposals = torch.zeros(2, self.batch_size, N_ITEMS, device=self.device)
        self.last_values = self.values
        self.returns = torch.zeros(2, self.batch_size, device=self.device)
        return self._observe()

    def _observe(self) -> torch.Tensor:
        """``[2, B, 15]``: (pool, own values, own last proposal, other's values, other's last proposal)."""
        own = torch.cat([self.values / self.high_value, self.last_proposals / self.action_high], dim=-1)
        pool = torch.ones(2, self.batch_size, N_ITEMS, device=self.device)
        return torch.cat([pool, own, own.flip(0)], dim=-1)

    def received(self, proposals: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Value each player receives of each item, ``[2, ..., 3]``: ``p_i / max(p_1 + p_2, 5) * v_i``."""
        total = proposals.sum(0).clamp_min(self.min_total)  # [..., 3]: max(p_1 + p_2, 5)
        return proposals / total * values

    def rewards_of(self, proposals: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Rewards ``[2, ...]`` of proposals and values ``[2, ..., 3]`` (the formula of the module docstring)."""
        return self.received(proposals, values).sum(-1) / self.reward_scale

    def reward_parts(self, obs: torch.Tensor, env_actions: torch.Tensor) -> torch.Tensor:
        """Each player's reward on each item ``[2, B, T, 3]`` (:meth:`received` over the reward scale),
        from stored observations ``[2, B, T, 15]`` (the round's values are read back from them) and
        proposals ``[2, B, T, 3]``; summed over items it is the reward of :meth:`rewards_of`."""
        if obs.shape[-1] != 15 or env_actions.shape[-1] != N_ITEMS or obs.shape[0] != 2:
            raise ValueError(f"need observations [2, ..., 15] and proposals [2, ..., 3], got "
                             f"{tuple(obs.shape)} and {tuple(env_actions.shape)}")
        values = obs[..., OBS_LAYOUT["own_values"]] * self.high_value
        proposals = env_actions.clamp(self.action_low, self.action_high)  # as step() clips within tolerance
        return self.received(proposals, values) / self.reward_scale

    def _step(self, proposals: torch.Tensor) -> StepResult:
        values = self.values
        rewards = self.rewards_of(proposals, values)
        self.last_proposals, self.last_values = proposals, values
        self.values = self._sample_values()  # the next round's values
        self.returns = self.returns + rewards
        info = {"values": values, "proposals": proposals}
        return StepResult(self._observe(), rewards, self._done(), info)

    # ------------------------------------------------------------------ drawing
    def snapshot(self, index: int = 0) -> dict:
        index = self._check_index(index)
        return {
            "values": self.last_values[:, index].tolist(),
            "last_proposals": self.last_proposals[:, index].tolist(),
            "returns": [float(r) for r in self.returns[:, index]],
            "max_proposal": self.action_high,
            "high_value": self.high_value,
            "t": self.t,
        }

    @staticmethod
    def draw(snapshot: dict, ax) -> None:
        """Bars: the last round's proposals per item for both players, with that round's values."""
        import numpy as np

        ax.clear()
        x = np.arange(N_ITEMS)
        colours = ("#d62728", "#1f77b4")
        for i in range(2):
            ax.bar(x + (i - 0.5) * 0.38, snapshot["last_proposals"][i], width=0.36, color=colours[i],
                   label=f"player {i + 1} (return {snapshot['returns'][i]:.2f})")
        ax.set_ylim(0, snapshot["max_proposal"] * 1.25)
        ax.set_xticks(x, [f"item {k + 1}\nvalues {snapshot['values'][0][k]:.0f} / {snapshot['values'][1][k]:.0f}"
                          for k in range(N_ITEMS)])
        ax.set_ylabel("last proposal")
        ax.legend(loc="upper right", fontsize="small")
        ax.set_title(f"Negotiation, round {snapshot['t']}: proposals and values")
