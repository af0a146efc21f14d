"""The dynamics of Commons Harvest: turns and moves, eating, zapping, respawns, regrowth, episode ending.

Step order (Melting Pot's update priorities, see :mod:`aa_lib.games.commons`):
turns and moves (eating on arrival), zaps from the new positions, respawns of
agents whose removal is over, then apple regrowth. :class:`DynamicsMixin` is one
part of :class:`~aa_lib.games.commons.CommonsHarvest`.

**Speed and device synchronisation.** Movement, zap and respawn share one
occupancy grid per game (``[B, grid_cells]`` uint8: 0 free, 1 + index of the agent
standing there, ``WALL`` on walls), kept up to date by every move, removal and
respawn instead of being rebuilt. On the CPU, work that concerns few games is
skipped or done only for them (``bool(x.any())`` and ``nonzero`` cost nothing
there); on an accelerator (``self._sync_free``) the same computations run on masks
over the whole batch, so that a step never waits for the device. Random numbers are
drawn exactly as in the first implementation on the CPU (the move order only when
some agent moves, the respawn scores only when some agent comes back), so seeded
CPU runs are bit for bit the same as before; on an accelerator they are always
drawn (same distributions, a different stream).
"""
from __future__ import annotations

import math
from typing import Optional

import torch

from ..base import StepResult
from .config import _DIRECTIONS, ZAP, CommonsConfig

__all__ = ["sample_episode_length", "beam_offsets", "DynamicsMixin"]


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


