"""Observations of Commons Harvest: egocentric windows rotated so that the agent faces up.

The window geometry is described in :mod:`aa_lib.games.commons` (``view_ahead`` rows
ahead, the agent's row, ``view_behind`` rows behind, ``view_sides`` columns to each
side; the agent at row ``view_ahead``, column ``view_sides``). Two formats
(:attr:`CommonsConfig.observation`):

**planes** (the default) float32 ``[P, B, C, V_rows, V_cols]``; channels
(``env.observation_channels``): the six :data:`CHANNELS`, then with
``identity_planes`` one plane per other agent, ``other_1`` ... ``other_{P-1}``
(``other_j`` is 1 on the cell of the agent in seat ``(p + j) mod P`` for the viewer
in seat ``p``: seats relative to one's own, so one policy can play any seat), then
with ``regrowth_plane`` the plane ``regrowable`` (1 on empty apple spots whose
regrowth probability is positive: an apple can still grow there).

**compact** ``[P, B, V_rows, V_cols]`` uint8 (int16 when there are more than 256
codes): one integer code per cell, 10-20x smaller (what a rollout stores), from
which :meth:`ObservationMixin.expand_observation` rebuilds the planes exactly::

    code = base + 4 * facing + 16 * k
    base    0 floor (or an empty spot that cannot regrow), 1 wall or outside the map,
            2 apple, 3 empty spot that can regrow (only with regrowth_plane)
    k       0 no agent; 1 .. P-1 another agent (with identity_planes: 1 + its seat
            after mine, (q - p - 1) mod P; without: always 1); on my own cell
            K + cooldown (K = P with identity planes, else 2), whatever the rest
    facing  the other agent's orientation minus mine, mod 4 (0 same way as me,
            1 turned right of me, 2 opposite, 3 turned left), 0 for no agent

A removed agent observes all zeros (code 0 everywhere). ``env.n_observation_codes``
bounds the codes (an embedding table of that size takes them directly).

How it is computed: most of a window never changes (walls, floor), so every
(cell, orientation) has its fixed window of codes, copied row by row; the apple
spots in view (at most a few dozen) are then written from the game's spot codes,
and the other agents from their pairwise displacements (``P^2 B`` numbers). No
step touches the ``P B V`` cells of the windows one by one more than once.
"""
from __future__ import annotations

import torch

from .config import _DIRECTIONS

__all__ = ["CHANNELS", "ObservationMixin"]

CHANNELS = ("wall", "apple", "agent", "agent_ahead", "agent_right", "ready_to_shoot")


