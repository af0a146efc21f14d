"""The lecture's Splitting Game (course lecture on multi-agent social dilemmas, "LLMs and the Ultimatum Game").

Two agents divide 10 coins, once. The first agent answers with its proposal;
the second sees it and answers with its own. Both must agree on a division to
receive the coins; if not, both receive zero coins. Answers are JSON inside
``<finalize>`` tags, as in the lecture, written canonically with spaces around
every symbol so that every word is a token::

    <finalize> { "i_take" : { "coins" : 5 } , "other_agent_gets" : { "coins" : 5 } } </finalize>

The prompts follow the lecture's text (its rules, response format and goal,
"You are the first agent . It is your turn to play ." and for the second agent
"The other agent's finalization was { ... } . You are the second agent . ...").

Agreement: the second's proposal mirrors the first's (``i_take_2 == other_agent_gets_1``
and ``other_agent_gets_2 == i_take_1``); then the first receives ``i_take_1`` and the
second ``other_agent_gets_1``. A proposal may leave coins undivided (``x + y <= 10``).

Actions: long ``[2, B, 1, 2]`` (i_take, other_agent_gets). Parsing: the answer must hold
exactly one ``<finalize> ... </finalize>`` whose content is JSON with exactly the keys
``i_take`` and ``other_agent_gets``, each ``{"coins": n}`` with whole numbers ``n >= 0``
summing to at most 10 (any JSON spacing). Anything else is no proposal, recorded as
``(-1, -1)``, and so no agreement: both receive zero coins.
"""
from __future__ import annotations

import json
import re
from typing import Dict, List, Optional, Set, Tuple

import torch

from .base import TextGame, TurnSpec, words

__all__ = ["SplittingGame", "LECTURE_GOAL"]

COINS = 10
#: the lecture's goal sentence (a parameter of the game: students may change it).
LECTURE_GOAL = "Aim to be fair with both the other agent and yourself ."
_FINALIZE = re.compile(r"<finalize>(.*?)</finalize>", re.DOTALL)
_KEYS = ("i_take", "other_agent_gets")


def finalization_json(take: int, give: int) -> str:
    """The canonical JSON of a proposal (words separated by spaces)."""
    return f'{{ "i_take" : {{ "coins" : {take} }} , "other_agent_gets" : {{ "coins" : {give} }} }}'


def _coins(entry) -> Optional[int]:
    if not isinstance(entry, dict) or set(entry) != {"coins"}:
        return None
    n = entry["coins"]
    return n if isinstance(n, int) and not isinstance(n, bool) and n >= 0 else None


class SplittingGame(TextGame):
    """The lecture's Splitting Game, batched (see the module docstring).

    Args:
        goal: the goal sentence of the prompt (default: the lecture's).
        device: torch device of the state tensors.
    """

    name = "splitting"
    reward_scale = 1 / COINS
    random_draws = False
    action_shape = (2,)
    fallback_action = (-1, -1)
    fallback_rule = ("an answer without exactly one <finalize> JSON </finalize> of a valid division is no proposal: "
                     "no agreement, zero coins for both")
    _CHOICES = [f"<finalize> {finalization_json(x, y)} </finalize>"
                for x in range(COINS + 1) for y in range(COINS + 1 - x)]

    def __init__(self, goal: str = LECTURE_GOAL, device="cpu"):
        if not isinstance(goal, str):
            raise TypeError(f"goal must be a string, got {type(goal).__name__}")
        self.goal = " ".join(words(goal))
        super().__init__(1, device)

    def _turn_schedule(self) -> List[TurnSpec]:
        return [TurnSpec("action", (0,), 0), TurnSpec("action", (1,), 0)]

    def _rules(self) -> str:
        return ("Welcome to the Splitting Game . Game Overview : 1 ) Two agents divide 10 coins . "
                "2 ) Each agent proposes a division of the coins . 3 ) Both agents must agree on a division to "
                "receive the coins . If not , both receive zero coins . 4 ) The game is played only once . "
                "Response Format : 1 ) Responses must be within <finalize> </finalize> tags . "
                f"2 ) Use JSON format : <finalize> {finalization_json('x', 'y')} </finalize> . "
                f"Goal : {self.goal}").strip()

    def system_prompt(self, seat: int) -> List[str]:
        self._check_seat(seat)
        self._check_started()
        return self._same_for_all(self._rules())

    def _prompts(self, spec: TurnSpec) -> Dict[int, List[str]]:
        if spec.seats == (0,):
            return {0: self._same_for_all("You are the first agent . It is your turn to play .")}
        first = self.actions[0, :, 0].tolist()
        seen = [f"The other agent's finalization was {finalization_json(*p)} ." if p[0] >= 0
                else "The other agent made no valid finalization ." for p in first]
        return {1: [f"{s} You are the second agent . It is your turn to play ." for s in seen]}

    def _choices(self, spec: TurnSpec) -> Optional[List[str]]:
        return list(self._CHOICES)

    def parse_answer(self, text: str) -> Optional[Tuple[int, int]]:
        found = _FINALIZE.findall(text)
        if len(found) != 1:
            return None
        try:
            content = json.loads(found[0])
        except ValueError:
            return None
        if not isinstance(content, dict) or set(content) != set(_KEYS):
            return None
        take, give = (_coins(content[k]) for k in _KEYS)
        if take is None or give is None or take + give > COINS:
            return None
        return take, give

    def format_action(self, action) -> str:
        take, give = (int(v) for v in action)
        return f"<finalize> {finalization_json(take, give)} </finalize>"

    def _finish_round(self, round_index: int) -> None:
        first, second = self.actions[0, :, 0], self.actions[1, :, 0]  # [B, 2] each
        agreed = (first[:, 0] >= 0) & (second == first.flip(-1)).all(-1)
        coins = torch.stack([first[:, 0], first[:, 1]]).float()  # [2, B]
        self.rewards[:, :, 0] = torch.where(agreed, coins, torch.zeros_like(coins))

    def vocabulary(self) -> Set[str]:
        templates = ("You are the first agent . It is your turn to play . The other agent's finalization was . "
                     "You are the second agent . The other agent made no valid finalization .")
        return (set(words(self._rules())) | set(words(templates)) | set(words(finalization_json(0, 0)))
                | {str(n) for n in range(COINS + 1)})
