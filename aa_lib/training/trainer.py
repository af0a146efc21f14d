"""The training loop shared by every learning rule (Algorithm 1 / Algorithm 2 of the paper).

One iteration:

1. choose who plays: the current agent in every seat (self-play), or, in a
   fraction of the games, past agents from the replay buffer in the last seats;
2. collect a batch of episodes (:func:`~aa_lib.training.rollout.collect_mixed_rollout`: every
   group of games with its own players, stepped as one batch);
3. evaluate each seat's critic: advantages by GAE (actor) and lambda-returns of
   the EMA target network (critic targets);
4. update the critic (TD regression), then the actor with the learning rule's loss
   (entropy bonus, gradient clipping); stop with :class:`NonFiniteLossError` on NaN/inf;
5. move the target network (EMA) and push to the replay buffer.

The trainer knows nothing of any particular rule: it calls the hooks of
:class:`~aa_lib.algos.base.LearningRule` (``validate`` the game, ``extend_estimates`` and
``extend_batch`` with the rule's own data, an optional own ``update_actor``), so each rule's
needs live in its file in :mod:`aa_lib.algos`.

Everything random draws from two explicit generators (rollouts, and opponent
sampling), and :meth:`Trainer.state_dict` captures parameters, optimiser
states, buffer, generators and history, so a resumed run continues bit for bit.
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import torch

from .._validation import check_device
from ..advantages import gae
from ..agents.critics import EmaTarget, make_critic
from ..agents.policies import MemoryOnePolicy, make_policy
from ..algos import EstimateInputs, LearnerBatch, SeatEstimates, SeatRows, centre_per_seat, make_algorithm
from ..games.registry import make_env
from .checkpoint import (TRAINER_FORMAT, CheckpointError, architecture_mismatch, architecture_of, checkpoint_record,
                         describe_record, load_trainer_checkpoint, save_checkpoint)
from .config import TrainConfig
from .replay import AgentReplayBuffer
from .rollout import Trajectory, collect_mixed_rollout

__all__ = ["Learner", "Trainer", "NonFiniteLossError", "SeatEstimates", "centre_per_seat"]


class NonFiniteLossError(FloatingPointError):
    """A loss, or another quantity met during training (rewards, critic values, parameters after an
    optimiser step), became NaN or infinite; the message names the iteration and the quantity."""


def _check_loss(loss: torch.Tensor, what: str, iteration: int) -> None:
    """Raise :class:`NonFiniteLossError` if ``loss`` is NaN or infinite."""
    if not torch.isfinite(loss):
        raise NonFiniteLossError(
            f"{what} is {float(loss.detach())} at training iteration {iteration}; training stopped "
            "(lower the learning rate, clip gradients, or check the rewards)")


def _check_finite(x: torch.Tensor, what: str, iteration: int) -> None:
    """Raise :class:`NonFiniteLossError` naming ``what`` and ``iteration`` if ``x`` holds NaN or inf."""
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        example = float(x[bad][0])
        raise NonFiniteLossError(
            f"{what} hold {int(bad.sum())} non-finite value(s) (e.g. {example}) at training iteration {iteration}; "
            "training stopped (lower the learning rate, clip gradients, or check the rewards)")


class Learner:
    """One learning agent: policy, critic, EMA target critic and their Adam optimisers."""

    def __init__(self, policy: torch.nn.Module, critic: torch.nn.Module, actor_lr: float, critic_lr: float):
        self.policy = policy
        self.critic = critic
        self.target = EmaTarget(critic)
        self.actor_opt = torch.optim.Adam(policy.parameters(), lr=actor_lr)
        self.critic_opt = torch.optim.Adam(critic.parameters(), lr=critic_lr)

    def state_dict(self) -> dict:
        return {"policy": self.policy.state_dict(), "critic": self.critic.state_dict(),
                "target": self.target.state_dict(), "actor_opt": self.actor_opt.state_dict(),
                "critic_opt": self.critic_opt.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.policy.load_state_dict(state["policy"])
        self.critic.load_state_dict(state["critic"])
        self.target.load_state_dict(state["target"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])


@dataclass
class _Chunk:
    """A group of games with the same policy in each seat."""

    policies: List[torch.nn.Module]
    learner_seats: List[bool]
    size: int


class Trainer:
    """Train one self-play learner (or one learner per seat) with a learning rule.

    Args:
        config: a :class:`~aa_lib.training.config.TrainConfig`.
        callbacks: objects with optional ``on_train_start(trainer)``,
            ``on_iteration_end(trainer, metrics)`` and ``on_train_end(trainer)``.
        env: an environment instance (default: built from ``config.game``).
    """

    def __init__(self, config: TrainConfig, callbacks: Sequence = (), env=None):
        self.config = config
        self.device = check_device(config.device, "config.device")
        self.env = env if env is not None else make_env(config.game, device=self.device, **config.game_options)
        if config.horizon is not None and config.horizon > self.env.episode_length:
            raise ValueError(f"horizon must be at most the episode length of {config.game!r} "
                             f"({self.env.episode_length} steps), got {config.horizon}")
        self.algo = make_algorithm(config.algo, **config.algo_options)
        self.algo.validate(self.env, config.game)
        self.callbacks = list(callbacks)
        n_learners = 1 if config.self_play else self.env.n_players
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.learners = [self._build_learner() for _ in range(n_learners)]
        self.rollout_generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self.control_generator = torch.Generator().manual_seed(config.seed + 7919)
        #: noise of sampled entropy estimates (``squashed_entropy``): its own stream, so the rollouts
        #: are those of a run without it
        self.entropy_generator = torch.Generator(device=self.device).manual_seed(config.seed + 104729)
        use_buffer = config.self_play and config.replay_capacity > 0
        self.buffer = AgentReplayBuffer(config.replay_capacity, config.replay_push_every) if use_buffer else None
        if use_buffer and config.center_advantages and round(config.batch_size * config.current_agent_fraction) == 1:
            # the replayed seats hold the current agent in one game only: centring its advantages
            # over that single game (centre_per_seat) makes them exactly zero there
            warnings.warn(f"batch_size * current_agent_fraction = 1: the learner plays the replayed seats in a "
                          f"single game per iteration, so its centred advantages there are zero and those games "
                          f"teach it nothing; use a larger batch_size or current_agent_fraction (or 0)",
                          UserWarning, stacklevel=2)
        self._spares: Dict[tuple, torch.nn.Module] = {}
        self.iteration = 0
        self.history: List[Dict[str, float]] = []

    # ----------------------------------------------------------------- building
    def _build_learner(self) -> Learner:
        cfg, env = self.config, self.env
        if cfg.policy == "memory_one":
            policy = MemoryOnePolicy()
        else:
            policy = make_policy(env, cfg.hidden, cfg.recurrent)
        horizon = cfg.horizon or env.episode_length
        value_scale = float(sum(cfg.gamma ** t for t in range(horizon)))  # size of a return per unit reward
        critic_recurrent = cfg.recurrent if cfg.critic_recurrent is None else cfg.critic_recurrent
        critic = make_critic(env, cfg.hidden, critic_recurrent, q_values=self.algo.needs_q_values,
                             value_scale=value_scale)
        return Learner(policy.to(self.device), critic.to(self.device), cfg.actor_lr, cfg.critic_lr)

    @property
    def policy(self) -> torch.nn.Module:
        """The (first) learner's policy."""
        return self.learners[0].policy

    def _seat_learner(self, seat: int) -> Learner:
        return self.learners[0] if self.config.self_play else self.learners[seat]

    def _spare(self, key: tuple) -> torch.nn.Module:
        if key not in self._spares:
            self._spares[key] = copy.deepcopy(self.policy).requires_grad_(False)
        return self._spares[key]

    # ------------------------------------------------------------------ one step
    def _plan(self) -> List[_Chunk]:
        """Who plays in which games this iteration (current agent and replayed agents)."""
        cfg, P, B = self.config, self.env.n_players, self.config.batch_size
        if not cfg.self_play:
            return [_Chunk([l.policy for l in self.learners], [True] * P, B)]
        current = self.policy
        if self.buffer is None or len(self.buffer) == 0:
            return [_Chunk([current] * P, [True] * P, B)]
        n_current = int(round(B * cfg.current_agent_fraction))
        n_replay = B - n_current
        k = min(cfg.replay_seats, P - 1)
        chunks = [_Chunk([current] * P, [True] * P, n_current)] if n_current else []
        groups = min(cfg.replay_groups, n_replay)
        for g in range(groups):
            size = n_replay // groups + (1 if g < n_replay % groups else 0)
            picks = self.buffer.sample_indices(k, self.control_generator)
            opponents = [self.buffer.load_into(ix, self._spare((g, s))) for s, ix in enumerate(picks)]
            chunks.append(_Chunk([current] * (P - k) + opponents, [True] * (P - k) + [False] * k, size))
        return chunks

    def _times(self, horizon: int) -> torch.Tensor:
        return torch.arange(horizon + 1, device=self.device, dtype=torch.float32) / self.env.episode_length

    @torch.no_grad()
    def estimate(self, traj: Trajectory, shaping_gae_lambda: Optional[float] = None,
                 learner_mask: Optional[torch.Tensor] = None) -> SeatEstimates:
        """Advantages (GAE, online critic), critic targets (lambda-returns of the EMA target)
        and Q-values (rules with ``needs_q_values``) for every seat ``[P, B, T]``, and what the
        learning rule adds to them (:meth:`~aa_lib.algos.base.LearningRule.extend_estimates`).

        ``shaping_gae_lambda`` overrides ``config.shaping_gae_lambda`` for this call (None: the config's).
        ``learner_mask [P, B]`` (from :meth:`collect`) keeps the centring of advantages
        (``center_advantages``), rewards and reward parts apart for the learner's games and the
        other agents' games in each seat (:func:`~aa_lib.algos.base.centre_per_seat`; None: all games together).
        """
        cfg, T = self.config, traj.horizon
        if traj.dones[:, :-1].any():
            raise ValueError("episodes must not end before the last step of a rollout")
        not_done = (~traj.dones[:, -1]).float()
        rewards = traj.rewards.sum(0, keepdim=True).expand_as(traj.rewards) if self.algo.reward_sharing \
            else traj.rewards
        obs_all, times = traj.obs_with_final(), self._times(T)
        if shaping_gae_lambda is None:
            shaping_gae_lambda = cfg.shaping_gae_lambda
        out = {"adv": [], "ret": [], "val": [], "next": [], "q": []}
        for seat in range(traj.n_players):
            learner = self._seat_learner(seat)
            values, q = learner.critic.values_and_q(obs_all[seat], times)
            target = learner.target(obs_all[seat], times)
            _check_finite(values, f"critic values of seat {seat}", self.iteration)
            _check_finite(target, f"target-critic values of seat {seat}", self.iteration)
            next_value = values[:, T] * not_done
            adv = gae(rewards[seat], values[:, :T], cfg.gamma, cfg.gae_lambda, next_value=next_value)
            ret = gae(rewards[seat], target[:, :T], cfg.gamma, cfg.gae_lambda,
                      next_value=target[:, T] * not_done) + target[:, :T]
            out["adv"].append(adv)
            out["ret"].append(ret)
            out["val"].append(values[:, :T])
            out["next"].append(next_value)
            out["q"].append(q[:, :T] if q is not None else None)
        q_all = torch.stack(out["q"]) if out["q"][0] is not None else None
        raw_advantages, values = torch.stack(out["adv"]), torch.stack(out["val"])  # [P, B, T]
        advantages = raw_advantages
        if cfg.center_advantages:  # per seat, the learner's games apart from the other agents'
            advantages = centre_per_seat(advantages, learner_mask)
        est = SeatEstimates(advantages, torch.stack(out["ret"]), values, q_all)
        self.algo.extend_estimates(est, EstimateInputs(
            traj=traj, env=self.env, rewards=rewards, values=values, next_values=torch.stack(out["next"]),
            raw_advantages=raw_advantages, gamma=cfg.gamma, gae_lambda=cfg.gae_lambda,
            shaping_gae_lambda=cfg.gae_lambda if shaping_gae_lambda is None else shaping_gae_lambda,
            center_advantages=cfg.center_advantages, learner_mask=learner_mask))
        return est

    def _rows(self, learner_index: int, learner_mask: torch.Tensor) -> List[tuple]:
        """``(seat, batch indices)`` of the games where ``learner_index`` learns from that seat."""
        rows = []
        for seat in range(learner_mask.shape[0]):
            if self.config.self_play or seat == learner_index:
                idx = learner_mask[seat].nonzero().squeeze(-1)
                if idx.numel():
                    rows.append((seat, idx))
        return rows

    def learner_batch(self, traj: Trajectory, est: SeatEstimates, rows: List[tuple]) -> LearnerBatch:
        """Stack the learner's ``rows`` (``(seat, game indices)`` pairs) into one
        :class:`~aa_lib.algos.base.LearnerBatch`, with what the rule adds to it
        (:meth:`~aa_lib.algos.base.LearningRule.extend_batch`)."""
        seat_rows = SeatRows(rows, traj.n_players)
        batch = LearnerBatch(obs=seat_rows.own(traj.obs), actions=seat_rows.own(traj.actions),
                             old_log_probs=seat_rows.own(traj.log_probs), advantages=seat_rows.own(est.advantages),
                             other_advantages=seat_rows.others(est.advantages), gamma=self.config.gamma)
        self.algo.extend_batch(batch, est, traj, seat_rows)
        return batch

    def check_loss(self, loss: torch.Tensor, what: str) -> None:
        """Stop with :class:`NonFiniteLossError` if ``loss`` is NaN or infinite (``what`` names it)."""
        _check_loss(loss, what, self.iteration)

    def clip_and_step(self, params, optimizer, what: str = "parameters") -> None:
        """Clip the gradients of ``params`` to ``config.max_grad_norm`` (if set) and step ``optimizer``;
        stop with :class:`NonFiniteLossError` if the step made a parameter NaN or infinite (``what`` names them)."""
        params = list(params)
        if self.config.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, self.config.max_grad_norm)
        optimizer.step()
        with torch.no_grad():
            finite = torch.stack([torch.isfinite(p).all() for p in params]).all() if params else True
        if not bool(finite):
            raise NonFiniteLossError(f"{what} became NaN or infinite after an optimiser step at training iteration "
                                     f"{self.iteration}; training stopped (lower the learning rate or clip gradients)")

    def _update_critic(self, learner: Learner, traj: Trajectory, est: SeatEstimates, rows) -> tuple:
        """``critic_updates`` regression steps on the lambda-returns of ``rows``.

        Returns ``(last loss, explained variance of the returns before the first step)``.
        """
        obs_all, times, T = traj.obs_with_final(), self._times(traj.horizon), traj.horizon
        obs = torch.cat([obs_all[s][idx] for s, idx in rows])
        returns = torch.cat([est.returns[s][idx] for s, idx in rows])
        actions = torch.cat([traj.actions[s][idx] for s, idx in rows])
        explained = None
        for _ in range(self.config.critic_updates):
            values, q = learner.critic.values_and_q(obs, times)
            loss = ((values[:, :T] - returns) ** 2).mean()
            if explained is None:  # before this iteration's updates: how well the critic tracks returns
                explained = float(1.0 - (returns - values[:, :T].detach()).var() / returns.var().clamp_min(1e-8))
            if q is not None:  # Q(h_t, a_t) regresses on the same lambda-return (it conditions on a_t)
                q_taken = q[:, :T].gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
                loss = loss + ((q_taken - returns) ** 2).mean()
            self.check_loss(loss, "critic loss")
            learner.critic_opt.zero_grad(set_to_none=True)
            loss.backward()
            self.clip_and_step(learner.critic.parameters(), learner.critic_opt, "critic parameters")
        return float(loss.detach()), explained

    def _update_actor(self, learner: Learner, batch: LearnerBatch) -> Dict[str, float]:
        """The default actor update: ``n_epochs`` steps on the rule's :meth:`actor_loss` of ``batch``."""
        weights = self.algo.final_weights(batch)
        metrics: Dict[str, float] = {}
        for epoch in range(self.algo.n_epochs):
            loss, metrics = self.algo.actor_loss(learner.policy, batch, weights, self.entropy_generator)
            self.check_loss(loss, f"actor loss ({self.algo.name}, epoch {epoch})")
            learner.actor_opt.zero_grad(set_to_none=True)
            loss.backward()
            self.clip_and_step(learner.policy.parameters(), learner.actor_opt, "policy parameters")
        metrics["actor_loss"] = float(loss.detach())
        return metrics

    @torch.no_grad()
    def collect(self):
        """One batch of games as planned for this iteration (nothing is updated).

        Returns ``(chunks, traj, learner_mask)``: the planned chunks of games (current and
        replayed agents), their :class:`~aa_lib.training.rollout.Trajectory` in one batch,
        and ``learner_mask [P, B]``, True where a learner of this trainer plays.
        """
        chunks = self._plan()
        traj = collect_mixed_rollout(self.env, [(c.policies, c.size) for c in chunks], self.rollout_generator,
                                     self.config.horizon)
        learner_mask = torch.cat([torch.tensor(c.learner_seats, device=self.device)[:, None].expand(-1, c.size)
                                  for c in chunks], dim=1)  # [P, B]
        return chunks, traj, learner_mask

    def step(self) -> Dict[str, float]:
        """Run one training iteration and return its metrics."""
        cfg = self.config
        if self.buffer is not None:
            self.buffer.maybe_push(self.policy, self.iteration)
        chunks, traj, learner_mask = self.collect()
        _check_finite(traj.rewards, "rewards", self.iteration)
        est = self.estimate(traj, learner_mask=learner_mask)
        metrics: Dict[str, float] = {"iteration": self.iteration}
        for li, learner in enumerate(self.learners):
            rows = self._rows(li, learner_mask)
            suffix = f"_{li}" if li else ""
            metrics["critic_loss" + suffix], metrics["critic_explained_variance" + suffix] = \
                self._update_critic(learner, traj, est, rows)
            m = self.algo.update_actor(self, li, chunks, traj, est)  # the rule's own update, or None
            if m is None:
                m = self._update_actor(learner, self.learner_batch(traj, est, rows))
            metrics.update({(k if not li else f"{k}_{li}"): v for k, v in m.items()})
            learner.target.update(learner.critic, cfg.critic_ema)
        metrics.update(self._reward_metrics(traj, learner_mask))
        self.iteration += 1
        self.history.append(metrics)
        return metrics

    def _reward_metrics(self, traj: Trajectory, learner_mask: torch.Tensor) -> Dict[str, float]:
        per_step = traj.rewards.mean(-1)  # [P, B]
        out = {"reward": float(per_step[learner_mask].mean())}
        for seat in range(traj.n_players):
            out[f"reward_{seat}"] = float(per_step[seat].mean())
        if self.env.action_kind == "discrete" and self.env.n_actions == 2:  # iterated matrix games
            out["cooperation"] = float((traj.actions == 0).float().mean(-1)[learner_mask].mean())
        return out

    # ---------------------------------------------------------------- the loop
    def train(self, iterations: Optional[int] = None) -> List[Dict[str, float]]:
        """Train until ``iterations`` in total (default ``config.iterations``); returns the history."""
        end = self.config.iterations if iterations is None else iterations
        for cb in self.callbacks:
            getattr(cb, "on_train_start", lambda t: None)(self)
        while self.iteration < end:
            metrics = self.step()
            for cb in self.callbacks:
                getattr(cb, "on_iteration_end", lambda t, m: None)(self, metrics)
        for cb in self.callbacks:
            getattr(cb, "on_train_end", lambda t: None)(self)
        return self.history

    # ---------------------------------------------------------- checkpointing
    def state_dict(self) -> dict:
        """Everything needed to continue bit for bit (plain tensors and containers)."""
        return {
            "format": TRAINER_FORMAT,
            # what the parameters fit, so that loading them elsewhere explains a mismatch (checkpoint_record)
            "game": self.config.game,
            "architecture": architecture_of(self.config.to_dict(), self.env),
            "config": self.config.to_dict(),
            "iteration": self.iteration,
            "learners": [l.state_dict() for l in self.learners],
            "buffer": self.buffer.state_dict() if self.buffer is not None else None,
            "rollout_generator": self.rollout_generator.get_state(),
            "control_generator": self.control_generator.get_state(),
            "entropy_generator": self.entropy_generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "history": [dict(m) for m in self.history],
        }

    def load_state_dict(self, state: dict, source: str = "the checkpoint") -> None:
        """Restore a :meth:`state_dict`; a checkpoint of another game or architecture, a slim
        (policies-only) one, or one with another number of learners raises a :class:`CheckpointError`
        naming ``source`` (the file) and the difference."""
        if not isinstance(state, dict) or state.get("format") != TRAINER_FORMAT:
            raise CheckpointError(f"{source} is not an aa_lib trainer checkpoint (missing format {TRAINER_FORMAT!r})")
        record = checkpoint_record(state)
        mine = {"game": self.config.game, "architecture": architecture_of(self.config.to_dict(), self.env)}
        differences = ([f"game {record['game']!r} (expected {mine['game']!r})"] if record["game"] != mine["game"]
                       else []) + architecture_mismatch(record["architecture"], mine["architecture"])
        if differences:
            raise CheckpointError(f"{source} is a checkpoint of {describe_record(record)}; this trainer has "
                                  f"{describe_record(mine)}: {', '.join(differences)}")
        if len(state["learners"]) != len(self.learners):
            raise CheckpointError(f"{source} holds {len(state['learners'])} learners, this trainer has "
                                  f"{len(self.learners)} (self_play={self.config.self_play})")
        missing = [k for k in ("actor_opt", "critic_opt") if k not in state["learners"][0]] + \
            [k for k in ("rollout_generator", "control_generator", "torch_rng", "history") if k not in state]
        if missing:
            raise CheckpointError(f"{source} is a slim checkpoint (policies and critics only, without {missing}): "
                                  f"it can be evaluated (aa_lib.evaluation.load_policy) but not resumed")
        for learner, s in zip(self.learners, state["learners"]):
            try:
                learner.load_state_dict(s)
            except (RuntimeError, KeyError, ValueError) as err:
                first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                raise CheckpointError(f"{source}: its parameters do not fit this trainer's networks "
                                      f"({describe_record(mine)}): {first}") from None
        if self.buffer is not None and state["buffer"] is not None:
            self.buffer.load_state_dict(state["buffer"])
        self.rollout_generator.set_state(state["rollout_generator"])
        self.control_generator.set_state(state["control_generator"])
        if "entropy_generator" in state:  # checkpoints written before it existed never used it
            self.entropy_generator.set_state(state["entropy_generator"])
        torch.set_rng_state(state["torch_rng"])
        self.iteration = int(state["iteration"])
        self.history = [dict(m) for m in state["history"]]

    def save(self, path) -> None:
        """Write a checkpoint atomically (see :mod:`aa_lib.training.checkpoint`)."""
        save_checkpoint(self.state_dict(), path)

    @classmethod
    def from_checkpoint(cls, path, callbacks: Sequence = (), device: Optional[str] = None,
                        game: Optional[str] = None) -> "Trainer":
        """Rebuild a trainer from a checkpoint and restore its full state.

        ``game``: the game the checkpoint must be of (None: any); a checkpoint of another game, a
        file that is no training checkpoint, or one trained against a scripted opponent (resume it
        with :class:`~aa_lib.training.session.ScriptedOpponentTrainer`) raises a :class:`CheckpointError`.
        """
        state = load_trainer_checkpoint(path, game=game)
        if state.get("scripted_opponent") is not None:
            raise CheckpointError(f"{path} was trained against the scripted opponent {state['scripted_opponent']!r}; "
                                  f"resume it with aa_lib.training.session.ScriptedOpponentTrainer.from_checkpoint")
        trainer = cls(config_of_checkpoint(state, path, device), callbacks)
        trainer.load_state_dict(state, source=str(path))
        return trainer


def config_of_checkpoint(state: dict, path, device: Optional[str] = None) -> TrainConfig:
    """The :class:`TrainConfig` stored in a training checkpoint (its ``device`` replaced if given);
    an invalid stored config raises a :class:`CheckpointError` naming the file and the field."""
    values = dict(state["config"])
    if device is not None:
        values["device"] = device
    try:
        return TrainConfig.from_dict(values)
    except (ValueError, TypeError) as err:
        raise CheckpointError(f"{path} holds an invalid training config: {err}") from None
