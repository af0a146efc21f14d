"""Shared test set-up: a non-interactive matplotlib backend and float64 defaults where asked."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Run every test on one torch thread.

    The tests use small networks and batches, which run fastest on one thread;
    two threads oversubscribe a busy 2-core machine (measured: about 3x slower
    for the training tests when other work shares the cores).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
