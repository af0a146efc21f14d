"""Argument checks shared by the whole library.

Every public function validates its inputs with these helpers so that bad input
fails early with a message naming the argument, instead of as a shape error deep
inside torch.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Iterable, Optional, Sequence

import torch


def _is_number(value) -> bool:
    """A real number: a Python or NumPy int/float, or a one-element torch tensor or NumPy array
    of a real dtype; never a bool or a string."""
    if isinstance(value, torch.Tensor):
        return value.numel() == 1 and value.dtype != torch.bool and not value.dtype.is_complex
    if isinstance(value, (bool, str, bytes)):
        return False
    if isinstance(value, numbers.Real):  # numpy.bool_ is not a numbers.Real
        return True
    dtype = getattr(value, "dtype", None)  # a one-element NumPy array
    return getattr(value, "size", None) == 1 and getattr(dtype, "kind", "") in ("i", "u", "f")


def _is_integer(value) -> bool:
    """A Python or NumPy integer (never a bool, never a float such as 3.0)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _interval(low, high, low_open: bool, high_open: bool) -> str:
    """``[0, 1]``, ``(0, inf)``, ... as the messages write an allowed range."""
    def bound(x, default):
        return default if x is None else (f"{x:g}" if isinstance(x, float) else str(x))
    return (("(" if low_open or low is None else "[") + bound(low, "-inf") + ", " + bound(high, "inf")
            + (")" if high_open or high is None else "]"))


def check_number(value, name: str, low: Optional[float] = None, high: Optional[float] = None, *,
                 low_open: bool = False, high_open: bool = False, finite: bool = True) -> float:
    """Return ``value`` as a float after checking it is a real number in the given range.

    ``low``/``high`` are the bounds (None: unbounded), included unless ``low_open``/``high_open``.
    NaN is always refused, infinities unless ``finite=False``. A value that is not a real number
    (a string, a bool, None, a tensor of several entries) raises a ``TypeError``; a number out of
    range a ``ValueError`` whose message gives the range, e.g. ``gamma must be in [0, 1], got 1.5``.
    """
    if not _is_number(value):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    x = float(value)
    if math.isnan(x) or (finite and math.isinf(x)):
        what = "a finite number" if finite else "a number (not NaN)"
        if low is not None or high is not None:
            what += f" in {_interval(low, high, low_open, high_open)}"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    below = low is not None and (x < low or (low_open and x == low))
    above = high is not None and (x > high or (high_open and x == high))
    if below or above:
        raise ValueError(f"{name} must be in {_interval(low, high, low_open, high_open)}, got {value!r}")
    return x


def check_int(value, name: str, low: Optional[int] = None, high: Optional[int] = None) -> int:
    """Return ``value`` as an int after checking it is an integer (not a bool) in ``[low, high]``.

    A non-integer raises a ``TypeError`` (``iterations='5'``, ``batch_size=2.0``), an integer out of
    range a ``ValueError`` naming the range (``n_epochs must be an integer >= 1, got 0``).
    """
    if not _is_integer(value):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            allowed = f">= {low}"
        elif low is None:
            allowed = f"<= {high}"
        else:
            allowed = f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an integer {allowed}, got {value!r}")
    return int(value)


def check_bool(value, name: str) -> bool:
    """Return ``value`` after checking it is True or False (not 0/1, not a string)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return value


def check_choice(value, name: str, choices: Iterable[Any]) -> Any:
    """Return ``value`` after checking it is one of ``choices`` (the message lists them)."""
    choices = tuple(choices)
    try:
        known = value in choices
    except TypeError:  # an unhashable value against a dict's keys
        known = False
    if not known:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_gamma(gamma: float, name: str = "gamma", allow_one: bool = False) -> float:
    """Return ``gamma`` as a float after checking that it lies in [0, 1) (or [0, 1])."""
    return check_number(gamma, name, 0.0, 1.0, high_open=not allow_one)


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
        found = "NaN" if torch.isnan(p).any() else f"values from {float(p.min()):g} to {float(p.max()):g}"
        raise ValueError(f"{name} must hold probabilities in [0, 1], got {found}")
    return p
