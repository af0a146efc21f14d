"""Sign-mask ablations of Advantage Alignment (App. C.2) on the iterated Prisoner's Dilemma, as a league.

The Advantage Alignment term of eq. 8 weights ``log pi1(a_t | s_t)`` by

    w_t = gamma^(t+1) * S_t * A2_t,    S_t = sum_{k<t} lambda^(t-k) A1_k

(``lambda`` is the "AA discount factor", 0.9 in Tables 1-2). The signs of
``(S_t, A2_t)`` split every term into one of four *quadrants*
(:data:`aa_lib.advantages.SIGN_MASKS`, Fig. 1a):

=============  ======  ======  =====================================================
quadrant       S_t     A2_t    effect on log pi1(a_t|s_t)  (sign of S_t * A2_t)
=============  ======  ======  =====================================================
cooperative    > 0     > 0     up: repeat what helped the other after a good past
empathetic     > 0     < 0     down: avoid what hurt the other after a good past
vengeful       < 0     > 0     down: avoid what helped the other after a bad past
spiteful       < 0     < 0     up: repeat what hurt the other after a bad past
=============  ======  ======  =====================================================

Terms where ``S_t = 0`` or ``A2_t = 0`` are zero and belong to no quadrant, so the
four quadrant terms add up to the full term exactly.

**How the library's mask argument reads.** ``shaping_term(..., sign_mask=name)``
and the algorithms ``make_algorithm("aa_vengeful")`` *remove* the named quadrant
(App. C.2: "Vengeful (V), masks when ..."). A :class:`SignMaskVariant` names the
quadrants it *keeps*: the single-quadrant variants ``"cooperative"`` ... keep only
that quadrant (``sign_mask`` = the other three), the paper's ablations ``"aa-V"``,
``"aa-CE"`` ... keep AA minus the named quadrants (``sign_mask`` = those named).

**Training (exact advantages, sampled paths).** Every variant trains memory-one
policies (5 logits, :mod:`aa_lib.exact.memory_one`) in self-play on a T-step
iterated game, many seeds and all variants at once (one batch). Each iteration:

1. solve the T-step game exactly by backward induction
   (:func:`aa_lib.exact.tabular.solve_tabular_logits`): exact ``Q``, ``V`` and
   joint-action advantages ``A_i(t, s, a, b) = Q_i - V_i`` (no critic);
2. the naive part is the exact policy gradient ``grad_theta1 V1`` (eq. 3, autograd
   through the solver, the other seat held fixed);
3. the AA part is the Monte-Carlo average of ``sum_t w_t grad log pi1(a_t|s_t)``
   (eq. 8 split by quadrant, :func:`quadrant_terms`, which equals
   :func:`aa_lib.advantages.shaping_term` with the variant's mask) over a
   large batch of sampled episodes, read from both seats, with the exact
   advantages along each path. Its expectation equals
   :func:`aa_lib.exact.shaping.aa_estimator_expectation` (tested by enumerating
   all paths of a short game).
4. gradient ascent: ``theta += lr * (grad V1 + beta * AA part)``.

The sign masks make eq. 8 non-linear in the path (the sign of a running sum), so
for T = 16 (4^16 paths) the AA expectation is sampled, not enumerated; everything
else is exact. All variants start from the same initial policies, and seed ``s``
of every variant samples its episodes from the same random numbers (common random
numbers), so differences between variants come from the rule, not from the noise.

**League.** :func:`sign_mask_league` plays every trained variant (every seed)
against every other and against scripted Always Cooperate / Always Defect /
Tit-for-Tat. With memory-one players the table is computed exactly
(``method="exact"``: expected per-step reward over the T-step episode), or by
playing episodes with :func:`aa_lib.evaluation.run_league` (``method="sampled"``).
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch

from ._validation import check_device, check_finite, check_gamma, check_nonnegative, check_positive_int, check_tensor
from .advantages import SIGN_MASKS, TIME_WEIGHTS, shaping_term, time_weights
from .algos.advantage_alignment import AdvantageAlignment
from .evaluation.league import LeagueResult
from .exact.memory_one import SEAT_SWAP, STATE_NAMES
from .exact.tabular import solve_tabular, solve_tabular_logits
from .games.matrix import MATRIX_GAMES, as_payoff_tensor

__all__ = [
    "QUADRANTS",
    "QUADRANT_LETTERS",
    "STANDARD_VARIANTS",
    "PAPER_VARIANTS",
    "SCRIPTED_POLICIES",
    "SignMaskVariant",
    "sign_mask_variant",
    "quadrant_terms",
    "variant_shaping",
    "sample_self_play",
    "along_paths",
    "score_gradient",
    "self_play_gradients",
    "REFERENCE_POLICIES",
    "QuadrantMap",
    "quadrant_gradient_map",
    "plot_quadrant_map",
    "AblationConfig",
    "AblationRun",
    "train_sign_mask_variants",
    "expected_per_step_rewards",
    "sign_mask_league",
    "league_agents",
    "behaviour_table",
    "torch_threads",
    "MaskedAdvantageAlignment",
    "train_variant_with_trainer",
    "plot_cooperation_bars",
    "plot_self_play_rewards",
    "plot_league",
    "ablation_study",
    "ablation_explorer",
]

#: The four quadrants, in the order of :data:`aa_lib.advantages.SIGN_MASKS`.
QUADRANTS: Tuple[str, ...] = tuple(SIGN_MASKS)
#: One-letter names of App. C.2 / Fig. 7.
QUADRANT_LETTERS = {"C": "cooperative", "E": "empathetic", "V": "vengeful", "S": "spiteful"}
#: Naive learning, full AA and each quadrant alone.
STANDARD_VARIANTS = ("naive", "aa", "cooperative", "empathetic", "vengeful", "spiteful")
#: The ablations of the paper's Fig. 7 league (AA with the named quadrants removed).
PAPER_VARIANTS = ("aa-E", "aa-V", "aa-S", "aa-CE", "aa-VS")
#: Scripted memory-one opponents, P(cooperate | start, CC, CD, DC, DD) from their own seat.
SCRIPTED_POLICIES = {
    "AC": (1.0, 1.0, 1.0, 1.0, 1.0),
    "AD": (0.0, 0.0, 0.0, 0.0, 0.0),
    "TFT": (1.0, 1.0, 0.0, 1.0, 0.0),
}


# ----------------------------------------------------------------------------
# Variants: which quadrants of the AA term are kept
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SignMaskVariant:
    """A learning rule ``w_t = A1_t + beta * (AA term restricted to the kept quadrants)``.

    Attributes:
        name: display name (e.g. ``"vengeful"``, ``"aa-CE"``).
        kept: quadrants of :data:`QUADRANTS` whose terms are kept (``()``: naive learning).
    """

    name: str
    kept: Tuple[str, ...]

    @property
    def removed(self) -> Tuple[str, ...]:
        """The quadrants removed: the ``sign_mask`` argument of :func:`~aa_lib.advantages.shaping_term`."""
        return tuple(q for q in QUADRANTS if q not in self.kept)

    @property
    def shapes(self) -> bool:
        """Whether any AA term is left (False for naive learning)."""
        return bool(self.kept)

    def keep_vector(self) -> torch.Tensor:
        """``[4]`` float: 1 for each kept quadrant, in :data:`QUADRANTS` order."""
        return torch.tensor([float(q in self.kept) for q in QUADRANTS], dtype=torch.float64)


def _quadrant(token: str, spec: str) -> str:
    name = QUADRANT_LETTERS.get(token, token)
    if name not in QUADRANTS:
        raise ValueError(f"variant {spec!r}: {token!r} is not a quadrant; use one of {QUADRANTS} "
                         f"or the letters {tuple(QUADRANT_LETTERS)}")
    return name


def sign_mask_variant(spec: Union[str, SignMaskVariant]) -> SignMaskVariant:
    """Parse a variant name.

    - ``"naive"``: no AA term; ``"aa"``: the whole AA term;
    - ``"cooperative"`` (or ``"C"``), ... : only that quadrant;
      ``"cooperative+vengeful"`` (or ``"C+V"``): only those quadrants;
    - ``"aa-V"``, ``"aa-vengeful"``, ``"aa-CE"``, ``"aa-C-E"``: AA with the named
      quadrants removed (the paper's AdAlign-V, AdAlign-CE, ...).
    """
    if isinstance(spec, SignMaskVariant):
        return spec
    if not isinstance(spec, str) or not spec:
        raise TypeError(f"a variant must be a non-empty string or SignMaskVariant, got {spec!r}")
    if spec == "naive":
        return SignMaskVariant(spec, ())
    if spec == "aa":
        return SignMaskVariant(spec, QUADRANTS)
    if spec.startswith("aa-"):
        rest = spec[3:]
        tokens = rest.split("-") if "-" in rest or rest in QUADRANTS else list(rest)
        removed = {_quadrant(tok, spec) for tok in tokens}
        return SignMaskVariant(spec, tuple(q for q in QUADRANTS if q not in removed))
    kept = {_quadrant(tok, spec) for tok in spec.split("+")}
    return SignMaskVariant(spec, tuple(q for q in QUADRANTS if q in kept))


# ----------------------------------------------------------------------------
# The AA term, quadrant by quadrant
# ----------------------------------------------------------------------------
def _past_sums(own: torch.Tensor, decay: float) -> torch.Tensor:
    """``S_t = sum_{k<t} decay^(t-k) A_k`` for ``own [batch, T]`` as one matrix product.

    The same numbers as :func:`aa_lib.advantages.past_advantage_sum` (up to rounding,
    tested), with ``M[k, t] = decay^(t-k)`` for ``k < t`` instead of a loop over t.
    """
    T = own.shape[-1]
    t = torch.arange(T, device=own.device)
    age = (t[None, :] - t[:, None]).to(own.dtype)  # age[k, t] = t - k
    weights = torch.where(age > 0, torch.as_tensor(decay, dtype=own.dtype, device=own.device) ** age,
                          torch.zeros((), dtype=own.dtype, device=own.device))
    return own @ weights


#: Position in QUADRANTS of the sign pair with code 2 [S_t < 0] + [A2_t < 0] (read from SIGN_MASKS).
_CODE_TO_QUADRANT = torch.tensor([QUADRANTS.index(next(q for q, signs in SIGN_MASKS.items() if signs == pair))
                                  for pair in ((1, 1), (1, -1), (-1, 1), (-1, -1))])


def _split_by_quadrant(own: torch.Tensor, other: torch.Tensor, gamma: float, past_discount: Optional[float],
                       time_weight: Optional[str]) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(w, quadrant)``, both ``[batch, T]``: the unmasked AA term of eq. 8 and the index in
    :data:`QUADRANTS` of the quadrant of each term (meaningless where ``w = 0``)."""
    gamma = check_gamma(gamma, allow_one=True)
    decay = gamma if past_discount is None else check_gamma(past_discount, "past_discount", allow_one=True)
    prefactor = time_weights(own.shape[-1], gamma, time_weight or "gamma^(t+1)", own.dtype, own.device)
    past = _past_sums(own, decay)  # S_t, [batch, T]
    full = prefactor * past * other
    code = 2 * (past < 0).long() + (other < 0).long()  # 0: (+,+), 1: (+,-), 2: (-,+), 3: (-,-)
    return full, _CODE_TO_QUADRANT.to(code.device)[code]


def quadrant_terms(own_advantages, other_advantages, gamma: float, *, past_discount: Optional[float] = None,
                   time_weight: Optional[str] = None) -> torch.Tensor:
    """The AA term of each quadrant alone, ``[4, batch, T]`` in :data:`QUADRANTS` order.

    ``w_t = f(t) S_t A2_t`` (eq. 8) where ``(sign S_t, sign A2_t)`` is quadrant q of
    :data:`aa_lib.advantages.SIGN_MASKS`, 0 elsewhere. Entry q equals
    :func:`~aa_lib.advantages.shaping_term` with every quadrant but q removed (tested
    to 1e-12), and the four add up to the unmasked term exactly (each term lies in one
    quadrant or is zero). The training computes the same split without stacking the
    four (see :func:`self_play_gradients`).

    Args:
        own_advantages, other_advantages: ``[batch, T]`` floating point.
        gamma, past_discount, time_weight: as in :func:`~aa_lib.advantages.shaping_term`
            (``past_discount=None`` means ``gamma``; ``time_weight=None`` means ``gamma^(t+1)``).
    """
    own = check_tensor(own_advantages, "own_advantages")
    other = check_tensor(other_advantages, "other_advantages")
    if own.dim() != 2 or other.shape != own.shape or not own.is_floating_point():
        raise ValueError(f"own_advantages and other_advantages must be floating-point [batch, T] tensors of one "
                         f"shape, got {tuple(own.shape)} and {tuple(other.shape)}")
    check_finite(own, "own_advantages")
    check_finite(other, "other_advantages")
    full, quadrant = _split_by_quadrant(own, other.to(own.dtype), gamma, past_discount, time_weight)
    return torch.stack([torch.where(quadrant == q, full, torch.zeros_like(full)) for q in range(len(QUADRANTS))])


def variant_shaping(variant, own_advantages, other_advantages, gamma: float, **shaping_options) -> torch.Tensor:
    """The AA term of one variant, ``[batch, T]`` (zeros for naive learning)."""
    variant = sign_mask_variant(variant)
    own = check_tensor(own_advantages, "own_advantages")
    if not variant.shapes:
        return torch.zeros_like(own)
    removed = variant.removed or None
    return shaping_term(own, other_advantages, gamma, sign_mask=removed, **shaping_options)


# ----------------------------------------------------------------------------
# Sampled self-play episodes and the score-function gradient of memory-one logits
# ----------------------------------------------------------------------------
_SWAP = torch.tensor(SEAT_SWAP)


def sample_self_play(p_cooperate: torch.Tensor, horizon: int, n_episodes: int,
                     generator: Optional[torch.Generator] = None, p_other: Optional[torch.Tensor] = None,
                     noise_repeats: int = 1):
    """Sample episodes of two memory-one players, ``[B]`` independent pairs at once.

    Args:
        p_cooperate: ``[B, 5]`` player 1's P(C | start, CC, CD, DC, DD) (own seat).
        horizon: steps per episode T.
        n_episodes: episodes N per pair.
        generator: randomness.
        p_other: ``[B, 5]`` player 2's probabilities from its own seat
            (default: the same policy, self-play).
        noise_repeats: common random numbers: the uniforms are drawn for
            ``B / noise_repeats`` pairs and tiled, so pairs ``i`` and ``i + B / noise_repeats``
            use the same random numbers (identical policies then play identical episodes).

    Returns:
        ``(states, a, b)``, long ``[B, N, T]``: the memory-one state before each step
        in player 1's seat order (0 = start, then ``1 + 2 a + b``), and each player's
        own action (0 = cooperate).
    """
    p1 = check_tensor(p_cooperate, "p_cooperate")
    if p1.dim() != 2 or p1.shape[-1] != 5:
        raise ValueError(f"p_cooperate must have shape [B, 5], got {tuple(p1.shape)}")
    p2 = p1 if p_other is None else check_tensor(p_other, "p_other")
    if p2.shape != p1.shape:
        raise ValueError(f"p_other must have the shape of p_cooperate {tuple(p1.shape)}, got {tuple(p2.shape)}")
    horizon = check_positive_int(horizon, "horizon")
    n_episodes = check_positive_int(n_episodes, "n_episodes")
    noise_repeats = check_positive_int(noise_repeats, "noise_repeats")
    B, device = p1.shape[0], p1.device
    if B % noise_repeats:
        raise ValueError(f"noise_repeats={noise_repeats} must divide the number of pairs {B}")
    p2_seat1 = p2[:, list(SEAT_SWAP)]  # player 2's probabilities indexed by player 1's state
    state = torch.zeros(B, n_episodes, dtype=torch.long, device=device)
    states, acts1, acts2 = [], [], []
    for _ in range(horizon):
        u = torch.rand(2, B // noise_repeats, n_episodes, generator=generator, device=device, dtype=p1.dtype)
        u = u.repeat(1, noise_repeats, 1)
        a = (u[0] >= p1.gather(1, state)).long()
        b = (u[1] >= p2_seat1.gather(1, state)).long()
        states.append(state)
        acts1.append(a)
        acts2.append(b)
        state = 1 + 2 * a + b
    return torch.stack(states, -1), torch.stack(acts1, -1), torch.stack(acts2, -1)


def along_paths(table: torch.Tensor, states: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Read a ``[B, T, 5, 2, 2]`` table (t, state, a, b) along paths ``[B, N, T]``: returns ``[B, N, T]``."""
    B, N, T = states.shape
    if table.shape != (B, T, 5, 2, 2):
        raise ValueError(f"table must have shape ({B}, {T}, 5, 2, 2), got {tuple(table.shape)}")
    t = torch.arange(T, device=states.device)
    index = ((t * 20 + states * 4 + a * 2 + b)).reshape(B, N * T)
    return table.reshape(B, T * 20).gather(1, index).reshape(B, N, T)


def score_gradient(p_cooperate: torch.Tensor, states: torch.Tensor, actions: torch.Tensor,
                   weights: torch.Tensor, path_weights: Optional[torch.Tensor] = None,
                   groups: Optional[torch.Tensor] = None, n_groups: int = 1) -> torch.Tensor:
    """``sum_paths q(path) sum_t w_t grad_theta log pi(a_t | s_t)`` for memory-one logits, ``[..., B, 5]``.

    With ``P(C | s) = sigmoid(theta_s)``, ``d log pi(C|s)/d theta_s = 1 - p_s`` and
    ``d log pi(D|s)/d theta_s = -p_s`` (zero for the other states).

    Args:
        p_cooperate: ``[B, 5]`` the player's probabilities (its own seat order).
        states: ``[B, N, T]`` long, the player's state at each step (its own seat order).
        actions: ``[B, N, T]`` long, its actions.
        weights: ``[..., B, N, T]`` the weight of each log-probability (leading dims,
            e.g. one per quadrant, give one gradient each).
        path_weights: ``[B, N]`` or ``[N]`` weight of each path (default ``1/N``: a
            sample mean; exact path probabilities give an exact expectation).
        groups, n_groups: optional ``[B, N, T]`` long in ``[0, n_groups)``: sum each group's
            steps separately (e.g. by quadrant); the result is then ``[n_groups, ..., B, 5]``.
    """
    B, N, T = states.shape
    if weights.shape[-3:] != (B, N, T):
        raise ValueError(f"weights must have shape [..., {B}, {N}, {T}], got {tuple(weights.shape)}")
    p_taken = p_cooperate.gather(1, states.reshape(B, N * T)).reshape(B, N, T)
    score = (actions == 0).to(p_taken.dtype) - p_taken
    if path_weights is None:
        score = score / N
    else:
        score = score * path_weights.expand(B, N).unsqueeze(-1)
    lead = weights.shape[:-3]
    per_step = (weights * score).reshape(*lead, B, N * T)
    index = states if groups is None else groups * 5 + states  # slot of (group, state)
    index = index.reshape(B, N * T).expand(*lead, B, N * T)
    grad = torch.zeros(*lead, B, 5 * n_groups, dtype=per_step.dtype, device=per_step.device)
    grad = grad.scatter_add_(-1, index, per_step)
    if groups is None:
        return grad
    return grad.unflatten(-1, (n_groups, 5)).movedim(-2, 0)


# ----------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------
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


def _resolve_game(game) -> torch.Tensor:
    if isinstance(game, str):
        if game not in MATRIX_GAMES:
            raise ValueError(f"unknown game {game!r}; choose one of {sorted(MATRIX_GAMES)}")
        game = MATRIX_GAMES[game]
    return as_payoff_tensor(game)


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
            check_nonnegative(getattr(self, name), name)
        if not isinstance(self.game, str) or self.game not in MATRIX_GAMES:
            raise ValueError(f"game must be the name of a game in aa_lib.games.matrix.MATRIX_GAMES {sorted(MATRIX_GAMES)}, "
                             f"got {self.game!r}")

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
        sol = solve_tabular(p, p, _resolve_game(self.config.game).to(p), 1.0, self.config.episode_length)
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


def self_play_gradients(theta, game, gamma: float, horizon: int, n_episodes: int,
                        generator: Optional[torch.Generator] = None, *, past_discount: Optional[float] = None,
                        time_weight: Optional[str] = None, noise_repeats: int = 1
                        ) -> Tuple[torch.Tensor, torch.Tensor]:
    """The naive gradient and the AA gradient of each quadrant, for memory-one self-play.

    For every policy ``theta [B, 5]`` playing itself in the T-step game:

    - ``naive [B, 5]``: the exact ``grad_theta1 V1`` (eq. 3), the other seat held
      fixed, by autograd through :func:`~aa_lib.exact.tabular.solve_tabular_logits`;
    - ``quadrants [4, B, 5]``: for each quadrant q of :data:`QUADRANTS`, the Monte-Carlo
      average over ``n_episodes`` sampled episodes (read from both seats) of
      ``sum_t w^q_t grad log pi(a_t | s_t)``, with ``w^q`` the AA term of quadrant q
      (:func:`quadrant_terms`) of the exact advantages along each path.

    A variant's ascent direction is ``naive + beta * sum_{q kept} quadrants[q]``.
    ``noise_repeats``: common random numbers for blocks of policies (see :func:`sample_self_play`).
    """
    theta = check_tensor(theta, "theta")
    if theta.dim() != 2 or theta.shape[-1] != 5 or not theta.is_floating_point():
        raise ValueError(f"theta must be floating-point logits of shape [B, 5], got {tuple(theta.shape)}")
    payoffs = _resolve_game(game).to(theta)
    T = check_positive_int(horizon, "horizon")
    th1 = theta.detach().requires_grad_(True)
    solution = solve_tabular_logits(th1, theta.detach(), payoffs, gamma, T)
    (naive,) = torch.autograd.grad(solution.values[0].sum(), th1)
    adv1, adv2 = (x.detach() for x in solution.advantages())  # [B, T, 5, 2, 2] each
    p = torch.sigmoid(theta.detach())
    states, a, b = sample_self_play(p, T, n_episodes, generator, noise_repeats=noise_repeats)  # [B, N, T]
    A1, A2 = along_paths(adv1, states, a, b), along_paths(adv2, states, a, b)
    # Both seats at once: seat 2 sees the same episodes with the roles exchanged.
    own, other = torch.stack([A1, A2]), torch.stack([A2, A1])  # [2, B, N, T]
    # The AA term of every step and its quadrant (what quadrant_terms stacks, without stacking).
    w, quadrant = _split_by_quadrant(own.reshape(-1, T), other.reshape(-1, T), gamma, past_discount, time_weight)
    w, quadrant = w.reshape(own.shape), quadrant.reshape(own.shape)
    seat_states = (states, _SWAP.to(states.device)[states])  # each seat's own state order
    seat_actions = (a, b)
    quadrants = 0.5 * sum(score_gradient(p, seat_states[i], seat_actions[i], w[i], groups=quadrant[i],
                                         n_groups=len(QUADRANTS)) for i in range(2))
    return naive, quadrants  # [B, 5], [4, B, 5]


#: Reference policies (P(C | start, CC, CD, DC, DD)) at which :func:`quadrant_gradient_map` looks.
REFERENCE_POLICIES = {
    "uniform": (0.5, 0.5, 0.5, 0.5, 0.5),
    "mostly C": (0.9, 0.9, 0.9, 0.9, 0.9),
    "mostly D": (0.1, 0.1, 0.1, 0.1, 0.1),
    "TFT-like": (0.9, 0.9, 0.1, 0.9, 0.1),
}


@dataclass
class QuadrantMap:
    """Where each quadrant pushes a memory-one policy: ascent directions at reference policies.

    Attributes:
        names: the reference policies, ``P`` of them.
        p_cooperate: ``[P, 5]`` their P(C | state).
        naive: ``[P, 5]`` exact naive gradient ``grad V1`` per state logit.
        quadrants: ``[P, 4, 5]`` AA gradient of each quadrant (per unit beta), :data:`QUADRANTS` order.
    """

    names: List[str]
    p_cooperate: torch.Tensor
    naive: torch.Tensor
    quadrants: torch.Tensor


def quadrant_gradient_map(policies: Optional[Dict[str, Sequence[float]]] = None, game: str = "Prisoner's Dilemma",
                          gamma: float = 0.9, horizon: int = 16, n_episodes: int = 4096, seed: int = 0,
                          past_discount: Optional[float] = 0.9, time_weight: Optional[str] = None) -> QuadrantMap:
    """:func:`self_play_gradients` at fixed policies (default :data:`REFERENCE_POLICIES`).

    A positive entry ``quadrants[i, q, s]`` means: at policy i, quadrant q alone raises
    P(C | s); negative: it pushes towards defection after s.
    """
    policies = REFERENCE_POLICIES if policies is None else policies
    names = list(policies)
    p = torch.tensor([list(policies[n]) for n in names], dtype=torch.float64)
    if p.dim() != 2 or p.shape[-1] != 5 or not ((p > 0) & (p < 1)).all():
        raise ValueError("policies must map names to 5 probabilities strictly between 0 and 1")
    theta = torch.log(p) - torch.log1p(-p)
    naive, quadrants = self_play_gradients(theta, game, gamma, horizon, n_episodes,
                                           torch.Generator().manual_seed(seed), past_discount=past_discount,
                                           time_weight=time_weight)
    return QuadrantMap(names, p, naive, quadrants.transpose(0, 1))


def _aa_direction(theta: torch.Tensor, variants: List[SignMaskVariant], config: AblationConfig,
                  generator: torch.Generator) -> torch.Tensor:
    """The ascent direction ``grad V1 + beta * E[sum_t w_t grad log pi]`` of every (variant, seed), ``[V, S, 5]``."""
    V, S, _ = theta.shape
    flat = theta.reshape(V * S, 5)
    if not any(v.shapes for v in variants) or config.beta == 0:
        th1 = flat.detach().requires_grad_(True)
        solution = solve_tabular_logits(th1, flat.detach(), _resolve_game(config.game).to(flat), config.gamma,
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
    payoffs = _resolve_game(config.game).to(device)
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


# ----------------------------------------------------------------------------
# League
# ----------------------------------------------------------------------------
def expected_per_step_rewards(p1, p2, game, horizon: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Exact expected reward per step of both players over a T-step episode (undiscounted mean).

    ``p1``, ``p2`` are ``[..., 5]`` P(C | state) from each player's own seat (exact 0/1 allowed).
    """
    sol = solve_tabular(p1, p2, game, 1.0, horizon)
    v1, v2 = sol.values
    return v1 / horizon, v2 / horizon


def league_agents(run: AblationRun, scripted: Sequence[str] = ("AC", "AD", "TFT"),
                  seeds: Optional[Sequence[int]] = None) -> Dict[str, torch.Tensor]:
    """name -> ``[n, 5]`` P(C | state) of the agents of each type (trained seeds, scripted ones).

    ``seeds``: indices of the training seeds to include (default: all).
    """
    p = run.p_cooperate
    if seeds is not None:
        seeds = list(seeds)
        if not seeds or any(not 0 <= s < p.shape[1] for s in seeds):
            raise ValueError(f"seeds must be a non-empty list of indices in [0, {p.shape[1]}), got {seeds}")
        p = p[:, seeds]
    agents = {name: p[i] for i, name in enumerate(run.names)}
    for name in scripted:
        if name not in SCRIPTED_POLICIES:
            raise ValueError(f"unknown scripted agent {name!r}; choose from {tuple(SCRIPTED_POLICIES)}")
        if name in agents:
            raise ValueError(f"scripted agent {name!r} clashes with a variant of the same name")
        agents[name] = torch.tensor([SCRIPTED_POLICIES[name]], dtype=torch.float64, device=run.theta.device)
    return agents


def _exact_league(agents: Dict[str, torch.Tensor], payoffs: torch.Tensor, horizon: int) -> LeagueResult:
    names = list(agents)
    n = len(names)
    table, other, std = (torch.zeros(n, n, dtype=torch.float64) for _ in range(3))
    for i, row in enumerate(names):
        for j, col in enumerate(names):
            p1, p2 = agents[row][:, None, :], agents[col][None, :, :]  # every (row seed, column seed) pair
            r1, r2 = expected_per_step_rewards(p1, p2, payoffs, horizon)
            table[i, j], other[i, j] = r1.mean(), r2.mean()
            std[i, j] = r1.std() if r1.numel() > 1 else 0.0
    return LeagueResult(names, table, other, std)


def sign_mask_league(run: AblationRun, scripted: Sequence[str] = ("AC", "AD", "TFT"), method: str = "exact",
                     horizon: Optional[int] = None, batch_size: int = 256, seed: int = 0,
                     seeds: Optional[Sequence[int]] = None) -> LeagueResult:
    """Round robin between every trained variant (all seeds) and the scripted agents.

    ``table[i, j]`` is the per-step reward of row agent i (seat 1) against column
    agent j (seat 2), averaged over all (row seed, column seed) pairs; ``std`` is
    the spread over those pairs (see :class:`aa_lib.evaluation.LeagueResult`).

    Args:
        run: trained variants.
        scripted: scripted opponents among :data:`SCRIPTED_POLICIES`.
        method: ``"exact"`` (expected rewards by backward induction) or ``"sampled"``
            (episodes played by :func:`aa_lib.evaluation.run_league`).
        horizon: episode length (default: the training episode length).
        batch_size, seed: games per seed pair and their seed (``"sampled"`` only).
        seeds: indices of the training seeds that play (default: all).
    """
    horizon = run.config.episode_length if horizon is None else check_positive_int(horizon, "horizon")
    agents = league_agents(run, scripted, seeds)
    if method == "exact":
        return _exact_league(agents, _resolve_game(run.config.game).to(run.theta.device), horizon)
    if method != "sampled":
        raise ValueError(f"method must be 'exact' or 'sampled', got {method!r}")
    from .agents.scripted import MemoryOneAgent
    from .evaluation import run_league
    from .games.iterated import IteratedMatrixGame

    env = IteratedMatrixGame(MATRIX_GAMES[run.config.game], episode_length=horizon, device=run.theta.device)
    pools = {name: [MemoryOneAgent(p_cooperate=row) for row in probs] for name, probs in agents.items()}
    return run_league(env, pools, batch_size=batch_size, seed=seed)


def behaviour_table(run: AblationRun, league: LeagueResult, opponents: Sequence[str] = ("AC", "AD", "TFT"),
                    threshold: float = -1.5, digits: int = 2) -> str:
    """One line per variant: self-play reward, cooperating seeds, P(C | memory state), rewards vs scripted agents."""
    width = max(12, max(len(n) for n in run.names) + 2)
    states = STATE_NAMES[1:]
    head = ("variant".ljust(width) + "self".rjust(7) + "coop".rjust(6) + "".join(f"P(C|{s})".rjust(9) for s in states)
            + "".join(f"vs {o}".rjust(8) for o in opponents))
    lines = [head]
    p, frac = run.p_cooperate.mean(1), run.cooperating_fraction(threshold)
    for i, name in enumerate(run.names):
        cells = [f"{float(run.self_play_reward[i].mean()):.{digits}f}".rjust(7),
                 f"{int(round(float(frac[i]) * run.config.n_seeds))}/{run.config.n_seeds}".rjust(6)]
        cells += [f"{float(p[i, k]):.{digits}f}".rjust(9) for k in range(1, 5)]
        cells += [f"{league.value(name, o):.{digits}f}".rjust(8) for o in opponents]
        lines.append(name.ljust(width) + "".join(cells))
    return "\n".join(lines)


# ----------------------------------------------------------------------------
# The same variants with the library's sampled Trainer (critic, GAE)
# ----------------------------------------------------------------------------
@dataclass
class MaskedAdvantageAlignment(AdvantageAlignment):
    """:class:`~aa_lib.algos.AdvantageAlignment` keeping only the quadrants ``kept``.

    The library's ``sign_mask`` removes one quadrant; this removes every quadrant
    not in ``kept`` (so ``kept=("vengeful",)`` is the vengeful term alone).
    """

    kept: Tuple[str, ...] = QUADRANTS

    def __post_init__(self):
        super().__post_init__()
        if self.sign_mask is not None:
            raise ValueError("give kept (the quadrants to keep), not sign_mask")
        self.kept = tuple(self.kept)
        for q in self.kept:
            if q not in QUADRANTS:
                raise ValueError(f"kept must hold quadrants among {QUADRANTS}, got {q!r}")

    def shaping_options(self, batch) -> dict:
        options = super().shaping_options(batch)
        options["sign_mask"] = [q for q in QUADRANTS if q not in self.kept] or None
        return options


def train_variant_with_trainer(variant="aa", iterations: int = 200, seed: int = 0, beta: float = 1.0,
                               aa_gamma: float = 0.9, init_theta=None, callbacks: Sequence = (),
                               num_threads: Optional[int] = 1, **config_overrides):
    """Train one memory-one policy with the library's :class:`~aa_lib.training.Trainer`.

    Sampled episodes, a learned critic and GAE advantages (no exact tables); the
    learning rule is the variant's: the library's naive actor-critic for ``"naive"``,
    its Advantage Alignment for ``"aa"``, otherwise :class:`MaskedAdvantageAlignment`.
    Defaults: the IPD of Table 1 (T = 16, gamma 0.9), the classroom settings of
    :mod:`aa_lib.training.presets` (feed-forward critic, centred advantages) without entropy
    bonus, and Adam with ``actor_lr=0.05`` on the 5 logits.

    Args:
        variant: a variant name (see :func:`sign_mask_variant`).
        iterations, seed, beta, aa_gamma: the run's length, seed, AA weight and AA discount.
        init_theta: optional ``[5]`` initial logits (default: zeros, P(C) = 0.5).
        callbacks: trainer callbacks (progress bar, live plot...).
        num_threads: torch CPU threads while training (see :func:`torch_threads`).
        **config_overrides: other :class:`~aa_lib.training.TrainConfig` fields.

    Returns:
        The trained :class:`~aa_lib.training.Trainer` (``trainer.policy.theta`` are the logits).
    """
    from .training import TrainConfig, Trainer

    variant = sign_mask_variant(variant)
    options = dict(game="ipd", game_options={"episode_length": 16}, algo="aa" if variant.shapes else "naive",
                   policy="memory_one", batch_size=256, gamma=0.9, actor_lr=0.05, critic_lr=3e-3,
                   critic_ema=0.9, critic_updates=4, recurrent=False, hidden=32, center_advantages=True,
                   iterations=iterations, seed=seed)
    if variant.shapes:
        options["algo_options"] = {"beta": beta, "aa_gamma": aa_gamma}
    options.update(config_overrides)
    trainer = Trainer(TrainConfig(**options), callbacks)
    if variant.shapes and variant.removed:
        # The trainer built the library's AA; use the same rule restricted to the kept quadrants.
        trainer.algo = MaskedAdvantageAlignment(kept=variant.kept, **options.get("algo_options", {}))
    if init_theta is not None:
        init = check_tensor(init_theta, "init_theta")
        if init.shape != (5,):
            raise ValueError(f"init_theta must have shape [5], got {tuple(init.shape)}")
        with torch.no_grad():
            trainer.policy.theta.copy_(init)
    with torch_threads(num_threads):
        trainer.train()
    return trainer


# ----------------------------------------------------------------------------
# Plots, the study in one call, and its widget
# ----------------------------------------------------------------------------
def plot_cooperation_bars(run: AblationRun, ax=None, names: Optional[Sequence[str]] = None,
                          title: str = "P(cooperate | previous joint action), mean over seeds"):
    """Grouped bars of P(C | start, CC, CD, DC, DD) per variant, whiskers = std over seeds."""
    import matplotlib.pyplot as plt

    names = list(run.names if names is None else names)
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(7, 1.4 * len(names) + 3), 3.6))
    else:
        fig = ax.figure
    p = run.p_cooperate
    width = 0.8 / len(names)
    for k, name in enumerate(names):
        i = run.index(name)
        xs = [s + (k - (len(names) - 1) / 2) * width for s in range(5)]
        ax.bar(xs, p[i].mean(0).tolist(), width, yerr=p[i].std(0, unbiased=False).tolist(), capsize=2,
               label=name)
    ax.set_xticks(range(5), STATE_NAMES)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("P(C)")
    ax.set_xlabel("previous joint action (own action first)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def plot_quadrant_map(qmap: QuadrantMap, axes=None):
    """One heatmap per reference policy: rows naive + the four quadrants, columns the 5 states."""
    import matplotlib.pyplot as plt

    n = len(qmap.names)
    if axes is None:
        fig, axes = plt.subplots(1, n, figsize=(3.3 * n + 1, 3.2), squeeze=False)
        axes = axes[0]
    fig = axes[0].figure
    rows = ["naive"] + list(QUADRANTS)
    data = torch.cat([qmap.naive[:, None], qmap.quadrants], 1)  # [P, 5 rows, 5 states]
    scale = float(data.abs().max())
    for i, ax in enumerate(axes):
        ax.imshow(data[i].numpy(), cmap="RdBu", vmin=-scale, vmax=scale)
        ax.set_xticks(range(5), STATE_NAMES)
        ax.set_yticks(range(len(rows)), rows if i == 0 else [""] * len(rows))
        for r in range(len(rows)):
            for c in range(5):
                ax.text(c, r, f"{float(data[i, r, c]):+.2f}", ha="center", va="center", fontsize=7)
        ax.set_title(f"{qmap.names[i]}\nP(C)={[round(float(x), 2) for x in qmap.p_cooperate[i]]}", fontsize=8)
    fig.suptitle("d/d logit P(C | state): blue raises cooperation, red lowers it", fontsize=10)
    fig.tight_layout()
    return fig


def plot_self_play_rewards(run: AblationRun, ax=None):
    """Exact self-play per-step reward during training, mean over seeds (band: min-max)."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.5))
    else:
        fig = ax.figure
    x = run.iterations.tolist()
    for i, name in enumerate(run.names):
        r = run.reward_history[:, i]
        ax.plot(x, r.mean(-1).tolist(), label=name)
        ax.fill_between(x, r.min(-1).values.tolist(), r.max(-1).values.tolist(), alpha=0.12)
    ax.axhline(-1.0, color="k", lw=0.6, ls=":")
    ax.axhline(-2.0, color="k", lw=0.6, ls=":")
    ax.set_xlabel("iteration")
    ax.set_ylabel("self-play reward per step")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def plot_league(league: LeagueResult, ax=None, title: str = "per-step reward of the row agent"):
    """Annotated heatmap of a league table (rows: agent in seat 1, columns: opponent)."""
    return league.heatmap(ax=ax, title=title)


def ablation_study(variants: Sequence[str] = STANDARD_VARIANTS, beta: float = 1.0, n_seeds: int = 4,
                   iterations: int = 100, scripted: Sequence[str] = ("AC", "AD", "TFT"), show: bool = True,
                   progress: bool = False, **config_overrides):
    """Train the variants, play the exact league, and (``show``) plot P(C | state) and the league.

    Returns ``(run, league)``.
    """
    run = train_sign_mask_variants(AblationConfig(variants=tuple(variants), beta=beta, n_seeds=n_seeds,
                                                  iterations=iterations, **config_overrides), progress=progress)
    league = sign_mask_league(run, scripted)
    if show:
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(15, 4.8), gridspec_kw={"width_ratios": [1.3, 1]})
        plot_cooperation_bars(run, ax=axes[0])
        plot_league(league, ax=axes[1])
        fig.tight_layout()
        plt.show()
        print(run.to_text())
    return run, league


def ablation_explorer(variants: Sequence[str] = STANDARD_VARIANTS, beta: float = 1.0, n_seeds: int = 4,
                      iterations: int = 100, **config_overrides):
    """An ipywidgets panel around :func:`ablation_study`: variants, beta, seeds, iterations and a Run button."""
    import ipywidgets as widgets

    choices = list(dict.fromkeys(list(STANDARD_VARIANTS) + list(PAPER_VARIANTS) + list(variants)))
    pick = widgets.SelectMultiple(options=choices, value=tuple(variants), rows=min(len(choices), 8),
                                  description="variants")
    beta_w = widgets.FloatSlider(value=beta, min=0.0, max=5.0, step=0.1, description="beta")
    seeds_w = widgets.IntSlider(value=n_seeds, min=1, max=16, description="seeds")
    iters_w = widgets.IntSlider(value=iterations, min=10, max=400, step=10, description="iterations")
    button = widgets.Button(description="Run", button_style="primary")
    out = widgets.Output()

    def on_click(_):
        out.clear_output(wait=True)
        with out:
            if not pick.value:
                print("choose at least one variant")
                return
            ablation_study(pick.value, beta_w.value, seeds_w.value, iters_w.value, **config_overrides)

    button.on_click(on_click)
    return widgets.VBox([widgets.HBox([pick, widgets.VBox([beta_w, seeds_w, iters_w, button])]), out])
