"""TensorBoard logs of a training run (``aa train --tensorboard``), written with ``torch.utils.tensorboard``.

    trainer = Trainer(config, [TensorBoardLogger("runs/ipd_aa/tensorboard")])
    trainer.train()
    # then, in a shell:  tensorboard --logdir runs

:class:`TensorBoardLogger` writes every metric the trainer logs at every
iteration, as the scalar ``<prefix><metric>`` at step ``metrics["iteration"]``
(0-based), the same numbers as ``metrics.csv`` (TensorBoard keeps them as
float32). For the AA family these include the cheap diagnostics of the AA
term that the rule computes anyway: ``weight_abs_mean`` (mean ``|A^1_t + beta
shaping_t|``, eq. 8) next to ``advantage_abs_mean`` (mean ``|A^1_t|``).

With ``alignment_every=k`` it also logs, every ``k`` iterations, the gradient
diagnostics of :func:`aa_lib.training.diagnostics.shaping_gradient_alignment`
(norms of the policy-gradient and AA-term gradients and their cosine, for each
estimator) as ``aa_alignment/<estimator>/<name>``. They cost one extra batch and
a few backward passes, and are computed with the trainer's random generators
saved and restored, so the training run itself is unchanged (tested).

A resumed run (its log directory already holds events up to the checkpoint and
maybe beyond) opens its writer with ``purge_step`` = the checkpoint's iteration,
so TensorBoard drops the stale events of the interrupted run after that step.

``tensorboard`` is an optional dependency (in the ``dev`` extra); a clear
ImportError says how to install it.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Optional

import torch

from .callbacks import Callback

__all__ = ["TensorBoardLogger"]


def _summary_writer(log_dir: Path, purge_step: int):
    """A ``torch.utils.tensorboard.SummaryWriter`` (ImportError naming the package when it is missing)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:  # torch.utils.tensorboard imports the tensorboard package
        raise ImportError("TensorBoard logging needs the tensorboard package: pip install tensorboard "
                          "(it is in aa_lib's dev extra)") from err
    return SummaryWriter(str(log_dir), purge_step=purge_step, flush_secs=30)


@contextmanager
def _randomness_kept(trainer):
    """Run a block, then put every torch generator of ``trainer`` and torch's global RNG back as before."""
    generators = {name: g for name, g in vars(trainer).items() if isinstance(g, torch.Generator)}
    states = {name: g.get_state() for name, g in generators.items()}
    devices = [trainer.device] if trainer.device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        for name, g in generators.items():
            g.set_state(states[name])


class TensorBoardLogger(Callback):
    """Write the trainer's metrics (and optionally the AA-term gradient diagnostics) to TensorBoard.

    Args:
        log_dir: folder of the event files (made if missing); ``tensorboard --logdir`` on it or a parent.
        prefix: put before every tag (e.g. ``"train/"``).
        alignment_every: every this many iterations, log
            :func:`~aa_lib.training.diagnostics.shaping_gradient_alignment` (needs a self-play trainer
            of an AA-family rule with one learner); None (default): off.
        alignment_batches: fresh batches averaged by each of those diagnostics.
    """

    def __init__(self, log_dir, prefix: str = "", alignment_every: Optional[int] = None,
                 alignment_batches: int = 1):
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a string, got {type(prefix).__name__}")
        if alignment_every is not None and (isinstance(alignment_every, bool) or not isinstance(alignment_every, int)
                                            or alignment_every < 1):
            raise ValueError(f"alignment_every must be a positive int or None, got {alignment_every!r}")
        if isinstance(alignment_batches, bool) or not isinstance(alignment_batches, int) or alignment_batches < 1:
            raise ValueError(f"alignment_batches must be a positive int, got {alignment_batches!r}")
        self.log_dir, self.prefix = Path(log_dir), prefix
        self.alignment_every, self.alignment_batches = alignment_every, alignment_batches
        self.writer = None

    def on_train_start(self, trainer) -> None:
        if self.alignment_every is not None:
            self._check_alignment(trainer)
        if self.writer is None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self.writer = _summary_writer(self.log_dir, purge_step=trainer.iteration)

    def on_iteration_end(self, trainer, metrics: Dict[str, float]) -> None:
        if self.writer is None:  # used without on_train_start (trainer.step() called by hand)
            self.on_train_start(trainer)
        step = int(metrics.get("iteration", trainer.iteration - 1))
        for key, value in metrics.items():
            if key == "iteration" or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            self.writer.add_scalar(self.prefix + key, float(value), step)
        if self.alignment_every is not None and step % self.alignment_every == 0:
            self._log_alignment(trainer, step)

    def on_train_end(self, trainer) -> None:
        self.close()

    def close(self) -> None:
        """Flush and close the event file (a later iteration opens a new one)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    @staticmethod
    def _check_alignment(trainer) -> None:
        from ..algos import AdvantageAlignment

        if not isinstance(trainer.algo, AdvantageAlignment):
            raise ValueError(f"alignment_every needs a rule with an AA term (the AA family), the trainer runs "
                             f"{trainer.algo.name!r}")
        if not trainer.config.self_play or len(trainer.learners) != 1:
            raise ValueError("alignment_every needs a self-play trainer with one learner")

    def _log_alignment(self, trainer, step: int) -> None:
        from .diagnostics import shaping_gradient_alignment

        with _randomness_kept(trainer):
            result = shaping_gradient_alignment(trainer, batches=self.alignment_batches)
        for estimator, values in result.items():
            for name, value in values.items():
                if not math.isnan(value):
                    self.writer.add_scalar(f"{self.prefix}aa_alignment/{estimator}/{name}", value, step)
