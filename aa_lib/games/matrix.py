"""Two-player, two-action normal-form games and their equilibria.

A game is stored as one payoff tensor ``payoffs`` of shape ``[2, 2, 2]`` indexed
``(player, own action, other action)``: ``payoffs[i, a, b]`` is what player ``i``
gets when it plays ``a`` and the other player plays ``b``. Writing every payoff
from the player's own seat is what lets one policy play either seat.

Action 0 is the "cooperative" action of the social dilemmas (Cooperate, Swerve,
Stag); the ``actions`` field names them.

Equilibria and Pareto-optimal outcomes are *computed* from the table (never typed
in): pure Nash equilibria by checking best responses, the fully mixed equilibrium
by the indifference conditions, Pareto optimality by dominance among the pure
outcomes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Tuple

import torch

from .._validation import check_device, check_finite, check_shape, check_tensor

__all__ = [
    "MatrixGame",
    "PRISONERS_DILEMMA",
    "CHICKEN",
    "STAG_HUNT",
    "MATCHING_PENNIES",
    "MATRIX_GAMES",
    "as_payoff_tensor",
    "symmetric_game",
    "outcome_payoffs",
    "pure_nash_equilibria",
    "mixed_nash_equilibria",
    "pareto_optimal_outcomes",
    "expected_payoffs",
]


@dataclass(frozen=True)
class MatrixGame:
    """A 2x2 normal-form game.

    Attributes:
        name: human-readable name, e.g. ``"Prisoner's Dilemma"``.
        payoffs: float64 tensor ``[2, 2, 2]`` indexed (player, own action, other action).
        actions: names of action 0 and action 1 (action 0 is the cooperative one).
    """

    name: str
    payoffs: torch.Tensor
    actions: Tuple[str, str] = ("C", "D")
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a string, got {type(self.name).__name__} {self.name!r}")
        payoffs = check_tensor(self.payoffs, "payoffs")
        if payoffs.dtype == torch.bool or payoffs.is_complex():
            raise TypeError(f"payoffs must be real numbers, got dtype {payoffs.dtype}")
        payoffs = payoffs.to(torch.float64)
        check_shape(payoffs, (2, 2, 2), "payoffs (player, own action, other action)")
        check_finite(payoffs, "payoffs")
        object.__setattr__(self, "payoffs", payoffs)
        if isinstance(self.actions, str) or len(self.actions) != 2 or not all(isinstance(a, str) for a in self.actions):
            raise ValueError(f"actions must name exactly 2 actions (two strings), got {self.actions!r}")

    def payoff(self, player: int, own: int, other: int) -> float:
        """Payoff of ``player`` (0 or 1) playing ``own`` against ``other``."""
        return float(self.payoffs[player, own, other])

    def bimatrix(self) -> torch.Tensor:
        """Payoffs as the textbook bimatrix ``[2, 2, 2]`` indexed (row action, column action, player)."""
        return outcome_payoffs(self.payoffs)

    def __repr__(self) -> str:  # compact: the tensor repr is noisy
        rows = self.bimatrix().tolist()
        return f"MatrixGame({self.name!r}, actions={self.actions}, (row, col) payoffs={rows})"


def symmetric_game(name: str, table, actions=("C", "D"), description: str = "") -> MatrixGame:
    """Build a symmetric game from one player's table ``table[own][other]``."""
    t = check_tensor(table, "table")
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"table must hold real numbers, got dtype {t.dtype}")
    t = t.to(torch.float64)
    check_shape(t, (2, 2), "table (own action, other action)")
    return MatrixGame(name, torch.stack([t, t]), tuple(actions), description)


# Payoffs of REFERENCES.md: CC -1, CD -3, DC 0, DD -2 (own action first).
PRISONERS_DILEMMA = symmetric_game(
    "Prisoner's Dilemma", [[-1.0, -3.0], [0.0, -2.0]], ("C", "D"),
    "Defect is dominant, yet mutual cooperation beats mutual defection.",
)
# Swerving (0) is cooperative; both going straight (1) is a crash.
CHICKEN = symmetric_game(
    "Chicken", [[0.0, -1.0], [1.0, -10.0]], ("Swerve", "Straight"),
    "Two pure equilibria where one player yields; a mixed one where crashes happen.",
)
# Hunting the stag (0) pays only if both do; the hare (1) is safe.
STAG_HUNT = symmetric_game(
    "Stag Hunt", [[4.0, 0.0], [3.0, 3.0]], ("Stag", "Hare"),
    "Coordination: the payoff-dominant (Stag, Stag) and the risk-dominant (Hare, Hare).",
)
# Player 0 wins when the actions match, player 1 when they differ.
MATCHING_PENNIES = MatrixGame(
    "Matching Pennies",
    torch.tensor([[[1.0, -1.0], [-1.0, 1.0]], [[-1.0, 1.0], [1.0, -1.0]]]),
    ("Heads", "Tails"),
    "Zero-sum: no pure equilibrium, a unique mixed one at (1/2, 1/2).",
)

