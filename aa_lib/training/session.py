"""Training sessions: the plain functions behind the course's training notebooks and dashboards.

A *session* is a preset with a few knobs turned (the AA weight beta, the
discount, the learning rate, the entropy bonus, the opponent), trained for a
number of iterations, stoppable between iterations, and evaluated with Monte
Carlo error bars::

    result = train_session("ipd", "aa", beta=1.0, opponent="replay", iterations=200)
    report = aa_lib.evaluation.evaluate_policy(result.policy, result.env)
    report.metrics["p_cooperate/random/CC"], report.errors["p_cooperate/random/CC"]

The widgets of :mod:`aa_lib.viz.dashboard` call exactly :func:`train_session`;
a notebook calls it once directly (what headless runs test) and then offers the
widget. Opponents (:func:`opponent_choices`):

- ``"self-play"``: the current agent in every seat (no replay buffer);
- ``"replay"``: self-play plus past agents from the agent replay buffer in a
  fraction of the games (the paper's setting, Tables 1-2);
- ``"independent"``: one learner per seat, each learning against the other;
- a scripted agent's short name (``"AD"``, ``"TFT"``, ... of
  :data:`aa_lib.agents.scripted.SCRIPTED_NAMES`): the learner trains against that
  fixed strategy in the last seats.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Union

import torch

from .._validation import check_gamma, check_positive_int
from ..agents.policies import ScriptedPolicy
from ..agents.scripted import scripted_agent, scripted_names
from ..games.registry import game_class
from .callbacks import Callback
from .checkpoint import CheckpointError, load_trainer_checkpoint
from .config import TrainConfig
from .overrides import apply_overrides
from .presets import AA_FAMILY, preset
from .threads import DEFAULT_THREADS, torch_threads
from .trainer import Trainer, _Chunk, config_of_checkpoint

__all__ = ["OPPONENT_MODES", "DEFAULT_REPLAY", "ScriptedOpponentTrainer", "SessionResult", "StopFlag",
           "StopRequested", "default_device", "make_session_trainer", "opponent_choices", "session_config",
           "train_session"]

#: Opponent settings that are not scripted agents.
OPPONENT_MODES = ("self-play", "replay", "independent")
#: Agent replay buffer used by ``opponent="replay"`` when the preset has none (the IPD classroom values).
DEFAULT_REPLAY = {"replay_capacity": 50, "replay_push_every": 5, "current_agent_fraction": 0.5}


def default_device() -> str:
    """``"cuda"`` when a GPU is visible, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def opponent_choices(game: str) -> tuple:
    """Every ``opponent`` accepted for ``game``: the modes, then the game's scripted agents."""
    return OPPONENT_MODES + scripted_names(game_class(game))


def _check_number(value, name: str, low: float = -math.inf, low_open: bool = False) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}") from None
    if math.isnan(value) or math.isinf(value) or value < low or (low_open and value == low):
        bound = f"> {low}" if low_open else f">= {low}"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return value


def session_config(game: str = "ipd", algo: str = "aa", *, beta: Optional[float] = None,
                   gamma: Optional[float] = None, lr: Optional[float] = None, entropy: Optional[float] = None,
                   opponent: str = "replay", iterations: Optional[int] = None, batch_size: Optional[int] = None,
                   seed: int = 0, device: Optional[str] = None, preset_name: str = "classroom",
                   overrides: Union[Mapping, Iterable[str], None] = None) -> TrainConfig:
    """The :class:`TrainConfig` of a session: preset ``preset_name`` with the given knobs turned.

    Every knob left at None keeps the preset's value. ``beta`` is the Advantage
    Alignment weight (eq. 8); rules without a shaping term (naive, PPO) ignore it.
    ``lr`` is the actor's learning rate, ``entropy`` the entropy-bonus coefficient,
    ``gamma`` the reward discount. ``device=None`` picks a GPU when there is one.
    ``overrides`` sets any other field, as ``aa train --set`` does: ``{"hidden": 16,
    "game_options.layout": "open"}`` or ``["hidden=16", "game_options.layout=open"]``
    (:func:`aa_lib.training.overrides.apply_overrides`); they are applied after the knobs
    (an override of the same field wins) and before ``opponent`` sets the seats.
    """
    choices = opponent_choices(game)
    if opponent not in choices:
        raise ValueError(f"opponent must be one of {choices} for game {game!r}, got {opponent!r}")
    fields: dict = {"seed": int(seed), "device": device or default_device()}
    if gamma is not None:
        fields["gamma"] = check_gamma(gamma, "gamma")
    if lr is not None:
        fields["actor_lr"] = _check_number(lr, "lr", 0.0, low_open=True)
    if iterations is not None:
        fields["iterations"] = check_positive_int(iterations, "iterations")
    if batch_size is not None:
        fields["batch_size"] = check_positive_int(batch_size, "batch_size")
    options = {}
    if entropy is not None:
        options["entropy_coef"] = _check_number(entropy, "entropy", 0.0)
    if beta is not None:
        beta = _check_number(beta, "beta")
        if algo in AA_FAMILY:
            options["beta"] = beta
    config = apply_overrides(preset(game, algo, preset_name, algo_options=options, **fields), overrides)
    if opponent == "replay":
        if config.replay_capacity == 0:
            config = replace(config, **DEFAULT_REPLAY)
    elif opponent == "independent":
        config = replace(config, self_play=False, replay_capacity=0)
    else:  # self-play, or a scripted opponent in the last seats
        config = replace(config, self_play=True, replay_capacity=0)
    return config


