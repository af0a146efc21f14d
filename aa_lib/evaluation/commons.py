"""Commons Harvest evaluation: focal agents against greedy invaders, sustainability and zap metrics.

The paper's protocol (Sec. 5.4, Fig. 4; Melting Pot's scenarios) puts 5 *focal*
copies of the evaluated policy with 2 *invaders* (exploiters) in the 7 seats
and reports the focal agents' per-capita return. Here the invaders are
:class:`~aa_lib.agents.scripted.GreedyHarvester` agents (walk to the nearest
apple, never restrain themselves), and the focal seats are the first
``n_players - n_invaders`` seats (so with the environment's defaults the focal
agents take the two inside spawn points next to the apples, see
``CommonsConfig.inside_spawn_players``)::

    report = focal_evaluation(policy, env, n_invaders=2, episodes=256, seed=0)
    report.metrics["return/focal"], report.errors["return/focal"]

Every metric is a mean over independent episodes with its Monte Carlo
standard error (episodes are the independent samples). Keys, for each
``<who>`` in ``self`` (the policy in every seat) and ``focal`` (with invaders):

- ``return/<who>``: per-capita return of the policy's seats (apples per agent over the
  rollout of ``env.episode_length`` steps; ``return/invader``: the invaders' per-capita return);
- ``apples_left/<who>``: apples on the map after the last step;
- ``patches_alive/<who>``: patches (groups of apple spots linked by the regrowth
  radius, :func:`patch_labels`) that still hold an apple after the last step; a
  dead patch never regrows;
- ``zap_rate/<who>``: beams fired per agent-step by the policy's seats;
- ``first_half_share/<who>``: share of the policy's apples eaten in the first half of
  the episode (1 = everything eaten at once, lower = harvesting spread over time).

:func:`normalised_score` maps a focal return onto the paper's scale (0 = a
random population; the paper's 1 is a trained exploiter, here it is a
population of greedy harvesters, see its docstring), and
:func:`classify_behaviour` names the policy's behaviour as in Fig. 8 (greedy,
guarding, rotating) from these metrics.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import torch

from .._validation import check_positive_int
from ..agents.scripted import scripted_agent
from ..games.commons import CommonsHarvest
from ..training.rollout import collect_rollout
from .match import as_policy
from .summary import Evaluation, ratio_and_error

__all__ = ["PolicyAgent", "plot_episode_frames", "CommonsStats", "patch_labels", "patches_alive", "commons_stats",
           "focal_evaluation",
           "reference_returns", "normalised_score", "classify_behaviour", "BEHAVIOURS"]

#: Names returned by :func:`classify_behaviour`.
BEHAVIOURS = ("idle", "greedy", "guarding", "rotating")


def _check_env(env) -> CommonsHarvest:
    if not isinstance(env, CommonsHarvest):
        raise TypeError(f"env must be a CommonsHarvest, got {type(env).__name__}")
    return env


def patch_labels(env) -> torch.Tensor:
    """``[n_spots]`` long: the patch of every apple spot (0, 1, ... in map order).

    A patch is a connected group of spots, two spots being linked when they lie
    within the regrowth radius of each other (they feed each other's regrowth).
    """
    adjacency = _check_env(env)._adjacency.bool().cpu()  # [S, S]
    S = adjacency.shape[0]
    labels = torch.full((S,), -1, dtype=torch.long)
    count = 0
    for start in range(S):
        if labels[start] >= 0:
            continue
        stack = [start]
        labels[start] = count
        while stack:
            spot = stack.pop()
            for other in adjacency[spot].nonzero().flatten().tolist():
                if labels[other] < 0:
                    labels[other] = count
                    stack.append(other)
        count += 1
    return labels.to(env.device)


def patches_alive(env, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``[B]`` long: patches holding at least one apple now, in every game of the batch."""
    labels = patch_labels(env) if labels is None else labels
    n_patches = int(labels.max()) + 1
    apples = env.apples[:, : env.n_spots].float()  # [B, S]
    per_patch = torch.zeros(apples.shape[0], n_patches, device=apples.device)
    per_patch.index_add_(1, labels, apples)
    return (per_patch > 0).sum(1)


@dataclass
class CommonsStats:
    """Per-episode measurements of one batch of Commons Harvest games.

    Attributes:
        rewards: ``[P, B, T]`` apples eaten by each seat at each step.
        fired: ``[P, B, T]`` bool, the seat fired a beam at step t.
        apples: ``[B, T]`` apples on the map after each step.
        apples_left: ``[B]`` apples after the last step.
        patches_alive: ``[B]`` patches with an apple after the last step.
        n_patches: number of patches of the map.
    """

    rewards: torch.Tensor
    fired: torch.Tensor
    apples: torch.Tensor
    apples_left: torch.Tensor
    patches_alive: torch.Tensor
    n_patches: int


@torch.no_grad()
def commons_stats(env, agents: Sequence, episodes: int = 256, generator: Optional[torch.Generator] = None,
                  horizon: Optional[int] = None) -> CommonsStats:
    """Play ``episodes`` games with ``agents[i]`` in seat ``i`` (learned or scripted) and measure them."""
    env = _check_env(env)
    if len(agents) != env.n_players:
        raise ValueError(f"agents must hold one agent per seat ({env.n_players}), got {len(agents)}")
    check_positive_int(episodes, "episodes")
    fired, apples = [], []

    def on_step(result):
        fired.append(result.info["fired"])
        apples.append(result.info["apples"])

    traj = collect_rollout(env, [as_policy(a) for a in agents], episodes, generator, horizon, on_step)
    labels = patch_labels(env)
    return CommonsStats(rewards=traj.rewards, fired=torch.stack(fired, -1), apples=torch.stack(apples, -1),
                        apples_left=env.apples[:, : env.n_spots].sum(1), patches_alive=patches_alive(env, labels),
                        n_patches=int(labels.max()) + 1)


def _mean_se(x: torch.Tensor):
    x = x.double().cpu()
    return float(x.mean()), float(x.std(unbiased=True) / x.numel() ** 0.5)


def _summarise(stats: CommonsStats, seats: Sequence[int], who: str, metrics: dict, errors: dict) -> None:
    """Metrics of ``seats`` (a list of seat indices) under the name ``who`` (see the module docstring)."""
    rewards = stats.rewards[list(seats)]  # [k, B, T]
    T = rewards.shape[-1]
    per_episode = {
        f"return/{who}": rewards.sum(-1).mean(0),
        f"apples_left/{who}": stats.apples_left.float(),
        f"patches_alive/{who}": stats.patches_alive.float(),
        f"zap_rate/{who}": stats.fired[list(seats)].float().mean((0, 2)),
    }
    for key, x in per_episode.items():
        metrics[key], errors[key] = _mean_se(x)
    early, total = rewards[..., : T // 2].sum((0, 2)), rewards.sum((0, 2))  # [B]
    key = f"first_half_share/{who}"
    if float(total.sum()) > 0:  # ratio estimate over episodes (delta method, as ratio_and_error)
        metrics[key], errors[key] = ratio_and_error(early.cpu(), total.cpu())


@torch.no_grad()
def focal_evaluation(policy, env, *, n_invaders: int = 2, invader: str = "Greedy", episodes: int = 256,
                     seed: int = 0, self_play: bool = True):
    """Evaluate ``policy`` in self-play and as the focal population against ``n_invaders`` invaders.

    Args:
        policy: a learned policy or scripted agent (it plays every focal seat).
        env: a :class:`~aa_lib.games.commons.CommonsHarvest`.
        n_invaders: seats (the last ones) taken by invaders (paper: 2 of 7).
        invader: scripted agent of the invaders (``"Greedy"`` or ``"Random"``).
        episodes: games per setting (at least 2).
        seed: seed of the evaluation (one generator for the whole evaluation).
        self_play: also measure the policy in every seat (keys ``*/self``).

    Returns:
        an :class:`~aa_lib.evaluation.summary.Evaluation` (metrics, standard errors, protocol).
    """

    env = _check_env(env)
    if check_positive_int(episodes, "episodes") < 2:
        raise ValueError(f"episodes must be at least 2 to estimate an error, got {episodes}")
    if isinstance(n_invaders, bool) or not isinstance(n_invaders, int) or not 0 < n_invaders < env.n_players:
        raise ValueError(f"n_invaders must be an integer in [1, {env.n_players - 1}], got {n_invaders!r}")
    generator = torch.Generator(device=env.device).manual_seed(int(seed))
    me = as_policy(policy)
    metrics: Dict[str, float] = {}
    errors: Dict[str, float] = {}
    P, k = env.n_players, n_invaders
    if self_play:
        stats = commons_stats(env, [me] * P, episodes, generator)
        _summarise(stats, range(P), "self", metrics, errors)
    invaders = [scripted_agent(env, invader) for _ in range(k)]
    stats = commons_stats(env, [me] * (P - k) + invaders, episodes, generator)
    _summarise(stats, range(P - k), "focal", metrics, errors)
    key = "return/invader"
    metrics[key], errors[key] = _mean_se(stats.rewards[P - k:].sum(-1).mean(0))
    protocol = {"kind": "commons_focal", "n_invaders": k, "invader": invader, "episodes": episodes,
                "seed": int(seed), "self_play": bool(self_play), "horizon": env.episode_length}
    return Evaluation(metrics, errors, protocol)


def reference_returns(env, *, n_invaders: int = 2, episodes: int = 256, seed: int = 0) -> Dict[str, float]:
    """Scripted populations measured with the :func:`focal_evaluation` protocol.

    Returns ``{"random", "greedy"}``: focal per-capita returns of a population of
    uniformly random agents and of :class:`~aa_lib.agents.scripted.GreedyHarvester`
    agents in the focal seats (with the same greedy invaders), and
    ``{"greedy_self", "greedy_patches"}``: the return and the patches left alive
    of greedy harvesters in every seat (the references of :func:`classify_behaviour`).
    """
    env = _check_env(env)
    random = focal_evaluation(scripted_agent(env, "Random"), env, n_invaders=n_invaders, episodes=episodes,
                              seed=seed, self_play=False)
    greedy = focal_evaluation(scripted_agent(env, "Greedy"), env, n_invaders=n_invaders, episodes=episodes,
                              seed=seed)
    return {"random": random.metrics["return/focal"], "greedy": greedy.metrics["return/focal"],
            "greedy_self": greedy.metrics["return/self"], "greedy_patches": greedy.metrics["patches_alive/self"]}


def normalised_score(focal_return: float, references: Dict[str, float]) -> float:
    """Min-max normalised focal return: 0 = random population, 1 = greedy-harvester population.

    The paper (Fig. 4) normalises between a random agent (0) and an exploiter
    baseline trained for 10^9 steps (1), and reports 1.63 for Proximal AA and
    0.94 for PPO. We have no trained exploiter; the scripted greedy harvester is
    the classroom's stand-in for a selfish population, so the two scales agree
    in spirit (above 1: better than selfish play) but not in value.
    """
    low, high = float(references["random"]), float(references["greedy"])
    if high == low:
        raise ValueError("the random and greedy references are equal; cannot normalise")
    return (float(focal_return) - low) / (high - low)


def classify_behaviour(metrics: Dict[str, float], references: Dict[str, float], who: str = "self",
                       zap_threshold: float = 0.05, idle_fraction: float = 0.5) -> str:
    """Name the behaviour of a population as in Fig. 8 (a heuristic on the metrics of ``who``).

    - ``"idle"``: it harvests less than ``idle_fraction`` of what greedy harvesters
      get under the same protocol (it has not learned to harvest);
    - ``"guarding"``: it fires at least ``zap_threshold`` beams per agent-step
      (the paper's bush guarding: zapping whoever comes near);
    - ``"rotating"``: it keeps more patches alive than a greedy population
      (restraint that prevents extinction);
    - ``"greedy"``: otherwise (harvests as fast as it can).

    ``references`` holds ``"greedy_self"`` (the return of greedy harvesters in every
    seat) and ``"greedy_patches"`` (the patches they leave alive), as returned by
    :func:`reference_returns`.
    """
    if metrics[f"return/{who}"] < idle_fraction * references["greedy_self"]:
        return "idle"
    if metrics[f"zap_rate/{who}"] >= zap_threshold:
        return "guarding"
    if metrics[f"patches_alive/{who}"] > references["greedy_patches"] + 0.5:
        return "rotating"
    return "greedy"


class PolicyAgent:
    """A learned policy as a scripted-style agent (``reset(batch_size)``, ``act(obs, generator)``).

    :func:`aa_lib.games.render.record_episode` and ``animate_episode`` drive agents
    of this form; the wrapper keeps the policy's (recurrent) state between steps.
    Give every seat its own ``PolicyAgent`` (states are per seat).
    """

    def __init__(self, policy):
        self.policy = policy
        self.state = None

    def reset(self, batch_size: int) -> None:
        self.state = None
        self._batch = batch_size

    def act(self, obs: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        if self.state is None or self.state.shape[0] != obs.shape[0]:
            self.state = self.policy.initial_state(obs.shape[0], obs.device)
        step = self.policy.act(obs, self.state, generator)
        self.state = step.state
        return step.env_action


def plot_episode_frames(env, agents: Sequence, steps: Sequence[int] = (0, 25, 50, 75, 100), seed: int = 0,
                        title: str = "", axes=None):
    """Snapshots of one episode at the given ``steps`` in a row (the frames of Figs. 5 and 8).

    ``agents`` holds one agent per seat: learned policies (wrapped in :class:`PolicyAgent`)
    or scripted agents. Returns the matplotlib axes.
    """
    import matplotlib.pyplot as plt

    from ..games.render import record_episode

    env = _check_env(env)
    if len(agents) != env.n_players:
        raise ValueError(f"agents must hold one agent per seat ({env.n_players}), got {len(agents)}")
    players = [PolicyAgent(a) if hasattr(a, "initial_state") else a for a in agents]  # learned: wrap
    frames = record_episode(env, players, generator=torch.Generator(device=env.device).manual_seed(int(seed)),
                            max_steps=max(1, max(steps)))
    steps = [t for t in steps if t < len(frames)]
    if axes is None:
        _, axes = plt.subplots(1, len(steps), figsize=(2.9 * len(steps), 2.2))
    for ax, t in zip(list(axes), steps):
        env.draw(frames[t], ax)
        ax.set_title(f"t = {t}: {int(sum(map(sum, frames[t]['apples'])))} apples", fontsize=9)
    if title:
        axes[0].figure.suptitle(title, fontsize=10)
    return axes
