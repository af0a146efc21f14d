"""Training the sign-mask variants of Advantage Alignment (App. C.2) on an iterated 2x2 game, exactly.

Every variant (:class:`~aa_lib.exact.sign_masks.SignMaskVariant`) trains memory-one policies
(5 logits, :mod:`aa_lib.exact.memory_one`) in self-play on a T-step iterated game, many seeds
and all variants at once (one batch). Each iteration takes the exact naive gradient and the
sampled AA gradient of each quadrant from :func:`~aa_lib.exact.sign_masks.self_play_gradients`
(exact advantages along sampled paths) and ascends

    theta += lr * (grad V1 + beta * sum_{quadrants q left by the variant's sign_mask} AA part_q).

All variants start from the same initial policies, and seed ``s`` of every variant samples
its episodes from the same random numbers (common random numbers), so differences between
variants come from the rule, not from the noise. The league of the trained variants is
:mod:`aa_lib.evaluation.sign_mask_league`, their plots :mod:`aa_lib.viz.sign_masks`.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Callable, Dict, List, Optional, Tuple

import torch

from .._validation import check_device, check_gamma, check_int, check_number, check_positive_int
from ..advantages import TIME_WEIGHTS
from ..games.matrix import MATRIX_GAMES
from .memory_one import STATE_NAMES
from .sign_masks import STANDARD_VARIANTS, SignMaskVariant, payoff_table, self_play_gradients, sign_mask_variant
from .tabular import solve_tabular, solve_tabular_logits

__all__ = [
    "torch_threads",
    "AblationConfig",
    "AblationRun",
    "expected_per_step_rewards",
    "train_sign_mask_variants",
]


@contextmanager
def torch_threads(n: Optional[int]):
    """Run a block with ``n`` torch CPU threads (None: leave the setting), restoring it afterwards.

    The tensors here are small (a few hundred thousand entries): on a shared 2-core
    CPU, one thread was measured 4-8x faster than two, whose synchronisation
    dominates when the other core is busy.
    """
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(check_positive_int(n, "num_threads"))
    try:
        yield
    finally:
        torch.set_num_threads(before)



@dataclass
class AblationConfig:
    """Settings of :func:`train_sign_mask_variants` (defaults: the IPD of Table 1, memory-one policies)."""

    #: Variant names (see :func:`sign_mask_variant`).
    variants: Tuple[str, ...] = STANDARD_VARIANTS
    #: Independent runs (initial policies) per variant; every variant starts from the same ones.
    n_seeds: int = 16
    #: Gradient steps.
    iterations: int = 150
    #: Sampled self-play episodes per (variant, seed) and iteration (each read from both seats).
    batch_size: int = 256
    #: Steps T of an episode (Table 1: 16).
    episode_length: int = 16
    #: Reward discount (Table 1: 0.9).
    gamma: float = 0.9
    #: Weight beta of the AA term (Table 1: 0.3; the library's classroom preset: 1.0).
    beta: float = 1.0
    #: Discount lambda of past advantages in the AA term ("AA discount factor", Table 1: 0.9).
    aa_gamma: float = 0.9
    #: Prefactor of the AA term (:data:`aa_lib.advantages.TIME_WEIGHTS`); None: gamma^(t+1) of eq. 8.
    time_weight: Optional[str] = None
    #: Step size of the gradient ascent on the discounted return V (not per step).
    lr: float = 1.0
    #: Initial logits ~ N(0, init_std^2).
    init_std: float = 1.0
    #: Seed of the initial logits (shared by all variants) and of the sampled episodes.
    seed: int = 0
    #: Name of a game in :data:`aa_lib.games.matrix.MATRIX_GAMES`.
    game: str = "Prisoner's Dilemma"
    #: Record logits and rewards every this many iterations (and at the end).
    record_every: int = 5
    #: Torch device.
    device: str = "cpu"
    #: Torch CPU threads while training (see :func:`torch_threads`); None: torch's setting.
    num_threads: Optional[int] = 1

    def __post_init__(self):
        self.variants = tuple(self.variants)
        if not self.variants:
            raise ValueError("variants must name at least one variant")
        names = [sign_mask_variant(v).name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variants must be distinct, got {names}")
        for name in ("n_seeds", "iterations", "batch_size", "episode_length", "record_every"):
            check_positive_int(getattr(self, name), name)
        if self.num_threads is not None:
            check_positive_int(self.num_threads, "num_threads")
        check_gamma(self.gamma, "gamma", allow_one=True)
        check_gamma(self.aa_gamma, "aa_gamma", allow_one=True)
        if self.time_weight is not None and self.time_weight not in TIME_WEIGHTS:
            raise ValueError(f"time_weight must be None or one of {TIME_WEIGHTS}, got {self.time_weight!r}")
        for name in ("beta", "lr", "init_std"):
            check_number(getattr(self, name), name, 0.0)
        check_int(self.seed, "seed", -(2 ** 63), 2 ** 64 - 1)
        if not isinstance(self.game, str) or self.game not in MATRIX_GAMES:
            raise ValueError(f"game must be the name of a game in aa_lib.games.matrix.MATRIX_GAMES "
                             f"{sorted(MATRIX_GAMES)}, got {self.game!r}")

    def shaping_options(self) -> dict:
        """Options of :func:`~aa_lib.advantages.shaping_term` besides the mask."""
        return {"past_discount": self.aa_gamma, "time_weight": self.time_weight}


@dataclass
class AblationRun:
    """Result of :func:`train_sign_mask_variants`.

    Attributes:
        config: the settings.
        variants: the parsed variants, ``V`` of them.
        theta: ``[V, S]`` x 5 final logits of P(C | start, CC, CD, DC, DD), ``[V, S, 5]``.
        iterations: ``[K]`` the recorded iterations.
        theta_history: ``[K, V, S, 5]`` logits at the recorded iterations.
        reward_history: ``[K, V, S]`` exact self-play per-step reward (undiscounted
            mean over the T-step episode) at the recorded iterations.
        wall_time_s: training time.
    """

    config: AblationConfig
    variants: List[SignMaskVariant]
    theta: torch.Tensor
    iterations: torch.Tensor
    theta_history: torch.Tensor
    reward_history: torch.Tensor
    wall_time_s: float = 0.0

    @property
    def names(self) -> List[str]:
        return [v.name for v in self.variants]

    def index(self, name: str) -> int:
        if name not in self.names:
            raise KeyError(f"no variant {name!r} in this run; it has {self.names}")
        return self.names.index(name)

    @property
    def p_cooperate(self) -> torch.Tensor:
        """``[V, S, 5]`` final P(C | start, CC, CD, DC, DD), own seat."""
        return torch.sigmoid(self.theta)

    @property
    def self_play_reward(self) -> torch.Tensor:
        """``[V, S]`` final exact self-play per-step reward."""
        return self.reward_history[-1]

    @property
    def initial_theta(self) -> torch.Tensor:
        """``[S, 5]`` the initial logits of the seeds (the same for every variant)."""
        return self.theta_history[0, 0]

    def cooperating_fraction(self, threshold: float = -1.5) -> torch.Tensor:
        """``[V]`` fraction of seeds whose self-play reward per step exceeds ``threshold``
        (in the PD: -1 is mutual cooperation, -2 mutual defection)."""
        return (self.self_play_reward > threshold).double().mean(-1)

    def state_visits(self) -> torch.Tensor:
        """``[V, S, 5]`` fraction of the T steps spent in each state in self-play (exact)."""
        p = self.p_cooperate
        sol = solve_tabular(p, p, payoff_table(self.config.game).to(p), 1.0, self.config.episode_length)
        return sol.state_probs.mean(-2)

    def summary(self) -> Dict[str, dict]:
        """Per variant: mean/std over seeds of the self-play reward and of P(C | state)."""
        out = {}
        p, r = self.p_cooperate, self.self_play_reward
        for i, name in enumerate(self.names):
            out[name] = {
                "self_play_reward": float(r[i].mean()), "self_play_reward_std": float(r[i].std(unbiased=False)),
                "p_cooperate": dict(zip(STATE_NAMES, p[i].mean(0).tolist())),
                "p_cooperate_std": dict(zip(STATE_NAMES, p[i].std(0, unbiased=False).tolist())),
            }
        return out

    def to_text(self, digits: int = 2) -> str:
        """A table: self-play reward and mean P(C | state) of each variant."""
        width = max(12, max(len(n) for n in self.names) + 2)
        head = "variant".ljust(width) + "reward".rjust(8) + "".join(s.rjust(7) for s in STATE_NAMES)
        lines = [head]
        for name, row in self.summary().items():
            cells = "".join(f"{row['p_cooperate'][s]:.{digits}f}".rjust(7) for s in STATE_NAMES)
            lines.append(name.ljust(width) + f"{row['self_play_reward']:.{digits}f}".rjust(8) + cells)
        return "\n".join(lines)


def _self_play_rewards(p: torch.Tensor, payoffs: torch.Tensor, horizon: int) -> torch.Tensor:
    """Exact per-step reward of player 1 in self-play, ``p [..., 5]`` -> ``[...]``."""
    return expected_per_step_rewards(p, p, payoffs, horizon)[0]



def expected_per_step_rewards(p1, p2, game, horizon: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Exact expected reward per step of both players over a T-step episode (undiscounted mean).

    ``p1``, ``p2`` are ``[..., 5]`` P(C | state) from each player's own seat (exact 0/1 allowed).
    """
    sol = solve_tabular(p1, p2, game, 1.0, horizon)
    v1, v2 = sol.values
    return v1 / horizon, v2 / horizon


