"""The Coin Game (Lerer & Peysakhovich 2017; Foerster et al. 2018), batched.

Rules (as used for the paper's league numbers, see ``shared/REFERENCES.md``):

- a ``g x g`` torus (default 3 x 3), two players, red (player 0) and blue
  (player 1); players may share a cell;
- 4 actions: the moves of :data:`MOVES` (right, left, down, up), with wrap-around;
- one coin on the board, red or blue. A player standing on the coin's cell after
  the move picks it up: +1 for picking up any coin, and ``penalty`` (default -2;
  the paper's text says -3) to the coin's owner when the *other* player picks up
  its colour. Both players may pick up the same coin in one step (both get +1,
  and the owner also pays the penalty): the rule is symmetric in the colours;
- after a pickup a new coin of the *other* colour appears on a uniformly random
  cell that no player stands on (colours alternate); initial positions, coin
  colour and coin cell are random;
- episodes last ``episode_length`` steps (50; the paper's league: 16).

Observation of each player, from its own seat, ``[4, g, g]`` one-hot planes:
``(me, other player, coin of my colour, coin of the other's colour)``. With
``observe_thefts=True`` two constant planes follow (``[6, g, g]``): all ones if in
the previous step *the other player took a coin of my colour* / *I took a coin of
the other's colour*. They are the Coin Game's analogue of the IPD's "previous
joint action": who defected last step. A recurrent policy could infer them from
two consecutive frames, but at classroom scale it does not learn to
(``experiments/results/NOTES.md``); the paper's agents see the four planes only.

State (public, for tests and drawing): ``positions`` long ``[2, B]`` and ``coin``
long ``[B]`` as flat cells ``row * g + col``; ``coin_owner`` long ``[B]`` (0 red,
1 blue). Everything is index arithmetic on these small tensors; observation
planes are built with one ``scatter_``.

``info`` of :meth:`CoinGame.step`: ``picked_own`` / ``picked_other`` bool ``[2, B]``,
whether each player picked up a coin of its own / of the other's colour.
"""
from __future__ import annotations

import torch

from .._validation import check_number, check_positive_int
from .base import BatchedEnv, StepResult

__all__ = ["CoinGame", "MOVES", "MOVE_NAMES", "coin_move_targets", "moves_towards", "torus_distance"]

#: The 4 actions as (row, column) steps: right, left, down, up.
MOVES = ((0, 1), (0, -1), (1, 0), (-1, 0))
MOVE_NAMES = ("right", "left", "down", "up")


