"""What agents play: normal-form games and batched torch environments.

- :mod:`~aa_lib.games.matrix`: 2x2 payoff tables and their equilibria.
- :mod:`~aa_lib.games.base`: the shared environment API (:class:`BatchedEnv`, :class:`StepResult`).
- :class:`IteratedMatrixGame`: iterated 2x2 games with full history.
- :class:`CoinGame`: the two-player Coin Game on a small torus.
- :class:`NegotiationGame`: continuous proposals over 3 items, high-contrast values.
- :class:`CommonsHarvest`: Melting Pot's Commons Harvest Open, 7 agents, egocentric views.
- :data:`GAMES`, :func:`make_env`: the game registry (environments by name).
- :func:`animate_episode`: a matplotlib animation of one game of an episode (for notebooks).
"""
from . import matrix
from .base import BatchedEnv, JointPolicy, StepResult, collect_rewards, make_generator
from .coin import CoinGame
from .commons import CommonsConfig, CommonsHarvest
from .iterated import IteratedMatrixGame
from .negotiation import NegotiationGame
from .registry import GAMES, game_class, make_env
from .render import animate_episode, record_episode

__all__ = ["matrix", "BatchedEnv", "JointPolicy", "StepResult", "collect_rewards", "make_generator",
           "animate_episode", "record_episode", "GAMES", "game_class", "make_env",
           "IteratedMatrixGame", "CoinGame", "NegotiationGame",
           "CommonsHarvest", "CommonsConfig"]
