"""Settings of Commons Harvest (:class:`CommonsConfig`) and its action and orientation tables.

The rules these settings control are described in :mod:`aa_lib.games.commons`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

__all__ = ["CommonsConfig", "ACTIONS", "ORIENTATIONS", "ZAP"]

ACTIONS = ("noop", "forward", "backward", "step_left", "step_right", "turn_left", "turn_right", "zap")
ORIENTATIONS = ("N", "E", "S", "W")
#: (row, column) step of each orientation.
_DIRECTIONS = ((-1, 0), (0, 1), (1, 0), (0, -1))
#: Direction of each action's move relative to the facing (0 ahead, 1 right, 2 back, 3 left); -1: no move.
_MOVE_RELATIVE = (-1, 0, 2, 3, 1, -1, -1, -1)
_TURN = (0, 0, 0, 0, 0, -1, 1, 0)
ZAP = ACTIONS.index("zap")


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
