"""The league of the sign-mask variants (App. C.2): every trained variant against every other and against
scripted Always Cooperate, Always Defect and Tit-for-Tat.

With memory-one players the table is computed exactly (``method="exact"``: expected
per-step reward over the T-step episode, :func:`~aa_lib.exact.sign_mask_training.expected_per_step_rewards`),
or by playing episodes with :func:`aa_lib.evaluation.run_league` (``method="sampled"``).
The variants are trained by :func:`aa_lib.exact.sign_mask_training.train_sign_mask_variants`.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import torch

from .._validation import check_positive_int
from ..agents.scripted import MemoryOneAgent
from ..exact.memory_one import STATE_NAMES
from ..exact.sign_mask_training import AblationRun, expected_per_step_rewards
from ..exact.sign_masks import payoff_table
from ..games.iterated import IteratedMatrixGame
from ..games.matrix import MATRIX_GAMES
from .league import LeagueResult, run_league

__all__ = ["SCRIPTED_POLICIES", "league_agents", "sign_mask_league", "behaviour_table"]

#: Scripted memory-one opponents, P(cooperate | start, CC, CD, DC, DD) from their own seat.
SCRIPTED_POLICIES = {
    "AC": (1.0, 1.0, 1.0, 1.0, 1.0),
    "AD": (0.0, 0.0, 0.0, 0.0, 0.0),
    "TFT": (1.0, 1.0, 0.0, 1.0, 0.0),
}


def league_agents(run: AblationRun, scripted: Sequence[str] = ("AC", "AD", "TFT"),
                  seeds: Optional[Sequence[int]] = None) -> Dict[str, torch.Tensor]:
    """name -> ``[n, 5]`` P(C | state) of the agents of each type (trained seeds, scripted ones).

    ``seeds``: indices of the training seeds to include (default: all).
    """
    p = run.p_cooperate
    if seeds is not None:
        seeds = list(seeds)
        if not seeds or any(not 0 <= s < p.shape[1] for s in seeds):
            raise ValueError(f"seeds must be a non-empty list of indices in [0, {p.shape[1]}), got {seeds}")
        p = p[:, seeds]
    agents = {name: p[i] for i, name in enumerate(run.names)}
    for name in scripted:
        if name not in SCRIPTED_POLICIES:
            raise ValueError(f"unknown scripted agent {name!r}; choose from {tuple(SCRIPTED_POLICIES)}")
        if name in agents:
            raise ValueError(f"scripted agent {name!r} clashes with a variant of the same name")
        agents[name] = torch.tensor([SCRIPTED_POLICIES[name]], dtype=torch.float64, device=run.theta.device)
    return agents


def _exact_league(agents: Dict[str, torch.Tensor], payoffs: torch.Tensor, horizon: int) -> LeagueResult:
    names = list(agents)
    n = len(names)
    table, other, std = (torch.zeros(n, n, dtype=torch.float64) for _ in range(3))
    for i, row in enumerate(names):
        for j, col in enumerate(names):
            p1, p2 = agents[row][:, None, :], agents[col][None, :, :]  # every (row seed, column seed) pair
            r1, r2 = expected_per_step_rewards(p1, p2, payoffs, horizon)
            table[i, j], other[i, j] = r1.mean(), r2.mean()
            std[i, j] = r1.std() if r1.numel() > 1 else 0.0
    return LeagueResult(names, table, other, std)


def sign_mask_league(run: AblationRun, scripted: Sequence[str] = ("AC", "AD", "TFT"), method: str = "exact",
                     horizon: Optional[int] = None, batch_size: int = 256, seed: int = 0,
                     seeds: Optional[Sequence[int]] = None) -> LeagueResult:
    """Round robin between every trained variant (all seeds) and the scripted agents.

    ``table[i, j]`` is the per-step reward of row agent i (seat 1) against column
    agent j (seat 2), averaged over all (row seed, column seed) pairs; ``std`` is
    the spread over those pairs (see :class:`aa_lib.evaluation.LeagueResult`).

    Args:
        run: trained variants.
        scripted: scripted opponents among :data:`SCRIPTED_POLICIES`.
        method: ``"exact"`` (expected rewards by backward induction) or ``"sampled"``
            (episodes played by :func:`aa_lib.evaluation.run_league`).
        horizon: episode length (default: the training episode length).
        batch_size, seed: games per seed pair and their seed (``"sampled"`` only).
        seeds: indices of the training seeds that play (default: all).
    """
    horizon = run.config.episode_length if horizon is None else check_positive_int(horizon, "horizon")
    agents = league_agents(run, scripted, seeds)
    if method == "exact":
        return _exact_league(agents, payoff_table(run.config.game).to(run.theta.device), horizon)
    if method != "sampled":
        raise ValueError(f"method must be 'exact' or 'sampled', got {method!r}")
    env = IteratedMatrixGame(MATRIX_GAMES[run.config.game], episode_length=horizon, device=run.theta.device)
    pools = {name: [MemoryOneAgent(p_cooperate=row) for row in probs] for name, probs in agents.items()}
    return run_league(env, pools, batch_size=batch_size, seed=seed)


def behaviour_table(run: AblationRun, league: LeagueResult, opponents: Sequence[str] = ("AC", "AD", "TFT"),
                    threshold: float = -1.5, digits: int = 2) -> str:
    """One line per variant: self-play reward, cooperating seeds, P(C | memory state), rewards vs scripted agents."""
    width = max(12, max(len(n) for n in run.names) + 2)
    states = STATE_NAMES[1:]
    head = ("variant".ljust(width) + "self".rjust(7) + "coop".rjust(6) + "".join(f"P(C|{s})".rjust(9) for s in states)
            + "".join(f"vs {o}".rjust(8) for o in opponents))
    lines = [head]
    p, frac = run.p_cooperate.mean(1), run.cooperating_fraction(threshold)
    for i, name in enumerate(run.names):
        cells = [f"{float(run.self_play_reward[i].mean()):.{digits}f}".rjust(7),
                 f"{int(round(float(frac[i]) * run.config.n_seeds))}/{run.config.n_seeds}".rjust(6)]
        cells += [f"{float(p[i, k]):.{digits}f}".rjust(9) for k in range(1, 5)]
        cells += [f"{league.value(name, o):.{digits}f}".rjust(8) for o in opponents]
        lines.append(name.ljust(width) + "".join(cells))
    return "\n".join(lines)

