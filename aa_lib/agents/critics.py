"""Critics: a state-value head (and optionally Q-values) on the shared body, plus an EMA target.

The paper (App. B.3-B.4) concatenates the time step to the encoder's output
before the critic head, since the value of a state of a fixed-length game
depends on how many steps remain. :class:`Critic` does the same with the
fraction of the episode elapsed, ``t / episode_length``.

Shapes: ``forward(obs [B, T, *obs], times [T]) -> values [B, T]``;
``q_values(obs, times) -> [B, T, n_actions]`` when built with ``n_actions``
(LOQA's opponent model, eq. 53, needs Q-values of every opponent action).
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch
from torch import nn

from .networks import Body, default_encoder, mlp

__all__ = ["Critic", "EmaTarget", "make_critic"]


class Critic(nn.Module):
    """Value critic ``V(history, t)`` with an optional Q head ``Q(history, t, own action)``.

    Args:
        obs_shape: per-player observation shape.
        hidden: layer width (paper: 64).
        encoder, encoder_layers, recurrent: as in :class:`~aa_lib.agents.networks.Body`.
        n_actions: if given, also a Q head over the player's own actions.
        value_scale: the heads' outputs are multiplied by this constant, the typical
            size of a return (e.g. ``sum_t gamma^t`` over an episode), so that Adam's
            parameter steps of size ``lr`` move the values at the scale of the returns.
    """

    def __init__(self, obs_shape: Sequence[int], hidden: int = 64, encoder: str = "mlp",
                 encoder_layers: int = 1, recurrent: bool = True, n_actions: int | None = None,
                 value_scale: float = 1.0):
        super().__init__()
        self.value_scale = float(value_scale)
        self.body = Body(obs_shape, hidden, encoder, encoder_layers, recurrent)
        self.value_head = mlp([hidden + 1, hidden, 1], activate_last=False)
        self.n_actions = n_actions
        self.q_head = mlp([hidden + 1, hidden, n_actions], activate_last=False) if n_actions else None

    def _features(self, obs: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        features = self.body.sequence(obs)  # [B, T, H]
        if times.shape != features.shape[1:2]:
            raise ValueError(f"times must have shape [{features.shape[1]}], got {tuple(times.shape)}")
        t = times.to(features.dtype).view(1, -1, 1).expand(features.shape[0], -1, 1)
        return torch.cat([features, t], dim=-1)

    def forward(self, obs: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """State values ``[B, T]`` of whole episodes ``obs [B, T, *obs]`` at ``times [T]``."""
        return self.value_scale * self.value_head(self._features(obs, times)).squeeze(-1)

    def values_and_q(self, obs: torch.Tensor, times: torch.Tensor):
        """``(values [B, T], q [B, T, n_actions] or None)`` from one pass of the body."""
        features = self._features(obs, times)
        values = self.value_scale * self.value_head(features).squeeze(-1)
        q = self.value_scale * self.q_head(features) if self.q_head is not None else None
        return values, q


class EmaTarget(nn.Module):
    """A slowly moving copy of a network: ``target <- decay * target + (1 - decay) * online``.

    Table 1-2: "Q-Value Training Target EMA Gamma 0.99".
    """

    def __init__(self, online: nn.Module):
        super().__init__()
        self.network = copy.deepcopy(online)
        for p in self.network.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, online: nn.Module, decay: float) -> None:
        for target, source in zip(self.network.parameters(), online.parameters()):
            target.mul_(decay).add_(source.detach(), alpha=1.0 - decay)

    def forward(self, *args, **kwargs):
        return self.network(*args, **kwargs)


def make_critic(env, hidden: int = 64, recurrent: bool = True, q_values: bool = False,
                encoder: str | None = None, encoder_layers: int | None = None, value_scale: float = 1.0) -> Critic:
    """The paper's critic for ``env``; ``q_values`` adds a Q head (discrete games only)."""
    obs_shape = tuple(env.observation_shape)
    if q_values and env.action_kind != "discrete":
        raise ValueError("q_values=True needs a discrete-action game (LOQA is intractable for "
                         "continuous actions, paper App. A.4)")
    if encoder is None:
        encoder = default_encoder(obs_shape)
    layers = encoder_layers or (2 if env.action_kind == "continuous" else 1)
    return Critic(obs_shape, hidden, encoder, layers, recurrent, env.n_actions if q_values else None, value_scale)
