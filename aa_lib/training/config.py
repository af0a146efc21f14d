"""Training configuration: one dataclass, plain values only (so it fits in a checkpoint)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Optional

__all__ = ["TrainConfig"]


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
        if not 0.0 <= self.current_agent_fraction <= 1.0:
            raise ValueError(f"current_agent_fraction must lie in [0, 1], got {self.current_agent_fraction}")
        if self.policy not in ("neural", "memory_one"):
            raise ValueError(f"policy must be 'neural' or 'memory_one', got {self.policy!r}")
        for name in ("iterations", "batch_size", "critic_updates", "hidden", "replay_push_every",
                     "replay_seats", "replay_groups"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {sorted(unknown)}")
        return cls(**values)
