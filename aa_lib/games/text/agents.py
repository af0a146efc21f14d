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
from .split import SplitNoComm
from .splitting import SplittingGame
from .trust_split import TrustAndSplit, beats, reported_hand, truthful_message

__all__ = ["TextAgent", "ActionAgent", "SCRIPTED_TEXT_AGENTS", "scripted_names", "make_text_agent",
           "AlwaysCooperate", "AlwaysDefect", "TitForTat", "Grim", "RandomIPD",
           "GreedySplitter", "CooperativeSplitter", "RandomSplitter",
           "TrustCooperative", "TrustGreedy", "TrustLiar", "TrustRandom",
           "FairSplitter", "GreedyProposer", "AcceptingSplitter", "RandomProposer"]


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


# ---------------------------------------------------------------------- Split No-Comm
class GreedySplitter(ActionAgent):
    """Claims every unit of every item."""

    name = "greedy"

    def decide(self, game, turn, seat):
        return torch.full((game.batch_size, 3), 10, dtype=torch.long)


class CooperativeSplitter(ActionAgent):
    """Welfare-maximising: all units of the items it values more, half of those valued equally, none of the rest."""

    name = "cooperative"

    def decide(self, game, turn, seat):
        own, other = game.values[seat, :, turn.round].cpu(), game.values[1 - seat, :, turn.round].cpu()
        return 5 + 5 * torch.sign(own - other)


class RandomSplitter(ActionAgent):
    """Claims a uniformly drawn number of units (0-10) of each item."""

    name = "random"

    def decide(self, game, turn, seat):
        return torch.randint(11, (game.batch_size, 3), generator=self.generator)


# ---------------------------------------------------------------------- Trust-and-Split
def _other_report(game, turn, seat) -> List[Optional[int]]:
    """The hand the other seat's message of this round names (None if none yet, or not exactly one)."""
    return [reported_hand(m) for m in game.messages[1 - seat][turn.round]]


class _TrustAgent(ActionAgent):
    """Truthful messages ("I have rock .") unless a subclass lies."""

    def message(self, game, turn, seat):
        return [truthful_message(h) for h in game.hands[seat, :, turn.round].tolist()]


class TrustCooperative(_TrustAgent):
    """Truthful, and trusts the other's word: keeps 10 coins if its hand beats the hand the other
    names, 0 if it loses to it, 5 when the other named no hand or its own (someone lied)."""

    name = "cooperative"

    def decide(self, game, turn, seat):
        own = game.hands[seat, :, turn.round].tolist()
        keep = [5 if h is None or h == o else (10 if (o - h) % 3 == 1 else 0)
                for o, h in zip(own, _other_report(game, turn, seat))]
        return torch.tensor(keep, dtype=torch.long)


class TrustGreedy(_TrustAgent):
    """Truthful, but keeps all 10 coins."""

    name = "greedy"

    def decide(self, game, turn, seat):
        return torch.full((game.batch_size,), 10, dtype=torch.long)


class TrustLiar(TrustGreedy):
    """Keeps all 10 coins and lies where lying pays: as second speaker it names the hand that beats
    the hand the other named (a truthful cooperator then leaves it every coin); as first speaker it
    tells the truth, which is the best first message against a truthful cooperator
    (52.5 points per round on average, against 28.3 or 35.8 for either lie)."""

    name = "liar"

    def message(self, game, turn, seat):
        truth = super().message(game, turn, seat)
        return [t if h is None else truthful_message(beats(h)) for t, h in zip(truth, _other_report(game, turn, seat))]


class TrustRandom(ActionAgent):
    """Names a uniformly drawn hand and keeps a uniformly drawn number of coins (0-10)."""

    name = "random"

    def message(self, game, turn, seat):
        hands = torch.randint(3, (game.batch_size,), generator=self.generator).tolist()
        return [truthful_message(h) for h in hands]

    def decide(self, game, turn, seat):
        return torch.randint(11, (game.batch_size,), generator=self.generator)


# ---------------------------------------------------------------------- the lecture's Splitting Game
def _offered(game) -> torch.Tensor:
    """``[B]`` coins the first agent's proposal leaves to the second (-1 where it made none)."""
    return game.actions[0, :, 0, 1].cpu()


def _mirror(game) -> torch.Tensor:
    """``[B, 2]`` the second agent's answer that agrees with the first's proposal."""
    return game.actions[0, :, 0].cpu().flip(-1)


def _proposal(game, take: int, give: int) -> torch.Tensor:
    return torch.tensor([take, give]).expand(game.batch_size, 2).clone()


class FairSplitter(ActionAgent):
    """First: proposes 5 / 5. Second: agrees to any proposal leaving it at least 5 coins, else asks for 5 / 5."""

    name = "fair"

    def decide(self, game, turn, seat):
        fair = _proposal(game, 5, 5)
        if seat == 0:
            return fair
        return torch.where((_offered(game) >= 5).unsqueeze(-1), _mirror(game), fair)


class GreedyProposer(ActionAgent):
    """Always asks for all 10 coins (so it agrees only to a proposal that leaves it all 10)."""

    name = "greedy"

    def decide(self, game, turn, seat):
        return _proposal(game, 10, 0)


class AcceptingSplitter(ActionAgent):
    """First: proposes 5 / 5. Second: agrees to whatever the first proposed (5 / 5 if it proposed nothing)."""

    name = "accepting"

    def decide(self, game, turn, seat):
        fair = _proposal(game, 5, 5)
        if seat == 0:
            return fair
        return torch.where((_offered(game) >= 0).unsqueeze(-1), _mirror(game), fair)


class RandomProposer(ActionAgent):
    """A uniformly drawn allowed proposal (take x, give y, x + y <= 10)."""

    name = "random"

    def decide(self, game, turn, seat):
        pick = torch.randint(len(turn.choices), (game.batch_size,), generator=self.generator).tolist()
        return torch.tensor([game.parse_answer(turn.choices[k]) for k in pick], dtype=torch.long)


#: game class -> agent name -> agent class.
SCRIPTED_TEXT_AGENTS: Dict[type, Dict[str, type]] = {
    TextIPD: {cls.name: cls for cls in (AlwaysCooperate, AlwaysDefect, TitForTat, Grim, RandomIPD)},
    SplitNoComm: {cls.name: cls for cls in (GreedySplitter, CooperativeSplitter, RandomSplitter)},
    TrustAndSplit: {cls.name: cls for cls in (TrustCooperative, TrustGreedy, TrustLiar, TrustRandom)},
    SplittingGame: {cls.name: cls for cls in (FairSplitter, GreedyProposer, AcceptingSplitter, RandomProposer)},
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
