"""The map of Commons Harvest: layouts, their parsing, and the static tensors built from them.

Walls, apple spots and their regrowth neighbourhoods (the L2 disc of
``regrowth_radius``, see :mod:`aa_lib.games.commons`), spawn points, and the
apple state as a grid. :class:`MapMixin` is one part of
:class:`~aa_lib.games.commons.CommonsHarvest`.
"""
from __future__ import annotations

import torch

__all__ = ["LAYOUTS", "OPEN_LAYOUT", "SMALL_LAYOUT", "parse_layout", "MapMixin"]


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


class MapMixin:
    """The static map of :class:`~aa_lib.games.commons.CommonsHarvest` and its apple grid.

    ``_build_map`` sets ``height``, ``width``, ``layout_rows``, ``n_spots`` and the
    private lookup tables that the dynamics and observations read.

    Per-game grids (``[B, grid_cells]``, one row per game, shared by movement, zap and
    observation) have ``height * width + 3`` cells: the map's cells ``row * width + col``,
    then ``_outside`` (where removed agents are: always empty), ``_edge`` (beyond the map's
    edge: a wall) and ``_dump`` (a scratch cell that masked writes go to).
    """

    #: value of a wall cell in the occupancy grid (agents are 1 + their index)
    WALL = 255

    def _build_map(self, rows) -> None:
        """Static tensors of the map: walls, apple spots and their neighbourhoods, spawn points."""
        self.height, self.width = H, W = len(rows), len(rows[0])
        self.layout_rows = rows
        chars = [ch for row in rows for ch in row]
        cells = lambda symbol: [k for k, ch in enumerate(chars) if ch == symbol]  # noqa: E731
        dev = self.device
        self._outside = H * W  # the cell index of "off the map" (removed agents)
        self._edge, self._dump = H * W + 1, H * W + 2
        self.grid_cells = H * W + 3
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
        # Templates of the per-game grids: occupancy (walls WALL, free 0) and cell codes (wall 1, floor 0;
        # the apple spots' codes are written every step, see observation.py).
        occupancy = torch.zeros(self.grid_cells, dtype=torch.uint8, device=dev)
        occupancy[: H * W + 1][wall] = self.WALL
        occupancy[self._outside] = 0
        occupancy[self._edge] = self.WALL
        self._occupancy_template = occupancy
        self._code_template = (occupancy == self.WALL).to(torch.uint8)

    # ------------------------------------------------------------------- helpers
    def _rows_cols(self, cells: torch.Tensor):
        """Row and column of flat cells (table lookups: integer division is slow on CPU)."""
        return self._row_of[cells], self._col_of[cells]

    def neighbour_counts(self) -> torch.Tensor:
        """``[B, n_spots]`` long: apples within the regrowth radius of each spot (itself excluded)."""
        return (self.apples[:, : self.n_spots].float() @ self._adjacency).round().long()

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
