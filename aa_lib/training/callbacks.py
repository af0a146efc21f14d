"""Callbacks of the training loop: progress bar, metric logs, checkpoints (the live plot: :mod:`aa_lib.viz.live`).

A callback is any object with some of ``on_train_start(trainer)``,
``on_iteration_end(trainer, metrics)`` and ``on_train_end(trainer)``.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Dict, Optional, Sequence

__all__ = ["Callback", "ProgressBar", "MetricLogger", "CheckpointCallback"]


class Callback:
    """Base class with no-op hooks."""

    def on_train_start(self, trainer) -> None:
        pass

    def on_iteration_end(self, trainer, metrics: Dict[str, float]) -> None:
        pass

    def on_train_end(self, trainer) -> None:
        pass


class ProgressBar(Callback):
    """A tqdm.auto progress bar showing a few metrics."""

    def __init__(self, keys: Sequence[str] = ("reward", "cooperation"), every: int = 1, **tqdm_kwargs):
        self.keys, self.every, self.kwargs, self.bar = tuple(keys), max(1, every), tqdm_kwargs, None

    def on_train_start(self, trainer) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=trainer.config.iterations, initial=trainer.iteration, **self.kwargs)

    def on_iteration_end(self, trainer, metrics) -> None:
        self.bar.update(1)
        if trainer.iteration % self.every == 0:
            self.bar.set_postfix({k: f"{metrics[k]:.3f}" for k in self.keys if k in metrics})

    def on_train_end(self, trainer) -> None:
        if self.bar is not None:
            self.bar.close()


class MetricLogger(Callback):
    """Append every iteration's metrics to a CSV file and/or a JSON-lines file.

    Args:
        csv_path: CSV file (header from the first iteration's keys); None: no CSV.
        jsonl_path: JSON-lines file, one object per iteration; None: no JSON.
    """

    def __init__(self, csv_path=None, jsonl_path=None):
        self.csv_path = Path(csv_path) if csv_path else None
        self.jsonl_path = Path(jsonl_path) if jsonl_path else None
        self._fields: Optional[list] = None

    def on_iteration_end(self, trainer, metrics) -> None:
        if self.jsonl_path is not None:
            self.jsonl_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.jsonl_path, "a") as f:
                f.write(json.dumps(metrics) + "\n")
        if self.csv_path is not None:
            self.csv_path.parent.mkdir(parents=True, exist_ok=True)
            new = not self.csv_path.exists()
            if self._fields is None:
                if new:
                    self._fields = list(metrics)
                else:
                    with open(self.csv_path) as f:
                        self._fields = next(csv.reader(f))
            with open(self.csv_path, "a", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=self._fields, extrasaction="ignore")
                if new:
                    writer.writeheader()
                writer.writerow(metrics)


class CheckpointCallback(Callback):
    """Save the trainer every ``every`` iterations and at the end; optionally the best one too.

    Args:
        path: checkpoint file (written atomically).
        every: save period in iterations.
        best_path: where to keep the checkpoint with the highest ``best_key`` (the paper keeps the
            best Negotiation checkpoint since training is unstable, App. B.3); None: off.
        best_key: metric to maximise.
    """

    def __init__(self, path, every: int = 50, best_path=None, best_key: str = "reward"):
        self.path, self.every = Path(path), max(1, every)
        self.best_path, self.best_key = (Path(best_path) if best_path else None), best_key
        self.best = -math.inf

    def on_iteration_end(self, trainer, metrics) -> None:
        if trainer.iteration % self.every == 0:
            trainer.save(self.path)
        value = metrics.get(self.best_key)
        if self.best_path is not None and value is not None and value > self.best:
            self.best = value
            trainer.save(self.best_path)

    def on_train_end(self, trainer) -> None:
        trainer.save(self.path)
