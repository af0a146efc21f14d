"""The iterated Prisoner's Dilemma in text (LLM follow-up paper; REFERENCES "LLM follow-up").

Ten rounds; each round both seats answer ``<A>`` or ``<B>`` at once (the words
cooperate and defect never appear: ``<A>`` is cooperation, ``<B>`` defection).
Payoffs (R, P, T, S) = (3, 1, 5, 0): both ``<A>`` 3 each, both ``<B>`` 1 each,
``<B>`` against ``<A>`` 5 to ``<B>`` and 0 to ``<A>``. From the second round on,
each seat is told the other's last move, never the points.

Prompts are compact (43 words; a research prototype used a ~39-token intro)::

    system:   You and another player play 10 rounds . Each round both pick <A> or <B> .
              Both <A> : 3 points each . Both <B> : 1 point each . <B> against <A> : 5 points
              for <B> , 0 for <A> .
    round 1:  First round .
    round t:  Other played <B> .

Actions (long ``[2, B, n_rounds]``): 0 = ``<A>``, 1 = ``<B>``.
Parsing: an answer parses if it contains exactly one of the two labels (once or
more), e.g. ``"<A>"`` or ``"I pick <A> ."``; anything else (no label, both labels)
counts as ``<B>``, the reference code's rule.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

import torch

from .base import TextGame, TurnSpec, words

__all__ = ["TextIPD", "IPD_LABELS"]

#: answer label of each action (index 0: cooperate, 1: defect).
IPD_LABELS = ("<A>", "<B>")


def _points(value: int) -> str:
    return f"{value} point" if value == 1 else f"{value} points"


class TextIPD(TextGame):
    """Iterated Prisoner's Dilemma with neutral labels (see the module docstring).

    Args:
        n_rounds: rounds per episode (paper: 10).
        payoffs: (R, P, T, S), reward for mutual cooperation, mutual defection,
            temptation (defecting on a cooperator) and sucker (cooperating with a defector).
        device: torch device of the state tensors.
    """

    name = "text-ipd"
    reward_scale = 1 / 5
    random_draws = False
    action_shape = ()
    fallback_action = 1
    fallback_rule = "an answer without exactly one of the labels <A>, <B> counts as <B>"

    def __init__(self, n_rounds: int = 10, payoffs: Tuple[int, int, int, int] = (3, 1, 5, 0), device="cpu"):
        if len(payoffs) != 4 or not all(isinstance(v, int) and not isinstance(v, bool) for v in payoffs):
            raise ValueError(f"payoffs must be four ints (R, P, T, S), got {payoffs!r}")
        self.payoffs = tuple(payoffs)
        super().__init__(n_rounds, device)
        R, P, T, S = self.payoffs
        # table[own action, other action] -> own points
        self._table = torch.tensor([[R, S], [T, P]], dtype=torch.float32, device=self.device)

    def system_prompt(self, seat: int) -> List[str]:
        self._check_seat(seat)
        self._check_started()
        return self._same_for_all(self._rules())

    def _rules(self) -> str:
        R, P, T, S = self.payoffs
        return (f"You and another player play {self.n_rounds} rounds . Each round both pick <A> or <B> . "
                f"Both <A> : {_points(R)} each . Both <B> : {_points(P)} each . "
                f"<B> against <A> : {_points(T)} for <B> , {S} for <A> .")

    def _prompts(self, spec: TurnSpec) -> Dict[int, List[str]]:
        if spec.round == 0:
            return {seat: self._same_for_all("First round .") for seat in spec.seats}
        last = self.actions[:, :, spec.round - 1].tolist()  # [2][B]
        return {seat: [f"Other played {IPD_LABELS[a]} ." for a in last[1 - seat]] for seat in spec.seats}

    def _choices(self, spec: TurnSpec) -> Optional[List[str]]:
        return list(IPD_LABELS)

    def parse_answer(self, text: str) -> Optional[int]:
        found = [i for i, label in enumerate(IPD_LABELS) if label in text]
        return found[0] if len(found) == 1 else None

    def format_action(self, action: int) -> str:
        return IPD_LABELS[int(action)]

    def _finish_round(self, round_index: int) -> None:
        own = self.actions[:, :, round_index]  # [2, B]
        other = own.flip(0)
        self.rewards[:, :, round_index] = self._table[own, other]

    def vocabulary(self) -> Set[str]:
        vocab = set(words(self._rules()))
        vocab |= set(words("First round . Other played")) | set(IPD_LABELS)
        return vocab
