"""Settings of Commons Harvest (:class:`CommonsConfig`) and its action and orientation tables.

The rules these settings control are described in :mod:`aa_lib.games.commons`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

__all__ = ["CommonsConfig", "ACTIONS", "ORIENTATIONS", "ZAP", "MELTING_POT_REGROWTH", "OBSERVATIONS",
           "RESPAWN_DRAWS"]

ACTIONS = ("noop", "forward", "backward", "step_left", "step_right", "turn_left", "turn_right", "zap")
ORIENTATIONS = ("N", "E", "S", "W")
#: (row, column) step of each orientation.
_DIRECTIONS = ((-1, 0), (0, 1), (1, 0), (0, -1))
#: Direction of each action's move relative to the facing (0 ahead, 1 right, 2 back, 3 left); -1: no move.
_MOVE_RELATIVE = (-1, 0, 2, 3, 1, -1, -1, -1)
_TURN = (0, 0, 0, 0, 0, -1, 1, 0)
ZAP = ACTIONS.index("zap")
#: Melting Pot's regrowth probabilities per step for 0, 1, 2, >= 3 apples within the radius (its substrate's
#: source values; measured on the real substrate: 0.0024 / 0.0054 / 0.022-0.027, REFERENCES.md).
MELTING_POT_REGROWTH = (0.0, 0.0025, 0.005, 0.025)
#: Observation formats: egocentric float planes, or one small integer code per visible cell (see
#: :mod:`aa_lib.games.commons.observation`; :meth:`CommonsHarvest.expand_observation` turns codes into planes).
OBSERVATIONS = ("planes", "compact")
#: How the respawn point is drawn (see :attr:`CommonsConfig.respawn_draws`).
RESPAWN_DRAWS = ("scores", "rank")


@dataclass(frozen=True)
class CommonsConfig:
    """Settings of :class:`CommonsHarvest`; defaults are Melting Pot's map and rules with the original
    observation (see :meth:`melting_pot`, :meth:`paper_setting` and :meth:`classroom`)."""

    layout: str = "open"  #: a name in LAYOUTS or an ASCII map (legend in the module docstring)
    n_players: int = 7  #: number of agents
    #: regrowth probability per step of an empty spot with 0, 1, 2, >= 3 apples in its neighbourhood
    regrowth_probabilities: Tuple[float, ...] = MELTING_POT_REGROWTH
    regrowth_radius: float = 2.0  #: L2 radius of the neighbourhood counted for regrowth
    view_ahead: int = 9  #: rows visible ahead of the agent
    view_behind: int = 1  #: rows visible behind the agent
    view_sides: int = 5  #: columns visible on each side
    beam_length: int = 3  #: reach of the zap beam ahead
    beam_radius: int = 1  #: reach of the zap beam to each side
    zap_cooldown: int = 2  #: steps after firing during which an agent cannot fire
    #: a zapped agent is off the map in this many observations (the step it is hit and the next
    #: removal_steps - 1), and back on a spawn point in the next; Melting Pot's substrate: 5
    removal_steps: int = 4
    min_steps: int = 1000  #: the episode never ends before this step
    end_interval: int = 100  #: after min_steps, an ending is drawn every end_interval steps
    end_probability: float = 0.15  #: probability that the episode ends at each draw
    max_steps: int = 5000  #: hard cap on the episode length
    inside_spawn_players: int = 2  #: the first players start on the inside spawn points (Q)
    #: add one plane per other agent, in seat order after the viewer's (``other_1`` is seat p + 1 mod P):
    #: agents can tell who is who, as Melting Pot's colours let them
    identity_planes: bool = False
    #: add a plane of empty apple spots that can still regrow (regrowth probability > 0 for the apples now
    #: within the radius; with Melting Pot's probabilities: at least one apple within the radius)
    regrowth_plane: bool = False
    #: "planes" (float32 ``[C, rows, cols]``) or "compact" (one integer code per cell, ``[rows, cols]``)
    observation: str = "planes"
    #: random numbers behind the choice of a free spawn point (uniform either way): "scores", a score per
    #: spawn point for every player and game, the highest free one taken (the first implementation's
    #: stream: seeded runs reproduce it); "rank", one number per player and game, the free point of that
    #: rank taken (60x fewer numbers: about 5 ms less per step at batch 4096 on one CPU thread)
    respawn_draws: str = "scores"

    @classmethod
    def melting_pot(cls) -> "CommonsConfig":
        """Melting Pot 2.0's commons_harvest__open map and rules as first implemented here (4-step removal,
        the original six observation planes): the default, kept for the shipped results."""
        return cls()

    @classmethod
    def paper_setting(cls, **overrides) -> "CommonsConfig":
        """The paper's setting on Melting Pot's substrate (issue 21): Melting Pot's regrowth probabilities,
        the 11 x 11 view (9 ahead, 1 behind, 5 to each side), a zapped agent absent for 5 steps as measured
        on the substrate, identity planes of the other agents and the plane of regrowable empty spots
        (Melting Pot's pixels show both), and the lean respawn draws (a new setting has no earlier runs
        to reproduce). ``overrides`` replace fields (e.g. ``observation="compact"``)."""
        settings = dict(layout="open", regrowth_probabilities=MELTING_POT_REGROWTH, view_ahead=9, view_behind=1,
                        view_sides=5, removal_steps=5, identity_planes=True, regrowth_plane=True,
                        respawn_draws="rank")
        settings.update(overrides)
        return cls(**settings)

    @classmethod
    def classroom(cls) -> "CommonsConfig":
        """A small, fast variant for notebooks: the 16 x 9 map, a 7 x 7 view, episodes of 100+ steps."""
        return cls(layout="small", view_ahead=5, view_sides=3, min_steps=100, end_interval=20,
                   max_steps=400)
