"""A training callback that redraws the training curves in a notebook while a run goes on."""
from __future__ import annotations

from typing import Sequence

from ..training.callbacks import Callback

__all__ = ["LivePlot"]


class LivePlot(Callback):
    """Redraw training curves in a notebook every ``every`` iterations (matplotlib inline)."""

    def __init__(self, keys: Sequence[str] = ("reward", "cooperation"), every: int = 10):
        self.keys, self.every = tuple(keys), max(1, every)

    def on_iteration_end(self, trainer, metrics) -> None:
        if trainer.iteration % self.every == 0:
            self.draw(trainer.history)

    def on_train_end(self, trainer) -> None:
        self.draw(trainer.history)

    def draw(self, history) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import clear_output, display

        from .training import plot_training_curves

        fig = plot_training_curves(history, self.keys)
        clear_output(wait=True)
        display(fig)
        plt.close(fig)