MATRIX_GAMES = {g.name: g for g in (PRISONERS_DILEMMA, CHICKEN, STAG_HUNT, MATCHING_PENNIES)}


def as_payoff_tensor(game, dtype=torch.float64, device=None) -> torch.Tensor:
    """Return the ``[2, 2, 2]`` payoff tensor of a :class:`MatrixGame` or a raw tensor."""
    if isinstance(game, MatrixGame):
        payoffs = game.payoffs
    else:
        payoffs = check_tensor(game, "game")
        if not (payoffs.is_floating_point() or payoffs.dtype in (torch.int32, torch.int64)):
            raise TypeError(f"game payoffs must be numeric, got dtype {payoffs.dtype}")
        check_shape(payoffs, (2, 2, 2), "game payoffs (player, own action, other action)")
        check_finite(payoffs, "game payoffs")
    return payoffs.to(dtype=dtype, device=None if device is None else check_device(device))


def outcome_payoffs(payoffs: torch.Tensor) -> torch.Tensor:
    """Payoff pair of every pure outcome: ``[2, 2, 2]`` indexed (a1, a2, player).

    Player 2's table is written from its own seat, so its payoff at outcome
    (a1, a2) is ``payoffs[1, a2, a1]``.
    """
    r1 = payoffs[0]  # [a1, a2]
    r2 = payoffs[1].transpose(0, 1)  # [a2, a1] -> [a1, a2]
    return torch.stack([r1, r2], dim=-1)


def pure_nash_equilibria(game) -> List[Tuple[int, int]]:
    """All pure Nash equilibria ``(a1, a2)``: outcomes where neither player gains by deviating."""
    p = as_payoff_tensor(game)
    eqs = []
    for a1 in range(2):
        for a2 in range(2):
            best1 = p[0, a1, a2] >= p[0, 1 - a1, a2]
            best2 = p[1, a2, a1] >= p[1, 1 - a2, a1]
            if best1 and best2:
                eqs.append((a1, a2))
    return eqs


def _indifference_probability(table: torch.Tensor) -> float | None:
    """Probability x of the *other* player's action 0 that makes a player with
    ``table[own, other]`` indifferent between its two actions, or None.

    Solves x t00 + (1-x) t01 = x t10 + (1-x) t11 for x.
    """
    denom = (table[0, 0] - table[0, 1]) - (table[1, 0] - table[1, 1])
    if abs(float(denom)) < 1e-12:
        return None
    x = float((table[1, 1] - table[0, 1]) / denom)
    return x


def mixed_nash_equilibria(game) -> List[Tuple[float, float]]:
    """The fully mixed Nash equilibrium ``(P1(action 0), P2(action 0))``, if one exists.

    In a 2x2 game each player mixes so that the *other* is indifferent. Returns an
    empty list when the indifference probabilities fall outside the open interval
    (0, 1) (e.g. in the Prisoner's Dilemma, where Defect is dominant) or when a
    player's table is degenerate.
    """
    p = as_payoff_tensor(game)
    x1 = _indifference_probability(p[1])  # player 1's mix makes player 2 indifferent
    x2 = _indifference_probability(p[0])  # player 2's mix makes player 1 indifferent
    if x1 is None or x2 is None:
        return []
    if 0.0 < x1 < 1.0 and 0.0 < x2 < 1.0:
        return [(x1, x2)]
    return []


def expected_payoffs(game, p1, p2) -> torch.Tensor:
    """Expected payoffs ``[..., 2]`` when the players play action 0 with probabilities p1, p2."""
    pay = outcome_payoffs(as_payoff_tensor(game))
    p1 = torch.as_tensor(p1, dtype=torch.float64)
    p2 = torch.as_tensor(p2, dtype=torch.float64)
    d1 = torch.stack([p1, 1 - p1], -1)  # [..., 2]
    d2 = torch.stack([p2, 1 - p2], -1)
    joint = d1[..., :, None] * d2[..., None, :]  # [..., a1, a2]
    return (joint[..., None] * pay).sum(dim=(-3, -2))


def pareto_optimal_outcomes(game) -> List[Tuple[int, int]]:
    """Pure outcomes ``(a1, a2)`` that no other pure outcome Pareto-dominates."""
    pay = outcome_payoffs(as_payoff_tensor(game)).reshape(4, 2)
    optimal = []
    for i in range(4):
        dominated = any(
            bool((pay[j] >= pay[i]).all() and (pay[j] > pay[i]).any()) for j in range(4) if j != i
        )
        if not dominated:
            optimal.append(divmod(i, 2))
    return optimal