def _aa_direction(theta: torch.Tensor, variants: List[SignMaskVariant], config: AblationConfig,
                  generator: torch.Generator) -> torch.Tensor:
    """The ascent direction ``grad V1 + beta * E[sum_t w_t grad log pi]`` of every (variant, seed), ``[V, S, 5]``."""
    V, S, _ = theta.shape
    flat = theta.reshape(V * S, 5)
    if not any(v.shapes for v in variants) or config.beta == 0:
        th1 = flat.detach().requires_grad_(True)
        solution = solve_tabular_logits(th1, flat.detach(), payoff_table(config.game).to(flat), config.gamma,
                                        config.episode_length)
        (naive,) = torch.autograd.grad(solution.values[0].sum(), th1)
        return naive.reshape(V, S, 5)
    # Common random numbers: seed s of every variant samples its episodes from the same uniforms.
    naive, quadrants = self_play_gradients(flat, config.game, config.gamma, config.episode_length,
                                           config.batch_size, generator, noise_repeats=V,
                                           **config.shaping_options())
    keep = torch.stack([v.keep_vector() for v in variants]).to(quadrants)  # [V, 4]
    shaping = torch.einsum("vq,qvsk->vsk", keep, quadrants.reshape(4, V, S, 5))
    return naive.reshape(V, S, 5) + config.beta * shaping


