"""Head-to-head leagues between agents with a seeds x seeds protocol (paper Figs. 2-3).

Each agent type is a list of agents (one per training seed, or a single
scripted agent). Entry ``(row, column)`` of the table is the average per-step
reward of the row agent playing seat 1 against the column agent in seat 2,
averaged over every (row seed, column seed) pair; ``std`` is the spread over
those pairs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence

import torch

from .match import play

__all__ = ["LeagueResult", "run_league"]


@dataclass
class LeagueResult:
    """League table: ``table[i, j]`` row agent i's per-step reward against column agent j."""

    names: List[str]
    table: torch.Tensor  #: ``[n, n]`` mean reward of the row agent
    opponent_table: torch.Tensor  #: ``[n, n]`` mean reward of the column agent in the same games
    std: torch.Tensor  #: ``[n, n]`` standard deviation over seed pairs of the row agent's reward

    def value(self, row: str, column: str) -> float:
        return float(self.table[self.names.index(row), self.names.index(column)])

    def to_text(self, digits: int = 2) -> str:
        """A plain-text table (rows: agent, columns: opponent)."""
        width = max(8, max(len(n) for n in self.names) + 1)
        lines = [" " * width + "".join(n.rjust(width) for n in self.names)]
        for i, name in enumerate(self.names):
            cells = "".join(f"{float(v):.{digits}f}".rjust(width) for v in self.table[i])
            lines.append(name.ljust(width) + cells)
        return "\n".join(lines)

    def heatmap(self, ax=None, title: str = "per-step reward of row agent"):
        """Annotated heatmap as in Figs. 2-3; returns the figure."""
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(1.1 * len(self.names) + 2, 1.0 * len(self.names) + 1.5))
        else:
            fig = ax.figure
        data = self.table.cpu().numpy()
        im = ax.imshow(data, cmap="viridis")
        ax.set_xticks(range(len(self.names)), self.names, rotation=45, ha="right")
        ax.set_yticks(range(len(self.names)), self.names)
        for i in range(data.shape[0]):
            for j in range(data.shape[1]):
                ax.text(j, i, f"{data[i, j]:.2f}", ha="center", va="center", color="w", fontsize=9)
        ax.set_xlabel("opponent")
        ax.set_title(title)
        fig.colorbar(im, ax=ax)
        return fig


def run_league(env, agents: Dict[str, Sequence], batch_size: int = 256, n_episodes: int = 1,
               seed: int = 0) -> LeagueResult:
    """Play every agent type against every other (and itself), seeds x seeds.

    Args:
        env: a two-player :class:`~aa_lib.games.base.BatchedEnv`.
        agents: name -> list of agents (one per seed) or a single agent.
        batch_size: games per (row seed, column seed) pair and episode.
        n_episodes: batches of games per pair.
        seed: seed of the evaluation games.
    """
    if env.n_players != 2:
        raise ValueError(f"run_league needs a two-player game, got {env.n_players} players")
    names = list(agents)
    pools = {n: (list(a) if isinstance(a, (list, tuple)) else [a]) for n, a in agents.items()}
    for n, pool in pools.items():
        if not pool:
            raise ValueError(f"agent type {n!r} has no agents")
    n = len(names)
    table, other, std = (torch.zeros(n, n) for _ in range(3))
    generator = torch.Generator(device=env.device).manual_seed(seed)
    for i, row in enumerate(names):
        for j, col in enumerate(names):
            results = torch.stack([play(env, [a, b], batch_size, generator, n_episodes).cpu()
                                   for a in pools[row] for b in pools[col]])  # [pairs, 2]
            table[i, j], other[i, j] = results[:, 0].mean(), results[:, 1].mean()
            std[i, j] = results[:, 0].std() if len(results) > 1 else 0.0
    return LeagueResult(names, table, other, std)
