"""The :class:`CommonsHarvest` environment: the map, dynamics and observation parts joined.

The rules are described in :mod:`aa_lib.games.commons`.
"""
from __future__ import annotations

import math
from dataclasses import fields, replace
from typing import Optional

import torch

from ..._validation import check_positive_int
from ..base import BatchedEnv
from .config import _DIRECTIONS, _MOVE_RELATIVE, _TURN, ACTIONS, OBSERVATIONS, RESPAWN_DRAWS, CommonsConfig
from .dynamics import DynamicsMixin
from .map import MapMixin, parse_layout
from .observation import ObservationMixin

__all__ = ["CommonsHarvest"]


class CommonsHarvest(MapMixin, DynamicsMixin, ObservationMixin, BatchedEnv):
    """A batch of Commons Harvest games (the rules: :mod:`aa_lib.games.commons`).

    Args:
        config: a :class:`CommonsConfig` (default: Melting Pot's settings).
        device: torch device of every tensor.
        **overrides: fields of the config to replace, e.g. ``layout="small", n_players=4``.

    State (public, for tests and drawing): ``positions`` long ``[P, B]`` flat cells
    ``row * width + col`` (``height * width`` while removed), ``orientations`` long
    ``[P, B]`` (0 N, 1 E, 2 S, 3 W), ``active`` bool ``[P, B]``, ``cooldown`` and
    ``removal_timer`` long ``[P, B]``, ``apples`` bool ``[B, n_spots + 1]`` (the
    last column is a dummy spot that never holds an apple).

    Observations (:mod:`aa_lib.games.commons.observation`): float planes
    ``[P, B, *planes_shape]`` (channels ``observation_channels``) or, with
    ``observation="compact"``, integer codes ``[P, B, view_rows, view_cols]`` of dtype
    ``observation_dtype`` below ``n_observation_codes``; :meth:`expand_observation` turns
    codes into the planes. The per-game occupancy grid and the buffers are private and
    follow the state through ``step``, ``reset``, :meth:`place_agents` and :meth:`set_apples`
    (change the state through these).
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
        # On an accelerator a step never waits for the device (see dynamics.py); on the CPU it skips idle work.
        self._sync_free = self.device.type != "cpu"
        # Regrowth probability by neighbour count (the last entry for all larger counts).
        self._regrowth = torch.tensor(config.regrowth_probabilities, dtype=torch.float32, device=self.device)
        self._directions = torch.tensor(_DIRECTIONS, device=self.device)  # [4, 2]
        self._move_relative = torch.tensor(_MOVE_RELATIVE, device=self.device)
        self._turn = torch.tensor(_TURN, device=self.device)
        self._player_codes = torch.arange(1, self.n_players + 1, device=self.device).to(torch.uint8)[:, None]
        self._not_self = ~torch.eye(self.n_players, dtype=torch.bool, device=self.device)[..., None]
        # (ahead, right) components of another agent's facing, by its orientation minus mine
        self._relative_facing = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]],
                                             device=self.device)
        self._build_map(parse_layout(config.layout))
        self._cell_steps = torch.tensor([dr * self.width + dc for dr, dc in _DIRECTIONS], device=self.device)
        self._build_view()
        self._build_beam()
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
        if c.n_players > 250:
            raise ValueError(f"n_players must be at most 250, got {c.n_players}")
        for name in ("identity_planes", "regrowth_plane"):
            if not isinstance(getattr(c, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(c, name)!r}")
        if c.observation not in OBSERVATIONS:
            raise ValueError(f"observation must be one of {OBSERVATIONS}, got {c.observation!r}")
        if c.respawn_draws not in RESPAWN_DRAWS:
            raise ValueError(f"respawn_draws must be one of {RESPAWN_DRAWS}, got {c.respawn_draws!r}")

    def _check_discrete_actions(self, actions) -> torch.Tensor:
        """As :meth:`BatchedEnv._check_discrete_actions`; on an accelerator the range check runs on the device
        (``torch._assert_async``: an out-of-range action fails the device's next synchronisation instead of
        making every step wait for it)."""
        if not self._sync_free:
            return super()._check_discrete_actions(actions)
        actions = self._check_action_tensor(
            actions, (self.n_players, self.batch_size), "[n_players, batch] of action indices")
        if actions.dtype == torch.bool or actions.is_floating_point() or actions.is_complex():
            raise TypeError(f"actions must be an integer tensor (torch.long), got dtype {actions.dtype}")
        torch._assert_async(((actions >= 0) & (actions < self.n_actions)).all(),
                            f"actions must lie in [0, {self.n_actions - 1}]")
        return actions.long()

    # --------------------------------------------------------- state for tests
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
            games, cells, lit = self._last_beam  # [n], [n, beam cells], [n, beam cells] of the shooters
            mine = games == index
            beam = sorted({int(k) for k in cells[mine][lit[mine]].tolist()})
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
