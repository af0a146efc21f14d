"""The one API every batched environment of aa_lib follows.

An environment steps a whole batch of ``B`` independent games at once. Every
tensor has the players as its leading dimension, so two-player and seven-player
games look alike:

- ``reset(batch_size, generator)`` -> observations ``[P, B, *observation_shape]``
  (float32), each player's from its own seat, so one policy can play any seat;
- ``step(actions)`` -> :class:`StepResult` with ``obs``, ``rewards [P, B]``
  (float32), ``done [B]`` (bool) and an ``info`` dict of extra tensors;
- ``render(index, ax)`` draws game ``index`` of the batch with matplotlib.

Randomness of an episode comes from the ``torch.Generator`` given to ``reset``
and is kept for its steps, so the same seed replays the same episode.
All games of a batch end together: after ``episode_length`` steps, or, in
games with a random ending (Commons Harvest), after ``current_length`` steps,
drawn at ``reset`` and never shorter than ``episode_length`` (so a rollout of
``episode_length`` steps is always valid). Stepping after the end raises: call
``reset`` again (``episode_over`` tells).

Subclasses implement ``_reset()`` (returns the first observations),
``_step(actions)`` (returns a :class:`StepResult`), ``snapshot(index)`` (a small
dict of plain Python numbers describing one game, for drawing) and the static
``draw(snapshot, ax)``. Action checks (shape, dtype, range, NaN) live here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Optional

import torch

from .._validation import check_device, check_int, check_positive_int

__all__ = ["StepResult", "BatchedEnv", "make_generator", "JointPolicy", "collect_rewards"]


@dataclass
class StepResult:
    """What :meth:`BatchedEnv.step` returns.

    Attributes:
        obs: ``[P, B, *observation_shape]`` float32 observations after the step.
        rewards: ``[P, B]`` float32 rewards of the step just taken.
        done: ``[B]`` bool, True where the episode has just ended.
        info: extra per-game tensors (game specific, documented by each env).
    """

    obs: torch.Tensor
    rewards: torch.Tensor
    done: torch.Tensor
    info: Dict[str, torch.Tensor] = field(default_factory=dict)


def make_generator(seed: int, device="cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``."""
    gen = torch.Generator(device=check_device(device))
    gen.manual_seed(check_int(seed, "seed", -(2 ** 63), 2 ** 64 - 1))
    return gen


