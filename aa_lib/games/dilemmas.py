"""Is a 2x2 game a social dilemma? A stated definition, checked from the table.

A *social dilemma* (lecture: "each party's myopic efforts to maximise their own
benefit lead to a less favourable outcome compared to when all parties
cooperate") is made precise for 2x2 games by Macy & Flache (2002, "Learning
dynamics in social dilemmas", PNAS 99, 7229-7236), the definition also used by
Leibo et al. (2017, "Multi-agent reinforcement learning in sequential social
dilemmas"). Write one player's payoffs from its own seat, action 0 = cooperate:

    R = reward of mutual cooperation       (C, C)
    S = sucker's payoff                    (C, D)
    T = temptation to defect               (D, C)
    P = punishment of mutual defection     (D, D)

The game is a social dilemma for that player when

    1. R > P        mutual cooperation beats mutual defection,
    2. R > S        mutual cooperation beats being exploited,
    3. 2R > T + S   mutual cooperation beats taking turns at exploiting,
    4. T > R (greed) or P > S (fear)   -- there is a reason to defect.

Both players must meet the conditions. Which motive drives defection names the
dilemma: greed and fear -> Prisoner's Dilemma, greed only -> Chicken, fear only
-> Stag Hunt. All inequalities are strict: a table sitting exactly on a boundary
(e.g. ``2R == T + S``) is reported as *not* a dilemma, with the failing condition.
"""
from __future__ import annotations

from typing import Dict, List

import torch

from .matrix import (
    MatrixGame,
    as_payoff_tensor,
    expected_payoffs,
    mixed_nash_equilibria,
    outcome_payoffs,
    pareto_optimal_outcomes,
    pure_nash_equilibria,
)

__all__ = [
    "DILEMMA_CONDITIONS",
    "dilemma_payoffs",
    "dilemma_conditions",
    "dilemma_kind",
    "is_social_dilemma",
    "is_symmetric",
    "is_constant_sum",
    "describe_game",
]

#: The conditions of Macy & Flache (2002), as (name, meaning) pairs.
DILEMMA_CONDITIONS = (
    ("R > P", "mutual cooperation beats mutual defection"),
    ("R > S", "mutual cooperation beats being exploited"),
    ("2R > T + S", "mutual cooperation beats taking turns at exploiting"),
    ("T > R or P > S", "greed or fear gives a reason to defect"),
)


def dilemma_payoffs(game, player: int) -> Dict[str, float]:
    """``{"R", "S", "T", "P"}`` of ``player`` (0 or 1), read from its own seat."""
    if player not in (0, 1):
        raise ValueError(f"player must be 0 or 1, got {player!r}")
    p = as_payoff_tensor(game)[player]  # [own action, other action]
    return {"R": float(p[0, 0]), "S": float(p[0, 1]), "T": float(p[1, 0]), "P": float(p[1, 1])}


def dilemma_conditions(game, player: int) -> Dict[str, bool]:
    """Each condition of :data:`DILEMMA_CONDITIONS` (plus ``greed``, ``fear``) for ``player``."""
    v = dilemma_payoffs(game, player)
    greed = v["T"] > v["R"]
    fear = v["P"] > v["S"]
    return {
        "R > P": v["R"] > v["P"],
        "R > S": v["R"] > v["S"],
        "2R > T + S": 2 * v["R"] > v["T"] + v["S"],
        "T > R or P > S": greed or fear,
        "greed": greed,
        "fear": fear,
    }


def is_social_dilemma(game) -> bool:
    """True when both players meet all four Macy & Flache conditions (strict inequalities)."""
    return all(
        all(conds[name] for name, _ in DILEMMA_CONDITIONS)
        for conds in (dilemma_conditions(game, 0), dilemma_conditions(game, 1))
    )


def dilemma_kind(game) -> str | None:
    """Name of the dilemma by the motives to defect, or None when it is not a dilemma.

    ``"Prisoner's Dilemma"`` (both players greedy and fearful), ``"Chicken"``
    (greed only), ``"Stag Hunt"`` (fear only); an asymmetric game whose players
    defect for different motives gives ``"mixed motives"``.
    """
    if not is_social_dilemma(game):
        return None
    c0, c1 = dilemma_conditions(game, 0), dilemma_conditions(game, 1)
    greed = c0["greed"] and c1["greed"]
    fear = c0["fear"] and c1["fear"]
    if greed and fear:
        return "Prisoner's Dilemma"
    if greed:
        return "Chicken"
    if fear:
        return "Stag Hunt"
    return "mixed motives"  # one player defects from greed, the other from fear


