"""Summaries of a trained policy with Monte Carlo error bars, and of several seeds.

:func:`evaluate_policy` measures per-step rewards against co-players (and, per game,
P(C | previous joint action), the Coin Game's own-coin share, the Negotiation
Game's bids) with standard errors; :func:`seed_summary` averages metrics over
seeds; :func:`play_transcript` writes sampled episodes out action by action.
The training sessions of :mod:`aa_lib.training.session` and the notebooks use them::

    result = train_session("ipd", "aa", iterations=200)
    report = evaluate_policy(result.policy, result.env)
    report.metrics["p_cooperate/random/CC"], report.errors["p_cooperate/random/CC"]
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence

import torch

from .._validation import check_positive_int
from ..agents.scripted import scripted_agent
from ..exact.memory_one import STATE_NAMES
from ..games.coin import CoinGame
from ..games.iterated import is_iterated_2x2
from ..games.negotiation import NegotiationGame
from ..training.rollout import collect_rollout
from .match import as_policy
from .negotiation import episode_bids
from .probes import coin_pickup_rollout

__all__ = ["Evaluation", "evaluate_policy", "mean_and_error", "play_transcript", "ratio_and_error", "seed_summary"]


@dataclass
class Evaluation:
    """Metrics of a policy with their Monte Carlo standard errors.

    Keys: ``reward/self`` (self-play, per step, mean of the seats), ``reward/<name>``
    and ``opponent_reward/<name>`` (seat 1 against scripted agent ``<name>``), and in
    iterated 2x2 games ``p_cooperate/<probe>/<state>`` for ``state`` in
    (start, CC, CD, DC, DD) (Fig. 1b) with ``visits/<probe>/<state>`` (no error).
    ``protocol`` records how they were measured (co-players, episodes, seed).
    """

    metrics: Dict[str, float]
    errors: Dict[str, float]
    protocol: dict = field(default_factory=dict)

    def probe(self, opponent: str = "self") -> Dict[str, float]:
        """``{state: P(C | state)}`` of probe ``opponent`` (``"self"`` or ``"random"``)."""
        return {s: self.metrics[f"p_cooperate/{opponent}/{s}"] for s in STATE_NAMES}

    def probe_errors(self, opponent: str = "self") -> Dict[str, float]:
        """Standard errors of :meth:`probe`."""
        return {s: self.errors[f"p_cooperate/{opponent}/{s}"] for s in STATE_NAMES}

    def to_dict(self) -> dict:
        return {"metrics": dict(self.metrics), "errors": dict(self.errors), "protocol": dict(self.protocol)}


def mean_and_error(x: torch.Tensor):
    """Mean of independent samples ``x [B]`` and its standard error ``std / sqrt(B)``."""
    x = x.double()
    return float(x.mean()), float(x.std(unbiased=True) / math.sqrt(x.numel()))


def ratio_and_error(totals: torch.Tensor, counts: torch.Tensor):
    """Ratio estimate ``sum_b y_b / sum_b n_b`` over independent episodes and its standard error.

    ``totals [B]`` sums a per-step quantity over the steps of episode ``b`` that
    count, ``counts [B]`` is how many steps counted. By the delta method,
    ``se^2 = B / (B - 1) * sum_b (y_b - r n_b)^2 / (sum_b n_b)^2``; steps of one
    episode may be correlated, episodes are not. NaN when nothing counted.
    """
    y, n = totals.double(), counts.double()
    total, B = n.sum(), n.numel()
    if total == 0:
        return float("nan"), float("nan")
    ratio = y.sum() / total
    se = torch.sqrt(B / (B - 1) * ((y - ratio * n) ** 2).sum()) / total
    return float(ratio), float(se)


def _probe_metrics(policy, traj, name: str, metrics: dict, errors: dict) -> None:
    """P(C | previous joint action) from seat 1 of ``traj``, as :func:`~aa_lib.evaluation.cooperation_probe`
    measures it (the policy's probability of C, averaged over the steps after each state),
    with per-episode totals for the error."""
    obs = traj.obs[0]  # [B, T, 5] from the probed policy's seat
    if hasattr(policy, "sequence_distribution"):
        p_cooperate = policy.sequence_distribution(obs).probs[..., 0]
    else:
        p_cooperate = (traj.actions[0] == 0).float()
    states = obs.argmax(-1)  # [B, T]
    for index, state in enumerate(STATE_NAMES):
        hit = (states == index).to(p_cooperate.dtype)
        key = f"p_cooperate/{name}/{state}"
        metrics[key], errors[key] = ratio_and_error((p_cooperate * hit).sum(-1).cpu(), hit.sum(-1).cpu())
        metrics[f"visits/{name}/{state}"] = float(hit.sum())


def _own_coin_metrics(own: torch.Tensor, other: torch.Tensor, name: str, metrics: dict, errors: dict) -> None:
    """Coin Game: share of the probed seat's pickups that are coins of its own colour (``own_coin/<name>``;
    in self-play both seats count), as a ratio over episodes with its standard error.
    ``own``, ``other``: bool ``[P, B, T]`` pickups of :func:`~aa_lib.evaluation.coin_pickup_rollout`."""
    own_n = own.sum(-1).double().cpu()  # [P, B] own-colour pickups per episode
    total = own_n + other.sum(-1).double().cpu()
    seats = slice(None) if name == "self" else slice(0, 1)
    key = f"own_coin/{name}"
    metrics[key], errors[key] = ratio_and_error(own_n[seats].sum(0), total[seats].sum(0))


def _bid_metrics(traj, name: str, metrics: dict, errors: dict) -> None:
    """Negotiation Game: mean proposal of seat 1 on the items it values less (``bid_low/<name>``; AC 0,
    AD 5) and more (``bid_high/<name>``), per episode, with standard errors over episodes."""
    for key, per_episode in episode_bids(traj).items():
        metrics[f"{key}/{name}"], errors[f"{key}/{name}"] = mean_and_error(per_episode)


@torch.no_grad()
def evaluate_policy(policy, env, *, opponents: Sequence[str] = ("self", "AD"),
                    probes: Optional[Sequence[str]] = ("self", "random"), episodes: int = 1024,
                    seed: int = 0) -> Evaluation:
    """Per-step rewards (and, in iterated 2x2 games, P(C | previous joint action); in the Coin Game the
    own-coin share of pickups; in the Negotiation Game the mean bids on low- and high-value items) with
    standard errors.

    One batch of ``episodes`` games per co-player; every standard error treats
    the episodes as the independent samples (steps inside an episode may be
    correlated). The probes use the same definition as
    :func:`~aa_lib.evaluation.cooperation_probe`; the ``"self"`` probe reuses
    the self-play games when ``"self"`` is among ``opponents``.

    Args:
        policy: a learned policy (or scripted agent) in seat 1.
        env: its environment.
        opponents: ``"self"`` and/or short names of scripted agents (the other seats).
        probes: co-players of the cooperation probe, ``"self"`` and/or ``"random"``;
            ignored unless ``env`` is an iterated 2x2 game.
        episodes: games per co-player (at least 2).
        seed: seed of the evaluation games (one generator for the whole evaluation).
    """
    if check_positive_int(episodes, "episodes") < 2:
        raise ValueError(f"episodes must be at least 2 to estimate an error, got {episodes}")
    probes = tuple(probes or ()) if is_iterated_2x2(env) else ()
    for name in probes:
        if name not in ("self", "random"):
            raise ValueError(f"probes must hold 'self' and/or 'random', got {name!r}")
    me = as_policy(policy)
    generator = torch.Generator(device=env.device).manual_seed(int(seed))
    metrics, errors = {}, {}

    coin = isinstance(env, CoinGame)

    def players(name: str) -> list:
        if name == "self":
            others = [me] * (env.n_players - 1)
        elif name == "random" and is_iterated_2x2(env):
            others = [scripted_agent(env, "Random")]
        else:
            others = [scripted_agent(env, name) for _ in range(env.n_players - 1)]
        return [me] + [as_policy(o) for o in others]

    self_games = None
    for name in opponents:
        if coin:
            traj, own, other = coin_pickup_rollout(env, players(name), episodes, generator)
        else:
            traj = collect_rollout(env, players(name), episodes, generator)
        per_episode = traj.rewards.mean(-1).cpu()  # [P, B] per-step reward of each seat
        if name == "self":
            self_games = traj
            metrics["reward/self"], errors["reward/self"] = mean_and_error(per_episode.mean(0))
        else:
            metrics[f"reward/{name}"], errors[f"reward/{name}"] = mean_and_error(per_episode[0])
            key = f"opponent_reward/{name}"
            metrics[key], errors[key] = mean_and_error(per_episode[1:].mean(0))
        if coin:
            _own_coin_metrics(own, other, name, metrics, errors)
        if isinstance(env, NegotiationGame):
            _bid_metrics(traj, name, metrics, errors)
    for name in probes:
        traj = self_games if (name == "self" and self_games is not None) else collect_rollout(
            env, players(name), episodes, generator)
        _probe_metrics(me, traj, name, metrics, errors)
    protocol = {"opponents": list(opponents), "probes": list(probes), "episodes": episodes, "seed": int(seed)}
    return Evaluation(metrics, errors, protocol)


def seed_summary(metrics: Sequence[Dict[str, Optional[float]]]) -> Dict[str, Dict[str, float]]:
    """Mean and standard deviation over seeds of every metric.

    ``metrics`` holds one ``{key: value}`` per seed (e.g. ``Evaluation.metrics``
    or the ``"metrics"`` of a shipped checkpoint's JSON). A seed without a value
    for a key (missing, None or NaN: a probe state it never visited) does not
    count for that key. Returns ``{key: {"mean", "std", "n"}}`` with ``n`` the
    number of seeds that counted; ``std`` is the sample standard deviation over
    them (0 for a single seed), the whiskers of Fig. 1b.
    """
    if not metrics:
        raise ValueError("metrics must hold at least one seed's metrics")
    keys = list(dict.fromkeys(k for m in metrics for k in m))
    out = {}
    for key in keys:
        values = [float(m[key]) for m in metrics if m.get(key) is not None and not math.isnan(float(m[key]))]
        if not values:
            continue
        x = torch.tensor(values, dtype=torch.float64)
        std = float(x.std(unbiased=True)) if len(x) > 1 else 0.0
        out[key] = {"mean": float(x.mean()), "std": std, "n": len(x)}
    return out


@torch.no_grad()
def play_transcript(env, agents: Sequence, names: Sequence[str], n_episodes: int = 3, seed: int = 0,
                    symbols: Sequence[str] = ("C", "D")) -> str:
    """Sampled episodes of ``agents`` (one per seat) written out action by action.

    Discrete games only; action ``i`` is written ``symbols[i]`` (IPD: C, D) or its
    number when ``symbols`` has no entry for it. One block per episode, one line per seat.
    """
    if env.action_kind != "discrete":
        raise ValueError("play_transcript needs a game with discrete actions")
    if len(agents) != env.n_players or len(names) != env.n_players:
        raise ValueError(f"agents and names must hold one entry per seat ({env.n_players})")
    generator = torch.Generator(device=env.device).manual_seed(int(seed))
    traj = collect_rollout(env, [as_policy(a) for a in agents], check_positive_int(n_episodes, "n_episodes"),
                           generator)
    width = max(len(n) for n in names)
    lines = []
    for b in range(n_episodes):
        for seat, name in enumerate(names):
            acts = traj.actions[seat, b].tolist()
            text = " ".join(symbols[a] if a < len(symbols) else str(a) for a in acts)
            head = f"episode {b + 1}" if seat == 0 else ""
            lines.append(f"{head:<10} {name:>{width}}: {text}")
    return "\n".join(lines)
