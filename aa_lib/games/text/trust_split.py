"""Trust-and-Split with rock-paper-scissors hands (LLM follow-up paper; REFERENCES "LLM follow-up").

Each round two seats split 10 coins. Each seat draws a hand (rock, paper or
scissors; the two hands always differ) and sees only its own. The winning hand
values a coin at 10, the other at 1, so welfare needs the loser to leave the
coins to the winner, which needs trust in what the other says. Each round:

1. one message per seat, the starting speaker alternating (seat 0 starts round 0);
   the second speaker has read the first's message;
2. simultaneous claims of coins to keep, over-claims scaled down proportionally
   (``q_i = 10 p_i / max(10, p_1 + p_2)``, :func:`proportional_allocation`); reward ``q_i v_i``.

After each round a seat is told the other's hand and claim (our choice: the
reference leaves it open; it lets an agent find out that it was lied to).
Expected points per round (exact, :func:`expected_round_rewards`): truthful
cooperation 50 each (welfare 100), both greedy 27.5 each (55), greedy (truthful
messages) vs cooperative 52.5 / 25.

Prompts::

    system:   You and another player play 10 rounds . Each round you split 10 coins . Each of you has a
              hand : rock , paper or scissors , never the same ; you see only your own hand . rock beats
              scissors , scissors beats paper , paper beats rock . A coin is worth 10 points to the
              winning hand and 1 point to the other . Each round both send one message , then both claim
              coins at once ; if the claims sum to more than 10 , they are scaled down to sum to 10 .
              Answer <keep> n </keep> with a whole number 0 to 10 .
    1st speaker, message:  [Other had paper and kept 10 .] Your hand is rock . Send a message .
    2nd speaker, message:  [...] Your hand is paper . Other says <msg> I have rock . </msg> Send a message .
    1st speaker, action:   Other says <msg> ... </msg> Claim coins .
    2nd speaker, action:   Claim coins .

Hands: long ``[2, B, n_rounds]``, 0 rock, 1 paper, 2 scissors; hand ``a`` beats ``b`` iff
``(a - b) % 3 == 1``. Actions: long ``[2, B, n_rounds]`` coins claimed. Messages (free text,
at most ``max_message_words`` words) are kept in ``messages[seat][round]``. Parsing: the
answer must contain exactly one ``<keep> n </keep>`` with a whole number 0-10; anything
else keeps nothing (0), as in Split No-Comm.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Set, Tuple

import torch

from ..._validation import check_positive_int
from .base import TextGame, TurnSpec, proportional_allocation, words

__all__ = ["TrustAndSplit", "HANDS", "reported_hand", "beats"]

#: hand names, indexed by the hand's code.
HANDS = ("rock", "paper", "scissors")
COINS = 10
_KEEP = re.compile(r"<keep>\s*(\d+)\s*</keep>")
_HAND_WORD = re.compile(r"\b(rock|paper|scissors)\b")


def beats(hand: int) -> int:
    """The hand that beats ``hand``."""
    return (hand + 1) % 3


def reported_hand(message: str) -> Optional[int]:
    """The hand a message names, if it names exactly one (case-insensitive), else ``None``."""
    named = set(_HAND_WORD.findall(message.lower()))
    return HANDS.index(named.pop()) if len(named) == 1 else None


def truthful_message(hand: int) -> str:
    """What an honest scripted agent says."""
    return f"I have {HANDS[hand]} ."


class TrustAndSplit(TextGame):
    """Trust-and-Split, batched (see the module docstring).

    Args:
        n_rounds: rounds per episode (paper: 10).
        max_message_words: length cap of a message in words (longer ones are cut).
        device: torch device of the state tensors.

    Attributes after reset: ``hands`` long ``[2, B, n_rounds]``; ``values`` long ``[2, B, n_rounds]``
    (10 for the winning hand, 1 for the other).
    """

    name = "trust-split"
    reward_scale = 1 / 100
    random_draws = True
    action_shape = ()
    fallback_action = 0
    fallback_rule = "an answer without exactly one <keep> n </keep> (a whole number 0 to 10) keeps nothing"

    def __init__(self, n_rounds: int = 10, max_message_words: int = 40, device="cpu"):
        self.max_message_words = check_positive_int(max_message_words, "max_message_words")
        super().__init__(n_rounds, device)
        self._pairs = torch.tensor([(a, b) for a in range(3) for b in range(3) if a != b], dtype=torch.long)

    # schedule and draws
    @staticmethod
    def first_speaker(round_index: int) -> int:
        """Seat that sends the first message of a round (alternating, seat 0 in round 0)."""
        return round_index % 2

    def _turn_schedule(self) -> List[TurnSpec]:
        schedule = []
        for r in range(self.n_rounds):
            first = self.first_speaker(r)
            schedule += [TurnSpec("message", (first,), r), TurnSpec("message", (1 - first,), r),
                         TurnSpec("action", (0, 1), r)]
        return schedule

    def support(self) -> Tuple[torch.Tensor, torch.Tensor]:
        return self._pairs.clone(), torch.full((len(self._pairs),), 1.0 / len(self._pairs), dtype=torch.float64)

    def _set_draws(self, draw_index: torch.Tensor) -> None:
        self.hands = self._pairs.to(self.device)[draw_index].permute(2, 0, 1).contiguous()  # [2, B, R]
        wins = (self.hands - self.hands.flip(0)) % 3 == 1
        self.values = torch.where(wins, 10, 1)

    # texts
    def _rules(self) -> str:
        return (f"You and another player play {self.n_rounds} rounds . Each round you split {COINS} coins . "
                "Each of you has a hand : rock , paper or scissors , never the same ; you see only your own hand . "
                "rock beats scissors , scissors beats paper , paper beats rock . A coin is worth 10 points to the "
                "winning hand and 1 point to the other . Each round both send one message , then both claim coins "
                f"at once ; if the claims sum to more than {COINS} , they are scaled down to sum to {COINS} . "
                f"Answer <keep> n </keep> with a whole number 0 to {COINS} .")

    def system_prompt(self, seat: int) -> List[str]:
        self._check_seat(seat)
        self._check_started()
        return self._same_for_all(self._rules())

    def _prompts(self, spec: TurnSpec) -> Dict[int, List[str]]:
        r, B = spec.round, self.batch_size
        first = self.first_speaker(r)
        prompts = {}
        for seat in spec.seats:
            other = 1 - seat
            if spec.kind == "message":
                hands = self.hands[seat, :, r].tolist()
                texts = [f"Your hand is {HANDS[h]} ." for h in hands]
                if seat != first:
                    texts = [f"{t} {_quote(m)}" for t, m in zip(texts, self.messages[other][r])]
                texts = [f"{t} Send a message ." for t in texts]
                if r > 0:
                    texts = [f"{p} {t}" for p, t in zip(self._last_round(seat, r - 1), texts)]
            elif seat == first:
                texts = [f"{_quote(m)} Claim coins ." for m in self.messages[other][r]]
            else:
                texts = ["Claim coins ."] * B
            prompts[seat] = texts
        return prompts

    def _last_round(self, seat: int, r: int) -> List[str]:
        hands, kept = self.hands[1 - seat, :, r].tolist(), self.actions[1 - seat, :, r].tolist()
        return [f"Other had {HANDS[h]} and kept {k} ." for h, k in zip(hands, kept)]

    def _choices(self, spec: TurnSpec) -> Optional[List[str]]:
        return [self.format_action(n) for n in range(COINS + 1)] if spec.kind == "action" else None

    def parse_answer(self, text: str) -> Optional[int]:
        found = _KEEP.findall(text)
        if len(found) != 1 or int(found[0]) > COINS:
            return None
        return int(found[0])

    def format_action(self, action) -> str:
        return f"<keep> {int(action)} </keep>"

    def _finish_round(self, round_index: int) -> None:
        coins = proportional_allocation(self.actions[:, :, round_index], COINS)  # [2, B]
        self.rewards[:, :, round_index] = coins * self.values[:, :, round_index]

    def vocabulary(self) -> Set[str]:
        templates = ("Other had and kept . Your hand is . Other says <msg> </msg> Send a message . Claim coins . "
                     "<keep> </keep> I have .")
        return set(words(self._rules())) | set(words(templates)) | set(HANDS) | {str(n) for n in range(COINS + 1)}


def _quote(message: str) -> str:
    return f"Other says <msg> {message} </msg>" if message else "Other says <msg> </msg>"