class ScriptedOpponentTrainer(Trainer):
    """A :class:`Trainer` whose learner plays a fixed scripted agent in the last seats.

    The scripted agent sits in ``min(config.replay_seats, n_players - 1)`` seats
    of every game (2 players: seat 2) and never learns; the learner learns from
    the other seats. Each scripted seat gets its own critic (and EMA target),
    trained on that seat's rewards like the learner's, so that the co-player
    advantages ``A^2`` of Advantage Alignment (eq. 8) estimate the scripted
    agent's advantages; the learner's critic, fitted to the learner's own
    behaviour, would not.
    """

    def __init__(self, config: TrainConfig, opponent: str, callbacks: Sequence = (), env=None):
        if not config.self_play or config.replay_capacity:
            raise ValueError("a scripted opponent needs self_play=True and replay_capacity=0")
        super().__init__(config, callbacks, env)
        seats = min(config.replay_seats, self.env.n_players - 1)
        self.opponent = opponent
        self.opponents = [ScriptedPolicy(scripted_agent(self.env, opponent), opponent) for _ in range(seats)]
        self.first_opponent_seat = self.env.n_players - seats
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed + 1)
            # Full learners for the scripted seats; only their critic, target and critic optimiser are used.
            self.opponent_critics = [self._build_learner() for _ in range(seats)]
        self._last_batch = None

    def _plan(self) -> List[_Chunk]:
        P, k = self.env.n_players, len(self.opponents)
        return [_Chunk([self.policy] * (P - k) + self.opponents, [True] * (P - k) + [False] * k,
                       self.config.batch_size)]

    def _seat_learner(self, seat: int):
        if seat >= self.first_opponent_seat:
            return self.opponent_critics[seat - self.first_opponent_seat]
        return super()._seat_learner(seat)

    def estimate(self, traj, shaping_gae_lambda=None, learner_mask=None):
        est = super().estimate(traj, shaping_gae_lambda, learner_mask)
        if self._last_batch is None:
            self._last_batch = (traj, est)
        return est

    def step(self) -> Dict[str, float]:
        """One iteration of :class:`Trainer`, then one critic update of every scripted seat."""
        self._last_batch = None
        metrics = super().step()
        traj, est = self._last_batch
        every_game = torch.arange(traj.batch_size, device=self.device)
        for i, holder in enumerate(self.opponent_critics):
            seat = self.first_opponent_seat + i
            loss, _ = self._update_critic(holder, traj, est, [(seat, every_game)])
            holder.target.update(holder.critic, self.config.critic_ema)
            metrics[f"opponent_critic_loss_{i}" if i else "opponent_critic_loss"] = loss
        return metrics

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["scripted_opponent"] = self.opponent
        state["opponent_critics"] = [holder.state_dict() for holder in self.opponent_critics]
        return state

    def load_state_dict(self, state: dict, source: str = "the checkpoint") -> None:
        if state.get("scripted_opponent") != self.opponent:
            raise CheckpointError(f"{source} was trained against {state.get('scripted_opponent')!r}, "
                                  f"this trainer plays {self.opponent!r}")
        super().load_state_dict(state, source)
        for holder, saved in zip(self.opponent_critics, state["opponent_critics"]):
            holder.load_state_dict(saved)

    @classmethod
    def from_checkpoint(cls, path, callbacks: Sequence = (), device: Optional[str] = None):
        """Rebuild the trainer (and its scripted opponent) from a checkpoint and restore its state.

        A checkpoint of a trainer without a scripted opponent raises a :class:`CheckpointError`
        (resume it with :meth:`Trainer.from_checkpoint`)."""
        state = load_trainer_checkpoint(path)
        opponent = state.get("scripted_opponent")
        if opponent is None:
            raise CheckpointError(f"{path} is a checkpoint of a trainer without a scripted opponent (self-play, "
                                  f"replay or independent learners); resume it with Trainer.from_checkpoint")
        config = config_of_checkpoint(state, path, device)
        choices = scripted_names(game_class(config.game))
        if opponent not in choices:
            raise CheckpointError(f"{path} names the scripted opponent {opponent!r}, which game {config.game!r} "
                                  f"does not have; its scripted agents: {choices}")
        trainer = cls(config, opponent, callbacks)
        trainer.load_state_dict(state, source=str(path))
        return trainer


