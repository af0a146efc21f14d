"""One torch thread per process on the CPU: the default of the ``aa`` command, sweeps, sessions and dashboards.

The networks and batches of this library are small. torch's default intra-op
thread pool (one thread per core) then costs more in synchronisation than it
gains, and on a shared machine it competes with the other processes: on a
2-core machine with another process running, stepping the Coin Game at batch
4096 went from 9-11 M game-steps/s with one thread to 0.3 M with two (~30x
slower; ``python benchmarks/env_throughput.py`` prints both settings on your
machine). Parallelism comes from processes instead (:mod:`aa_lib.sweep` runs one
trial per process on Ray).

    set_threads(1)                 # the process from now on
    with torch_threads(1): ...     # a block, then the previous setting again

``threads=None`` leaves torch's setting alone (e.g. ``aa train --threads`` with a
larger number on a dedicated many-core machine).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Optional

import torch

from .._validation import check_positive_int

__all__ = ["DEFAULT_THREADS", "set_threads", "torch_threads"]

#: torch CPU threads used by default by the CLI, sweep workers, train_session and the dashboards.
DEFAULT_THREADS = 1


def set_threads(threads: Optional[int] = DEFAULT_THREADS) -> int:
    """Set torch's intra-op CPU threads to ``threads`` (None: leave unchanged); returns the previous number.

    Raises:
        ValueError: ``threads`` is not a positive integer (or None).
    """
    previous = torch.get_num_threads()
    if threads is not None:
        threads = check_positive_int(threads, "threads")
        if threads != previous:
            torch.set_num_threads(threads)
    return previous


@contextmanager
def torch_threads(threads: Optional[int] = DEFAULT_THREADS) -> Iterator[int]:
    """Run a block with ``threads`` torch CPU threads (None: unchanged), then restore the previous number.

    The setting is process-wide (torch has one pool), so a block running in a background
    thread (the dashboards) also changes it for the notebook's other work until it ends.
    """
    previous = set_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)
