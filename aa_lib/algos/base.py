"""The learning-rule interface, and the shared actor loss: a policy-gradient surrogate with a pluggable advantage.

Every rule derives from :class:`LearningRule`: the trainer (:class:`aa_lib.training.Trainer`)
calls its hooks and never asks which rule it runs, so reading one algorithm is reading its
file in ``algos/`` plus :mod:`aa_lib.advantages`, and a new rule is one file and one line of
the registry (``aa_lib.algos.ALGORITHMS``). The hooks, in the order of one training iteration:

=========================  ==============================================================
``validate(env, game)``    refuse a game the rule cannot train on (LOLA-DiCE: two players;
                           item-factored AA: ``env.reward_parts``; squashed entropy:
                           continuous actions)
``extend_estimates``       add the rule's own per-seat tensors ``[P, B, T, ...]`` to the
                           critic's :class:`SeatEstimates` (AA family: shaping advantages of
                           their own GAE lambda; LOQA: ``Q(s_t, b_t)``; item-factored AA:
                           centred rewards and reward parts)
``extend_batch``           stack them over the learner's rows into its :class:`LearnerBatch`
                           (LOQA: the co-players' softmax-Q probabilities, eq. 53)
``update_actor``           the rule's own actor update, or None for the trainer's default
                           (``n_epochs`` steps on :meth:`PolicyGradientAlgorithm.actor_loss`);
                           LOLA-DiCE differentiates through the co-player's policy instead
=========================  ==============================================================

Class attributes say what a rule is: ``name``, ``takes_beta`` (it has an Advantage Alignment
weight beta, read by the presets and the dashboard through :func:`aa_lib.algos.rule_takes_beta`),
``needs_q_values`` (its critic has a Q head) and ``reward_sharing`` (it trains on the sum of all
players' rewards).

Every rule except LOLA-DiCE is the same loss on a batch of episodes,

    L = - mean_{n,t} surrogate(w_nt, ratio_nt) - entropy_coef * mean_{n,t} H(pi(.|h_nt)),

differing only in the weight ``w`` put on ``log pi(a_t | h_t)`` and in whether
the surrogate is REINFORCE (``w * log pi``, eq. 3) or PPO's clipped ratio
(``min(r w, clip(r, 1 - eps, 1 + eps) w)``, eq. 9):

- naive actor-critic: ``w = A^1`` (eq. 3);
- PPO: the same weight, clipped surrogate, several epochs;
- PPO with summed rewards: advantages of the summed reward (the trainer sums);
- Advantage Alignment: ``w = A^1 + beta * shaping`` (eq. 8 / eq. 59);
- Proximal Advantage Alignment: the same ``w = A*`` (eq. 10) in the clipped surrogate (eq. 9);
- LOQA: the shaping weighted by ``1 - pi~^2`` (Theorem 2, eq. 12).

A subclass of :class:`PolicyGradientAlgorithm` overrides :meth:`PolicyGradientAlgorithm.weights`
(and the hooks for the data it needs).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Optional, Sequence, Tuple

import torch

__all__ = ["LearnerBatch", "LearningRule", "PolicyGradientAlgorithm", "SeatEstimates", "EstimateInputs",
           "SeatRows", "centre_per_seat", "time_discounts"]


def centre_per_seat(x: torch.Tensor, learner_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Subtract from ``x [P, B, ...]`` its mean over the games (dim 1) at every seat, taken
    separately over the games where a learner of the trainer sits in that seat and over those
    where another agent (a replayed past agent, a scripted one) does.

    ``learner_mask [P, B]`` is True where a learner plays (None: everywhere). The learner's
    values are thus centred over all of *its* games in that seat (against every co-player, as
    its critic's baseline is), and never together with a replayed agent's values.
    """
    if learner_mask is None:
        return x - x.mean(1, keepdim=True)
    if learner_mask.shape != x.shape[:2]:
        raise ValueError(f"learner_mask has shape {tuple(learner_mask.shape)}, expected {tuple(x.shape[:2])}")
    mask = learner_mask.reshape(*learner_mask.shape, *([1] * (x.dim() - 2)))  # [P, B, 1...]
    mask = mask.to(device=x.device, dtype=x.dtype)
    out = torch.zeros_like(x)
    for m in (mask, 1.0 - mask):
        count = m.sum(1, keepdim=True)
        mean = (x * m).sum(1, keepdim=True) / count.clamp_min(1.0)
        out = out + m * (x - mean)
    return out