def make_session_trainer(config: TrainConfig, opponent: str = "replay", callbacks: Sequence = ()) -> Trainer:
    """A :class:`Trainer` (or :class:`ScriptedOpponentTrainer` for a scripted ``opponent``)."""
    if opponent in OPPONENT_MODES:
        return Trainer(config, callbacks)
    return ScriptedOpponentTrainer(config, opponent, callbacks)


class StopRequested(Exception):
    """Raised by :class:`StopFlag` between iterations once its flag is set."""


class StopFlag(Callback):
    """Stop training between two iterations once ``flag.is_set()`` (e.g. a ``threading.Event``).

    Put it last among the callbacks so the others see the final iteration.
    """

    def __init__(self, flag):
        if not callable(getattr(flag, "is_set", None)):
            raise TypeError(f"stop_flag must have an is_set() method (threading.Event), got {type(flag).__name__}")
        self.flag = flag

    def _check(self) -> None:
        if self.flag.is_set():
            raise StopRequested

    def on_train_start(self, trainer) -> None:
        self._check()

    def on_iteration_end(self, trainer, metrics) -> None:
        self._check()


@dataclass
class SessionResult:
    """What :func:`train_session` returns.

    ``stopped`` is True when the stop flag ended training early; ``history`` then
    holds the iterations completed before (a partial result, still usable).
    """

    trainer: Trainer
    opponent: str
    stopped: bool
    wall_time_s: float

    @property
    def config(self) -> TrainConfig:
        return self.trainer.config

    @property
    def history(self) -> List[Dict[str, float]]:
        return self.trainer.history

    @property
    def iterations(self) -> int:
        return self.trainer.iteration

    @property
    def policy(self) -> torch.nn.Module:
        return self.trainer.policy

    @property
    def env(self):
        return self.trainer.env


def train_session(game: str = "ipd", algo: str = "aa", *, beta: Optional[float] = None,
                  gamma: Optional[float] = None, lr: Optional[float] = None, entropy: Optional[float] = None,
                  opponent: str = "replay", iterations: Optional[int] = None, seed: int = 0,
                  device: Optional[str] = None, callbacks: Sequence = (), stop_flag=None,
                  batch_size: Optional[int] = None, preset_name: str = "classroom",
                  overrides: Union[Mapping, Iterable[str], None] = None,
                  threads: Optional[int] = DEFAULT_THREADS) -> SessionResult:
    """Train ``algo`` on ``game`` from preset ``preset_name`` with the given knobs turned.

    Args:
        game, algo: as for :func:`aa_lib.training.presets.preset`.
        beta, gamma, lr, entropy: AA weight, reward discount, actor learning rate,
            entropy bonus (None: the preset's value); see :func:`session_config`.
        opponent: one of :func:`opponent_choices` (module docstring).
        iterations, batch_size, seed: run length, games per iteration, seed.
        overrides: other TrainConfig fields, as for :func:`session_config`.
        device: ``"cpu"``, ``"cuda"``, or None for a GPU when there is one.
        callbacks: training callbacks (progress bar, live plot, checkpoint...).
        stop_flag: an object with ``is_set()`` (``threading.Event``); once set,
            training stops after the current iteration and the partial result
            is returned with ``stopped=True``.
        threads: torch CPU threads while training (:mod:`aa_lib.training.threads`; default one,
            the previous setting is restored after); None: torch's setting as it is.

    Returns:
        a :class:`SessionResult` (trainer, history, policy, stopped, wall time).
    """
    config = session_config(game, algo, beta=beta, gamma=gamma, lr=lr, entropy=entropy, opponent=opponent,
                            iterations=iterations, batch_size=batch_size, seed=seed, device=device,
                            preset_name=preset_name, overrides=overrides)
    callbacks = list(callbacks)
    if stop_flag is not None:
        callbacks.append(StopFlag(stop_flag))
    trainer = make_session_trainer(config, opponent, callbacks)
    start = time.perf_counter()
    stopped = False
    try:
        with torch_threads(threads):
            trainer.train()
    except StopRequested:
        stopped = True
        for cb in callbacks[:-1]:  # the stop flag is last; let the others close (progress bars...)
            getattr(cb, "on_train_end", lambda t: None)(trainer)
    return SessionResult(trainer, opponent, stopped, time.perf_counter() - start)
