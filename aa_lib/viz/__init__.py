"""Plots and ipywidgets dashboards for the course.

Submodules are imported on demand (``from aa_lib.viz.games import ...``), never
eagerly here, so that importing :mod:`aa_lib` does not pull in matplotlib or
ipywidgets (only :class:`~aa_lib.viz.live.LivePlot`, which imports matplotlib when it draws,
is re-exported):

- :mod:`aa_lib.viz.games` -- payoff regions, payoff tables, the payoff editor.
- :mod:`aa_lib.viz.learning` -- exact learning runs: reward curves, P(C | state)
  trajectories, final policies, the learning explorer.
- :mod:`aa_lib.viz.theory` -- figures of the theory notebooks (sign cases, estimator comparisons).
- :mod:`aa_lib.viz.training` -- training curves of sampled learners.
- :mod:`aa_lib.viz.live` -- :class:`LivePlot`, the training callback that redraws curves in a notebook.
- :mod:`aa_lib.viz.dashboard` -- the ipywidgets training dashboard, Fig. 1b-style probe bars.
"""
from .live import LivePlot

__all__ = ["LivePlot"]
