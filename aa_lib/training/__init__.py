"""Training machinery: rollouts, the training loop, agent replay buffer, callbacks, checkpoints."""
from .callbacks import Callback, CheckpointCallback, MetricLogger, ProgressBar
from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig
from .replay import AgentReplayBuffer
from .rollout import Trajectory, collect_mixed_rollout, collect_rollout
from .trainer import Learner, NonFiniteLossError, SeatEstimates, Trainer

__all__ = [
    "AgentReplayBuffer", "Callback", "CheckpointCallback", "Learner", "MetricLogger",
    "NonFiniteLossError", "ProgressBar", "SeatEstimates", "TrainConfig", "Trainer", "Trajectory",
    "collect_mixed_rollout", "collect_rollout", "load_checkpoint", "save_checkpoint",
]