@dataclass
class SeatEstimates:
    """Critic estimates of every seat, each ``[P, B, T]`` (``q`` is ``[P, B, T, n]`` or None).

    The first four fields are the trainer's; the optional ones are filled by a rule's
    :meth:`LearningRule.extend_estimates` (None for the other rules).
    """

    advantages: torch.Tensor
    returns: torch.Tensor
    values: torch.Tensor
    q: Optional[torch.Tensor]
    #: ``[P, B, T]`` advantages for the shaping term (``TrainConfig.shaping_gae_lambda``), or None
    #: when they equal ``advantages`` (Advantage Alignment family).
    shaping_advantages: Optional[torch.Tensor] = None
    #: ``[P, B, T]`` LOQA's estimate of ``Q(s_t, b_t)`` for the action taken: the *uncentred* GAE
    #: advantage plus the value (centring would shift it by the batch mean); None unless LOQA.
    taken_q: Optional[torch.Tensor] = None
    #: ``[P, B, T]`` rewards and ``[P, B, T, d]`` reward parts (``env.reward_parts``), each centred
    #: at every step over the learner's games in that seat, apart from the other agents' games
    #: (see :func:`centre_per_seat`); None unless the rule needs them (item-factored AA).
    centred_rewards: Optional[torch.Tensor] = None
    reward_parts: Optional[torch.Tensor] = None
    #: Per-seat tensors of a rule that has no field above (a new rule's own data, by name).
    extras: Dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class EstimateInputs:
    """What the trainer knows after evaluating its critics on a batch of ``B`` games of ``T`` steps
    between ``P`` players; handed to :meth:`LearningRule.extend_estimates`.

    Attributes:
        traj: the :class:`~aa_lib.training.rollout.Trajectory` (``obs``, ``actions``,
            ``env_actions``, ``rewards`` ``[P, B, T, ...]``).
        env: the environment that played it.
        rewards: ``[P, B, T]`` the rewards the rule learns from (summed over players with ``reward_sharing``).
        values: ``[P, B, T]`` the online critic's ``V(s_t)``.
        next_values: ``[P, B]`` ``V(s_T)`` after the last step (0 where the episode ended).
        raw_advantages: ``[P, B, T]`` GAE(``gae_lambda``) advantages before any centring.
        gamma, gae_lambda: the reward discount and the policy gradient's GAE lambda.
        shaping_gae_lambda: the GAE lambda asked for the shaping term (``gae_lambda`` when not set).
        center_advantages: whether the trainer centres advantages per seat.
        learner_mask: ``[P, B]`` True where a learner of the trainer plays, or None (everywhere).
    """

    traj: Any
    env: Any
    rewards: torch.Tensor
    values: torch.Tensor
    next_values: torch.Tensor
    raw_advantages: torch.Tensor
    gamma: float
    gae_lambda: float
    shaping_gae_lambda: float
    center_advantages: bool
    learner_mask: Optional[torch.Tensor] = None


class SeatRows:
    """The rows one learner learns from: ``(seat, game indices)`` pairs of a ``[P, B, ...]`` batch.

    :meth:`own` stacks a per-seat tensor over those rows, :meth:`others` stacks the same games'
    co-players (``[n_others, N, ...]``, the co-players of seat ``s`` in seat order).
    """

    def __init__(self, rows: Sequence[Tuple[int, torch.Tensor]], n_players: int):
        self.rows = list(rows)
        self.n_players = n_players
        self._others = [[j for j in range(n_players) if j != s] for s in range(n_players)]

    def own(self, x: torch.Tensor) -> torch.Tensor:
        """``x [P, B, ...] -> [N, ...]``: the learner's seat of each of its games."""
        return torch.cat([x[s][idx] for s, idx in self.rows])

    def others(self, x: torch.Tensor) -> torch.Tensor:
        """``x [P, B, ...] -> [P - 1, N, ...]``: the co-players' seats of the same games."""
        return torch.cat([x[self._others[s]][:, idx] for s, idx in self.rows], dim=1)