def is_symmetric(game) -> bool:
    """Whether both players have the same own-seat table (``payoffs[0] == payoffs[1]``)."""
    p = as_payoff_tensor(game)
    return bool(torch.equal(p[0], p[1]))


def is_constant_sum(game, atol: float = 1e-12) -> bool:
    """Whether ``u1 + u2`` is the same at every outcome (zero-sum games included).

    In a constant-sum game one player's gain is exactly the other's loss, so
    there is nothing to cooperate about: it cannot be a social dilemma
    (condition 1, ``R > P``, would need both players to gain together).
    """
    totals = outcome_payoffs(as_payoff_tensor(game)).sum(-1)  # [a1, a2]
    return bool((totals - totals[0, 0]).abs().max() <= atol)


def _actions(game) -> tuple:
    return tuple(game.actions) if isinstance(game, MatrixGame) else ("C", "D")


def _label(game, a1: int, a2: int) -> str:
    actions = _actions(game)
    return f"({actions[a1]}, {actions[a2]})"


def _fmt(x: float) -> str:
    return f"{x:g}"


def _reason(game) -> str:
    """One sentence per player saying which conditions hold or fail, with the numbers."""
    lines = []
    for player in (0, 1):
        v = dilemma_payoffs(game, player)
        c = dilemma_conditions(game, player)
        checks = [
            f"R > P ({_fmt(v['R'])} vs {_fmt(v['P'])}): {'yes' if c['R > P'] else 'NO'}",
            f"R > S ({_fmt(v['R'])} vs {_fmt(v['S'])}): {'yes' if c['R > S'] else 'NO'}",
            f"2R > T + S ({_fmt(2 * v['R'])} vs {_fmt(v['T'] + v['S'])}): "
            f"{'yes' if c['2R > T + S'] else 'NO'}",
            f"greed T > R: {'yes' if c['greed'] else 'no'}, fear P > S: {'yes' if c['fear'] else 'no'}",
        ]
        lines.append(f"player {player + 1}: " + "; ".join(checks))
    return "\n".join(lines)


def describe_game(game) -> dict:
    """Everything the course says about a 2x2 game, computed from its table.

    Returns a dict with keys:
        ``name``, ``actions``;
        ``outcomes``: ``{label: (u1, u2)}`` for the 4 pure outcomes, e.g. ``"(C, D)"``;
        ``pure_nash``: labels of the pure Nash equilibria;
        ``mixed_nash``: list of ``{"p1", "p2", "payoffs"}``: P(action 0) of each player
            in the fully mixed equilibrium and its expected payoff pair;
        ``pareto_optimal``: labels of the Pareto-optimal pure outcomes;
        ``pareto_dominated_nash``: pure equilibria some other outcome Pareto-dominates;
        ``symmetric``, ``constant_sum``: bools;
        ``social_dilemma`` (bool), ``dilemma_kind`` (str or None),
        ``conditions``: per player, :func:`dilemma_conditions`;
        ``reason``: a human-readable account of the conditions with the numbers.
    """
    payoffs = as_payoff_tensor(game)
    pay = outcome_payoffs(payoffs)  # [a1, a2, player]
    outcomes = {
        _label(game, a1, a2): (float(pay[a1, a2, 0]), float(pay[a1, a2, 1]))
        for a1 in range(2)
        for a2 in range(2)
    }
    pure = pure_nash_equilibria(payoffs)
    pareto = pareto_optimal_outcomes(payoffs)
    # Rounded to 12 decimals so that printed values read 0.9, not 0.8999999999999999.
    mixed = [
        {
            "p1": round(p1, 12),
            "p2": round(p2, 12),
            "payoffs": tuple(round(float(x), 12) for x in expected_payoffs(payoffs, p1, p2)),
        }
        for p1, p2 in mixed_nash_equilibria(payoffs)
    ]
    dominated_nash: List[str] = [_label(game, *eq) for eq in pure if eq not in pareto]
    return {
        "name": game.name if isinstance(game, MatrixGame) else "custom game",
        "actions": _actions(game),
        "outcomes": outcomes,
        "pure_nash": [_label(game, *eq) for eq in pure],
        "mixed_nash": mixed,
        "pareto_optimal": [_label(game, *o) for o in pareto],
        "pareto_dominated_nash": dominated_nash,
        "symmetric": is_symmetric(payoffs),
        "constant_sum": is_constant_sum(payoffs),
        "social_dilemma": is_social_dilemma(payoffs),
        "dilemma_kind": dilemma_kind(payoffs),
        "conditions": [dilemma_conditions(payoffs, 0), dilemma_conditions(payoffs, 1)],
        "reason": _reason(game),
    }
