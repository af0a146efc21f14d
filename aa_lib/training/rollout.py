"""Rollouts: let one policy per seat play a batch of episodes and record a :class:`Trajectory`.

Every rollout starts from ``env.reset`` and runs ``horizon`` steps (the episode
length by default), so recurrent policies can be re-evaluated on whole
sequences from a zero state in the losses. Players are the leading dimension.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable, List, Optional, Sequence, Tuple

import torch

from .._validation import check_positive_int

__all__ = ["Trajectory", "collect_rollout", "collect_mixed_rollout"]


@dataclass
class Trajectory:
    """A batch of ``B`` episodes of ``T`` steps between ``P`` players.

    Attributes:
        obs: ``[P, B, T, *obs_shape]`` observation of each player before its action at t.
        actions: ``[P, B, T]`` long (discrete) or ``[P, B, T, d]`` pre-squash latents (continuous).
        env_actions: what the environment received (equal to ``actions`` for discrete games).
        log_probs: ``[P, B, T]`` behaviour log-probabilities (0 for scripted players).
        rewards: ``[P, B, T]`` reward of each player for the joint action at t.
        dones: ``[B, T]`` episode ended after step t.
        final_obs: ``[P, B, *obs_shape]`` observation after the last step (for bootstrapping).
    """

    obs: torch.Tensor
    actions: torch.Tensor
    env_actions: torch.Tensor
    log_probs: torch.Tensor
    rewards: torch.Tensor
    dones: torch.Tensor
    final_obs: torch.Tensor

    @property
    def n_players(self) -> int:
        return self.rewards.shape[0]

    @property
    def batch_size(self) -> int:
        return self.rewards.shape[1]

    @property
    def horizon(self) -> int:
        return self.rewards.shape[2]

    def obs_with_final(self) -> torch.Tensor:
        """Observations of steps ``0..T`` (the final one appended), ``[P, B, T + 1, *obs]``."""
        return torch.cat([self.obs, self.final_obs.unsqueeze(2)], dim=2)

    def games(self, start: int, end: int) -> "Trajectory":
        """The games ``start .. end`` of the batch (a view)."""
        values = {f.name: (getattr(self, f.name)[start:end] if f.name == "dones" else getattr(self, f.name)[:, start:end])
                  for f in fields(Trajectory)}
        return Trajectory(**values)

    @staticmethod
    def cat(parts: Sequence["Trajectory"]) -> "Trajectory":
        """Concatenate trajectories along the batch dimension."""
        if len(parts) == 1:
            return parts[0]
        values = {}
        for f in fields(Trajectory):
            dim = 0 if f.name == "dones" else 1
            values[f.name] = torch.cat([getattr(p, f.name) for p in parts], dim=dim)
        return Trajectory(**values)


@torch.no_grad()
def collect_rollout(env, policies: Sequence, batch_size: int, generator: torch.Generator | None = None,
                    horizon: int | None = None, on_step: Optional[Callable] = None) -> Trajectory:
    """Play ``batch_size`` episodes with ``policies[i]`` in seat ``i``.

    Args:
        env: a :class:`~aa_lib.games.base.BatchedEnv`.
        policies: one policy (see :mod:`aa_lib.agents.policies`) per seat; the same
            object may sit in several seats (self-play: it then acts once per step on
            the observations of all its seats).
        batch_size: number of parallel games B.
        generator: the rollout's randomness (environment and action sampling).
        horizon: steps to play (default ``env.episode_length``); shorter rollouts of
            long games are truncated and bootstrapped by the critic.
        on_step: optional callable receiving every :class:`~aa_lib.games.base.StepResult`
            (e.g. to read the game's ``info``, such as the Coin Game's pickups).

    Returns:
        A :class:`Trajectory` on ``env.device``.
    """
    check_positive_int(batch_size, "batch_size")
    return collect_mixed_rollout(env, [(policies, batch_size)], generator, horizon, on_step)


def _seat_slots(groups, n_players: int):
    """Who acts where: ``[(policy, [(seat, start, end), ...]), ...]``, one entry per distinct policy."""
    slots, start = {}, 0
    for g, (policies, size) in enumerate(groups):
        check_positive_int(size, f"size of group {g}")
        if len(policies) != n_players:
            raise ValueError(f"policies must hold one policy per seat ({n_players}), got {len(policies)}")
        for seat, policy in enumerate(policies):
            slots.setdefault(id(policy), (policy, []))[1].append((seat, start, start + size))
        start += size
    return list(slots.values()), start


def _scatter(parts, n_players: int) -> torch.Tensor:
    """``[P, B, ...]`` from pieces ``(seat, start, tensor)`` that tile every seat's batch."""
    seats = [sorted((start, x) for s, start, x in parts if s == seat) for seat in range(n_players)]
    return torch.stack([torch.cat([x for _, x in pieces]) if len(pieces) > 1 else pieces[0][1]
                        for pieces in seats])


@torch.no_grad()
def collect_mixed_rollout(env, groups: Sequence[Tuple[Sequence, int]], generator: torch.Generator | None = None,
                          horizon: int | None = None, on_step: Optional[Callable] = None) -> Trajectory:
    """Play several groups of games in one batch, each group with its own policy per seat.

    ``groups`` is a list of ``(policies, size)``: the games ``start .. start + size``
    of the batch (groups follow each other) have ``policies[i]`` in seat ``i``. The
    environment steps the whole batch at once, and every distinct policy acts once
    per step on all the (seat, games) slots it fills. The result equals (up to the
    order of random draws) concatenating one :func:`collect_rollout` per group.
    """
    if not groups:
        raise ValueError("groups must hold at least one (policies, size) pair")
    horizon = check_positive_int(int(horizon or env.episode_length), "horizon")
    slots, batch_size = _seat_slots(groups, env.n_players)
    device, P = env.device, env.n_players
    obs = env.reset(batch_size, generator=generator)
    states = [policy.initial_state(sum(e - s for _, s, e in where), device) for policy, where in slots]
    record: dict[str, List[torch.Tensor]] = {k: [] for k in ("obs", "latent", "env", "logp", "rew", "done")}
    for _ in range(horizon):
        pieces = {"latent": [], "env": [], "logp": []}
        for k, (policy, where) in enumerate(slots):
            own_obs = torch.cat([obs[seat, s:e] for seat, s, e in where]) if len(where) > 1 \
                else obs[where[0][0], where[0][1]:where[0][2]]
            step = policy.act(own_obs, states[k], generator)
            states[k] = step.state
            offset = 0
            for seat, s, e in where:
                for key, value in (("latent", step.latent), ("env", step.env_action), ("logp", step.log_prob)):
                    pieces[key].append((seat, s, value[offset:offset + e - s]))
                offset += e - s
        env_actions = _scatter(pieces["env"], P)
        result = env.step(env_actions)
        record["obs"].append(obs)
        record["latent"].append(_scatter(pieces["latent"], P))
        record["env"].append(env_actions)
        record["logp"].append(_scatter(pieces["logp"], P))
        record["rew"].append(result.rewards.float())
        record["done"].append(result.done)
        if on_step is not None:
            on_step(result)
        obs = result.obs
    return Trajectory(
        obs=torch.stack(record["obs"], dim=2),
        actions=torch.stack(record["latent"], dim=2),
        env_actions=torch.stack(record["env"], dim=2),
        log_probs=torch.stack(record["logp"], dim=2),
        rewards=torch.stack(record["rew"], dim=2),
        dones=torch.stack(record["done"], dim=1),
        final_obs=obs,
    )
