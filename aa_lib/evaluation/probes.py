"""Behaviour probes: P(cooperate | previous joint action) (Fig. 1b), exploitability, Coin Game pickups and retaliation.

For a history-based (GRU) policy, ``P(C | previous joint action)`` is measured
empirically: play episodes, and average the policy's probability of
cooperating at every step over the steps whose previous joint action (from the
policy's own seat) was start, CC, CD, DC or DD. The co-player decides which
histories are visited: itself (``"self"``, the paper's self-play setting) or a
uniformly random player (``"random"``, which visits every state often).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import torch

from .._validation import check_positive_int
from ..agents.scripted import RandomAgent, scripted_agent
from ..games.coin import CoinGame, coin_move_targets, moves_towards, torus_distance
from ..exact.memory_one import STATE_NAMES
from ..training.rollout import collect_rollout
from .match import as_policy, play

__all__ = ["ProbeResult", "cooperation_probe", "exploitability", "coin_pickup_rollout", "coin_pickups",
           "coin_retaliation",
           "coin_counterfactual_probe", "retaliation_shares"]


@dataclass
class ProbeResult:
    """``probabilities[state]`` = mean P(C) after that previous joint action; ``counts[state]`` visits."""

    probabilities: Dict[str, float]
    counts: Dict[str, int]

    def as_tensor(self) -> torch.Tensor:
        """``[5]`` in the order start, CC, CD, DC, DD (NaN where never visited)."""
        return torch.tensor([self.probabilities[s] for s in STATE_NAMES])


@torch.no_grad()
def cooperation_probe(policy, env, opponent="self", batch_size: int = 1024,
                      generator: Optional[torch.Generator] = None) -> ProbeResult:
    """P(cooperate | previous joint action) of ``policy`` in an iterated 2x2 game (Fig. 1b).

    Args:
        policy: a learned policy (its action probabilities are averaged) or a
            scripted agent (its sampled actions are averaged).
        env: an :class:`~aa_lib.games.iterated.IteratedMatrixGame`.
        opponent: ``"self"``, ``"random"``, or any agent for seat 2.
        batch_size: number of probe episodes.
        generator: randomness of the probe episodes.
    """
    if tuple(env.observation_shape) != (5,) or env.n_players != 2:
        raise ValueError("cooperation_probe needs an iterated 2x2 game with one-hot observations [5]")
    me = as_policy(policy)
    if isinstance(opponent, str):
        if opponent not in ("self", "random"):
            raise ValueError(f"opponent must be 'self', 'random' or an agent, got {opponent!r}")
        other = me if opponent == "self" else as_policy(RandomAgent(2))
    else:
        other = as_policy(opponent)
    traj = collect_rollout(env, [me, other], batch_size, generator)
    obs = traj.obs[0]  # [B, T, 5] from the probed policy's seat
    if hasattr(me, "sequence_distribution"):
        p_cooperate = me.sequence_distribution(obs).probs[..., 0]
    else:
        p_cooperate = (traj.actions[0] == 0).float()
    states = obs.argmax(-1)
    probs, counts = {}, {}
    for index, name in enumerate(STATE_NAMES):
        hit = states == index
        counts[name] = int(hit.sum())
        probs[name] = float(p_cooperate[hit].mean()) if counts[name] else float("nan")
    return ProbeResult(probs, counts)


def exploitability(policy, env, opponent="AD", batch_size: int = 512,
                   generator: Optional[torch.Generator] = None) -> Dict[str, float]:
    """Per-step rewards of ``policy`` (seat 1) against ``opponent`` (default Always Defect, seat 2).

    Returns ``{"agent": r1, "opponent": r2, "gap": r2 - r1}``: a policy that is
    not exploited keeps ``gap`` small (it stops cooperating with a defector).
    """
    if isinstance(opponent, str):
        opponent = scripted_agent(env, opponent)
    rewards = play(env, [policy, opponent], batch_size, generator)
    r1, r2 = float(rewards[0]), float(rewards[1])
    return {"agent": r1, "opponent": r2, "gap": r2 - r1}


@torch.no_grad()
def coin_pickup_rollout(env, policies, batch_size: int, generator: Optional[torch.Generator] = None):
    """Play Coin Game episodes and record every pickup from the game's ``info``.

    Returns ``(traj, own, other)``: the :class:`~aa_lib.training.rollout.Trajectory` and
    bool ``[P, B, T]`` tensors, True where a seat picked up a coin of its own colour /
    of the other's colour at step t.
    """
    infos = []
    traj = collect_rollout(env, policies, batch_size, generator, on_step=lambda r: infos.append(r.info))
    own, other = (torch.stack([i[key] for i in infos], -1) for key in ("picked_own", "picked_other"))
    return traj, own, other


@torch.no_grad()
def coin_pickups(policy, env, opponent="self", batch_size: int = 512,
                 generator: Optional[torch.Generator] = None) -> Dict[str, float]:
    """How selectively ``policy`` picks up coins in the Coin Game.

    Plays ``batch_size`` episodes with ``policy`` in seat 1 and ``opponent`` in
    seat 2 (``"self"``: the same policy, both seats are counted; a scripted name
    such as ``"AD"``; or any agent) and counts, from the game's ``info``, the
    coins each probed seat picked up of its own colour and of the other's.

    Returns ``{"own_fraction", "own_per_step", "other_per_step", "reward", "opponent_reward"}``:
    ``own_fraction`` = own / (own + other) pickups of the probed seat(s) (1: only its
    own coins, as Always Cooperate; about 0.5: any coin, as Always Defect), the
    pickups per step and game, and the per-step rewards of the two seats.
    """
    if not isinstance(env, CoinGame):
        raise ValueError(f"coin_pickups needs a CoinGame environment, got {type(env).__name__}")
    me = as_policy(policy)
    if isinstance(opponent, str) and opponent != "self":
        opponent = scripted_agent(env, opponent)
    other = me if isinstance(opponent, str) else as_policy(opponent)
    seats = [0, 1] if isinstance(opponent, str) else [0]
    traj, own, other_colour = coin_pickup_rollout(env, [me, other], batch_size, generator)
    n_own, n_other = float(own[seats].sum()), float(other_colour[seats].sum())
    steps = len(seats) * traj.batch_size * traj.horizon
    total = n_own + n_other
    per_step = traj.rewards.mean(dim=(1, 2))
    return {"own_fraction": n_own / total if total else float("nan"),
            "own_per_step": n_own / steps, "other_per_step": n_other / steps,
            "reward": float(per_step[seats].mean()), "opponent_reward": float(per_step[1])}


def retaliation_shares(coin_is_others: torch.Tensor, took_other: torch.Tensor, co_player_stole: torch.Tensor,
                       window: int = 3) -> Dict[str, float]:
    """How often a player takes a coin of the co-player's colour, after a theft and otherwise.

    In the Coin Game colours alternate after every pickup, so right after the
    co-player stole one of my coins the coin on the board is always the
    co-player's: counting the share of *my pickups* that are steals would show
    "retaliation" even for an agent that ignores the history. The probe therefore
    looks only at steps where the coin on the board has the co-player's colour and
    measures the per-step rate at which the player takes it.

    Args:
        coin_is_others: ``[B, T]`` bool, at the start of step t the coin has the
            co-player's colour (from the probed player's observation).
        took_other: ``[B, T]`` bool, the probed player picked up a coin of the
            co-player's colour at step t.
        co_player_stole: ``[B, T]`` bool, the co-player picked up a coin of the
            probed player's colour at step t.
        window: a step counts as "after a theft" when the co-player stole in one
            of the ``window`` steps before it (not the step itself).

    Returns ``{"after_theft", "otherwise"}`` (take rates per step, NaN when there is no
    such step) and ``{"steps_after_theft", "steps_otherwise"}`` (the steps behind them).
    A history-blind agent has about the same rate in both; a reciprocal one a
    higher rate after a theft; Always Cooperate 0 in both.
    """
    if not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive int, got {window!r}")
    shape = coin_is_others.shape
    for name, x in (("coin_is_others", coin_is_others), ("took_other", took_other),
                    ("co_player_stole", co_player_stole)):
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape != shape:
            raise ValueError(f"{name} must be a [B, T] tensor like coin_is_others {tuple(shape)}, "
                             f"got {getattr(x, 'shape', type(x))}")
    stole, chance = co_player_stole.bool(), coin_is_others.bool()
    recent = torch.zeros_like(stole)
    for lag in range(1, min(window, shape[1] - 1) + 1):  # recent[:, t]: a theft in steps t-window .. t-1
        recent[:, lag:] |= stole[:, :-lag]
    out = {}
    for key, where in (("after_theft", chance & recent), ("otherwise", chance & ~recent)):
        steps, taken = float(where.sum()), float((took_other.bool() & where).sum())
        out[key] = taken / steps if steps else float("nan")
        out[f"steps_{key}"] = steps
    return out


@torch.no_grad()
def coin_retaliation(policy, env, opponent="self", batch_size: int = 1024,
                     generator: Optional[torch.Generator] = None, window: int = 3) -> Dict[str, float]:
    """Does ``policy`` (seat 1) take the co-player's coins more often right after it stole one of its coins?

    Plays ``batch_size`` Coin Game episodes against ``opponent`` (``"self"``, a
    scripted name such as ``"AD"``, or any agent) and applies
    :func:`retaliation_shares` to seat 1 (see there for why only steps with a coin
    of the co-player's colour count).
    """
    if not isinstance(env, CoinGame):
        raise ValueError(f"coin_retaliation needs a CoinGame environment, got {type(env).__name__}")
    me = as_policy(policy)
    if isinstance(opponent, str):
        opponent = me if opponent == "self" else scripted_agent(env, opponent)
    traj, _, other = coin_pickup_rollout(env, [me, as_policy(opponent)], batch_size, generator)
    other = other.cpu()  # [2, B, T]
    coin_is_others = traj.obs[0, :, :, 3].flatten(2).any(-1).cpu()  # plane 3: a coin of the other's colour
    return retaliation_shares(coin_is_others, other[0], other[1], window)


def _torus_step(cells: torch.Tensor, moves: torch.Tensor, g: int) -> torch.Tensor:
    """Flat cells ``[N]`` after one move each (indices into the Coin Game's MOVES, with wrap-around)."""
    return coin_move_targets(cells, g).gather(1, moves[:, None]).squeeze(1)


@torch.no_grad()
def coin_counterfactual_probe(policy, env, n_histories: int = 1024, generator: Optional[torch.Generator] = None,
                              prefix_steps: int = 0) -> Dict[str, float]:
    """Does a history-based Coin Game policy use a theft *in its history* to go after the co-player's coin?

    Builds pairs of 3-step observation histories (from the agent's seat, player 0) that end in the *same*
    observation, with a coin of the co-player's colour at cell Y on the board:

    - after a theft: at step 0 a coin of the agent's colour lies next to the co-player,
      which steps onto it (a theft); at step 1 the co-player's coin appears at Y;
    - no theft: the co-player's coin lies at Y from step 0; the players move the same way.

    Everything else is equal (positions at every step, the final observation), so a
    feed-forward policy gives identical action probabilities; a reciprocal history-based
    policy moves towards the co-player's coin more often after the theft. With
    ``prefix_steps > 0`` both histories start with the same first ``prefix_steps``
    observations of a self-play episode of ``policy`` (the probe then asks the question
    later in an episode; the constructed steps need not continue the prefix's
    positions). In a game with ``observe_thefts`` the theft planes also show the theft at
    step 1 (only there: the last observations are still equal), so the probe then asks
    whether the policy remembers it one step later. Returns the mean
    probability of the moves that bring the agent closer to Y at the last step in both
    cases, their paired difference and its standard error over the ``n_histories`` pairs.
    """
    if not isinstance(env, CoinGame):
        raise ValueError(f"coin_counterfactual_probe needs a CoinGame environment, got {type(env).__name__}")
    if not hasattr(policy, "sequence_distribution"):
        raise ValueError("coin_counterfactual_probe needs a learned policy with sequence_distribution")
    if check_positive_int(n_histories, "n_histories") < 2:
        raise ValueError(f"n_histories must be at least 2, got {n_histories}")
    g, cells, dev = env.grid_size, env.grid_size ** 2, env.device
    draw = lambda high, n: torch.randint(high, (n,), generator=generator, device=dev)  # noqa: E731
    pool = 16 * n_histories  # draw many scenarios, keep the valid ones
    m0, o0 = draw(cells, pool), draw(cells, pool)
    x = _torus_step(o0, draw(4, pool), g)  # the agent's coin, next to the co-player
    m1, o1 = _torus_step(m0, draw(4, pool), g), x  # the co-player steps onto it
    m2, o2 = _torus_step(m1, draw(4, pool), g), _torus_step(o1, draw(4, pool), g)
    y = draw(cells, pool)  # the co-player's coin
    valid = (x != m0) & (m1 != x) & (y != m0) & (y != o0) & (y != m1) & (y != o1) & (y != m2) & (y != o2)
    valid &= torus_distance(m2, y, g) > 0
    keep = valid.nonzero().squeeze(-1)[:n_histories]
    if keep.numel() < n_histories:  # pragma: no cover - 16x oversampling makes this practically impossible
        raise RuntimeError("could not draw enough valid histories; try again with another generator")
    m0, o0, x, m1, o1, m2, o2, y = (t[keep] for t in (m0, o0, x, m1, o1, m2, o2, y))
    n = n_histories
    zeros, ones = torch.zeros(n, dtype=torch.long, device=dev), torch.ones(n, dtype=torch.long, device=dev)
    env.reset(n, generator=generator)

    def observe(me, other, coin, owner, stolen=False):
        # the agent is player 0 (colour 0). stolen: the co-player (player 1) took the agent's coin
        # in the previous step, shown by the theft planes of an ``observe_thefts`` game
        thefts = torch.zeros(2, n, dtype=torch.bool, device=dev)
        thefts[1] = stolen
        return env.set_state(torch.stack([me, other]), coin, owner, thefts)[0]  # the agent's view

    shared = [observe(m2, o2, y, ones)]
    histories = {"after_theft": [observe(m0, o0, x, zeros), observe(m1, o1, y, ones, stolen=True)] + shared,
                 "no_theft": [observe(m0, o0, y, ones), observe(m1, o1, y, ones)] + shared}
    if prefix_steps:
        if not isinstance(prefix_steps, int) or not 0 < prefix_steps <= env.episode_length:
            raise ValueError(f"prefix_steps must be an int in [0, {env.episode_length}], got {prefix_steps!r}")
        me = as_policy(policy)
        prefix = collect_rollout(env, [me, me], n, generator).obs[0, :, :prefix_steps]  # [N, L, *obs]
        histories = {k: list(prefix.unbind(1)) + seq for k, seq in histories.items()}
    closer = moves_towards(m2, y, g)  # [N, 4]: moves that bring the agent closer to the coin
    approach = {}
    for key, seq in histories.items():
        probs = policy.sequence_distribution(torch.stack(seq, dim=1)).probs[:, -1]  # [N, 4] at the last step
        approach[key] = (probs * closer).sum(-1).double().cpu()
    diff = approach["after_theft"] - approach["no_theft"]
    return {"after_theft": float(approach["after_theft"].mean()), "no_theft": float(approach["no_theft"].mean()),
            "difference": float(diff.mean()), "difference_se": float(diff.std(unbiased=True) / n ** 0.5)}
