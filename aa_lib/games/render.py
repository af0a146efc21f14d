"""Drawing whole episodes: record snapshots of one game and animate them with matplotlib.

Every environment draws one game of its batch with ``env.render(index, ax)``;
here an episode is played with given policies and each step's
``env.snapshot(index)`` is kept, so the animation replays exactly what happened.
In a notebook::

    from IPython.display import HTML
    anim = animate_episode(CoinGame(), [CoinAlwaysCooperate(), CoinAlwaysDefect()],
                           generator=make_generator(0))
    HTML(anim.to_jshtml())
"""
from __future__ import annotations

from typing import List, Optional

import torch

from .base import BatchedEnv, JointPolicy

__all__ = ["record_episode", "animate_episode"]


def record_episode(env: BatchedEnv, policies, batch_size: int = 1, index: int = 0,
                   generator: Optional[torch.Generator] = None, max_steps: Optional[int] = None) -> List[dict]:
    """Play an episode and return the snapshots of game ``index``: the start, then one per step.

    Args:
        env: any :class:`~aa_lib.games.base.BatchedEnv`.
        policies: one policy for every seat or one per seat (see :class:`~aa_lib.games.base.JointPolicy`).
        batch_size: games played at once (only game ``index`` is recorded).
        generator: randomness of the environment and of the policies.
        max_steps: stop after this many steps (useful for the long Commons Harvest episodes).
    """
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1):
        raise ValueError(f"max_steps must be a positive integer or None, got {max_steps!r}")
    players = JointPolicy(policies, env.n_players)
    players.reset(batch_size)
    obs = env.reset(batch_size, generator=generator)
    frames = [env.snapshot(index)]
    done = False
    while not done and (max_steps is None or len(frames) <= max_steps):
        result = env.step(players(obs, generator))
        frames.append(env.snapshot(index))
        obs, done = result.obs, bool(result.done.any())
    return frames


def animate_episode(env: BatchedEnv, policies, batch_size: int = 1, index: int = 0,
                    generator: Optional[torch.Generator] = None, max_steps: Optional[int] = None,
                    interval: int = 300, figsize=(5, 5)):
    """A ``matplotlib.animation.FuncAnimation`` of one episode (call ``.to_jshtml()`` in a notebook).

    Arguments as in :func:`record_episode`; ``interval`` is the delay between
    frames in milliseconds. The figure is closed so it is not shown twice.
    """
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation

    frames = record_episode(env, policies, batch_size, index, generator, max_steps)
    fig, ax = plt.subplots(figsize=figsize)

    def update(k):
        env.draw(frames[k], ax)
        return ax.patches

    anim = FuncAnimation(fig, update, frames=len(frames), interval=interval, blit=False)
    plt.close(fig)
    return anim
