"""Split No-Comm (LLM follow-up paper; REFERENCES "LLM follow-up").

Each round two seats split a pool of 3 item types, 10 units each. Each seat
values each item at 1 or 10; the draw is repeated until both seats' totals are
equal and at least one item is valued differently, and both seats see both
value vectors. Both claim units of every item at once (no messages); an
over-claimed item is scaled down proportionally (:func:`proportional_allocation`)::

    q_i = 10 p_i / max(10, p_1 + p_2),        reward_i = sum_items q_i v_i.

Values are redrawn every round. "Redrawn until valid" makes the draw uniform on
the 12 valid value pairs (:meth:`SplitNoComm.support`: one or two items valued
10 by each seat, at different places), which is how it is sampled.
Expected points per round (exact, :func:`expected_round_rewards`): both
welfare-maximising 127.5 each, both greedy 82.5, greedy vs cooperative 141.7 / 68.3.

Prompts::

    system:  You and another player play 10 rounds . Each round you both claim units of 3 items , 10 units
             of each , at once . If the claims on an item sum to more than 10 , they are scaled down to sum
             to 10 . Your points : units you get times your value of the item . Values are 1 or 10 ,
             and both see both . Answer <take> x y z </take> with whole numbers 0 to 10 .
    round:   [Other claimed 10 0 5 .] Values : you 10 1 1 , other 1 10 1 .

Actions: long ``[2, B, n_rounds, 3]`` units claimed of each item. Parsing: the answer
must contain exactly one ``<take> x y z </take>`` with whole numbers 0-10; anything
else claims nothing (0 0 0), the reference code's rule.
"""
from __future__ import annotations

import itertools
import re
from typing import Dict, List, Optional, Set, Tuple

import torch

from .base import TextGame, TurnSpec, proportional_allocation, words

__all__ = ["SplitNoComm", "split_value_pairs"]

UNITS = 10
N_ITEMS = 3
_TAKE = re.compile(r"<take>\s*(\d+)\s+(\d+)\s+(\d+)\s*</take>")


def split_value_pairs() -> torch.Tensor:
    """The 12 valid value draws ``[12, 2, 3]``: values in {1, 10}, equal totals, not identical."""
    vectors = list(itertools.product((1, 10), repeat=N_ITEMS))
    pairs = [(a, b) for a in vectors for b in vectors if sum(a) == sum(b) and a != b]
    return torch.tensor(pairs, dtype=torch.long)


def _format_take(units) -> str:
    return "<take> " + " ".join(str(int(u)) for u in units) + " </take>"


class SplitNoComm(TextGame):
    """Split No-Comm, batched (see the module docstring).

    Attributes after reset: ``values`` long ``[2, B, n_rounds, 3]``, each seat's values (public).
    """

    name = "split"
    reward_scale = 1 / 100
    random_draws = True
    action_shape = (N_ITEMS,)
    fallback_action = (0, 0, 0)
    fallback_rule = "an answer without exactly one <take> x y z </take> (whole numbers 0 to 10) claims nothing"
    _CHOICES = [_format_take(u) for u in itertools.product(range(UNITS + 1), repeat=N_ITEMS)]

    def __init__(self, n_rounds: int = 10, device="cpu"):
        super().__init__(n_rounds, device)
        self._pairs = split_value_pairs()

    # draws
    def support(self) -> Tuple[torch.Tensor, torch.Tensor]:
        return self._pairs.clone(), torch.full((len(self._pairs),), 1.0 / len(self._pairs), dtype=torch.float64)

    def _set_draws(self, draw_index: torch.Tensor) -> None:
        self.values = self._pairs.to(self.device)[draw_index].permute(2, 0, 1, 3).contiguous()  # [2, B, R, 3]

    # texts
    def _rules(self) -> str:
        return (f"You and another player play {self.n_rounds} rounds . Each round you both claim units of "
                f"{N_ITEMS} items , {UNITS} units of each , at once . If the claims on an item sum to more than "
                f"{UNITS} , they are scaled down to sum to {UNITS} . Your points : units you get times your value "
                f"of the item . Values are 1 or 10 , and both see both . "
                f"Answer <take> x y z </take> with whole numbers 0 to {UNITS} .")

    def system_prompt(self, seat: int) -> List[str]:
        self._check_seat(seat)
        self._check_started()
        return self._same_for_all(self._rules())

    def _prompts(self, spec: TurnSpec) -> Dict[int, List[str]]:
        r = spec.round
        values = self.values[:, :, r].tolist()  # [2][B][3]
        last = self.actions[:, :, r - 1].tolist() if r > 0 else None
        prompts = {}
        for seat in spec.seats:
            other = 1 - seat
            texts = []
            for b in range(self.batch_size):
                text = f"Values : you {_numbers(values[seat][b])} , other {_numbers(values[other][b])} ."
                if last is not None:
                    text = f"Other claimed {_numbers(last[other][b])} . " + text
                texts.append(text)
            prompts[seat] = texts
        return prompts

    def _choices(self, spec: TurnSpec) -> Optional[List[str]]:
        return list(self._CHOICES)

    def parse_answer(self, text: str) -> Optional[Tuple[int, int, int]]:
        found = _TAKE.findall(text)
        if len(found) != 1:
            return None
        units = tuple(int(u) for u in found[0])
        return units if all(u <= UNITS for u in units) else None

    def format_action(self, action) -> str:
        return _format_take(action)

    def _finish_round(self, round_index: int) -> None:
        claims = self.actions[:, :, round_index]  # [2, B, 3]
        units = proportional_allocation(claims, UNITS)
        self.rewards[:, :, round_index] = (units * self.values[:, :, round_index]).sum(-1)

    def vocabulary(self) -> Set[str]:
        vocab = set(words(self._rules())) | set(words("Other claimed . Values : you , other . <take> </take>"))
        return vocab | {str(n) for n in range(UNITS + 1)}


def _numbers(values) -> str:
    return " ".join(str(int(v)) for v in values)
