"""One torch thread by default: the helper, train_session (and so the dashboards) and the aa command."""
import pytest
import torch

from aa_lib.training.session import train_session
from aa_lib.training.threads import DEFAULT_THREADS, set_threads, torch_threads


class _SeeThreads:
    """Callback recording torch's thread count at every iteration."""

    def __init__(self):
        self.seen = []

    def on_iteration_end(self, trainer, metrics):
        self.seen.append(torch.get_num_threads())


def test_torch_threads_sets_and_restores():
    torch.set_num_threads(2)
    with torch_threads(1) as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with torch_threads(None):
        assert torch.get_num_threads() == 2
    assert set_threads(1) == 2 and torch.get_num_threads() == 1
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="threads must be a positive integer"):
            set_threads(bad)


@pytest.mark.parametrize("threads, inside", [(DEFAULT_THREADS, 1), (None, 2), (2, 2)])
def test_train_session_trains_on_one_thread_by_default(threads, inside):
    torch.set_num_threads(2)  # e.g. torch's default on a 2-core machine
    seen = _SeeThreads()
    train_session("ipd", "naive", iterations=2, batch_size=8, device="cpu", callbacks=[seen], threads=threads,
                  overrides={"game_options.episode_length": 3})
    assert seen.seen == [inside, inside]
    assert torch.get_num_threads() == 2  # restored for the caller (a notebook's other cells)


def test_aa_commands_default_to_one_thread():
    from aa_lib.cli import build_parser

    parser = build_parser()
    for argv in (["train", "ipd"], ["league", "ipd", "--scripted", "AC"], ["probe", "ckpt.pt"],
                 ["sweep", "ipd"]):
        assert parser.parse_args(argv).threads == 1, argv
    assert parser.parse_args(["train", "ipd", "--threads", "3"]).threads == 3
