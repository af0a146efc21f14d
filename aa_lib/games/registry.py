"""The game registry: every environment of the suite by name (used by the trainer, presets, CLI and dashboards)."""
from __future__ import annotations

from .base import BatchedEnv
from .coin import CoinGame
from .commons import CommonsHarvest
from .iterated import IteratedMatrixGame
from .negotiation import NegotiationGame

__all__ = ["GAMES", "make_env", "game_class"]

#: name -> class of each batched environment.
GAMES = {
    "ipd": IteratedMatrixGame,
    "coin": CoinGame,
    "negotiation": NegotiationGame,
    "commons": CommonsHarvest,
}


def game_class(game: str) -> type:
    """The environment class registered as ``game``; ValueError naming the choices for an unknown name."""
    if not isinstance(game, str) or game not in GAMES:
        raise ValueError(f"unknown game {game!r}; choose one of {sorted(GAMES)}")
    return GAMES[game]


def make_env(game: str, device="cpu", **options) -> BatchedEnv:
    """The environment called ``game`` ("ipd", "coin", "negotiation", "commons")."""
    return game_class(game)(device=device, **options)