class ObservationMixin:
    """View tables and observations of :class:`~aa_lib.games.commons.CommonsHarvest`."""

    def _build_view(self) -> None:
        """Fixed windows of every (cell, orientation) and the apple spots in them; codes and their planes.

        ``_static_windows [4 (HW + 1), V]``: codes of walls (1, also beyond the map's edge) and floor
        (0, apple spots included); ``_window_spots [4 (HW + 1), K]`` int32: the spots in view (``n_spots``,
        a spot that is always 0, pads the list) and ``_window_spot_cells`` (int64) their window cells
        (padding: the agent's own cell, written last). The off-map cell ``HW`` (a removed agent)
        sees nothing: code 0 everywhere.
        """
        c = self.config
        H, W, dev = self.height, self.width, self.device
        self.view_rows, self.view_cols = Vr, Vc = c.view_ahead + 1 + c.view_behind, 2 * c.view_sides + 1
        V = Vr * Vc
        self._own_index = c.view_ahead * Vc + c.view_sides
        rows = torch.arange(H, device=dev).repeat_interleave(W)[:, None]  # [HW, 1]
        cols = torch.arange(W, device=dev).repeat(H)[:, None]
        ahead = (c.view_ahead - torch.arange(Vr, device=dev))[:, None].expand(Vr, Vc).reshape(1, V)
        right = (torch.arange(Vc, device=dev) - c.view_sides)[None, :].expand(Vr, Vc).reshape(1, V)
        table = torch.full((H * W + 1, 4, V), self._outside, dtype=torch.long, device=dev)
        for o in range(4):  # window cell (row, col) lies `ahead` along the facing and `right` to its right
            (fr, fc), (rr, rc) = _DIRECTIONS[o], _DIRECTIONS[(o + 1) % 4]
            r, q = rows + ahead * fr + right * rr, cols + ahead * fc + right * rc
            inside = (r >= 0) & (r < H) & (q >= 0) & (q < W)
            table[:-1, o] = torch.where(inside, r * W + q, self._edge)
        window_cells = table.view(-1, V)  # grid cells of every window
        self._build_codes()
        self._static_windows = self._code_template.to(self.code_dtype)[window_cells]
        spot_of_cell = torch.cat([self._cell_to_spot, torch.full((2,), self.n_spots, device=dev)])
        spots = spot_of_cell[window_cells]  # [rows, V]: the spot on each window cell (n_spots: none)
        in_view = spots < self.n_spots
        K = max(int(in_view.sum(1).max()), 1)
        order = torch.argsort((~in_view).to(torch.uint8), dim=1, stable=True)[:, :K]  # spots first
        listed = in_view.gather(1, order)
        self._window_spots = torch.where(listed, spots.gather(1, order), self.n_spots).to(torch.int32)
        self._window_spot_cells = torch.where(listed, order, self._own_index)

    def _build_relative_window(self) -> None:
        """Where a viewer sees another agent: ``_relative_window`` (int64), the window cell of a displacement
        ``(dr, dc)`` for each orientation of the viewer (its own cell where out of view), at
        ``o * _relative_stride + _relative_offset + key[other's cell] - key[viewer's cell]``.

        Displacements span the map plus a margin ``M`` beyond the view's reach; the off-map cell (a
        removed agent) has the key of a cell ``M`` rows below the map, out of every window's reach, so
        removed agents neither see nor are seen (and a removed viewer writes only its own cell).
        """
        c, H, W, dev = self.config, self.height, self.width, self.device
        M = max(c.view_ahead, c.view_behind, c.view_sides) + 1
        span = 2 * (W + M) + 1
        self._relative_stride = (2 * (H + M) + 1) * span
        dr = torch.arange(-(H + M), H + M + 1, device=dev)[:, None]
        dc = torch.arange(-(W + M), W + M + 1, device=dev)[None, :]
        tables = []
        for o in range(4):
            (fr, fc), (rr, rc) = _DIRECTIONS[o], _DIRECTIONS[(o + 1) % 4]
            ahead, right = dr * fr + dc * fc, dr * rr + dc * rc
            seen = (ahead <= c.view_ahead) & (ahead >= -c.view_behind) & (right.abs() <= c.view_sides)
            window = (c.view_ahead - ahead) * self.view_cols + right + c.view_sides
            tables.append(torch.where(seen, window, self._own_index))
        self._relative_window = torch.stack(tables).view(-1)  # int64: the scatter's index
        rows = self._row_of.clone()
        rows[self._outside] = H - 1 + M  # the off-map cell: M rows below the map
        self._displacement_of = (rows * span + self._col_of).to(torch.int32)
        self._relative_offset = (H + M) * span + (W + M)

    def _build_codes(self) -> None:
        """Code constants and the tables that turn codes into planes (see the module docstring)."""
        c, P, dev = self.config, self.n_players, self.device
        self._self_k = P if c.identity_planes else 2
        n_codes = 16 * (self._self_k + c.zap_cooldown + 1)
        if n_codes > 2 ** 15:
            raise ValueError(f"too many observation codes ({n_codes}) for n_players={P} and "
                             f"zap_cooldown={c.zap_cooldown}")
        self.n_observation_codes = n_codes
        self.code_dtype = torch.uint8 if n_codes <= 256 else torch.int16
        seats = torch.arange(P, device=dev)
        slot = (seats[None, :] - seats[:, None] - 1) % P  # [viewer, other]: seat of the other after mine
        k = 1 + slot if c.identity_planes else torch.ones_like(slot)
        self._other_codes = (16 * k)[:, :, None].to(self.code_dtype)  # [viewer, other, 1]
        self._build_relative_window()
        names = list(CHANNELS)
        if c.identity_planes:
            names += [f"other_{j}" for j in range(1, P)]
        if c.regrowth_plane:
            names.append("regrowable")
        self.observation_channels = tuple(names)
        self.planes_shape = (len(names), self.view_rows, self.view_cols)
        compact = c.observation == "compact"
        self.observation_shape = (self.view_rows, self.view_cols) if compact else self.planes_shape
        self.observation_dtype = self.code_dtype if compact else torch.float32
        # planes of every code [n_codes, C] (the ready_to_shoot plane is filled from the own cell's code)
        code = torch.arange(n_codes, device=dev)
        base, facing, k = code % 4, (code // 4) % 4, code // 16
        other = (k >= 1) & (k < self._self_k)
        lut = torch.zeros(n_codes, len(names), device=dev)
        lut[:, names.index("wall")] = (base == 1).float()
        lut[:, names.index("apple")] = (base == 2).float()
        lut[:, names.index("agent")] = other.float()
        lut[:, names.index("agent_ahead")] = torch.where(other, self._relative_facing[facing, 0], 0.0)
        lut[:, names.index("agent_right")] = torch.where(other, self._relative_facing[facing, 1], 0.0)
        if c.identity_planes:
            for j in range(1, P):
                lut[:, names.index(f"other_{j}")] = (k == j).float()
        if c.regrowth_plane:
            lut[:, names.index("regrowable")] = (base == 3).float()
        self._plane_table = lut
        # 1 - cooldown / zap_cooldown on one's own cell (float32 arithmetic as the planes have always used)
        level = (k - self._self_k).clamp(min=0)
        ready = 1.0 - level.float() / c.zap_cooldown if c.zap_cooldown > 0 else torch.ones(n_codes, device=dev)
        self._ready_of_code = torch.where(k >= self._self_k, ready, 0.0)
        self._ready_channel = names.index("ready_to_shoot")
        # regrowth possible for each neighbour count (the last entry for all larger counts)
        self._can_regrow = torch.tensor(c.regrowth_probabilities, device=dev) > 0

    def _allocate_view(self) -> None:
        """Per-batch buffers of the observation (made at reset)."""
        P, B, K, dev = self.n_players, self.batch_size, self._window_spots.shape[1], self.device
        V = self.view_rows * self.view_cols
        self._spot_codes = torch.zeros(B, self.n_spots + 1, dtype=self.code_dtype, device=dev)
        self._spot_index = torch.empty(B, K, dtype=torch.int32, device=dev)
        self._spot_values = torch.empty(B * K, dtype=self.code_dtype, device=dev)
        self._spot_cells_in_view = torch.empty(B, K, dtype=torch.long, device=dev)
        # start of each game's spot codes in the flattened [B, n_spots + 1], for every (player, game)
        self._spot_offsets = (self._flat_games * (self.n_spots + 1)).to(torch.int32)[:, None]  # [P B, 1]
        self._window_rows = (self._games * V)[None, None, :]  # [1, 1, B]: start of game b in a player's windows

    # -------------------------------------------------------------- observations
    def _observe(self) -> torch.Tensor:
        """Observations of the current state, rebuilding the per-game grids from the public state
        (after a reset, :meth:`place_agents`, :meth:`set_apples`, or a change made from outside)."""
        self._rebuild_occupancy()
        return self._observation(self.neighbour_counts())

    def _observation(self, counts: torch.Tensor) -> torch.Tensor:
        """Observations ``[P, B, *observation_shape]`` after a step; ``counts [B, n_spots]`` the current
        neighbour counts of the apple spots."""
        codes = self.compact_observation(counts)
        return codes if self.config.observation == "compact" else self.expand_observation(codes)

    def compact_observation(self, counts: torch.Tensor = None) -> torch.Tensor:
        """Codes ``[P, B, V_rows, V_cols]`` of every agent's window (module docstring); ``counts`` the
        neighbour counts of the spots (computed when not given)."""
        P, B, V = self.n_players, self.batch_size, self.view_rows * self.view_cols
        spot_codes = self._update_spot_codes(self.neighbour_counts() if counts is None else counts)
        key = (self.positions * 4 + self.orientations)  # [P, B]: row of the window tables
        codes = self._static_windows.index_select(0, key.view(-1)).view(P, B, V)  # walls and floor
        # the apple spots in view: their codes (spot index + the game's offset) into their window cells,
        # a player at a time (the buffers stay in the cache)
        index, values, cells = self._spot_index, self._spot_values, self._spot_cells_in_view
        flat_codes, offsets = spot_codes.view(-1), self._spot_offsets[:B]
        for p in range(P):
            torch.index_select(self._window_spots, 0, key[p], out=index)  # [B, K]
            index += offsets
            torch.index_select(flat_codes, 0, index.view(-1), out=values)
            torch.index_select(self._window_spot_cells, 0, key[p], out=cells)
            codes[p].scatter_(1, cells, values.view(B, -1))
        self._write_agents(codes, spot_codes)
        return codes.view(P, B, self.view_rows, self.view_cols)

    def _update_spot_codes(self, counts: torch.Tensor) -> torch.Tensor:
        """Codes ``[B, n_spots + 1]`` of the apple spots: 2 apple, 3 regrowable (with regrowth_plane), else 0
        (the last column, no spot, always 0). ``counts [B, n_spots]``: neighbour counts (any integer dtype)."""
        S = self.n_spots
        apples = self.apples[:, :S]
        codes = self._spot_codes[:, :S]
        torch.mul(apples.view(torch.uint8), 2, out=codes)
        if self.config.regrowth_plane:
            capped = counts.clamp(max=len(self._can_regrow) - 1).view(-1)
            can = self._can_regrow.index_select(0, capped).view(counts.shape) & ~apples
            codes += can.to(self.code_dtype) * 3
        return self._spot_codes

    def _write_agents(self, codes: torch.Tensor, spot_codes: torch.Tensor) -> None:
        """Write the other agents and one's own cell into the windows ``codes [P, B, V]``.

        The window cell where a viewer sees another agent depends only on the viewer's orientation
        and their displacement: one lookup in ``_relative_window`` per pair ``[viewer, other, B]``.
        Pairs out of view (and the agent itself) write to the viewer's own cell, which is written
        last. (Small integer types and the batch as the innermost dimension: these tensors are
        several times faster so.)
        """
        P, B, V = self.n_players, self.batch_size, self.view_rows * self.view_cols
        dtype = codes.dtype
        flat_positions = self.positions.view(-1)
        key = self._displacement_of.index_select(0, flat_positions).view(P, B)  # int32
        o32 = self.orientations.to(torch.int32)
        pair = key[None, :, :] + (o32 * self._relative_stride + self._relative_offset - key)[:, None, :]
        window = self._relative_window.index_select(0, pair.view(-1)).view(P, P, B)  # [viewer, other, B]
        window += self._window_rows  # flat index into codes.view(P, B * V): game b's window starts at b V
        spot = self._cell_to_spot.index_select(0, flat_positions).view(P, B) + self._spot_offsets.view(P, B)
        under = spot_codes.view(-1).index_select(0, spot.view(-1)).view(P, B)  # code under each agent
        # base + 4 facing of every agent, minus 4 * the viewer's facing (mod 16): the relative facing
        facing4 = (4 * self.orientations).to(dtype)
        value = (((under + facing4)[None, :, :] - facing4[:, None, :]) & 15) + self._other_codes
        codes.view(P, B * V).scatter_(1, window.view(P, P * B), value.view(P, P * B))
        own = torch.where(self.active, under + 16 * (self._self_k + self.cooldown), 0)
        codes[:, :, self._own_index] = own.to(dtype)

    def expand_observation(self, codes: torch.Tensor, out: torch.Tensor = None) -> torch.Tensor:
        """Planes float32 ``[..., C, V_rows, V_cols]`` of compact codes ``[..., V_rows, V_cols]`` (exactly the
        planes the environment returns with ``observation="planes"``).

        ``out``: a float32 tensor of the planes' shape to write into (reusing one saves allocating, at
        batch 4096 and more, most of the time a step takes with planes).
        """
        if not isinstance(codes, torch.Tensor) or codes.is_floating_point() or codes.dtype == torch.bool:
            raise TypeError("codes must be an integer tensor of compact observation codes")
        if tuple(codes.shape[-2:]) != (self.view_rows, self.view_cols):
            raise ValueError(f"codes must end with the window shape {(self.view_rows, self.view_cols)}, "
                             f"got shape {tuple(codes.shape)}")
        lead, V, C = codes.shape[:-2], self.view_rows * self.view_cols, len(self.observation_channels)
        shape = (*lead, *self.planes_shape)
        if out is None:
            out = torch.empty(shape, device=codes.device)
        elif tuple(out.shape) != shape or out.dtype != torch.float32 or not out.is_contiguous():
            raise ValueError(f"out must be a contiguous float32 tensor of shape {shape}")
        flat = codes.reshape(-1, V).long()  # [N, V]
        N = flat.shape[0]
        table = self._plane_table.to(codes.device).t()  # [C, n_codes]
        # one gather over all channels: out[n, c, v] = table[c, codes[n, v]]
        torch.gather(table[None].expand(N, C, table.shape[1]), 2, flat[:, None, :].expand(N, C, V),
                     out=out.view(N, C, V))
        ready = self._ready_of_code.to(codes.device).index_select(0, flat[:, self._own_index])  # [N]
        out.view(N, C, V)[:, self._ready_channel] = ready[:, None]
        return out
