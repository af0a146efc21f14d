"""Iterated 2x2 matrix games with full history, batched.

Each step both players pick action 0 (cooperate) or 1 (defect) at once; player
``i`` receives ``game.payoffs[i, own action, other action]``. A player observes
the previous joint action *from its own seat*, one-hot over the 5 states of
:data:`aa_lib.exact.memory_one.STATE_NAMES`::

    index:  0      1   2   3   4
    state:  start  CC  CD  DC  DD     (own action first)

so after (player 1 plays C, player 2 plays D) player 1 sees ``CD`` and player 2
sees ``DC``. A recurrent policy fed these observations sees the full history;
a memory-one policy uses only the last one (and then the exact values of
:func:`aa_lib.exact.memory_one.memory_one_values` apply).

Episodes last ``episode_length`` steps (the paper's IPD: 16, gamma 0.9).
"""
from __future__ import annotations

import torch

from .base import BatchedEnv, StepResult
from .matrix import PRISONERS_DILEMMA, MatrixGame, as_payoff_tensor

__all__ = ["IteratedMatrixGame", "is_iterated_2x2"]


class IteratedMatrixGame(BatchedEnv):
    """A batch of iterated 2x2 games (see the module docstring).

    Args:
        game: a :class:`~aa_lib.games.matrix.MatrixGame` or a payoff tensor
            ``[2, 2, 2]`` indexed (player, own action, other action).
        episode_length: steps per episode.
        device: torch device of every tensor.

    ``info`` of :meth:`step`: ``"state"`` long ``[2, B]``, the index (1-4) of the
    joint action just played from each seat.
    """

    n_players = 2
    observation_shape = (5,)
    action_kind = "discrete"
    n_actions = 2

    def __init__(self, game: MatrixGame = PRISONERS_DILEMMA, episode_length: int = 16, device="cpu"):
        super().__init__(episode_length, device)
        self.game = game
        payoffs = as_payoff_tensor(game, dtype=torch.float32, device=self.device)  # [2, own, other]
        # Flattened so that player i's reward is one lookup at 4 i + 2 own + other.
        self._payoff_table = payoffs.reshape(8)
        self._seat_offset = torch.tensor([[0], [4]], device=self.device)  # [2, 1]
        self.state = None  # long [2, B], own-seat state index 0..4
        self.returns = None  # float [2, B], undiscounted sum of rewards so far (for drawing)
        self.history = []  # list of long [2, B] states, one per step taken (for drawing)

    def _reset(self) -> torch.Tensor:
        B = self.batch_size
        self.state = torch.zeros(2, B, dtype=torch.long, device=self.device)
        self.returns = torch.zeros(2, B, device=self.device)
        self.history = []
        return self._observe()

    def _observe(self) -> torch.Tensor:
        return torch.nn.functional.one_hot(self.state, 5).float()  # [2, B, 5]

    def _step(self, actions: torch.Tensor) -> StepResult:
        own, other = actions, actions.flip(0)  # [2, B] each, from each player's seat
        pair = 2 * own + other  # 0..3 = CC, CD, DC, DD from the own seat
        rewards = self._payoff_table[self._seat_offset + pair]  # [2, B]
        self.state = pair + 1
        self.returns = self.returns + rewards
        self.history.append(self.state)
        return StepResult(self._observe(), rewards, self._done(), {"state": self.state})

    # ------------------------------------------------------------------ drawing
    def snapshot(self, index: int = 0) -> dict:
        index = self._check_index(index)
        moves = [(int(s[0, index]) - 1) // 2 for s in self.history]  # player 1's actions
        moves2 = [(int(s[1, index]) - 1) // 2 for s in self.history]  # player 2's actions
        return {
            "game": self.game.name if isinstance(self.game, MatrixGame) else "matrix game",
            "action_names": tuple(self.game.actions) if isinstance(self.game, MatrixGame) else ("C", "D"),
            "actions": [moves, moves2],
            "returns": [float(r) for r in self.returns[:, index]],
            "t": self.t,
            "episode_length": self.episode_length,
        }

    @staticmethod
    def draw(snapshot: dict, ax) -> None:
        """Two rows of coloured squares (green = action 0, red = action 1), one column a step."""
        from matplotlib.colors import ListedColormap
        import numpy as np

        T = snapshot["episode_length"]
        grid = np.full((2, T), np.nan)
        for i in range(2):
            grid[i, : len(snapshot["actions"][i])] = snapshot["actions"][i]
        ax.clear()
        ax.imshow(grid, cmap=ListedColormap(["#4daf4a", "#e41a1c"]), vmin=0, vmax=1, aspect="auto")
        names = snapshot["action_names"]
        ax.set_yticks([0, 1], [f"P1 ({snapshot['returns'][0]:+.1f})", f"P2 ({snapshot['returns'][1]:+.1f})"])
        ax.set_xticks(range(0, T, max(1, T // 8)))
        ax.set_xlabel("step")
        ax.set_title(f"{snapshot['game']}, t = {snapshot['t']}: green {names[0]}, red {names[1]}")


def is_iterated_2x2(env) -> bool:
    """Two players with the one-hot observations [5] of :class:`~aa_lib.games.iterated.IteratedMatrixGame`."""
    return env.n_players == 2 and tuple(env.observation_shape) == (5,)
