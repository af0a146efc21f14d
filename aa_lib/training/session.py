"""Training sessions: the plain functions behind the course's training notebooks and dashboards.

A *session* is a preset with a few knobs turned (the AA weight beta, the
discount, the learning rate, the entropy bonus, the opponent), trained for a
number of iterations, stoppable between iterations, and evaluated with Monte
Carlo error bars::

    result = train_session("ipd", "aa", beta=1.0, opponent="replay", iterations=200)
    report = evaluate_policy(result.policy, result.env)
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
from typing import Dict, List, Optional, Sequence

import torch

from .._validation import check_gamma, check_positive_int
from ..agents.policies import ScriptedPolicy
from ..agents.scripted import SCRIPTED_NAMES, scripted_agent
from ..evaluation.match import as_policy
from ..exact.memory_one import STATE_NAMES
from ..presets import AA_FAMILY, preset
from .callbacks import Callback
from .checkpoint import load_checkpoint
from .config import TrainConfig
from .envs import GAMES
from .rollout import collect_rollout
from .trainer import Trainer, _Chunk

__all__ = ["OPPONENT_MODES", "DEFAULT_REPLAY", "Evaluation", "ScriptedOpponentTrainer", "SessionResult",
           "StopFlag", "StopRequested", "default_device", "evaluate_policy", "is_iterated_2x2", "mean_and_error",
           "make_session_trainer", "opponent_choices", "play_transcript", "ratio_and_error", "seed_summary",
           "session_config", "train_session"]

#: Opponent settings that are not scripted agents.
OPPONENT_MODES = ("self-play", "replay", "independent")
#: Agent replay buffer used by ``opponent="replay"`` when the preset has none (the IPD classroom values).
DEFAULT_REPLAY = {"replay_capacity": 50, "replay_push_every": 5, "current_agent_fraction": 0.5}


def default_device() -> str:
    """``"cuda"`` when a GPU is visible, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def opponent_choices(game: str) -> tuple:
    """Every ``opponent`` accepted for ``game``: the modes, then the game's scripted agents."""
    if game not in GAMES:
        raise ValueError(f"unknown game {game!r}; choose one of {sorted(GAMES)}")
    return OPPONENT_MODES + tuple(SCRIPTED_NAMES.get(GAMES[game][1], ()))


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
                   seed: int = 0, device: Optional[str] = None, preset_name: str = "classroom") -> TrainConfig:
    """The :class:`TrainConfig` of a session: preset ``preset_name`` with the given knobs turned.

    Every knob left at None keeps the preset's value. ``beta`` is the Advantage
    Alignment weight (eq. 8); rules without a shaping term (naive, PPO) ignore it.
    ``lr`` is the actor's learning rate, ``entropy`` the entropy-bonus coefficient,
    ``gamma`` the reward discount. ``device=None`` picks a GPU when there is one.
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
    config = preset(game, algo, preset_name, algo_options=options, **fields)
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

    def load_state_dict(self, state: dict) -> None:
        if state.get("scripted_opponent") != self.opponent:
            raise ValueError(f"checkpoint was trained against {state.get('scripted_opponent')!r}, "
                             f"this trainer plays {self.opponent!r}")
        super().load_state_dict(state)
        for holder, saved in zip(self.opponent_critics, state["opponent_critics"]):
            holder.load_state_dict(saved)

    @classmethod
    def from_checkpoint(cls, path, callbacks: Sequence = (), device: Optional[str] = None):
        """Rebuild the trainer (and its scripted opponent) from a checkpoint and restore its state."""
        state = load_checkpoint(path)
        values = dict(state["config"], **({"device": device} if device is not None else {}))
        trainer = cls(TrainConfig.from_dict(values), state["scripted_opponent"], callbacks)
        trainer.load_state_dict(state)
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

    def evaluate(self, **options) -> "Evaluation":
        """:func:`evaluate_policy` of the trained policy in the training environment."""
        return evaluate_policy(self.policy, self.env, **options)


def train_session(game: str = "ipd", algo: str = "aa", *, beta: Optional[float] = None,
                  gamma: Optional[float] = None, lr: Optional[float] = None, entropy: Optional[float] = None,
                  opponent: str = "replay", iterations: Optional[int] = None, seed: int = 0,
                  device: Optional[str] = None, callbacks: Sequence = (), stop_flag=None,
                  batch_size: Optional[int] = None, preset_name: str = "classroom") -> SessionResult:
    """Train ``algo`` on ``game`` from preset ``preset_name`` with the given knobs turned.

    Args:
        game, algo: as for :func:`aa_lib.presets.preset`.
        beta, gamma, lr, entropy: AA weight, reward discount, actor learning rate,
            entropy bonus (None: the preset's value); see :func:`session_config`.
        opponent: one of :func:`opponent_choices` (module docstring).
        iterations, batch_size, seed: run length, games per iteration, seed.
        device: ``"cpu"``, ``"cuda"``, or None for a GPU when there is one.
        callbacks: training callbacks (progress bar, live plot, checkpoint...).
        stop_flag: an object with ``is_set()`` (``threading.Event``); once set,
            training stops after the current iteration and the partial result
            is returned with ``stopped=True``.

    Returns:
        a :class:`SessionResult` (trainer, history, policy, stopped, wall time).
    """
    config = session_config(game, algo, beta=beta, gamma=gamma, lr=lr, entropy=entropy, opponent=opponent,
                            iterations=iterations, batch_size=batch_size, seed=seed, device=device,
                            preset_name=preset_name)
    callbacks = list(callbacks)
    if stop_flag is not None:
        callbacks.append(StopFlag(stop_flag))
    trainer = make_session_trainer(config, opponent, callbacks)
    start = time.perf_counter()
    stopped = False
    try:
        trainer.train()
    except StopRequested:
        stopped = True
        for cb in callbacks[:-1]:  # the stop flag is last; let the others close (progress bars...)
            getattr(cb, "on_train_end", lambda t: None)(trainer)
    return SessionResult(trainer, opponent, stopped, time.perf_counter() - start)


# ------------------------------------------------------------------ evaluation
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


def is_iterated_2x2(env) -> bool:
    """Two players with the one-hot observations [5] of :class:`~aa_lib.games.iterated.IteratedMatrixGame`."""
    return env.n_players == 2 and tuple(env.observation_shape) == (5,)


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
    from ..evaluation.negotiation import episode_bids

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

    from ..evaluation.probes import coin_pickup_rollout

    coin = type(env).__name__ == "CoinGame"

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
        if type(env).__name__ == "NegotiationGame":
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
