"""The dynamics of Commons Harvest: turns and moves, eating, zapping, respawns, regrowth, episode ending.

Step order (Melting Pot's update priorities, see :mod:`aa_lib.games.commons`):
turns and moves (eating on arrival), zaps from the new positions, respawns of
agents whose removal is over, then apple regrowth. :class:`DynamicsMixin` is one
part of :class:`~aa_lib.games.commons.CommonsHarvest`.
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
