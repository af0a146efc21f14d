"""Commons Harvest (Melting Pot 2.0 "commons_harvest__open"), re-implemented as a batched torch env.

The world (facts from Melting Pot's substrate description, ``shared/REFERENCES.md``):

- a walled grid; ``A`` cells are apple spots, all holding an apple at the start;
  eating an apple (stepping onto its cell) gives reward 1;
- an empty spot regrows its apple each step with a probability set by the number
  ``n`` of apples within Euclidean (L2) distance ``regrowth_radius`` = 2 of it:
  0, 0.0025, 0.005, 0.025 for n = 0, 1, 2, >= 3. A patch whose last apple is eaten
  is gone for good. **Radius 2 in the L2 norm** is Melting Pot's ``queryDisc``;
  on the integer grid it is the same 12 cells as the L1 diamond of radius 2
  (offsets with dr^2 + dc^2 <= 4), while the Chebyshev (square) ball would hold 24:
  we use L2 because Melting Pot does, and it keeps patches' regrowth local.
  Apples may regrow under a standing agent; it eats them only by stepping onto
  the cell (eating happens on entering, as in Melting Pot);
- ``n_players`` = 7 agents with an orientation (N, E, S, W). 8 actions
  (:data:`ACTIONS`): no-op, forward, backward, step left, step right (moves
  relative to the orientation), turn left, turn right, zap. A move into a wall
  or an occupied cell fails; agents move one after another in a random order
  each step, so an agent may step into a cell another agent has just left;
- zapping fires a beam ``beam_length`` = 3 cells ahead and ``beam_radius`` = 1 to
  each side (:func:`beam_offsets`; Melting Pot's shape: the centre ray covers the
  cells 1-3 ahead, each side ray the cell beside the agent and 2 ahead). Walls
  block a ray, and a ray stops at the first agent it hits. A hit agent is
  removed from the map for ``removal_steps`` = 4 steps, then reappears on a
  random free spawn point (``P``) with a random orientation. After firing, an
  agent cannot fire for the next ``zap_cooldown`` = 2 steps. Zapping gives no
  reward and costs nothing;
- the first ``inside_spawn_players`` = 2 players start on the inside spawn
  points (``Q``), the others on random spawn points (``P``);
- episodes last at least ``min_steps`` = 1000 steps; at steps 1000, 1100, ...
  (every ``end_interval``) the episode ends with probability ``end_probability``
  = 0.15, and at the latest at ``max_steps`` = 5000 (Melting Pot's cap).

**One ending for the whole batch.** The episode length is drawn once per
``reset`` from the generator (with exactly the distribution above) and every game
of the batch ends at that step: ``done`` is all False, then all True. This keeps
rollouts rectangular (``[P, B, T]``, no masking) at the price of correlating the
lengths of the games of one batch; each game's length is still correctly
distributed. ``current_length`` holds the drawn length after ``reset``;
``episode_length`` is the shortest possible length (1000: the first possible
ending), so a rollout of ``episode_length`` steps never runs past the end
(longer episodes are then truncated, as in the paper's fixed-length rollouts).

Step order (Melting Pot's update priorities): turns and moves (eating on
arrival), zaps from the new positions, respawns of agents whose removal is over,
then apple regrowth.

Observation of each agent ``[6, V_rows, V_cols]`` float32, an egocentric window
rotated so the agent faces up: ``view_ahead`` = 9 rows ahead of it, its own row,
``view_behind`` = 1 row behind, and ``view_sides`` = 5 columns to each side
(11 x 11; the agent is at row 9, column 5). Channels (:data:`CHANNELS`):

    0 wall            1 on walls and outside the map
    1 apple           1 on cells holding an apple
    2 agent           1 on cells holding another active agent
    3 agent_ahead     that agent's facing, component along my facing (+1 same way as me, -1 opposite)
    4 agent_right     that agent's facing, component to my right (+1 to my right, -1 to my left)
    5 ready_to_shoot  constant plane: 1 - cooldown / zap_cooldown (1 = can zap now)

A removed agent observes all zeros. ``info`` of :meth:`CommonsHarvest.step`:
``active`` bool ``[P, B]`` (on the map after the step), ``zapped`` bool
``[P, B]`` (removed by a zap this step), ``fired`` bool ``[P, B]`` (fired a beam
this step), ``apples`` long ``[B]`` (apples on the map).

Layouts: :data:`LAYOUTS` ``"open"`` (Melting Pot's 24 x 18 map, the default)
and ``"small"`` (a 16 x 9 classroom map); any ASCII map with the legend
``W`` wall, ``A`` apple spot, ``P`` spawn point, ``Q`` inside spawn point,
space floor, and a border of walls, works too.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Optional, Tuple

import torch

from .._validation import check_positive_int
from .base import BatchedEnv, StepResult

__all__ = ["CommonsHarvest", "CommonsConfig", "LAYOUTS", "ACTIONS", "CHANNELS", "ORIENTATIONS",
           "sample_episode_length", "parse_layout", "beam_offsets"]

# Melting Pot's commons_harvest__open map: two corner triangles and two diamonds
# along the top, two diamonds at the sides (6 to 13 apples each), spawn points at
# the bottom and two inside spawn points between the patches.
OPEN_LAYOUT = """
WWWWWWWWWWWWWWWWWWWWWWWW
WAAA    A      A    AAAW
WAA    AAA    AAA    AAW
WA    AAAAA  AAAAA    AW
W      AAA    AAA      W
W       A      A       W
W  A                A  W
W AAA  Q        Q  AAA W
WAAAAA            AAAAAW
W AAA              AAA W
W  A                A  W
W                      W
W                      W
W                      W
W  PPPPPPPPPPPPPPPPPP  W
W PPPPPPPPPPPPPPPPPPPP W
WPPPPPPPPPPPPPPPPPPPPPPW
WWWWWWWWWWWWWWWWWWWWWWWW
"""

# A classroom map: three small patches (3, 5, 3 apples) that die out quickly
# when over-harvested, and room for 7 agents.
SMALL_LAYOUT = """
WWWWWWWWWWWWWWWW
WAA    A     AAW
WA    AAA     AW
W      A       W
W              W
W   Q      Q   W
W              W
W PPPPPPPPPPPP W
WWWWWWWWWWWWWWWW
"""

LAYOUTS = {"open": OPEN_LAYOUT, "small": SMALL_LAYOUT}

ACTIONS = ("noop", "forward", "backward", "step_left", "step_right", "turn_left", "turn_right", "zap")
ORIENTATIONS = ("N", "E", "S", "W")
#: (row, column) step of each orientation.
_DIRECTIONS = ((-1, 0), (0, 1), (1, 0), (0, -1))
#: Direction of each action's move relative to the facing (0 ahead, 1 right, 2 back, 3 left); -1: no move.
_MOVE_RELATIVE = (-1, 0, 2, 3, 1, -1, -1, -1)
_TURN = (0, 0, 0, 0, 0, -1, 1, 0)
ZAP = ACTIONS.index("zap")
CHANNELS = ("wall", "apple", "agent", "agent_ahead", "agent_right", "ready_to_shoot")


@dataclass(frozen=True)
class CommonsConfig:
    """Settings of :class:`CommonsHarvest`; defaults are Melting Pot's (see :meth:`melting_pot`)."""

    layout: str = "open"  #: a name in LAYOUTS or an ASCII map (legend in the module docstring)
    n_players: int = 7  #: number of agents
    #: regrowth probability per step of an empty spot with 0, 1, 2, >= 3 apples in its neighbourhood
    regrowth_probabilities: Tuple[float, ...] = (0.0, 0.0025, 0.005, 0.025)
    regrowth_radius: float = 2.0  #: L2 radius of the neighbourhood counted for regrowth
    view_ahead: int = 9  #: rows visible ahead of the agent
    view_behind: int = 1  #: rows visible behind the agent
    view_sides: int = 5  #: columns visible on each side
    beam_length: int = 3  #: reach of the zap beam ahead
    beam_radius: int = 1  #: reach of the zap beam to each side
    zap_cooldown: int = 2  #: steps after firing during which an agent cannot fire
    removal_steps: int = 4  #: steps a zapped agent stays off the map
    min_steps: int = 1000  #: the episode never ends before this step
    end_interval: int = 100  #: after min_steps, an ending is drawn every end_interval steps
    end_probability: float = 0.15  #: probability that the episode ends at each draw
    max_steps: int = 5000  #: hard cap on the episode length
    inside_spawn_players: int = 2  #: the first players start on the inside spawn points (Q)

    @classmethod
    def melting_pot(cls) -> "CommonsConfig":
        """Melting Pot 2.0's commons_harvest__open (the paper's setting)."""
        return cls()

    @classmethod
    def classroom(cls) -> "CommonsConfig":
        """A small, fast variant for notebooks: the 16 x 9 map, a 7 x 7 view, episodes of 100+ steps."""
        return cls(layout="small", view_ahead=5, view_sides=3, min_steps=100, end_interval=20,
                   max_steps=400)


