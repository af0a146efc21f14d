"""Shared network bodies: an observation encoder followed by an optional GRU.

The paper's actors and critics (App. B.1-B.3) are "an MLP connected to a GRU,
followed by another MLP head". :class:`Body` is that encoder + GRU; policies and
critics put their own heads on top. Commons Harvest's egocentric image goes
through a small CNN encoder instead of the MLP (App. B.4 uses a 3-layer CNN).

Shapes: ``step`` takes one time step ``obs [B, *obs_shape]`` and a hidden state
``[B, H]``; ``sequence`` takes whole episodes ``obs [B, T, *obs_shape]`` from the
start (zero hidden state) and returns features ``[B, T, H]``. Both give the same
features for the same history, so rollouts act step by step while losses
re-evaluate whole sequences in one call.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

__all__ = ["mlp", "CNNEncoder", "Body", "default_encoder"]


def mlp(sizes: Sequence[int], activate_last: bool = True) -> nn.Sequential:
    """Linear layers with ReLU between them (and after the last if ``activate_last``)."""
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or activate_last:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def default_encoder(obs_shape: Sequence[int]) -> str:
    """``"cnn"`` for image observations larger than 4x4 cells (Commons Harvest), else ``"mlp"``.

    The Coin Game's 4 x 3 x 3 planes are small enough for the paper's MLP encoder.
    """
    return "cnn" if len(obs_shape) == 3 and obs_shape[1] * obs_shape[2] > 16 else "mlp"


class CNNEncoder(nn.Module):
    """Small convolutional encoder for image observations ``[C, H, W]`` -> ``[hidden]``."""

    def __init__(self, obs_shape: Sequence[int], hidden: int, channels: Sequence[int] = (16, 32)):
        super().__init__()
        c, h, w = obs_shape
        convs, prev = [], c
        for ch in channels:
            convs += [nn.Conv2d(prev, ch, kernel_size=3, padding=1), nn.ReLU()]
            prev = ch
        self.convs = nn.Sequential(*convs)
        self.project = nn.Sequential(nn.Flatten(), nn.Linear(prev * h * w, hidden), nn.ReLU())

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.project(self.convs(obs))


class Body(nn.Module):
    """Encoder (MLP or CNN) followed by an optional single-layer GRU, with a residual connection.

    The features are ``GRU(history) + encoding(current observation)``: the GRU
    summarises the whole history, and the residual path lets the heads react to
    the latest observation from the first iteration on (in the IPD, the previous
    joint action), which a freshly initialised GRU passes on only weakly.

    Args:
        obs_shape: per-player observation shape.
        hidden: width of every layer (paper: 64).
        encoder: ``"mlp"`` (observation flattened) or ``"cnn"`` (``[C, H, W]`` planes).
        encoder_layers: number of linear layers before the GRU (paper: 1 for IPD and
            Coin Game, 2 for Negotiation).
        recurrent: GRU over the history (True) or a feed-forward body (False).
    """

    def __init__(self, obs_shape: Sequence[int], hidden: int = 64, encoder: str = "mlp",
                 encoder_layers: int = 1, recurrent: bool = True):
        super().__init__()
        self.obs_shape = tuple(int(s) for s in obs_shape)
        self.hidden = int(hidden)
        self.recurrent = bool(recurrent)
        if encoder == "mlp":
            flat = math.prod(self.obs_shape)
            self.encoder = nn.Sequential(nn.Flatten(), mlp([flat] + [hidden] * encoder_layers))
        elif encoder == "cnn":
            if len(self.obs_shape) != 3:
                raise ValueError(f"encoder='cnn' needs obs_shape (C, H, W), got {self.obs_shape}")
            self.encoder = CNNEncoder(self.obs_shape, hidden)
        else:
            raise ValueError(f"encoder must be 'mlp' or 'cnn', got {encoder!r}")
        self.gru = nn.GRU(hidden, hidden, batch_first=True) if self.recurrent else None

    def initial_state(self, batch_size: int, device=None) -> torch.Tensor:
        """Zero hidden state ``[B, H]`` (``[B, 0]`` for feed-forward bodies)."""
        size = self.hidden if self.recurrent else 0
        return torch.zeros(batch_size, size, device=device)

    def _encode(self, obs: torch.Tensor) -> torch.Tensor:
        lead = obs.shape[: obs.dim() - len(self.obs_shape)]
        if tuple(obs.shape[len(lead):]) != self.obs_shape:
            raise ValueError(f"obs must have shape [..., {', '.join(map(str, self.obs_shape))}], "
                             f"got {tuple(obs.shape)}")
        flat = obs.reshape(-1, *self.obs_shape).float()
        return self.encoder(flat).reshape(*lead, self.hidden)

    def step(self, obs: torch.Tensor, state: torch.Tensor):
        """One step: ``obs [B, *obs_shape]``, ``state [B, H]`` -> ``(features [B, H], state)``."""
        x = self._encode(obs)
        if not self.recurrent:
            return x, state
        out, h = self.gru(x.unsqueeze(1), state.unsqueeze(0).contiguous())
        return out.squeeze(1) + x, h.squeeze(0)

    def sequence(self, obs: torch.Tensor) -> torch.Tensor:
        """Whole episodes from a zero state: ``obs [B, T, *obs_shape]`` -> ``[B, T, H]``."""
        x = self._encode(obs)
        if not self.recurrent:
            return x
        out, _ = self.gru(x)
        return out + x