# ------------------------------------------------------------------ torus geometry (flat cells row * g + col)
def coin_move_targets(me: torch.Tensor, g: int) -> torch.Tensor:
    """Cell reached by each move of :data:`MOVES`: ``[B, 4]``."""
    moves = torch.tensor(MOVES, device=me.device)  # [4, 2]
    row = (me[:, None] // g + moves[:, 0]) % g
    col = (me[:, None] % g + moves[:, 1]) % g
    return row * g + col


def torus_distance(a: torch.Tensor, b: torch.Tensor, g: int) -> torch.Tensor:
    """Number of moves between flat cells ``a`` and ``b`` on the g x g torus."""
    dr = (a // g - b // g) % g
    dc = (a % g - b % g) % g
    return torch.minimum(dr, g - dr) + torch.minimum(dc, g - dc)


def moves_towards(me: torch.Tensor, target: torch.Tensor, g: int) -> torch.Tensor:
    """``[B, 4]`` bool: moves that bring ``me`` one step closer to ``target`` on the torus."""
    reached = coin_move_targets(me, g)
    return torus_distance(reached, target[:, None], g) < torus_distance(me, target, g)[:, None]


_OBS_TABLE_BYTES = 16 * 2 ** 20


def _one_hot_planes(me, other, coin, other_colour, g: int) -> torch.Tensor:
    """Flat observation planes ``[N, 4 g^2]`` from cells ``[N]`` and coin colour flags ``[N]``."""
    g2 = g * g
    index = torch.stack([me, g2 + other, (2 * g2 + g2 * other_colour) + coin], dim=-1)  # [N, 3]
    obs = torch.zeros(me.shape[0], 4 * g2, device=me.device)
    return obs.scatter_(1, index, 1.0)


class CoinGame(BatchedEnv):
    """A batch of Coin Games (see the module docstring).

    Args:
        grid_size: side ``g`` of the torus (>= 2).
        episode_length: steps per episode.
        penalty: reward of a player whose coin the other player picks up.
        observe_thefts: append the two "who stole last step" planes to the observation.
        device: torch device of every tensor.
    """

    n_players = 2
    action_kind = "discrete"
    n_actions = 4

    def __init__(self, grid_size: int = 3, episode_length: int = 50, penalty: float = -2.0,
                 observe_thefts: bool = False, device="cpu"):
        super().__init__(episode_length, device)
        g = check_positive_int(grid_size, "grid_size")
        if g < 2:
            raise ValueError(f"grid_size must be at least 2, got {g}")
        if not isinstance(observe_thefts, bool):
            raise TypeError(f"observe_thefts must be True or False, got {observe_thefts!r}")
        self.grid_size = g
        self.penalty = check_number(penalty, "penalty")  # NaN or inf would make every reward NaN
        self.observe_thefts = observe_thefts
        self.observation_shape = (6 if observe_thefts else 4, g, g)
        cells = torch.arange(g * g, device=self.device)
        row, col = cells // g, cells % g
        # _move_table[4 * cell + move] = cell reached by the move (torus wrap-around).
        moves = torch.tensor(MOVES, device=self.device)  # [4, 2]
        new_row = (row[:, None] + moves[None, :, 0]) % g
        new_col = (col[:, None] + moves[None, :, 1]) % g
        self._move_table = (new_row * g + new_col).reshape(-1)
        # _reward_table[4 own_coin + 2 picked_self + picked_other]: +1 per pickup,
        # `penalty` when the coin is mine and the other player picked it up.
        table = [ps + self.penalty * (own and po) for own in (0, 1) for ps in (0, 1) for po in (0, 1)]
        self._reward_table = torch.tensor(table, dtype=torch.float32, device=self.device)
        self._seat = torch.arange(2, device=self.device)[:, None]  # [2, 1]
        # Observation of every (me, other, coin, coin is the other's) when it fits in 16 MiB.
        n_codes = 2 * g ** 6
        self._obs_table = None
        if n_codes * 4 * g * g * 4 <= _OBS_TABLE_BYTES:
            code = torch.arange(n_codes, device=self.device)
            other_colour, code = code % 2, code // 2
            coin, code = code % (g * g), code // (g * g)
            other, me = code % (g * g), code // (g * g)
            self._obs_table = _one_hot_planes(me, other, coin, other_colour, g)
        self.positions = self.coin = self.coin_owner = self.returns = None
        #: bool ``[2, B]``: player i took a coin of the other's colour in the previous step.
        self.last_thefts = None

    # ------------------------------------------------------------------ dynamics
    def _reset(self) -> torch.Tensor:
        B, cells = self.batch_size, self.grid_size ** 2
        self.positions = torch.randint(cells, (2, B), generator=self.generator, device=self.device)
        self.coin_owner = torch.randint(2, (B,), generator=self.generator, device=self.device)
        self.coin = self._free_cell(self.positions)
        self.returns = torch.zeros(2, B, device=self.device)
        self.last_thefts = torch.zeros(2, B, dtype=torch.bool, device=self.device)
        return self._observe()

    def _free_cell(self, positions: torch.Tensor) -> torch.Tensor:
        """A uniformly random cell ``[B]`` that neither player occupies.

        Draws k uniform in [0, number of free cells) and returns the k-th free
        cell: k, shifted past the (one or two) occupied cells in increasing order.
        """
        low = torch.minimum(positions[0], positions[1])
        high = torch.maximum(positions[0], positions[1])
        distinct = low != high
        n_free = self.grid_size ** 2 - 1 - distinct.long()
        k = (self._rand(self.batch_size) * n_free).long()
        k = k + (k >= low)
        return k + ((k >= high) & distinct)

    def _observe(self) -> torch.Tensor:
        """One-hot planes ``[2, B, 4, g, g]`` (me, other, my coin, other's coin), then the theft planes.

        A player's position planes depend only on (my cell, other's cell, coin cell,
        coin is the other's colour): for small grids they are one row lookup in a
        precomputed table, otherwise one ``scatter_``. With ``observe_thefts`` the
        planes ``(the other stole from me, I stole from the other)`` follow: ``[2, B, 6, g, g]``.
        """
        other_colour = (self.coin_owner != self._seat).long()  # [2, B]: coin is the other's
        me, other = self.positions, self.positions.flip(0)
        if self._obs_table is not None:
            g2 = self.grid_size ** 2
            code = ((me * g2 + other) * g2 + self.coin) * 2 + other_colour  # [2, B]
            obs = self._obs_table.index_select(0, code.view(-1))
        else:
            obs = _one_hot_planes(me.reshape(-1), other.reshape(-1), self.coin.repeat(2),
                                  other_colour.reshape(-1), self.grid_size)
        g = self.grid_size
        obs = obs.view(2, self.batch_size, 4, g, g)
        if not self.observe_thefts:
            return obs
        thefts = torch.stack([self.last_thefts.flip(0), self.last_thefts], dim=2).float()  # [2, B, 2]
        return torch.cat([obs, thefts[..., None, None].expand(-1, -1, -1, g, g)], dim=2)

    def _step(self, actions: torch.Tensor) -> StepResult:
        self.positions = self._move_table[self.positions * 4 + actions]  # [2, B]
        picked = self.positions == self.coin  # [2, B]
        own = self.coin_owner == self._seat  # [2, B]: the coin has player i's colour
        rewards = self._reward_table[own * 4 + picked * 2 + picked.flip(0)]
        any_pick = picked[0] | picked[1]
        self.coin = torch.where(any_pick, self._free_cell(self.positions), self.coin)
        self.coin_owner = self.coin_owner ^ any_pick  # colours alternate after a pickup
        self.returns = self.returns + rewards
        self.last_thefts = picked & ~own
        info = {"picked_own": picked & own, "picked_other": self.last_thefts.clone()}
        return StepResult(self._observe(), rewards, self._done(), info)

    def set_state(self, positions, coin, coin_owner, last_thefts=None) -> torch.Tensor:
        """Put every game in a given state (for tests and teaching); returns the observations.

        Args:
            positions: long ``[2, B]`` flat cells ``row * g + col`` of the players.
            coin: long ``[B]`` flat cell of the coin (must not be under a player).
            coin_owner: long ``[B]`` colour of the coin (0 red = player 0's, 1 blue).
            last_thefts: bool ``[2, B]``, player i took a coin of the other's colour in
                the previous step (shown by the ``observe_thefts`` planes); None: no theft.
        """
        if self.batch_size is None:
            raise RuntimeError("call reset(batch_size) before set_state")
        B, cells = self.batch_size, self.grid_size ** 2
        positions = torch.as_tensor(positions, device=self.device).long()
        coin = torch.as_tensor(coin, device=self.device).long()
        coin_owner = torch.as_tensor(coin_owner, device=self.device).long()
        for name, x, shape in (("positions", positions, (2, B)), ("coin", coin, (B,)),
                               ("coin_owner", coin_owner, (B,))):
            if tuple(x.shape) != shape:
                raise ValueError(f"{name} must have shape {shape}, got {tuple(x.shape)}")
        if (positions < 0).any() or (positions >= cells).any() or (coin < 0).any() or (coin >= cells).any():
            raise ValueError(f"cells must lie in [0, {cells - 1}]")
        if ((coin_owner != 0) & (coin_owner != 1)).any():
            raise ValueError("coin_owner must be 0 (red) or 1 (blue)")
        if (coin[None] == positions).any():
            raise ValueError("the coin must not lie under a player")
        if last_thefts is None:
            last_thefts = torch.zeros(2, B, dtype=torch.bool, device=self.device)
        last_thefts = torch.as_tensor(last_thefts, device=self.device).clone()
        if tuple(last_thefts.shape) != (2, B) or last_thefts.dtype != torch.bool:
            raise ValueError(f"last_thefts must be a bool tensor of shape {(2, B)}, got "
                             f"{last_thefts.dtype} {tuple(last_thefts.shape)}")
        self.positions, self.coin, self.coin_owner = positions, coin, coin_owner
        self.last_thefts = last_thefts
        return self._observe()

    # ------------------------------------------------------------------ drawing
    def snapshot(self, index: int = 0) -> dict:
        index = self._check_index(index)
        g = self.grid_size
        cell = lambda c: divmod(int(c), g)  # noqa: E731
        return {
            "grid_size": g,
            "players": [cell(self.positions[0, index]), cell(self.positions[1, index])],
            "coin": cell(self.coin[index]),
            "coin_owner": int(self.coin_owner[index]),
            "returns": [float(r) for r in self.returns[:, index]],
            "t": self.t,
        }

    @staticmethod
    def draw(snapshot: dict, ax) -> None:
        """Red and blue discs for the players, a small square for the coin in its colour."""
        from matplotlib.patches import Circle, Rectangle

        g = snapshot["grid_size"]
        colours = ("#d62728", "#1f77b4")
        ax.clear()
        ax.set_xlim(-0.5, g - 0.5)
        ax.set_ylim(g - 0.5, -0.5)
        ax.set_aspect("equal")
        for k in range(g + 1):
            ax.axhline(k - 0.5, color="0.6", lw=1)
            ax.axvline(k - 0.5, color="0.6", lw=1)
        ax.set_xticks([])
        ax.set_yticks([])
        same_cell = snapshot["players"][0] == snapshot["players"][1]
        for i, (r, c) in enumerate(snapshot["players"]):
            shift = (-0.15 if i == 0 else 0.15) if same_cell else 0.0
            ax.add_patch(Circle((c + shift, r), 0.3, color=colours[i], alpha=0.85))
        r, c = snapshot["coin"]
        ax.add_patch(Rectangle((c - 0.12, r - 0.12), 0.24, 0.24, color=colours[snapshot["coin_owner"]],
                               ec="gold", lw=2))
        red, blue = snapshot["returns"]
        ax.set_title(f"Coin Game, t = {snapshot['t']}: red {red:+.0f}, blue {blue:+.0f}")