def parse_layout(layout: str):
    """Grid of characters (list of equal-length rows) of a layout name or ASCII map; checks the legend."""
    text = LAYOUTS.get(layout, layout)
    rows = [line for line in text.split("\n") if line.strip()]
    if len(rows) < 3 or len({len(r) for r in rows}) != 1:
        raise ValueError("layout must be a name in LAYOUTS or an ASCII map of equal-length rows (at least 3)")
    bad = set("".join(rows)) - set("WAPQ ")
    if bad:
        raise ValueError(f"layout has unknown characters {sorted(bad)}; legend: W wall, A apple, P spawn, "
                         "Q inside spawn, space floor")
    border = rows[0] + rows[-1] + "".join(r[0] + r[-1] for r in rows)
    if set(border) != {"W"}:
        raise ValueError("layout must be surrounded by walls (W)")
    return rows


def sample_episode_length(config: CommonsConfig, generator: Optional[torch.Generator] = None,
                          device="cpu") -> int:
    """Draw an episode length: the first check at ceil(min_steps / interval) * interval,
    then every ``end_interval`` steps, ending with ``end_probability`` each time, capped at ``max_steps``."""
    first = math.ceil(config.min_steps / config.end_interval) * config.end_interval
    p = config.end_probability
    if p >= 1.0:
        return min(first, config.max_steps)
    if p <= 0.0:
        return config.max_steps
    u = float(torch.rand((), generator=generator, device=torch.device(device)))
    failed_checks = math.floor(math.log1p(-u) / math.log1p(-p))  # geometric, P(k) = (1-p)^k p
    return min(first + config.end_interval * failed_checks, config.max_steps)


