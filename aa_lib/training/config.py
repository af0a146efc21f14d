"""Training configuration: one dataclass, plain values only (so it fits in a checkpoint)."""
from __future__ import annotations

import typing
from dataclasses import asdict, dataclass, field, fields
from typing import Optional, Union

from .._validation import check_bool, check_choice, check_int, check_number

__all__ = ["TrainConfig", "RULE_OPTION_RANGES", "check_algo_options"]

#: Allowed ranges of the learning rules' options (``algo_options``), by option name. The type
#: of each option (bool, int, float, optional) comes from the rule's dataclass field; options
#: not listed here are checked by type only (and by the rule's own ``__post_init__``).
# TODO(issue 24): move these into the rules' own __post_init__ (aa_lib/algos) once that package
# is not being edited; until then a rule built directly, make_algorithm("ppo", clip=-0.2), is not checked.
RULE_OPTION_RANGES = {
    "entropy_coef": dict(low=0.0),  # a negative bonus rewards determinism
    "clip": dict(low=0.0, low_open=True),  # PPO's epsilon: clip(r, 1 - eps, 1 + eps)
    "n_epochs": dict(low=1),
    "beta": dict(),  # any finite number (negative reverses the shaping)
    "aa_gamma": dict(low=0.0, high=1.0),
    "lookahead_lr": dict(low=0.0, low_open=True),
    "temperature": dict(low=0.0, low_open=True),
}