class LearningRule:
    """Base of every learning rule: its capabilities and the trainer's hooks (module docstring).

    Every hook has a default that adds nothing, so a rule overrides only what it needs.
    """

    name = "rule"
    #: The rule has an Advantage Alignment weight ``beta`` (and the presets' AA options apply).
    takes_beta: ClassVar[bool] = False
    #: The critic needs a Q head (LOQA); rules that are dataclasses may shadow these with fields.
    needs_q_values = False
    #: Train on the sum of all players' rewards.
    reward_sharing = False

    def validate(self, env, game: str = "") -> None:
        """Raise ValueError if ``env`` (the game called ``game``) cannot be trained with this rule."""

    def extend_estimates(self, est: SeatEstimates, inputs: EstimateInputs) -> None:
        """Add the rule's own per-seat tensors to ``est`` (in place; ``inputs``: :class:`EstimateInputs`)."""

    def extend_batch(self, batch: "LearnerBatch", est: SeatEstimates, traj, rows: SeatRows) -> None:
        """Add the rule's own data to the learner's ``batch`` (in place), taken from ``est`` and
        ``traj`` at ``rows`` (a :class:`SeatRows`)."""

    def update_actor(self, trainer, learner_index: int, chunks: List, traj, est: SeatEstimates
                     ) -> Optional[Dict[str, float]]:
        """The rule's own actor update of ``trainer.learners[learner_index]``; returns its metrics,
        or None to let the trainer take its default step (:meth:`PolicyGradientAlgorithm.actor_loss`).

        ``chunks`` are the iteration's groups of games (``policies`` per seat, ``learner_seats``,
        ``size``) in batch order, ``traj`` their trajectory and ``est`` its :class:`SeatEstimates`.
        """
        return None


@dataclass
class LearnerBatch:
    """What an actor loss needs, for ``N`` learner sequences of ``T`` steps.

    ``N`` stacks the learner's seats of all games (self-play: both seats). The trainer fills
    the first six fields; the optional ones are a rule's own data, filled by its
    :meth:`LearningRule.extend_batch` (None for the other rules).

    Attributes:
        obs: ``[N, T, *obs_shape]`` observations (the policy re-evaluates whole sequences).
        actions: ``[N, T]`` or ``[N, T, d]`` stored latents.
        old_log_probs: ``[N, T]`` behaviour log-probabilities.
        advantages: ``[N, T]`` the learner's own advantages ``A^1`` (GAE).
        other_advantages: ``[n_others, N, T]`` advantages of the co-players of the same
            games, from their own seats (``A^2``, ``A^3``, ...), as used by the shaping term.
        gamma: reward discount of the game.
        other_q_probs: ``[n_others, N, T]`` LOQA's ``pi~^j(b_t | s_t)`` (eq. 53) or None.
        shaping_advantages: ``[N, T]`` the learner's own advantages for the shaping term
            when they are estimated differently from ``advantages`` (another GAE lambda,
            see ``TrainConfig.shaping_gae_lambda``); None: ``advantages``.
        rewards: ``[N, T]`` the learner's rewards centred at each step over its games in its
            seat, apart from the replayed or scripted agents' games there (item-factored AA).
        reward_parts: ``[N, T, d]`` the same split over action dimensions (``env.reward_parts``,
            centred); ``other_reward_parts``: ``[n_others, N, T, d]`` those of the co-players.
        extras: a rule's own data that has no field here (a new rule's, by name).
    """

    obs: torch.Tensor
    actions: torch.Tensor
    old_log_probs: torch.Tensor
    advantages: torch.Tensor
    other_advantages: torch.Tensor
    gamma: float
    other_q_probs: Optional[torch.Tensor] = None
    shaping_advantages: Optional[torch.Tensor] = None
    rewards: Optional[torch.Tensor] = None
    reward_parts: Optional[torch.Tensor] = None
    other_reward_parts: Optional[torch.Tensor] = None
    extras: Dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def horizon(self) -> int:
        return self.advantages.shape[-1]