class BatchedEnv:
    """Base class of the batched environments (see the module docstring).

    Class attributes set by subclasses:
        n_players: number of players ``P``.
        observation_shape: shape of one player's observation of one game.
        action_kind: ``"discrete"`` or ``"continuous"``.
        n_actions: number of discrete actions (discrete games).
        action_dim, action_low, action_high: size and bounds of continuous actions.
    """

    n_players: int = 2
    observation_shape: tuple = ()
    action_kind: str = "discrete"
    n_actions: Optional[int] = None
    action_dim: Optional[int] = None
    action_low: Optional[float] = None
    action_high: Optional[float] = None
    #: absolute slack for continuous actions: values within it of a bound are clipped,
    #: values further out are rejected (see :meth:`_check_continuous_actions`).
    action_tolerance: float = 1e-4

    def __init__(self, episode_length: int, device="cpu"):
        self.episode_length = check_positive_int(episode_length, "episode_length")
        self.device = check_device(device)
        self.batch_size: Optional[int] = None
        self.generator: Optional[torch.Generator] = None
        self.t = 0  # steps taken in the current episode (a Python int: no device sync)
        # Length of the current episode: episode_length, except in games whose episodes
        # end at random (Commons Harvest), where episode_length is the shortest possible.
        self.current_length = self.episode_length

    # ------------------------------------------------------------------ public API
    def reset(self, batch_size: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Start ``batch_size`` new games; returns observations ``[P, B, *observation_shape]``."""
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.generator = self._check_generator(generator)
        self.t = 0
        self.current_length = self.episode_length
        return self._reset()

    def step(self, actions: torch.Tensor) -> StepResult:
        """Advance every game of the batch by one step (see the module docstring)."""
        if self.batch_size is None:
            raise RuntimeError(f"{type(self).__name__}.step called before reset(batch_size)")
        if self.episode_over:
            raise RuntimeError(
                f"the episode has ended after {self.t} steps; call reset() before stepping again"
            )
        if self.action_kind == "discrete":
            actions = self._check_discrete_actions(actions)
        else:
            actions = self._check_continuous_actions(actions)
        self.t += 1
        return self._step(actions)

    @property
    def episode_over(self) -> bool:
        """True once the current episode has ended (``step`` then needs a ``reset``)."""
        return self.t >= self.current_length

    def render(self, index: int = 0, ax=None):
        """Draw game ``index`` of the batch on a matplotlib axis (made if not given); returns the axis."""
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(4, 4))
        self.draw(self.snapshot(index), ax)
        return ax

    def snapshot(self, index: int = 0) -> dict:  # pragma: no cover - abstract
        """Plain-Python description of game ``index`` (what :meth:`draw` needs)."""
        raise NotImplementedError

    @staticmethod
    def draw(snapshot: dict, ax) -> None:  # pragma: no cover - abstract
        """Draw a :meth:`snapshot` on ``ax``."""
        raise NotImplementedError

    # ------------------------------------------------------------- subclass hooks
    def reward_parts(self, obs: torch.Tensor, env_actions: torch.Tensor) -> torch.Tensor:
        """Each player's reward split over the dimensions of its action, ``[P, B, T, d]``.

        Only games whose reward is a sum of one part per action dimension define it (Negotiation:
        one part per item); the item-factored Advantage Alignment rule
        (:class:`aa_lib.algos.FactoredAdvantageAlignment`) needs it. ``obs [P, B, T, *obs]`` and
        ``env_actions [P, B, T, d]`` are those stored in a trajectory; the parts sum to its rewards.
        """
        raise NotImplementedError(f"{type(self).__name__}'s reward is not split over action dimensions; "
                                  "item-factored learning rules (aa_factored) need a game such as negotiation")

    def _reset(self) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _step(self, actions: torch.Tensor) -> StepResult:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------- helpers
    def _done(self) -> torch.Tensor:
        """``[B]`` bool: every game of the batch ends together, after ``current_length`` steps."""
        return torch.full((self.batch_size,), self.t >= self.current_length, dtype=torch.bool,
                          device=self.device)

    def _rand(self, *shape: int) -> torch.Tensor:
        """Uniform [0, 1) float32 numbers from the episode's generator."""
        return torch.rand(shape, generator=self.generator, device=self.device)

    def _check_index(self, index: int) -> int:
        if self.batch_size is None:
            raise RuntimeError("call reset() before rendering")
        if not isinstance(index, int) or not 0 <= index < self.batch_size:
            raise ValueError(f"index must be an int in [0, {self.batch_size}), got {index!r}")
        return index

    def _check_generator(self, generator) -> Optional[torch.Generator]:
        if generator is None:
            return None
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        if generator.device.type != self.device.type:
            raise ValueError(
                f"generator is on {generator.device} but the environment is on {self.device}; "
                f"use torch.Generator(device={str(self.device)!r})"
            )
        return generator

    def _check_action_tensor(self, actions, expected_shape: tuple, meaning: str) -> torch.Tensor:
        """Type, device and shape checks shared by discrete and continuous actions."""
        if not isinstance(actions, torch.Tensor):
            raise TypeError(f"actions must be a torch.Tensor {meaning}, got {type(actions).__name__}")
        if actions.dim() == 0 or actions.shape[0] != self.n_players:
            got = "a scalar" if actions.dim() == 0 else f"{actions.shape[0]} players"
            raise ValueError(
                f"actions must have a leading player dimension of size {self.n_players} "
                f"(shape {expected_shape}, {meaning}), got {got} (shape {tuple(actions.shape)})"
            )
        if tuple(actions.shape) != expected_shape:
            raise ValueError(f"actions must have shape {expected_shape} ({meaning}), got {tuple(actions.shape)}")
        if actions.device != self.device:
            raise ValueError(f"actions are on {actions.device} but the environment is on {self.device}")
        return actions

    def _check_discrete_actions(self, actions) -> torch.Tensor:
        """Integer actions ``[P, B]`` in ``[0, n_actions)``; returned as int64."""
        actions = self._check_action_tensor(
            actions, (self.n_players, self.batch_size), "[n_players, batch] of action indices"
        )
        if actions.dtype == torch.bool or actions.is_floating_point() or actions.is_complex():
            raise TypeError(f"actions must be an integer tensor (torch.long), got dtype {actions.dtype}")
        low, high = torch.aminmax(actions)
        low, high = int(low), int(high)
        if low < 0 or high >= self.n_actions:
            raise ValueError(
                f"actions must lie in [0, {self.n_actions - 1}], got values from {low} to {high}"
            )
        return actions.long()

    def _check_continuous_actions(self, actions) -> torch.Tensor:
        """Float actions ``[P, B, action_dim]`` in ``[action_low, action_high]``.

        NaN or infinite values are always rejected. Values outside the bounds by
        at most ``action_tolerance`` (float rounding of a squashed sample) are
        clipped to the bounds; values further out are rejected.
        """
        actions = self._check_action_tensor(
            actions, (self.n_players, self.batch_size, self.action_dim),
            "[n_players, batch, action_dim] of floats",
        )
        if not actions.is_floating_point():
            raise TypeError(f"actions must be a floating-point tensor, got dtype {actions.dtype}")
        actions = actions.detach().float()
        low, high = torch.aminmax(actions)
        low, high = float(low), float(high)
        if low != low or high != high or not (abs(low) < float("inf") and abs(high) < float("inf")):
            raise ValueError("actions contain NaN or infinite values")
        tol = self.action_tolerance
        if low < self.action_low - tol or high > self.action_high + tol:
            raise ValueError(
                f"actions must lie in [{self.action_low}, {self.action_high}] (values within "
                f"{tol} of a bound are clipped), got values from {low} to {high}"
            )
        return actions.clamp(self.action_low, self.action_high)


# --------------------------------------------------------------------- episodes
class JointPolicy:
    """The players of an episode: maps observations ``[P, B, ...]`` to joint actions ``[P, B, ...]``.

    ``policies`` is one policy for every seat (self-play: it is called once on
    the ``P * B`` observations of all seats, so a stateful agent keeps one state
    per seat and game) or a sequence of ``n_players`` policies, one per seat.
    A policy is an object with ``act(obs [B, ...], generator=None)`` (a scripted
    agent) or a callable with the same signature; ``reset(batch_size)`` is called
    at the start of an episode when present.
    """

    def __init__(self, policies, n_players: int):
        self.n_players = n_players
        self.shared = not isinstance(policies, (list, tuple))
        self.policies = [policies] if self.shared else list(policies)
        if not self.shared and len(self.policies) != n_players:
            raise ValueError(f"expected {n_players} policies (one per player), got {len(self.policies)}")
        self._acts = []
        for i, pol in enumerate(self.policies):
            if hasattr(pol, "act"):
                self._acts.append(pol.act)
            elif callable(pol):
                self._acts.append(pol)
            else:
                raise TypeError(f"policy {i} must have an act(obs, generator) method or be callable")

    def reset(self, batch_size: int) -> None:
        """Start an episode of ``batch_size`` games (stateful agents forget their memory)."""
        size = batch_size * self.n_players if self.shared else batch_size
        for pol in self.policies:
            if hasattr(pol, "reset"):
                pol.reset(size)

    def __call__(self, obs: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        if self.shared:
            P, B = obs.shape[:2]
            actions = self._acts[0](obs.reshape(P * B, *obs.shape[2:]), generator=generator)
            return actions.reshape(P, B, *actions.shape[1:])
        return torch.stack([act(obs[i], generator=generator) for i, act in enumerate(self._acts)])


def collect_rewards(env: BatchedEnv, policies, batch_size: int,
                    generator: Optional[torch.Generator] = None,
                    on_step: Optional[Callable[[StepResult], None]] = None) -> torch.Tensor:
    """Play one episode of ``batch_size`` games; returns rewards ``[P, B, T]``.

    A small helper for tests, benchmarks and evaluation of scripted agents
    (training rollouts, which also store observations and log-probabilities,
    live in :mod:`aa_lib.training`). ``policies`` as in :class:`JointPolicy`;
    ``on_step`` is called with every :class:`StepResult`.
    """
    players = JointPolicy(policies, env.n_players)
    players.reset(batch_size)
    obs = env.reset(batch_size, generator=generator)
    rewards = []
    while True:
        result = env.step(players(obs, generator))
        rewards.append(result.rewards)
        if on_step is not None:
            on_step(result)
        obs = result.obs
        if bool(result.done.any()):
            return torch.stack(rewards, dim=-1)