@dataclass
class TrainConfig:
    """Everything a training run needs. Paper values are in :mod:`aa_lib.training.presets`."""

    #: Game name: "ipd", "coin", "negotiation" or "commons".
    game: str = "ipd"
    #: Keyword options of the game's constructor (e.g. {"episode_length": 16}).
    game_options: dict = field(default_factory=dict)
    #: Learning rule (see :func:`aa_lib.algos.make_algorithm`).
    algo: str = "aa"
    #: Keyword options of the learning rule (beta, entropy_coef, clip, ...).
    algo_options: dict = field(default_factory=dict)
    #: Training iterations (one batch of episodes each).
    iterations: int = 200
    #: Games played in parallel per iteration (Table 1: 2048, Table 2: 512, Table 3: 16384).
    batch_size: int = 512
    #: Steps per rollout; None plays whole episodes (Commons: truncated rollouts, bootstrapped).
    horizon: Optional[int] = None
    #: Reward discount (Table 1: 0.9, Table 2: 0.96, Table 4: 0.99).
    gamma: float = 0.9
    #: GAE lambda for the actor's advantages and the critic's lambda-returns.
    gae_lambda: float = 0.95
    #: GAE lambda of the advantages inside the Advantage Alignment shaping term (eq. 8);
    #: None: ``gae_lambda``. With lambda > 0 the past own advantages and the co-player's
    #: current advantage both contain the TD errors of the same future steps, so their
    #: product carries a bias ``E[delta1_u delta2_u]`` wherever the players' rewards are
    #: correlated (Coin Game: any pickup). 0 (one-step TD errors) removes that overlap.
    shaping_gae_lambda: Optional[float] = None
    #: Subtract from each seat's advantages their batch mean at every time step, taken over the
    #: learner's games apart from the replayed or scripted agents' games in that seat. Episodes are
    #: aligned in time, so this removes the critic's time-dependent bias, which otherwise
    #: leaks into Advantage Alignment's products of advantages (a batch baseline in the
    #: spirit of the group-relative baseline of the LLM follow-up).
    center_advantages: bool = False
    #: Adam learning rate of the actor (Table 1: 1e-4, Table 2: 2e-3, Table 3: 1e-3).
    actor_lr: float = 1e-3
    #: Adam learning rate of the critic (Table 1: 1e-3, Table 2: 5e-3).
    critic_lr: float = 1e-3
    #: EMA decay of the critic's target network (Tables 1-2: 0.99).
    critic_ema: float = 0.99
    #: Critic gradient steps per iteration.
    critic_updates: int = 1
    #: Hidden width of actor and critic (Tables 1-2: 64).
    hidden: int = 64
    #: GRU over the history (paper) or feed-forward on the current observation.
    recurrent: bool = True
    #: GRU in the critic; None: same as ``recurrent``. A feed-forward critic on the current
    #: observation and the time step learns much faster and is exact for memory-one play.
    critic_recurrent: Optional[bool] = None
    #: "neural" (MLP/CNN + GRU) or "memory_one" (tabular; IPD only).
    policy: str = "neural"
    #: Gradient-norm clipping of actor and critic (Table 3: 1.0, Table 4: 10.0); None: off.
    max_grad_norm: Optional[float] = None
    #: One learner playing every seat (paper: True) or one learner per seat.
    self_play: bool = True
    #: Agent replay buffer capacity (Tables 1-2: 10000); 0 disables it.
    replay_capacity: int = 0
    #: Push a snapshot every this many iterations (Table 1: 1, Table 2: 10).
    replay_push_every: int = 1
    #: Fraction of games in which every seat is the current agent (Tables 1-2: 0).
    current_agent_fraction: float = 1.0
    #: Seats filled from the buffer in the other games (2-player: 1; Table 4: 2 of 7).
    replay_seats: int = 1
    #: Different replay opponents sampled per iteration (the replay games are split among them).
    replay_groups: int = 4
    #: Seed of parameters, rollouts and opponent sampling.
    seed: int = 0
    #: Torch device ("cpu" or "cuda").
    device: str = "cpu"

    def __post_init__(self):
        """Check every field (type and range) so that a bad value is refused when the config is built."""
        from ..games.registry import game_class

        game_class(self.game)  # "unknown game 'pong'; choose one of [...]"
        for name in ("game_options", "algo_options"):
            options = getattr(self, name)
            if not isinstance(options, dict):
                raise TypeError(f"{name} must be a dict of keyword options, got {type(options).__name__} {options!r}")
            bad = [k for k in options if not isinstance(k, str) or not k.isidentifier()]
            if bad:
                raise ValueError(f"{name} keys must be option names (identifiers), got {bad}")
        for name in ("iterations", "batch_size", "critic_updates", "hidden", "replay_push_every",
                     "replay_seats", "replay_groups"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.horizon is not None:
            check_int(self.horizon, "horizon", low=1)
        for name in ("gamma", "gae_lambda", "critic_ema", "current_agent_fraction"):
            check_number(getattr(self, name), name, 0.0, 1.0)
        if self.shaping_gae_lambda is not None:
            check_number(self.shaping_gae_lambda, "shaping_gae_lambda", 0.0, 1.0)
        for name in ("actor_lr", "critic_lr"):
            check_number(getattr(self, name), name, 0.0, low_open=True)
        if self.max_grad_norm is not None:  # a negative norm would reverse the gradient
            check_number(self.max_grad_norm, "max_grad_norm", 0.0, low_open=True)
        for name in ("center_advantages", "recurrent", "self_play"):
            check_bool(getattr(self, name), name)
        if self.critic_recurrent is not None:
            check_bool(self.critic_recurrent, "critic_recurrent")
        check_choice(self.policy, "policy", ("neural", "memory_one"))
        check_int(self.replay_capacity, "replay_capacity", low=0)
        # torch seeds take 64 bits; the trainer also seeds seed + 104729
        check_int(self.seed, "seed", low=-(2 ** 63), high=2 ** 63 - 1)
        if not isinstance(self.device, str):  # a plain string, so that the config fits in a checkpoint
            raise TypeError(f"device must be a string such as 'cpu' or 'cuda', got {type(self.device).__name__} "
                            f"{self.device!r}")
        check_algo_options(self.algo, self.algo_options)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {sorted(unknown)}")
        return cls(**values)


def _option_type(hint):
    """``(base type, None allowed)`` of a rule field's annotation (``Optional[float]`` -> ``(float, True)``)."""
    if typing.get_origin(hint) is Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return (args[0] if len(args) == 1 else None), type(None) in typing.get_args(hint)
    return hint, False


def check_algo_options(algo: str, options: dict) -> None:
    """Refuse an unknown learning rule, an option it does not have, or an option of the wrong type
    or out of its range (:data:`RULE_OPTION_RANGES`); the message names ``algo_options.<name>``.

    The rule is then built once, so that its own checks run too (e.g. ``aa_factored`` refuses ``clip``).
    """
    from ..algos import make_algorithm, rule_class

    cls = rule_class(algo)  # "unknown algorithm 'bogus'; choose one of [...]"
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # a rule whose annotations do not resolve (defined in a function): check by name only
        hints = {}
    init_fields = {f.name for f in fields(cls) if f.init} if hasattr(cls, "__dataclass_fields__") else None
    for key, value in options.items():
        name = f"algo_options.{key}"
        if init_fields is not None and key not in init_fields:
            raise ValueError(f"{name}: rule {algo!r} has no option {key!r}; its options: {sorted(init_fields)}")
        base, optional = _option_type(hints.get(key))
        if value is None and optional:
            continue
        ranges = RULE_OPTION_RANGES.get(key, {})
        if base is bool:
            check_bool(value, name)
        elif base is int:
            check_int(value, name, ranges.get("low"), ranges.get("high"))
        elif base is float or key in RULE_OPTION_RANGES:
            check_number(value, name, **ranges)
    if options.get("time_weight") is not None:
        from ..advantages import TIME_WEIGHTS

        check_choice(options["time_weight"], "algo_options.time_weight", TIME_WEIGHTS)
    make_algorithm(algo, **options)
