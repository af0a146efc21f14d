"""Scripted agents of the text games: they read the game state (never a language model).

Every agent answers with canonical strings, exactly what a model would have to
write, so the same game code parses scripted and generated answers.
Each game class lists the agents it supports in :data:`SCRIPTED_TEXT_AGENTS`;
:func:`make_text_agent` builds one by name.
"""
from __future__ import annotations

from typing import Dict, List, Optional

import torch

from ..base import make_generator
from .base import TextGame, Turn
from .ipd import TextIPD

__all__ = ["TextAgent", "ActionAgent", "SCRIPTED_TEXT_AGENTS", "scripted_names", "make_text_agent",
           "AlwaysCooperate", "AlwaysDefect", "TitForTat", "Grim", "RandomIPD"]


class TextAgent:
    """Plays one seat of a :class:`TextGame` from the game state.

    Args:
        generator: randomness of agents that draw (a fresh seed-0 generator if ``None``).
    """

    name = "agent"

    def __init__(self, generator: Optional[torch.Generator] = None):
        self.generator = generator if generator is not None else make_generator(0)

    def act(self, game: TextGame, turn: Turn, seat: int) -> List[str]:
        """One answer string per game of the batch for ``seat`` in ``turn``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ActionAgent(TextAgent):
    """An agent whose action answers come from a tensor of actions ``[B, *action_shape]``."""

    def act(self, game: TextGame, turn: Turn, seat: int) -> List[str]:
        if turn.kind == "message":
            return self.message(game, turn, seat)
        actions = self.decide(game, turn, seat).tolist()
        return [game.format_action(a) for a in actions]

    def decide(self, game: TextGame, turn: Turn, seat: int) -> torch.Tensor:
        raise NotImplementedError

    def message(self, game: TextGame, turn: Turn, seat: int) -> List[str]:
        raise ValueError(f"{type(self).__name__} does not send messages")


# ---------------------------------------------------------------------- iterated Prisoner's Dilemma
class AlwaysCooperate(ActionAgent):
    """Always ``<A>``."""

    name = "always_cooperate"

    def decide(self, game, turn, seat):
        return torch.zeros(game.batch_size, dtype=torch.long)


class AlwaysDefect(ActionAgent):
    """Always ``<B>``."""

    name = "always_defect"

    def decide(self, game, turn, seat):
        return torch.ones(game.batch_size, dtype=torch.long)


class TitForTat(ActionAgent):
    """``<A>`` first, then the other's last move."""

    name = "tit_for_tat"

    def decide(self, game, turn, seat):
        if turn.round == 0:
            return torch.zeros(game.batch_size, dtype=torch.long)
        return game.actions[1 - seat, :, turn.round - 1].cpu()


class Grim(ActionAgent):
    """``<A>`` until the other has played ``<B>`` once, then ``<B>`` for ever."""

    name = "grim"

    def decide(self, game, turn, seat):
        past = game.actions[1 - seat, :, :turn.round].cpu()
        return (past == 1).any(dim=1).long()


class RandomIPD(ActionAgent):
    """``<B>`` with probability ``p_defect`` each round, independently."""

    name = "random"

    def __init__(self, generator=None, p_defect: float = 0.5):
        super().__init__(generator)
        self.p_defect = float(p_defect)

    def decide(self, game, turn, seat):
        return (torch.rand(game.batch_size, generator=self.generator) < self.p_defect).long()


#: game class -> agent name -> agent class.
SCRIPTED_TEXT_AGENTS: Dict[type, Dict[str, type]] = {
    TextIPD: {cls.name: cls for cls in (AlwaysCooperate, AlwaysDefect, TitForTat, Grim, RandomIPD)},
}


def _agents_of(game) -> Dict[str, type]:
    for cls, agents in SCRIPTED_TEXT_AGENTS.items():
        if isinstance(game, cls):
            return agents
    raise ValueError(f"no scripted agents for game {type(game).__name__}")


def scripted_names(game: TextGame) -> List[str]:
    """Names of the scripted agents that can play ``game``."""
    return sorted(_agents_of(game))


def make_text_agent(game: TextGame, name: str, generator: Optional[torch.Generator] = None) -> TextAgent:
    """The scripted agent ``name`` for ``game`` (ValueError naming the choices otherwise)."""
    agents = _agents_of(game)
    if name not in agents:
        raise ValueError(f"unknown scripted agent {name!r} for {type(game).__name__}; choose one of {sorted(agents)}")
    return agents[name](generator=generator)
