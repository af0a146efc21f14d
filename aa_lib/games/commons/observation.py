"""Observations of Commons Harvest: egocentric windows rotated so that the agent faces up.

Shape ``[P, B, 6, V_rows, V_cols]``; channels (:data:`CHANNELS`) and window
geometry are described in :mod:`aa_lib.games.commons`. :class:`ObservationMixin`
is one part of :class:`~aa_lib.games.commons.CommonsHarvest`.
"""
from __future__ import annotations

import torch

from .config import _DIRECTIONS

__all__ = ["CHANNELS", "ObservationMixin"]

CHANNELS = ("wall", "apple", "agent", "agent_ahead", "agent_right", "ready_to_shoot")


class ObservationMixin:
    """View tables and observations of :class:`~aa_lib.games.commons.CommonsHarvest`."""

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
