"""Atomic, safe checkpoints.

A checkpoint is written to a temporary file in the same folder and renamed over
the target, so a crash never leaves a half-written file. Loading uses
``torch.load(..., weights_only=True)``: only tensors, dicts, lists, strings and
numbers are accepted, so a shared checkpoint cannot run code when opened.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

__all__ = ["save_checkpoint", "load_checkpoint"]


def save_checkpoint(state: dict, path) -> Path:
    """Write ``state`` (plain tensors/containers/numbers) to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def load_checkpoint(path, map_location="cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return torch.load(path, map_location=map_location, weights_only=True)