def train_sign_mask_variants(config: Optional[AblationConfig] = None, *, progress: bool = False,
                             callback: Optional[Callable[[int, torch.Tensor], None]] = None,
                             **overrides) -> AblationRun:
    """Train every variant of ``config.variants`` on ``config.n_seeds`` seeds in self-play.

    See the module docstring for the update. All variants start from the same
    ``n_seeds`` initial policies, so their differences are due to the rule alone.

    Args:
        config: an :class:`AblationConfig` (default settings when None).
        progress: show a tqdm progress bar.
        callback: optional ``callback(iteration, theta [V, S, 5])`` after every step.
        **overrides: fields of :class:`AblationConfig` to replace.

    Returns:
        An :class:`AblationRun`.
    """
    config = AblationConfig() if config is None else config
    if overrides:
        config = replace(config, **overrides)
    variants = [sign_mask_variant(v) for v in config.variants]
    device = check_device(config.device, "config.device")
    payoffs = payoff_table(config.game).to(device)
    V, S = len(variants), config.n_seeds
    init_gen = torch.Generator().manual_seed(config.seed)
    init = torch.randn(S, 5, generator=init_gen, dtype=torch.float64) * config.init_std
    theta = init.to(device).expand(V, S, 5).clone()
    sampler = torch.Generator(device=device).manual_seed(config.seed + 1)

    recorded, thetas, rewards = [], [], []

    def record(k):
        recorded.append(k)
        thetas.append(theta.clone())
        rewards.append(_self_play_rewards(torch.sigmoid(theta), payoffs, config.episode_length))

    steps = range(config.iterations)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="sign-mask variants", leave=False)
    start = time.perf_counter()
    with torch_threads(config.num_threads):
        record(0)
        for k in steps:
            theta = theta + config.lr * _aa_direction(theta, variants, config, sampler)
            if not torch.isfinite(theta).all():
                raise FloatingPointError(f"training diverged (non-finite logits) at iteration {k + 1}; "
                                         "lower lr or beta")
            if callback is not None:
                callback(k + 1, theta)
            if (k + 1) % config.record_every == 0 or k + 1 == config.iterations:
                record(k + 1)
    wall = time.perf_counter() - start
    return AblationRun(config, variants, theta, torch.tensor(recorded), torch.stack(thetas), torch.stack(rewards),
                       wall)

