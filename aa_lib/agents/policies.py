"""Policies for every game: discrete (MLP/GRU/CNN), continuous (squashed Gaussian), memory-one.

All policies share one interface, so rollouts, losses and leagues never ask
which kind they hold:

- ``initial_state(batch_size, device)`` -> recurrent state ``[B, H]``;
- ``act(obs [B, *obs], state, generator)`` -> :class:`Action` (no gradient):
  ``latent`` (what trajectories store), ``env_action`` (what the environment
  receives), ``log_prob [B]`` and the next state;
- ``evaluate(obs [B, T, *obs], latents [B, T, ...])`` -> ``(log_probs [B, T],
  entropy [B, T])`` re-evaluating whole episodes with gradient (for the losses);
- ``sequence_distribution(obs [B, T, *obs])`` -> the distribution at every step.

:class:`ScriptedPolicy` wraps a scripted agent of :mod:`aa_lib.agents.scripted`
into the same interface (log-probabilities 0, nothing to learn).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from .distributions import CategoricalDist, SquashedGaussian
from .networks import Body, default_encoder, mlp

__all__ = ["Action", "DiscretePolicy", "ContinuousPolicy", "MemoryOnePolicy", "ScriptedPolicy",
           "make_policy"]


@dataclass
class Action:
    """Output of :meth:`act` for one time step of a batch of ``B`` games."""

    latent: torch.Tensor  #: stored in trajectories: long ``[B]`` or pre-squash ``[B, d]``
    env_action: torch.Tensor  #: passed to ``env.step``
    log_prob: torch.Tensor  #: behaviour log-probability ``[B]``
    state: torch.Tensor  #: next recurrent state ``[B, H]``


class _NeuralPolicy(nn.Module):
    """Body (encoder + GRU) and a head producing a distribution."""

    body: Body

    def initial_state(self, batch_size: int, device=None) -> torch.Tensor:
        return self.body.initial_state(batch_size, device)

    def distribution(self, features: torch.Tensor):  # pragma: no cover - abstract
        raise NotImplementedError

    def step_distribution(self, obs: torch.Tensor, state: torch.Tensor):
        """``(distribution over [B], next state)`` for one step."""
        features, state = self.body.step(obs, state)
        return self.distribution(features), state

    def sequence_distribution(self, obs: torch.Tensor):
        """Distribution with batch shape ``[B, T]`` for whole episodes ``obs [B, T, *obs]``."""
        return self.distribution(self.body.sequence(obs))

    @torch.no_grad()
    def act(self, obs: torch.Tensor, state: torch.Tensor, generator: torch.Generator | None = None) -> Action:
        dist, state = self.step_distribution(obs, state)
        latent = dist.sample(generator)
        return Action(latent, dist.to_env(latent), dist.log_prob(latent), state)

    def evaluate(self, obs: torch.Tensor, latents: torch.Tensor):
        """``(log_probs [B, T], entropy [B, T])`` of stored latents, with gradient."""
        dist = self.sequence_distribution(obs)
        return dist.log_prob(latents), dist.entropy()

    def forward(self, obs: torch.Tensor, latents: torch.Tensor):
        """Same as :meth:`evaluate` (so ``torch.func.functional_call`` can evaluate the policy)."""
        return self.evaluate(obs, latents)


class DiscretePolicy(_NeuralPolicy):
    """Categorical policy: body -> MLP head -> logits over ``n_actions``.

    Args:
        obs_shape: per-player observation shape.
        n_actions: number of discrete actions.
        hidden: layer width (paper: 64).
        encoder: ``"mlp"`` or ``"cnn"``.
        encoder_layers: linear layers before the GRU.
        recurrent: condition on the full history with a GRU (paper) or on the
            current observation only.
    """

    def __init__(self, obs_shape: Sequence[int], n_actions: int, hidden: int = 64, encoder: str = "mlp",
                 encoder_layers: int = 1, recurrent: bool = True):
        super().__init__()
        self.n_actions = int(n_actions)
        self.body = Body(obs_shape, hidden, encoder, encoder_layers, recurrent)
        self.head = mlp([hidden, hidden, self.n_actions], activate_last=False)

    def distribution(self, features: torch.Tensor) -> CategoricalDist:
        return CategoricalDist(self.head(features))


class ContinuousPolicy(_NeuralPolicy):
    """Tanh-squashed Gaussian policy on ``[low, high]^action_dim`` (Negotiation, App. B.3).

    The head's output goes through ``2.5 * tanh`` to give the latent mean (as in the
    paper); one global learned log-std per action dimension.
    """

    def __init__(self, obs_shape: Sequence[int], action_dim: int, low: float = 0.0, high: float = 5.0,
                 hidden: int = 64, encoder_layers: int = 2, recurrent: bool = True,
                 init_log_std: float = 0.0, mean_scale: float = 2.5):
        super().__init__()
        self.low, self.high, self.mean_scale = float(low), float(high), float(mean_scale)
        self.body = Body(obs_shape, hidden, "mlp", encoder_layers, recurrent)
        self.head = mlp([hidden, hidden, int(action_dim)], activate_last=False)
        self.log_std = nn.Parameter(torch.full((int(action_dim),), float(init_log_std)))

    def distribution(self, features: torch.Tensor) -> SquashedGaussian:
        mean = self.mean_scale * torch.tanh(self.head(features))
        return SquashedGaussian(mean, self.log_std, self.low, self.high)


class MemoryOnePolicy(_NeuralPolicy):
    """Tabular memory-one policy for iterated 2x2 games with one-hot observations ``[5]``.

    ``theta [5]`` are the logits of P(cooperate | start, CC, CD, DC, DD), the
    parameterisation of :mod:`aa_lib.exact.memory_one`; the action logits are
    ``(theta_s, 0)`` so that ``P(C | s) = sigmoid(theta_s)``.
    """

    def __init__(self, theta=None):
        super().__init__()
        init = torch.zeros(5) if theta is None else torch.as_tensor(theta, dtype=torch.float32).clone()
        if init.shape != (5,):
            raise ValueError(f"theta must have shape [5], got {tuple(init.shape)}")
        self.theta = nn.Parameter(init)

    def initial_state(self, batch_size: int, device=None) -> torch.Tensor:
        return torch.zeros(batch_size, 0, device=device)

    def distribution(self, features: torch.Tensor) -> CategoricalDist:
        if features.shape[-1] != 5:
            raise ValueError(f"MemoryOnePolicy needs one-hot observations [..., 5], got {tuple(features.shape)}")
        logit_c = features.float() @ self.theta.to(features.device)
        return CategoricalDist(torch.stack([logit_c, torch.zeros_like(logit_c)], -1))

    def step_distribution(self, obs, state):
        return self.distribution(obs), state

    def sequence_distribution(self, obs):
        return self.distribution(obs)


class ScriptedPolicy(nn.Module):
    """Adapter giving a scripted agent (``act(obs, generator)``, optional ``reset``) the policy interface.

    A scripted agent with a per-game memory may instead define ``initial_memory(batch_size,
    device) -> [B, k]`` and ``act_with_memory(obs, memory, generator) -> (actions, memory)``;
    the memory then travels in the rollout's recurrent state, so one agent object can play
    several seats or batches at once without mixing their memories.
    """

    def __init__(self, agent, name: str | None = None):
        super().__init__()
        if not hasattr(agent, "act"):
            raise TypeError(f"agent must have an act(obs, generator) method, got {type(agent).__name__}")
        self.agent = agent
        self.name = name or type(agent).__name__

    def initial_state(self, batch_size: int, device=None) -> torch.Tensor:
        if hasattr(self.agent, "initial_memory"):
            return self.agent.initial_memory(batch_size, device)
        if hasattr(self.agent, "reset"):
            self.agent.reset(batch_size)
        return torch.zeros(batch_size, 0, device=device)

    @torch.no_grad()
    def act(self, obs, state, generator=None) -> Action:
        if hasattr(self.agent, "act_with_memory"):
            env_action, state = self.agent.act_with_memory(obs, state, generator=generator)
        else:
            env_action = self.agent.act(obs, generator=generator)
        latent = env_action
        return Action(latent, env_action, torch.zeros(obs.shape[0], device=obs.device), state)


def make_policy(env, hidden: int = 64, recurrent: bool = True, encoder: str | None = None,
                encoder_layers: int | None = None):
    """The paper's policy for ``env`` (a :class:`~aa_lib.games.base.BatchedEnv`).

    Discrete games get a :class:`DiscretePolicy` (CNN encoder for image-shaped
    observations with more than 4x4 cells, i.e. Commons Harvest, MLP otherwise);
    continuous games a :class:`ContinuousPolicy` on ``[action_low, action_high]``.
    """
    obs_shape = tuple(env.observation_shape)
    if env.action_kind == "continuous":
        return ContinuousPolicy(obs_shape, env.action_dim, env.action_low, env.action_high, hidden,
                                encoder_layers or 2, recurrent)
    if encoder is None:
        encoder = default_encoder(obs_shape)
    return DiscretePolicy(obs_shape, env.n_actions, hidden, encoder, encoder_layers or 1, recurrent)
