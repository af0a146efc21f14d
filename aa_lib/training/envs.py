"""Build the environments of the suite by name (used by the trainer, presets and CLI)."""
from __future__ import annotations

import importlib

__all__ = ["GAMES", "make_env"]

#: name -> (module, class) of each batched environment.
GAMES = {
    "ipd": ("aa_lib.games.iterated", "IteratedMatrixGame"),
    "coin": ("aa_lib.games.coin", "CoinGame"),
    "negotiation": ("aa_lib.games.negotiation", "NegotiationGame"),
    "commons": ("aa_lib.games.commons", "CommonsHarvest"),
}


def make_env(game: str, device="cpu", **options):
    """The environment called ``game`` ("ipd", "coin", "negotiation", "commons")."""
    if game not in GAMES:
        raise ValueError(f"unknown game {game!r}; choose one of {sorted(GAMES)}")
    module, name = GAMES[game]
    cls = getattr(importlib.import_module(module), name)
    return cls(device=device, **options)