def beam_offsets(config: CommonsConfig):
    """Beam cells as (ahead, right) offsets, ``[n_rays][ray length]``, each ray ordered outwards.

    The centre ray covers 1..beam_length ahead; the side ray at lateral offset x
    covers 0..beam_length-|x| ahead (starting beside the agent).
    """
    rays = []
    for x in range(-config.beam_radius, config.beam_radius + 1):
        start = 1 if x == 0 else 0
        length = config.beam_length if x == 0 else config.beam_length - abs(x) + 1
        rays.append([(start + k, x) for k in range(length)])
    return rays


class CommonsHarvest(BatchedEnv):
    """A batch of Commons Harvest games (see the module docstring).

    Args:
        config: a :class:`CommonsConfig` (default: Melting Pot's settings).
        device: torch device of every tensor.
        **overrides: fields of the config to replace, e.g. ``layout="small", n_players=4``.

    State (public, for tests and drawing): ``positions`` long ``[P, B]`` flat cells
    ``row * width + col`` (``height * width`` while removed), ``orientations`` long
    ``[P, B]`` (0 N, 1 E, 2 S, 3 W), ``active`` bool ``[P, B]``, ``cooldown`` and
    ``removal_timer`` long ``[P, B]``, ``apples`` bool ``[B, n_spots + 1]`` (the
    last column is a dummy spot that never holds an apple).
    """

    action_kind = "discrete"
    n_actions = len(ACTIONS)

    def __init__(self, config: Optional[CommonsConfig] = None, device="cpu", **overrides):
        config = config or CommonsConfig()
        if overrides:
            names = {f.name for f in fields(CommonsConfig)}
            unknown = set(overrides) - names
            if unknown:
                raise TypeError(f"unknown CommonsHarvest settings {sorted(unknown)}; valid: {sorted(names)}")
            config = replace(config, **overrides)
        self.config = config
        self._check_config(config)
        super().__init__(self._first_ending(config), device)
        self.n_players = config.n_players
        self._build_map(parse_layout(config.layout))
        self._build_view()
        self._build_beam()
        # Regrowth probability by neighbour count (the last entry for all larger counts).
        self._regrowth = torch.tensor(config.regrowth_probabilities, dtype=torch.float32, device=self.device)
        self._directions = torch.tensor(_DIRECTIONS, device=self.device)  # [4, 2]
        self._move_relative = torch.tensor(_MOVE_RELATIVE, device=self.device)
        self._turn = torch.tensor(_TURN, device=self.device)
        self._player_ids = torch.arange(1, self.n_players + 1, device=self.device)[:, None]  # [P, 1]
        self._not_self = ~torch.eye(self.n_players, dtype=torch.bool, device=self.device)[..., None]
        # (ahead, right) components of another agent's facing, by its orientation minus mine
        self._relative_facing = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]],
                                             device=self.device)
        self.positions = self.orientations = self.active = self.cooldown = None
        self.removal_timer = self.apples = self.returns = None
        self._last_beam = None

    # -------------------------------------------------------------- construction
    @staticmethod
    def _first_ending(config: CommonsConfig) -> int:
        return min(math.ceil(config.min_steps / config.end_interval) * config.end_interval, config.max_steps)

    @staticmethod
    def _check_config(c: CommonsConfig) -> None:
        check_positive_int(c.n_players, "n_players")
        for name in ("view_ahead", "view_sides", "beam_length", "min_steps", "end_interval", "max_steps",
                     "removal_steps"):
            check_positive_int(getattr(c, name), name)
        for name in ("view_behind", "beam_radius", "zap_cooldown", "inside_spawn_players"):
            value = getattr(c, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if c.beam_radius >= c.beam_length + 1:
            raise ValueError("beam_radius must be at most beam_length")
        probs = tuple(c.regrowth_probabilities)
        if not probs or any(not 0.0 <= float(p) <= 1.0 for p in probs):
            raise ValueError(f"regrowth_probabilities must be probabilities, got {probs}")
        if not 0.0 <= c.end_probability <= 1.0:
            raise ValueError(f"end_probability must lie in [0, 1], got {c.end_probability}")
        if not c.regrowth_radius >= 0:
            raise ValueError(f"regrowth_radius must be non-negative, got {c.regrowth_radius}")

    def _build_map(self, rows) -> None:
        """Static tensors of the map: walls, apple spots and their neighbourhoods, spawn points."""
        self.height, self.width = H, W = len(rows), len(rows[0])
        self.layout_rows = rows
        chars = [ch for row in rows for ch in row]
        cells = lambda symbol: [k for k, ch in enumerate(chars) if ch == symbol]  # noqa: E731
        dev = self.device
        self._outside = H * W  # the cell index of "off the map" (removed agents)
        zero = torch.zeros(1, dtype=torch.long, device=dev)  # row and column of the off-map cell
        self._row_of = torch.cat([torch.arange(H, device=dev).repeat_interleave(W), zero])
        self._col_of = torch.cat([torch.arange(W, device=dev).repeat(H), zero])
        wall = torch.tensor([ch == "W" for ch in chars] + [True], device=dev)
        self._wall = wall  # [HW + 1]
        spots = cells("A")
        self.n_spots = S = len(spots)
        self._spot_cells = torch.tensor(spots, dtype=torch.long, device=dev)
        cell_to_spot = torch.full((H * W + 1,), S, dtype=torch.long, device=dev)
        cell_to_spot[self._spot_cells] = torch.arange(S, device=dev)
        self._cell_to_spot = cell_to_spot  # [HW + 1]: spot index, S (dummy) elsewhere
        # Spots within the L2 regrowth radius of each spot (itself excluded), as a 0/1 matrix [S, S]:
        # neighbour counts of every spot of every game are then one matrix product.
        r2 = self.config.regrowth_radius ** 2
        rr, cc = self._spot_cells // W, self._spot_cells % W
        close = ((rr[:, None] - rr[None, :]) ** 2 + (cc[:, None] - cc[None, :]) ** 2) <= r2
        self._adjacency = (close & ~torch.eye(S, dtype=torch.bool, device=dev)).float()
        self._spawn = torch.tensor(cells("P"), dtype=torch.long, device=dev)
        self._inside_spawn = torch.tensor(cells("Q"), dtype=torch.long, device=dev)
        n_inside = min(self.config.inside_spawn_players, len(self._inside_spawn), self.n_players)
        self._n_inside = n_inside
        if len(self._spawn) < self.n_players:
            raise ValueError(f"the layout has {len(self._spawn)} spawn points (P) for {self.n_players} players")

    def _build_view(self) -> None:
        """Tables of what each (cell, orientation) sees: walls ``[4 (HW + 1), V]`` and apple spots.

        Built once from a wall-padded copy of the map; an observation is then two
        row lookups. The extra cell ``HW`` (off the map) sees nothing.
        """
        c = self.config
        pad = max(c.view_ahead, c.view_behind, c.view_sides)
        H, W, dev = self.height, self.width, self.device
        Wp = W + 2 * pad
        rows = torch.arange(H, device=dev).repeat_interleave(W)
        cols = torch.arange(W, device=dev).repeat(H)
        to_padded = (rows + pad) * Wp + cols + pad  # [HW]
        padded_wall = torch.ones((H + 2 * pad) * Wp, dtype=torch.bool, device=dev)
        padded_wall[to_padded] = self._wall[:-1]
        padded_spot = torch.full(((H + 2 * pad) * Wp,), self.n_spots, dtype=torch.long, device=dev)
        padded_spot[to_padded] = self._cell_to_spot[:-1]
        self.view_rows, self.view_cols = c.view_ahead + 1 + c.view_behind, 2 * c.view_sides + 1
        self.observation_shape = (len(CHANNELS), self.view_rows, self.view_cols)
        ahead = c.view_ahead - torch.arange(self.view_rows, device=dev)[:, None]  # [Vr, 1]
        right = torch.arange(self.view_cols, device=dev)[None, :] - c.view_sides  # [1, Vc]
        offsets = []
        for o in range(4):  # window cell (row, col) lies `ahead` along the facing and `right` to its right
            (fr, fc), (rr, rc) = _DIRECTIONS[o], _DIRECTIONS[(o + 1) % 4]
            offsets.append(((ahead * fr + right * rr) * Wp + (ahead * fc + right * rc)).reshape(-1))
        window = to_padded[:, None, None] + torch.stack(offsets)[None]  # [HW, 4, V]
        V = self.view_rows * self.view_cols
        wall_view = torch.zeros(H * W + 1, 4, V, device=dev)
        wall_view[:-1] = padded_wall[window].float()
        spot_view = torch.full((H * W + 1, 4, V), self.n_spots, dtype=torch.long, device=dev)
        spot_view[:-1] = padded_spot[window]
        self._wall_view = wall_view.view(-1, V)  # row 4 cell + orientation
        self._spot_view = spot_view.view(-1, V)

    def _build_beam(self) -> None:
        """Beam offsets per orientation as (row, col) steps ``[4, n_rays, ray_length, 2]``."""
        rays = beam_offsets(self.config)
        length = max(len(r) for r in rays)
        steps = []
        for o in range(4):
            (fr, fc), (rr, rc) = _DIRECTIONS[o], _DIRECTIONS[(o + 1) % 4]
            per_ray = []
            for ray in rays:
                cells = [(a * fr + x * rr, a * fc + x * rc) for a, x in ray]
                cells += [cells[-1]] * (length - len(cells))  # pad by repeating the last cell
                per_ray.append(cells)
            steps.append(per_ray)
        self._beam = torch.tensor(steps, device=self.device)  # [4, R, L, 2]
        # padded entries repeat a cell: mask them so they are never counted twice
        self._beam_valid = torch.tensor([[k < len(r) for k in range(length)] for r in rays], device=self.device)

    # ------------------------------------------------------------------- helpers
    def _rows_cols(self, cells: torch.Tensor):
        """Row and column of flat cells (table lookups: integer division is slow on CPU)."""
        return self._row_of[cells], self._col_of[cells]

    def _has_apple(self, cells: torch.Tensor) -> torch.Tensor:
        """``[P, B]`` bool: an apple lies on each agent's cell (False off the map)."""
        spot = self._cell_to_spot[cells]  # [P, B]
        return self.apples.gather(1, spot.t()).t()

    def _eat(self, eaters: torch.Tensor) -> torch.Tensor:
        """Agents in ``eaters`` [P, B] eat the apple on their cell if any; returns rewards [P, B]."""
        eaten = eaters & self._has_apple(self.positions)
        spot = torch.where(eaten, self._cell_to_spot[self.positions], self.n_spots)
        self.apples.scatter_(1, spot.t(), False)  # the dummy column S only ever receives False
        return eaten.float()

    # ------------------------------------------------------------------ dynamics
    def _reset(self) -> torch.Tensor:
        B, P, dev = self.batch_size, self.n_players, self.device
        self.current_length = sample_episode_length(self.config, self.generator, dev)
        k = self._n_inside
        inside = self._inside_spawn[self._rand(B, len(self._inside_spawn)).argsort(1)[:, :k]] if k else None
        outside = self._spawn[self._rand(B, len(self._spawn)).argsort(1)[:, : P - k]]
        start = torch.cat([inside, outside], 1) if k else outside  # [B, P]
        self.positions = start.t().contiguous()
        self.orientations = torch.randint(4, (P, B), generator=self.generator, device=dev)
        self.active = torch.ones(P, B, dtype=torch.bool, device=dev)
        self.cooldown = torch.zeros(P, B, dtype=torch.long, device=dev)
        self.removal_timer = torch.zeros(P, B, dtype=torch.long, device=dev)
        self.apples = torch.ones(B, self.n_spots + 1, dtype=torch.bool, device=dev)
        self.apples[:, -1] = False
        self.returns = torch.zeros(P, B, device=dev)
        self._last_beam = None
        return self._observe()

    def _step(self, actions: torch.Tensor) -> StepResult:
        was_active = self.active
        actions = torch.where(was_active, actions, 0)  # removed agents do nothing
        rewards = self._move(actions)
        fired, zapped = self._zap(actions)
        respawned = self._respawn(was_active)
        if respawned is not None:
            rewards = rewards + self._eat(respawned)
        self._regrow()
        self.returns = self.returns + rewards
        info = {"active": self.active, "zapped": zapped, "fired": fired,
                "apples": self.apples.sum(1)}
        return StepResult(self._observe(), rewards, self._done(), info)

    def _move(self, actions: torch.Tensor) -> torch.Tensor:
        """Turns, then moves one agent at a time in a random order per game; returns apples eaten [P, B]."""
        P, B = self.n_players, self.batch_size
        self.orientations = (self.orientations + self._turn[actions]) & 3  # & 3 == mod 4, also for -1
        relative = self._move_relative[actions]  # [P, B], -1 = no move
        wants = relative >= 0
        step = self._directions[(self.orientations + relative) & 3]  # [P, B, 2]
        target = self.positions + step[..., 0] * self.width + step[..., 1]
        target = torch.where(wants, target, self.positions)
        old = self.positions
        if bool(wants.any()):
            occupied = torch.zeros(B, self.height * self.width + 1, dtype=torch.bool, device=self.device)
            occupied.scatter_(1, self.positions.t(), self.active.t())
            occupied[:, self._outside] = False
            order = self._rand(B, P).argsort(1)  # [B, P]
            games = torch.arange(B, device=self.device)
            positions = self.positions.clone()
            for k in range(P):  # one agent per game at a time; all games at once
                who = order[:, k]
                here, there = positions[who, games], target[who, games]
                ok = wants[who, games] & ~self._wall[there] & ~occupied[games, there]
                occupied[games, here] &= ~ok
                occupied[games, there] |= ok
                positions[who, games] = torch.where(ok, there, here)
            self.positions = positions
        return self._eat(self.positions != old)

    def _zap(self, actions: torch.Tensor):
        """Cooldowns and beams; zapped agents leave the map. Returns (fired, zapped) bool [P, B]."""
        c = self.config
        trying = (actions == ZAP) & self.active
        fired = trying & (self.cooldown == 0)
        # Melting Pot's timer: a cooling agent counts down instead of firing; firing resets it.
        cooling = self.active & (self.cooldown > 0)
        self.cooldown = torch.where(cooling, self.cooldown - 1, torch.where(fired, c.zap_cooldown, self.cooldown))
        zapped = torch.zeros_like(fired)
        self._last_beam = None
        if not bool(fired.any()):
            return fired, zapped
        P, B = self.n_players, self.batch_size
        H, W = self.height, self.width
        # Cells of every beam: [P, B, R, L]; out-of-map cells clamp onto the (wall) border.
        rows, cols = self._rows_cols(self.positions)
        offsets = self._beam[self.orientations]  # [P, B, R, L, 2]
        r = (rows[..., None, None] + offsets[..., 0]).clamp(0, H - 1)
        q = (cols[..., None, None] + offsets[..., 1]).clamp(0, W - 1)
        cells = r * W + q
        who = torch.zeros(B, H * W + 1, dtype=torch.long, device=self.device)
        who.scatter_(1, self.positions.t(), (self._player_ids * self.active).t())
        who[:, self._outside] = 0
        games = torch.arange(B, device=self.device)[None, :, None, None]
        target = who[games, cells]  # [P, B, R, L]: 1 + index of the agent there, 0 if none
        wall = self._wall[cells]
        stopper = (wall | (target > 0)) & self._beam_valid
        blocked_before = (stopper.cumsum(-1) - stopper.long()) > 0
        lit = fired[..., None, None] & self._beam_valid & ~blocked_before & ~wall  # cells the beam reaches
        hit = lit & (target > 0)
        counts = torch.zeros(B, P + 1, dtype=torch.long, device=self.device)
        counts.scatter_add_(1, (target * hit).permute(1, 0, 2, 3).reshape(B, -1),
                            hit.permute(1, 0, 2, 3).reshape(B, -1).long())
        zapped = (counts[:, 1:] > 0).t().contiguous()  # [P, B]
        self._last_beam = (cells, lit)
        self.active = self.active & ~zapped
        self.positions = torch.where(zapped, self._outside, self.positions)
        self.removal_timer = torch.where(zapped, c.removal_steps, self.removal_timer)
        return fired, zapped

    def _respawn(self, was_active: torch.Tensor) -> Optional[torch.Tensor]:
        """Count down removals begun in earlier steps; agents whose time is up reappear on free spawn points."""
        waiting = ~was_active
        self.removal_timer = torch.where(waiting, self.removal_timer - 1, self.removal_timer)
        back = waiting & (self.removal_timer == 0)
        if not bool(back.any()):
            return None
        spawn = self._spawn
        self.positions = self.positions.clone()
        taken = (self.positions[:, :, None] == spawn).any(0)  # [B, n_spawn]
        for p in range(self.n_players):  # one agent at a time so two never pick the same cell
            score = self._rand(self.batch_size, len(spawn)) - 2.0 * taken.float()
            choice = score.argmax(1)
            self.positions[p] = torch.where(back[p], spawn[choice], self.positions[p])
            taken = taken | (back[p][:, None] & (torch.arange(len(spawn), device=self.device) == choice[:, None]))
        turns = torch.randint(4, back.shape, generator=self.generator, device=self.device)
        self.orientations = torch.where(back, turns, self.orientations)
        self.active = self.active | back
        return back

    def _regrow(self) -> None:
        """Each empty spot regrows with the probability of its neighbour count (L2 radius)."""
        S = self.n_spots
        counts = self.neighbour_counts()
        probability = self._regrowth[counts.clamp(max=len(self._regrowth) - 1)]
        grow = (self._rand(self.batch_size, S) < probability) & ~self.apples[:, :S]
        self.apples[:, :S] |= grow

    def neighbour_counts(self) -> torch.Tensor:
        """``[B, n_spots]`` long: apples within the regrowth radius of each spot (itself excluded)."""
        return (self.apples[:, : self.n_spots].float() @ self._adjacency).round().long()

    # -------------------------------------------------------------- observations
    def _observe(self) -> torch.Tensor:
        """Egocentric windows ``[P, B, 6, V_rows, V_cols]`` (channels in the module docstring).

        Walls and apple spots in view are row lookups by (cell, orientation); a
        removed agent sits on the off-map cell, whose rows are empty, so it sees zeros.
        """
        P, B, V = self.n_players, self.batch_size, self.view_rows * self.view_cols
        c = self.config
        code = (self.positions * 4 + self.orientations).reshape(-1)  # [P B]
        obs = torch.empty(P, B, len(CHANNELS), V, device=self.device)
        # written in place into the channel slices (one pass over the large output)
        torch.index_select(self._wall_view, 0, code, out=obs.view(P * B, len(CHANNELS), V)[:, 0])
        spot = self._spot_view.index_select(0, code).view(P, B, V)  # apple spot of every cell in view
        apples = self.apples.float()[None].expand(P, B, self.n_spots + 1)
        torch.gather(apples, 2, spot, out=obs[:, :, 1])
        obs[:, :, 2:5] = 0.0
        self._observe_others(obs)
        if c.zap_cooldown > 0:
            ready = 1.0 - self.cooldown.float() / c.zap_cooldown
        else:
            ready = torch.ones(P, B, device=self.device)
        obs[:, :, 5] = (ready * self.active)[..., None]
        return obs.view(P, B, *self.observation_shape)

    def _observe_others(self, obs: torch.Tensor) -> None:
        """Add channels 2-4 (other agents and their facing) from pairwise relative positions."""
        c = self.config
        P, B, V = self.n_players, self.batch_size, self.view_rows * self.view_cols
        rows, cols = self._rows_cols(self.positions)  # [P, B]
        dr = rows[None, :, :] - rows[:, None, :]  # [viewer, other, B]
        dc = cols[None, :, :] - cols[:, None, :]
        forward = self._directions[self.orientations]  # [P, B, 2]
        rightward = self._directions[(self.orientations + 1) & 3]
        ahead = dr * forward[:, None, :, 0] + dc * forward[:, None, :, 1]
        right = dr * rightward[:, None, :, 0] + dc * rightward[:, None, :, 1]
        visible = ((ahead <= c.view_ahead) & (ahead >= -c.view_behind) & (right.abs() <= c.view_sides)
                   & self.active[:, None, :] & self.active[None, :, :] & self._not_self)
        index = (c.view_ahead - ahead) * self.view_cols + (right + c.view_sides)
        index = torch.where(visible, index, 0)  # invisible pairs add 0 to cell 0
        relative = (self.orientations[None, :, :] - self.orientations[:, None, :]) & 3  # [viewer, other, B]
        facing = self._relative_facing[relative]  # [viewer, other, B, 2]
        seen = visible.float()
        values = torch.stack([seen, seen * facing[..., 0], seen * facing[..., 1]])  # [3, viewer, other, B]
        where = torch.stack([index + 2 * V, index + 3 * V, index + 4 * V])
        flat = obs.view(P, B, -1)
        # [viewer, B, 3 * other]; at most one agent per cell, so the sums are exact
        flat.scatter_add_(2, where.permute(1, 3, 0, 2).reshape(P, B, -1),
                          values.permute(1, 3, 0, 2).reshape(P, B, -1))

    # --------------------------------------------------------- state for tests
    def apple_grid(self) -> torch.Tensor:
        """``[B, height, width]`` bool: where apples are now."""
        grid = torch.zeros(self.batch_size, self.height * self.width, dtype=torch.bool, device=self.device)
        grid[:, self._spot_cells] = self.apples[:, : self.n_spots]
        return grid.view(self.batch_size, self.height, self.width)

    def set_apples(self, grid) -> torch.Tensor:
        """Set the apples from a bool grid ``[B, height, width]`` (only apple spots may hold one); returns obs."""
        grid = torch.as_tensor(grid, device=self.device).bool()
        if tuple(grid.shape) != (self.batch_size, self.height, self.width):
            raise ValueError(f"grid must have shape {(self.batch_size, self.height, self.width)}, "
                             f"got {tuple(grid.shape)}")
        flat = grid.reshape(self.batch_size, -1)
        if (flat & ~(self._cell_to_spot[:-1] < self.n_spots)).any():
            raise ValueError("apples can only be placed on apple spots (A)")
        self.apples[:, : self.n_spots] = flat[:, self._spot_cells]
        return self._observe()

    def place_agents(self, rows, cols, orientations, active=None) -> torch.Tensor:
        """Put the agents at given cells ``[P, B]`` with orientations ``[P, B]`` (0 N .. 3 W); returns obs.

        Agents marked inactive are off the map and come back after ``removal_steps`` steps.
        """
        if self.batch_size is None:
            raise RuntimeError("call reset(batch_size) before place_agents")
        shape = (self.n_players, self.batch_size)
        rows, cols, orientations = (torch.as_tensor(x, device=self.device).long().expand(shape).clone()
                                    for x in (rows, cols, orientations))
        active = torch.ones(shape, dtype=torch.bool, device=self.device) if active is None else \
            torch.as_tensor(active, device=self.device).bool().expand(shape).clone()
        cells = rows * self.width + cols
        if (self._wall[cells] & active).any():
            raise ValueError("agents cannot stand on walls")
        occupied = torch.where(active, cells, -1 - torch.arange(self.n_players, device=self.device)[:, None])
        if (occupied[:, None] == occupied[None, :]).sum(0).gt(1).any():
            raise ValueError("two active agents cannot share a cell")
        self.positions = torch.where(active, cells, self._outside)
        self.orientations = orientations % 4
        self.active = active
        self.removal_timer = torch.where(active, 0, self.config.removal_steps)
        return self._observe()

    # ------------------------------------------------------------------ drawing
    def snapshot(self, index: int = 0) -> dict:
        index = self._check_index(index)
        agents = []
        for p in range(self.n_players):
            cell = int(self.positions[p, index])
            alive = bool(self.active[p, index])
            agents.append({"row": cell // self.width if alive else None, "col": cell % self.width if alive else None,
                           "orientation": int(self.orientations[p, index]), "active": alive})
        beam = []
        if self._last_beam is not None:
            cells, lit = self._last_beam
            beam = sorted({int(k) for k in cells[:, index][lit[:, index]].tolist()})
        return {
            "layout": self.layout_rows,
            "apples": self.apple_grid()[index].tolist(),
            "agents": agents,
            "beam": [divmod(k, self.width) for k in beam],
            "returns": [float(r) for r in self.returns[:, index]],
            "t": self.t,
        }

    @staticmethod
    def draw(snapshot: dict, ax) -> None:
        """The map (walls grey, apple spots green, apples red), agents as coloured arrows, beams yellow."""
        import numpy as np
        from matplotlib.patches import Circle, RegularPolygon

        rows = snapshot["layout"]
        H, W = len(rows), len(rows[0])
        image = np.ones((H, W, 3)) * np.array([0.93, 0.89, 0.83])  # floor
        for r, row in enumerate(rows):
            for c, ch in enumerate(row):
                if ch == "W":
                    image[r, c] = (0.45, 0.45, 0.45)
                elif ch == "A":
                    image[r, c] = (0.72, 0.85, 0.55)
        for r, c in snapshot["beam"]:
            image[r, c] = (1.0, 0.95, 0.45)
        ax.clear()
        ax.imshow(image, interpolation="nearest")
        for r in range(H):
            for c in range(W):
                if snapshot["apples"][r][c]:
                    ax.add_patch(Circle((c, r), 0.3, color="#d62728"))
        colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                   "#bcbd22", "#7f7f7f"]
        for p, agent in enumerate(snapshot["agents"]):
            if not agent["active"]:
                continue
            angle = math.pi + math.pi / 2 * agent["orientation"]  # a vertex towards the facing (y axis down)
            ax.add_patch(RegularPolygon((agent["col"], agent["row"]), 3, radius=0.45, orientation=angle,
                                        color=colours[p % len(colours)], ec="black", lw=0.8))
        ax.set_xticks([])
        ax.set_yticks([])
        removed = sum(not a["active"] for a in snapshot["agents"])
        ax.set_title(f"Commons Harvest, t = {snapshot['t']}: {int(np.sum(snapshot['apples']))} apples, "
                     f"return {sum(snapshot['returns']):.0f}" + (f", {removed} removed" if removed else ""))