class DynamicsMixin:
    """Reset and step of :class:`~aa_lib.games.commons.CommonsHarvest` (state in its class docstring)."""

    def _build_beam(self) -> None:
        """Beam cells of every (cell, orientation), ``[4 (HW + 1), n_rays * ray_length]`` grid cells.

        Row ``cell * 4 + orientation``; rays are ordered outwards and padded by repeating
        their last cell (``_beam_valid [n_rays, ray_length]`` masks the padding); cells
        beyond the map's edge are ``_edge`` (a wall: the border of the map is walls, so
        a ray meets a wall first anyway).
        """
        rays = beam_offsets(self.config)
        R, L = len(rays), max(len(r) for r in rays)
        H, W, dev = self.height, self.width, self.device
        rows = torch.arange(H, device=dev).repeat_interleave(W)[:, None, None]  # [HW, 1, 1]
        cols = torch.arange(W, device=dev).repeat(H)[:, None, None]
        padded = [ray + [ray[-1]] * (L - len(ray)) for ray in rays]
        ahead = torch.tensor([[a for a, _ in ray] for ray in padded], device=dev)  # [R, L]
        right = torch.tensor([[x for _, x in ray] for ray in padded], device=dev)
        table = torch.full((H * W + 1, 4, R * L), self._outside, dtype=torch.long, device=dev)
        for o in range(4):
            (fr, fc), (rr, rc) = _DIRECTIONS[o], _DIRECTIONS[(o + 1) % 4]
            r = rows + ahead * fr + right * rr
            q = cols + ahead * fc + right * rc
            inside = (r >= 0) & (r < H) & (q >= 0) & (q < W)
            table[:-1, o] = torch.where(inside, r * W + q, self._edge).reshape(H * W, R * L)
        self._beam_cells = table.view(-1, R * L)
        self._beam_shape = (R, L)
        self._beam_valid = torch.tensor([[k < len(r) for k in range(L)] for r in rays], device=dev)

    # ------------------------------------------------------------------ buffers
    def _allocate(self) -> None:
        """Buffers reused by every step of a batch of this size (made at reset)."""
        P, B, dev = self.n_players, self.batch_size, self.device
        if getattr(self, "_allocated_for", None) == (B, dev):
            return
        self._allocated_for = (B, dev)
        G = self.grid_cells
        self._games = torch.arange(B, device=dev)
        self._grid_offsets = self._games * G  # [B]: start of each game's row in a flattened grid
        self._flat_games = self._games.repeat(P)  # [P B]: the game of each flat (player, game) index
        self._occupancy = torch.empty(B, G, dtype=torch.uint8, device=dev)
        self._zapped_buffer = torch.zeros(P * B + 1, dtype=torch.bool, device=dev)  # last entry: a dump
        # constant sources of scatters (a scatter from a tensor is several times faster than from a scalar)
        self._agent_codes = self._player_codes.expand(P, B).contiguous()  # [P, B] uint8: 1 + player
        self._grid_zeros = torch.zeros(P, B, dtype=torch.uint8, device=dev)
        self._false = torch.zeros(B, P, dtype=torch.bool, device=dev)
        self._hit_true = torch.ones(P * B * self._beam_cells.shape[1], dtype=torch.bool, device=dev)
        self._allocate_view()

    def _rebuild_occupancy(self) -> None:
        """The occupancy grid from ``positions`` and ``active`` (after a reset or a change from outside)."""
        self._occupancy.copy_(self._occupancy_template.expand_as(self._occupancy))
        self._occupy(self.active, self.positions)

    def _occupy(self, mask: torch.Tensor, cells: torch.Tensor) -> None:
        """Mark agents ``mask [P, B]`` as standing on ``cells [P, B]`` in the occupancy grid."""
        where = self._grid_offsets + torch.where(mask, cells, self._dump)
        self._occupancy.view(-1).scatter_(0, where.view(-1), self._agent_codes.view(-1))

    def _vacate(self, mask: torch.Tensor, cells: torch.Tensor) -> None:
        """Free the cells ``cells [P, B]`` of agents ``mask [P, B]`` in the occupancy grid."""
        where = self._grid_offsets + torch.where(mask, cells, self._dump)
        self._occupancy.view(-1).scatter_(0, where.view(-1), self._grid_zeros.view(-1))

    def _eat(self, eaters: torch.Tensor) -> torch.Tensor:
        """Agents in ``eaters`` [P, B] eat the apple on their cell if any; returns rewards [P, B]."""
        spot = self._cell_to_spot.index_select(0, self.positions.view(-1)).view(self.positions.shape).t()
        eaten = eaters & self.apples.gather(1, spot).t()  # the dummy spot S (not a spot) never holds an apple
        self.apples.scatter_(1, torch.where(eaten.t(), spot, self.n_spots), self._false)  # S: only False
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
        self._allocate()
        return self._observe()

    def _step(self, actions: torch.Tensor) -> StepResult:
        was_active = self.active
        actions = torch.where(was_active, actions, 0)  # removed agents do nothing
        rewards = self._move(actions)
        fired, zapped = self._zap(actions)
        respawned = self._respawn(was_active)
        if respawned is not None:
            rewards = rewards + self._eat(respawned)
        counts = self._regrow()
        self.returns = self.returns + rewards
        info = {"active": self.active, "zapped": zapped, "fired": fired,
                "apples": self.apples.sum(1)}
        return StepResult(self._observation(counts), rewards, self._done(), info)

    def _move(self, actions: torch.Tensor) -> torch.Tensor:
        """Turns, then moves one agent at a time in a random order per game; returns apples eaten [P, B].

        A move succeeds when the target cell is free in the occupancy grid at the agent's turn (walls
        are never free); the grid follows every successful move, so a later agent may enter a cell
        just left. On the CPU the order matters only in games where a wanted cell is occupied or
        wanted twice ("contested"): elsewhere every move to a free cell succeeds whatever the order,
        so only contested games go through the agents one at a time.
        """
        P, B = self.n_players, self.batch_size
        flat_actions = actions.view(-1)
        turn = self._turn.index_select(0, flat_actions).view(P, B)  # index_select: fast small-table lookups
        self.orientations = (self.orientations + turn) & 3  # & 3 == mod 4, also for -1
        relative = self._move_relative.index_select(0, flat_actions).view(P, B)  # -1 = no move
        wants = relative >= 0
        step = self._cell_steps.index_select(0, ((self.orientations + relative) & 3).view(-1)).view(P, B)
        if not self._sync_free and not bool(wants.any()):
            return torch.zeros(P, B, device=self.device)
        scores = self._rand(B, P)  # the move order: argsort of these scores in each game
        target = torch.where(wants, self.positions + step, self.positions)
        if self._sync_free:
            moved = self._move_in_order(scores, target, wants, self._games)
        else:
            moved = self._move_uncontested(scores, target, wants)
        return self._eat(moved)

    def _move_uncontested(self, scores: torch.Tensor, target: torch.Tensor, wants: torch.Tensor) -> torch.Tensor:
        """CPU moves: all at once in uncontested games, in order in contested ones; returns who moved."""
        P = self.n_players
        grid, offsets, dump = self._occupancy.view(-1), self._grid_offsets, self._grid_offsets + self._dump
        there = offsets + target
        occupant = grid.index_select(0, there.view(-1)).view(P, -1)
        free = wants & (occupant == 0)
        contested = wants & (occupant != 0) & (occupant != self.WALL)  # wants a cell where an agent stands
        claims = torch.where(free, there, dump).view(-1)  # wanted twice: write every claim, read back, restore
        grid.scatter_(0, claims, self._agent_codes.view(-1))
        contested |= free & (grid.index_select(0, there.view(-1)).view(P, -1) != self._player_codes)
        grid.scatter_(0, claims, self._grid_zeros.view(-1))
        games = contested.any(0)
        moved = free & ~games
        new = torch.where(moved, target, self.positions)
        # every agent leaves its cell and takes its new one (the same for most): fewer ops than masks
        grid.scatter_(0, (offsets + self.positions).view(-1), self._grid_zeros.view(-1))
        grid.scatter_(0, (offsets + new).view(-1), self._agent_codes.view(-1))
        self._occupancy[:, self._outside] = 0  # removed agents wrote there
        self.positions = new
        if bool(games.any()):
            games = games.nonzero().squeeze(1)
            in_order = self._move_in_order(scores.index_select(0, games), target, wants, games)
            moved = moved.index_copy(1, games, in_order)
        return moved

    def _move_in_order(self, scores: torch.Tensor, target: torch.Tensor, wants: torch.Tensor,
                       games: torch.Tensor) -> torch.Tensor:
        """Moves of the games ``games [n]`` one agent at a time, in the order of ``scores [n, P]``.

        Updates ``positions`` and the occupancy grid; returns who moved ``[P, n]``.
        """
        P = self.n_players
        order = scores.argsort(1).t()  # [P, n]: who moves k-th in each game
        offsets = self._grid_offsets.index_select(0, games)
        positions = self.positions.index_select(1, games)
        # the movers in their order (row k: the k-th mover of every game), as flat cells of the grid
        here = positions.gather(0, order) + offsets
        there = target.index_select(1, games).gather(0, order) + offsets
        wanting = wants.index_select(1, games).gather(0, order)
        codes = (order + 1).to(torch.uint8)
        moved = torch.empty_like(wanting)
        grid, dump = self._occupancy.view(-1), offsets + self._dump
        # per mover: leave `here` (write 0), enter `there` (write its code); both to the dump if it cannot move
        cells = torch.stack([here, there], 1)  # [P, 2, n]
        values = torch.stack([torch.zeros_like(codes), codes], 1)
        for k in range(P):  # one agent per game at a time; all games at once
            ok = wanting[k] & (grid.index_select(0, there[k]) == 0)
            grid.scatter_(0, torch.where(ok, cells[k], dump).view(-1), values[k].view(-1))
            moved[k] = ok
        positions = positions.scatter(0, order, torch.where(moved, there, here) - offsets)
        self.positions = self.positions.index_copy(1, games, positions)
        return moved.scatter(0, order, moved)

    def _zap(self, actions: torch.Tensor):
        """Cooldowns and beams; zapped agents leave the map. Returns (fired, zapped) bool [P, B]."""
        c = self.config
        P, B = self.n_players, self.batch_size
        trying = (actions == ZAP) & self.active
        fired = trying & (self.cooldown == 0)
        # Melting Pot's timer: a cooling agent counts down instead of firing; firing resets it.
        cooling = self.active & (self.cooldown > 0)
        self.cooldown = torch.where(cooling, self.cooldown - 1, torch.where(fired, c.zap_cooldown, self.cooldown))
        self._last_beam = None
        if self._sync_free:  # every agent's beam, masked by `fired`
            shooters, firing = None, fired.view(-1)
        else:
            if not bool(fired.any()):
                return fired, torch.zeros_like(fired)
            shooters = fired.view(-1).nonzero().squeeze(1)  # flat (player, game) indices of the shooters
            firing = None
        games, cells, lit, hit, there = self._beams(shooters, firing)
        # hit agents (1 + index in the occupancy grid) are zapped; every other cell writes to the dump entry
        where = torch.where(hit, (there.long() - 1) * B + games[:, None], P * B)
        zapped_buffer = self._zapped_buffer
        zapped_buffer.zero_()
        zapped_buffer.scatter_(0, where.view(-1), self._hit_true[: where.numel()])
        zapped = zapped_buffer[: P * B].view(P, B).clone()
        self._last_beam = (games, cells, lit)
        self.active = self.active & ~zapped
        self._vacate(zapped, self.positions)
        self.positions = torch.where(zapped, self._outside, self.positions)
        self.removal_timer = torch.where(zapped, c.removal_steps, self.removal_timer)
        return fired, zapped

    def _beams(self, shooters: Optional[torch.Tensor], firing: Optional[torch.Tensor]):
        """Cells reached by the beams of ``shooters`` (flat (player, game) indices; None: every agent,
        with ``firing [P B]`` the mask of those who fire).

        Returns ``games [n]``, ``cells [n, R L]``, ``lit [n, R L]`` (cells the beam reaches: a ray
        stops at the first wall, which it does not light, or at the first agent, which it hits),
        ``hit [n, R L]`` (lit cells holding an agent) and ``there [n, R L]`` (the occupancy of the cells).
        """
        R, L = self._beam_shape
        key = (self.positions * 4 + self.orientations).view(-1)
        if shooters is None:
            games = self._flat_games
        else:
            key, games = key.index_select(0, shooters), self._flat_games.index_select(0, shooters)
        cells = self._beam_cells.index_select(0, key)  # [n, R L]
        flat = (self._grid_offsets.index_select(0, games)[:, None] + cells).view(-1)
        there = self._occupancy.view(-1).index_select(0, flat).view(-1, R, L)
        valid = self._beam_valid
        stopper = (there != 0) & valid  # a wall or an agent
        blocked_before = (stopper.cumsum(-1) - stopper.long()) > 0
        lit = valid & ~blocked_before & (there != self.WALL)
        if firing is not None:
            lit &= firing[:, None, None]
        hit = lit & (there != 0)
        return games, cells, lit.view(-1, R * L), hit.view(-1, R * L), there.view(-1, R * L)

    def _respawn(self, was_active: torch.Tensor) -> Optional[torch.Tensor]:
        """Count down removals begun in earlier steps; agents whose time is up reappear on free spawn points.

        Returning agents, in player order, each take a uniformly drawn free spawn point (see
        :meth:`_choose_spawns`), then face a random direction. Returns the returning agents ``[P, B]``
        (None on the CPU when nobody returns).
        """
        waiting = ~was_active
        self.removal_timer = torch.where(waiting, self.removal_timer - 1, self.removal_timer)
        back = waiting & (self.removal_timer == 0)
        if not self._sync_free and not bool(back.any()):
            return None
        P, B = self.n_players, self.batch_size
        spawn = self._spawn
        if self.config.respawn_draws == "scores":
            draws = self._rand(P, B, len(spawn))  # the same numbers as P draws of [B, n_spawn]
        else:
            draws = self._rand(P, B)
        if self._sync_free:
            taken = self._occupancy[:, spawn] != 0  # [B, n_spawn]: an agent stands there
            choice = self._choose_spawns(draws, taken, back)
            self.positions = torch.where(back, spawn[choice], self.positions)
        else:  # only the games where someone comes back
            games = back.any(0).nonzero().squeeze(1)
            taken = self._occupancy.index_select(0, games)[:, spawn] != 0
            back_here = back.index_select(1, games)
            choice = self._choose_spawns(draws.index_select(1, games), taken, back_here)
            here = torch.where(back_here, spawn[choice], self.positions.index_select(1, games))
            self.positions = self.positions.index_copy(1, games, here)
        turns = torch.randint(4, back.shape, generator=self.generator, device=self.device)
        self.orientations = torch.where(back, turns, self.orientations)
        self.active = self.active | back
        self._occupy(back, self.positions)
        return back

    def _choose_spawns(self, draws: torch.Tensor, taken: torch.Tensor, back: torch.Tensor) -> torch.Tensor:
        """Spawn point of each player ``[P, n]``: returning players, in player order, each take a free point.

        ``taken [n, n_spawn]`` bool, ``back [P, n]`` bool (only returning players take a point).
        ``draws`` uniform: ``[P, n, n_spawn]`` scores (respawn_draws "scores": the free point of highest
        score; a taken one scores 2 less, so it is chosen only if all are taken) or ``[P, n]`` (``"rank"``:
        the free point of rank floor(draw * number of free points), in map order). On the CPU, only
        games where several players return at once go through the players one at a time.
        """
        if self._sync_free:
            return self._choose_in_order(draws, taken, back)
        choice = self._choose_each(draws, taken)  # right wherever at most one player returns
        several = back.sum(0) > 1
        if bool(several.any()):
            games = several.nonzero().squeeze(1)
            choice[:, games] = self._choose_in_order(draws[:, games], taken[games], back[:, games])
        return choice

    @staticmethod
    def _choose_each(draws: torch.Tensor, taken: torch.Tensor) -> torch.Tensor:
        """Every player's choice ``[P, n]`` among the points free in ``taken [n, n_spawn]``."""
        if draws.dim() == 3:
            return (draws - 2.0 * taken.float()[None]).argmax(-1)
        rank = (~taken).cumsum(1)  # [n, n_spawn]: free points up to each point
        free = rank[:, -1]
        k = torch.minimum((draws * free).long(), free - 1)  # [P, n]
        return (rank[None] > k[..., None]).to(torch.uint8).argmax(-1)  # the (k + 1)-th free point

    def _choose_in_order(self, draws: torch.Tensor, taken: torch.Tensor, back: torch.Tensor) -> torch.Tensor:
        """Choices ``[P, n]`` of the returning players in player order, each taking its point before the
        next: in round j, the j-th returning player of every game (as many rounds as returns in a game)."""
        P, n = back.shape
        taken = taken.clone()
        choice = torch.zeros(P, n, dtype=torch.long, device=back.device)  # non-returning players: unused
        points = torch.arange(taken.shape[-1], device=taken.device)
        games = torch.arange(n, device=back.device)
        turn = back.long().cumsum(0) * back  # [P, n]: 1 for the first returning player of a game, 2 ...
        rounds = P if self._sync_free else int(back.sum(0).max())
        for j in range(1, rounds + 1):
            now = turn == j
            some = now.any(0)  # [n]: games with a j-th returning player
            who = now.to(torch.uint8).argmax(0)  # [n]: that player (0 where none)
            if draws.dim() == 3:
                mine = draws.gather(0, who[None, :, None].expand(1, n, draws.shape[-1]))
            else:
                mine = draws.gather(0, who[None])
            pick = self._choose_each(mine, taken)[0]  # [n]
            choice[who, games] = torch.where(some, pick, choice[who, games])
            taken |= some[:, None] & (points == pick[:, None])
        return choice

    def _regrow(self) -> torch.Tensor:
        """Each empty spot regrows with the probability of its neighbour count (L2 radius).

        Returns the neighbour counts after the regrowth ``[B, n_spots]`` (int32), capped at the last entry of
        ``regrowth_probabilities`` (more neighbours change nothing).
        """
        S = self.n_spots
        apples = self.apples[:, :S]
        counts = self._capped_counts(apples)
        probability = self._regrowth.index_select(0, counts.view(-1)).view(counts.shape)
        grow = (self._rand(self.batch_size, S) < probability) & ~apples
        apples |= grow
        if self.config.regrowth_plane:  # the observation shows where an apple can regrow now
            counts = self._capped_counts(apples)
        return counts

    def _capped_counts(self, apples: torch.Tensor) -> torch.Tensor:
        """``[B, n_spots]`` int32 neighbour counts of ``apples [B, n_spots]`` (bool), capped at the last
        entry of the regrowth probabilities. The float product is exact (sums of a few ones); bool goes
        to float through uint8, several times faster than directly."""
        counts = torch.mm(apples.view(torch.uint8).float(), self._adjacency)
        return counts.clamp_(max=len(self._regrowth) - 1).to(torch.int32)