def time_discounts(gamma: float, horizon: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """``gamma^t`` for ``t = 0 .. T-1``, ``[T]`` (the discount of eq. 3)."""
    return gamma ** torch.arange(horizon, device=device, dtype=dtype)


@dataclass
class PolicyGradientAlgorithm(LearningRule):
    """Naive actor-critic: REINFORCE with the critic's advantage (eq. 3).

    Subclasses change :meth:`weights` (what multiplies ``log pi``) and the
    surrogate settings below.
    """

    name = "naive"
    #: Entropy bonus coefficient (Table 1: 0.15, Table 2: 0.1, Table 3: 0.005).
    entropy_coef: float = 0.0
    #: Multiply each step's weight by ``gamma^t`` as in eq. 3 (the exact policy gradient);
    #: practical implementations (and the default here) leave it out.
    discount_weights: bool = False
    #: Standardise the weights over the batch (Table 4: True for Commons Harvest).
    standardize: bool = False
    #: PPO clip range epsilon; None gives the plain REINFORCE surrogate.
    clip: Optional[float] = None
    #: Optimisation epochs over each batch (PPO "updates per batch").
    n_epochs: int = 1
    #: Train on the sum of all players' rewards (prosocial PPO-SR baseline).
    reward_sharing: bool = False
    #: Continuous actions: put the entropy bonus on the squashed actions (one-sample estimate,
    #: ``SquashedGaussian.action_entropy``) instead of on the latent Gaussian, whose entropy
    #: does not depend on the mean and so does not stop the actions from piling up at a bound.
    squashed_entropy: bool = False
    #: Needs Q-values of the co-players (LOQA).
    needs_q_values: bool = field(default=False, init=False)

    def validate(self, env, game: str = "") -> None:
        if self.squashed_entropy and env.action_kind != "continuous":
            raise ValueError(f"squashed_entropy needs continuous (squashed Gaussian) actions; {game!r} "
                             f"has {env.action_kind} actions")

    def weights(self, batch: LearnerBatch) -> torch.Tensor:
        """Weight ``[N, T]`` multiplying ``log pi(a_t | h_t)``; here ``A^1`` (eq. 3)."""
        return batch.advantages

    def final_weights(self, batch: LearnerBatch) -> torch.Tensor:
        """:meth:`weights` (``[N, T]``, or ``[N, T, d]`` per action dimension) with the optional
        ``gamma^t`` discount and normalisation, detached."""
        w = self.weights(batch).detach()
        if self.discount_weights:
            discounts = time_discounts(batch.gamma, batch.horizon, w.device, w.dtype)  # [T]
            w = w * discounts.reshape(-1, *([1] * (w.dim() - 2)))  # over [N, T] or [N, T, d]
        if self.standardize:
            w = (w - w.mean()) / (w.std() + 1e-8)
        return w

    def surrogate(self, log_probs: torch.Tensor, old_log_probs: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Per-step objective ``[N, T]``: REINFORCE (eq. 3) or clipped PPO (eq. 9)."""
        if self.clip is None:
            return w * log_probs
        ratio = torch.exp(log_probs - old_log_probs)
        clipped = torch.clamp(ratio, 1.0 - self.clip, 1.0 + self.clip)
        return torch.minimum(ratio * w, clipped * w)

    def log_probs(self, dist, actions: torch.Tensor) -> torch.Tensor:
        """``log pi(a_t | h_t)`` ``[N, T]`` of the stored latents under ``dist``."""
        return dist.log_prob(actions)

    def entropy(self, dist, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Entropy bonus ``[N, T]``: the distribution's entropy, or with ``squashed_entropy`` the
        one-sample entropy of the squashed actions (noise from ``generator``)."""
        if not self.squashed_entropy:
            return dist.entropy()
        if not hasattr(dist, "action_entropy"):
            raise ValueError(f"squashed_entropy needs continuous (squashed Gaussian) actions, the policy gives "
                             f"{type(dist).__name__}")
        return dist.action_entropy(generator)

    def actor_loss(self, policy, batch: LearnerBatch, weights: Optional[torch.Tensor] = None,
                   generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, Dict[str, float]]:
        """``(loss, metrics)`` for ``policy`` on ``batch``; ``weights`` may be precomputed;
        ``generator`` draws the noise of a sampled entropy estimate (``squashed_entropy``)."""
        w = self.final_weights(batch) if weights is None else weights
        dist = policy.sequence_distribution(batch.obs)
        log_probs, entropy = self.log_probs(dist, batch.actions), self.entropy(dist, generator)
        objective = self.surrogate(log_probs, batch.old_log_probs, w).mean()
        mean_entropy = entropy.mean()
        loss = -objective - self.entropy_coef * mean_entropy
        metrics = {"actor_objective": float(objective.detach()), "entropy": float(mean_entropy.detach()),
                   "weight_abs_mean": float(w.abs().mean()),
                   "advantage_abs_mean": float(batch.advantages.abs().mean())}
        return loss, metrics
