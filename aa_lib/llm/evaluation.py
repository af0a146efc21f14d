"""Evaluation of language-model agents in the text games (REFERENCES "LLM follow-up": evaluations).

- :func:`league`: round robin of adapters and scripted text agents: mean points per round of
  every member against every other (the paper plays 256 games per pair), and the welfare.
- :func:`reciprocity` / :func:`probe_reciprocity`: for the text IPD, P(cooperate at round t | the
  co-player's move at t - 1), the signature of reciprocal strategies (Tit-for-Tat: 1 and 0).
- :func:`exploiter_test`: a fresh adapter trained with naive RL against a frozen policy; what it
  gains is how exploitable that policy is.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Union

import torch

from .._validation import check_positive_int
from ..games.text import TextAgent, TextGame, TextIPD, make_text_agent
from .config import LLMConfig
from .rollout import play_games
from .trainer import LLMTrainer

__all__ = ["LeagueResult", "league", "reciprocity", "probe_reciprocity", "exploiter_test"]

Member = Union[str, TextAgent]


@dataclass
class LeagueResult:
    """Round-robin results.

    Attributes:
        names: the members, in order.
        points: ``[n, n]`` mean game points per round of member ``i`` (row) against member ``j``.
        stderr: ``[n, n]`` standard error of ``points`` over games.
        welfare: ``[n, n]`` mean points per round of both players together (symmetric).
    """

    names: List[str]
    points: torch.Tensor
    stderr: torch.Tensor
    welfare: torch.Tensor

    def table(self) -> str:
        """The points matrix as text (rows: the member whose points are shown)."""
        width = max(len(n) for n in self.names)
        head = " " * width + " | " + " ".join(f"{n[:8]:>8}" for n in self.names)
        lines = [head, "-" * len(head)]
        for name, row in zip(self.names, self.points.tolist()):
            lines.append(f"{name:>{width}} | " + " ".join(f"{v:8.2f}" for v in row))
        return "\n".join(lines)


def league(game: TextGame, model, tokenizer, members: Mapping[str, Member], games_per_pair: int = 256,
           seed: int = 0, greedy: bool = False) -> LeagueResult:
    """Every pair of ``members`` plays ``games_per_pair`` games (member ``i`` in seat 0, ``j`` in seat 1).

    Args:
        game: a two-player text game.
        model, tokenizer: the language model holding the members' adapters (unused if all are scripted).
        members: display name -> adapter name (or ``BASE``) or scripted :class:`TextAgent`.
        games_per_pair: games per pair (a member also plays itself).
        seed: the seed of pair ``k`` is ``seed + k``.
        greedy: decode the most likely answer instead of sampling.
    """
    if game.n_players != 2:
        raise ValueError(f"league needs a two-player game, got {game.n_players} players")
    if not isinstance(members, Mapping) or not members:
        raise ValueError("members must be a non-empty dict name -> adapter name or TextAgent")
    games_per_pair = check_positive_int(games_per_pair, "games_per_pair")
    names = list(members)
    n = len(names)
    points, stderr = torch.zeros(n, n), torch.zeros(n, n)
    pair = 0
    for i in range(n):
        for j in range(i, n):
            batch = play_games(game, model, tokenizer, [members[names[i]], members[names[j]]], games_per_pair,
                               seed + pair, greedy=greedy)
            per_game = batch.game_rewards.mean(dim=2).cpu()  # [2, B] points per round
            err = per_game.std(dim=1) / games_per_pair ** 0.5 if games_per_pair > 1 else torch.zeros(2)
            points[i, j], points[j, i] = per_game[0].mean(), per_game[1].mean()
            stderr[i, j], stderr[j, i] = err[0], err[1]
            if i == j:  # a member against itself: both seats are that member
                points[i, i], stderr[i, i] = per_game.mean(), per_game.flatten().std() / (2 * games_per_pair) ** 0.5
            pair += 1
    return LeagueResult(names, points, stderr, points + points.T)


def reciprocity(actions: torch.Tensor, seat: int = 0) -> Dict[str, float]:
    """P(``seat`` cooperates at round t | the co-player's move at t - 1), from text-IPD actions.

    Args:
        actions: long ``[2, B, n_rounds]``, 0 = ``<A>`` (cooperate), 1 = ``<B>`` (defect).
        seat: the seat that is probed.

    Returns:
        ``after_cooperate`` and ``after_defect`` probabilities (NaN where the condition never
        occurred), their counts, and ``first_round`` (P(cooperate) in round 0).
    """
    if not isinstance(actions, torch.Tensor) or actions.dim() != 3 or actions.shape[0] != 2:
        raise ValueError(f"actions must be a [2, batch, n_rounds] tensor, got "
                         f"{getattr(actions, 'shape', type(actions).__name__)}")
    if seat not in (0, 1):
        raise ValueError(f"seat must be 0 or 1, got {seat!r}")
    own = actions[seat, :, 1:].reshape(-1).cpu()
    previous = actions[1 - seat, :, :-1].reshape(-1).cpu()
    out = {"first_round": float((actions[seat, :, 0] == 0).float().mean())}
    for label, move in (("after_cooperate", 0), ("after_defect", 1)):
        hit = previous == move
        count = int(hit.sum())
        out[label] = float((own[hit] == 0).float().mean()) if count else float("nan")
        out[f"n_{label}"] = float(count)
    return out


def probe_reciprocity(game: TextGame, model, tokenizer, policy: Member, games: int = 256, seed: int = 0,
                      p_defect: float = 0.5) -> Dict[str, float]:
    """:func:`reciprocity` of ``policy`` (seat 0) against a random co-player (defects with ``p_defect``),
    so that both conditions occur often."""
    if not isinstance(game, TextIPD):
        raise TypeError(f"the reciprocity probe is defined for the text IPD, got {type(game).__name__}")
    opponent = make_text_agent(game, "random", torch.Generator().manual_seed(seed))
    opponent.p_defect = float(p_defect)
    batch = play_games(game, model, tokenizer, [policy, opponent], check_positive_int(games, "games"), seed)
    return reciprocity(batch.actions, seat=0)


def exploiter_test(frozen: Member, model, tokenizer, config: LLMConfig, iterations: int = 50,
                   eval_games: int = 256, seed: int = 0, adapter_name: str = "exploiter") -> Dict[str, object]:
    """Train a fresh adapter with naive RL against the frozen ``frozen`` policy; how much does it gain?

    Args:
        frozen: adapter name in ``model`` (never trained here) or a scripted :class:`TextAgent`.
        model, tokenizer: the language model (the exploiter's adapter is added to it).
        config: the training settings (game, lr, batch...); the rule is forced to ``"naive"``, the
            co-player is always ``frozen`` (no buffer) and only the exploiter's seat is trained.
        iterations: training iterations of the exploiter.
        eval_games: games played against ``frozen`` before and after training (same seed).
        seed: seed of the evaluations (training uses ``config.seed``).
        adapter_name: the exploiter adapter's name.

    Returns:
        ``before`` / ``after``: the exploiter's mean points per round; ``gain = after - before``;
        ``frozen_before`` / ``frozen_after``: the frozen policy's points; ``history``: training metrics.
    """
    cfg = config.replace(algo="naive", adapter_name=adapter_name, buffer_every=None, buffer_scripted=(),
                         train_live_coplayer=False)
    trainer = LLMTrainer(cfg, model, tokenizer, opponents=[frozen])

    def evaluate() -> torch.Tensor:
        batch = play_games(trainer.game, trainer.model, tokenizer, [adapter_name, frozen],
                           check_positive_int(eval_games, "eval_games"), seed)
        return batch.game_rewards.mean(dim=(1, 2)).cpu()

    before = evaluate()
    trainer.train(check_positive_int(iterations, "iterations"))
    after = evaluate()
    return {"before": float(before[0]), "after": float(after[0]), "gain": float(after[0] - before[0]),
            "frozen_before": float(before[1]), "frozen_after": float(after[1]), "history": trainer.history,
            "trainer": trainer}
