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
  random free spawn point (``P``) with a random orientation (Melting Pot's substrate keeps
  an agent away 5 steps: ``removal_steps=5``, as in :meth:`CommonsConfig.paper_setting`). After firing, an
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

A removed agent observes all zeros. Optional planes after these: ``identity_planes`` (one
plane per other agent, in seat order after one's own: who is who) and ``regrowth_plane``
(empty apple spots that can still regrow). ``observation="compact"`` returns instead one
small integer code per cell ``[P, B, V_rows, V_cols]`` uint8 (what a rollout should store:
24x less than six float planes), which :meth:`CommonsHarvest.expand_observation` turns
into exactly the planes (codes in :mod:`.observation`).

Presets: :meth:`CommonsConfig.melting_pot` (the default: Melting Pot's map and rules as
first implemented here, used by the shipped results), :meth:`CommonsConfig.paper_setting`
(Melting Pot's regrowth, the 11 x 11 view, 5-step removal, identity and regrowth planes)
and :meth:`CommonsConfig.classroom` (a small map for notebooks).

Speed: one occupancy grid per game is shared by moves, zaps and respawns; observations
are gathered from a per-game grid of cell codes through precomputed rotated-window
tables. On an accelerator a step never synchronises with the host (see :mod:`.dynamics`).
Seeded CPU runs reproduce those of the first implementation bit for bit
(``tests/data/commons_reference.pt``). ``info`` of :meth:`CommonsHarvest.step`:
``active`` bool ``[P, B]`` (on the map after the step), ``zapped`` bool
``[P, B]`` (removed by a zap this step), ``fired`` bool ``[P, B]`` (fired a beam
this step), ``apples`` long ``[B]`` (apples on the map).

Layouts: :data:`LAYOUTS` ``"open"`` (Melting Pot's 24 x 18 map, the default)
and ``"small"`` (a 16 x 9 classroom map); any ASCII map with the legend
``W`` wall, ``A`` apple spot, ``P`` spawn point, ``Q`` inside spawn point,
space floor, and a border of walls, works too.

Code layout (one concern a module; every name is importable from ``aa_lib.games.commons``):
:mod:`.config` the settings and the action and orientation tables, :mod:`.map` the layouts and
the static map tensors (walls, apple spots, regrowth neighbourhoods, spawn points),
:mod:`.dynamics` movement, eating, zapping, respawns, regrowth and the episode ending,
:mod:`.observation` the egocentric views, :mod:`.env` the :class:`CommonsHarvest` class that
joins them (plus its test helpers and drawing).
"""
from .config import (_DIRECTIONS, _MOVE_RELATIVE, _TURN, ACTIONS, MELTING_POT_REGROWTH,  # noqa: F401
                     OBSERVATIONS, ORIENTATIONS, RESPAWN_DRAWS, ZAP, CommonsConfig)
from .dynamics import beam_offsets, sample_episode_length
from .env import CommonsHarvest
from .map import LAYOUTS, OPEN_LAYOUT, SMALL_LAYOUT, parse_layout  # noqa: F401
from .observation import CHANNELS

__all__ = ["CommonsHarvest", "CommonsConfig", "LAYOUTS", "ACTIONS", "CHANNELS", "ORIENTATIONS",
           "sample_episode_length", "parse_layout", "beam_offsets"]
