"""Argument checks shared by the whole library.

Every public function validates its inputs with these helpers so that bad input
fails early with a message naming the argument, instead of as a shape error deep
inside torch.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch


def check_gamma(gamma: float, name: str = "gamma", allow_one: bool = False) -> float:
    """Return ``gamma`` as a float after checking that it lies in [0, 1) (or [0, 1])."""
    try:
        value = float(gamma)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {type(gamma).__name__}") from None
    upper_ok = value <= 1.0 if allow_one else value < 1.0
    if not (value >= 0.0 and upper_ok) or math.isnan(value):
        interval = "[0, 1]" if allow_one else "[0, 1)"
        raise ValueError(f"{name} must lie in {interval}, got {gamma!r}")
    return value


def check_device(device, name: str = "device") -> torch.device:
    """Return ``device`` as a :class:`torch.device` after checking that torch can use it here.

    A CUDA device on a machine without a usable GPU (or a CPU-only torch build) raises a
    ``ValueError`` that says so, instead of torch's lazy-initialisation error at the first
    tensor put on it.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"{name} must be a torch device such as 'cpu' or 'cuda', got {device!r}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{name}={device!r}, but torch sees no CUDA GPU on this machine "
                             f"(torch.cuda.is_available() is False); use 'cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"{name}={device!r}, but torch sees only {torch.cuda.device_count()} CUDA device(s)")
    return dev


def check_positive_int(value: int, name: str) -> int:
    """Return ``value`` after checking it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def check_nonnegative(value, name: str) -> float:
    """Return ``value`` as a float after checking it is a real number >= 0 (not a bool, not NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)


def check_positive(value, name: str, finite: bool = False) -> float:
    """Return ``value`` as a float after checking it is a real number > 0 (and finite if asked)."""
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0
            or (finite and math.isinf(value))):
        raise ValueError(f"{name} must be a positive{' finite' if finite else ''} number, got {value!r}")
    return float(value)


def check_tensor(x, name: str) -> torch.Tensor:
    """Return ``x`` as a tensor, refusing non-numeric input with a clear message."""
    if isinstance(x, torch.Tensor):
        return x
    try:
        return torch.as_tensor(x)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"{name} must be a tensor or array-like of numbers, got {type(x).__name__}") from err


def check_last_dim(x: torch.Tensor, size: int, name: str, meaning: str = "") -> torch.Tensor:
    """Check that the last dimension of ``x`` has ``size`` entries."""
    if x.dim() == 0 or x.shape[-1] != size:
        what = f" ({meaning})" if meaning else ""
        raise ValueError(f"{name} must have shape [..., {size}]{what}, got {tuple(x.shape)}")
    return x


def check_shape(x: torch.Tensor, shape: Sequence[int], name: str) -> torch.Tensor:
    """Check that ``x`` has exactly ``shape``."""
    if tuple(x.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(x.shape)}")
    return x


def check_finite(x: torch.Tensor, name: str) -> torch.Tensor:
    """Raise if ``x`` holds NaN or infinite entries."""
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def check_probabilities(p: torch.Tensor, name: str) -> torch.Tensor:
    """Raise unless every entry of ``p`` lies in [0, 1]."""
    if torch.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError(f"{name} must hold probabilities in [0, 1]")
    return p
