"""The four sign quadrants of the Advantage Alignment term (App. C.2), and their exact-advantage gradients
for memory-one self-play in iterated 2x2 games.

The AA term of eq. 8 weights ``log pi1(a_t | s_t)`` by

    w_t = gamma^(t+1) * S_t * A2_t,    S_t = sum_{k<t} lambda^(t-k) A1_k

(``lambda`` is the "AA discount factor", 0.9 in Tables 1-2). The signs of
``(S_t, A2_t)`` split every term into one of four *quadrants*
(:data:`aa_lib.advantages.SIGN_MASKS`, Fig. 1a; table in :mod:`aa_lib.algos.sign_mask`):
cooperative (+, +), empathetic (+, -), vengeful (-, +), spiteful (-, -). Terms where
``S_t = 0`` or ``A2_t = 0`` are zero and belong to no quadrant, so the four quadrant
terms add up to the full term exactly (:func:`quadrant_terms`).

**One mask convention: a sign mask names the quadrants it REMOVES**
(:func:`aa_lib.advantages.shaping_term`, the rules ``aa_sign_mask`` / ``aa_vengeful``
of :mod:`aa_lib.algos.sign_mask`, :func:`aa_lib.exact.shaping.aa_estimator_expectation`).
A study variant (:class:`SignMaskVariant`) carries that ``sign_mask``; its *name* is a
label: the single-quadrant variants ``"cooperative"`` ... are that quadrant alone
(``sign_mask`` = the other three), the paper's ablations ``"aa-V"``, ``"aa-CE"`` ... are AA
without the named quadrants (``sign_mask`` = those named).

**Exact advantages, sampled paths.** :func:`self_play_gradients` gives, for memory-one
policies (5 logits, :mod:`aa_lib.exact.memory_one`) playing themselves in a T-step game:

1. the exact tables ``Q``, ``V`` and joint-action advantages ``A_i(t, s, a, b) = Q_i - V_i``
   by backward induction (:func:`aa_lib.exact.tabular.solve_tabular_logits`; no critic);
2. the naive part, the exact policy gradient ``grad_theta1 V1`` (eq. 3, autograd through
   the solver, the other seat held fixed);
3. the AA part of each quadrant, the Monte-Carlo average of ``sum_t w_t grad log pi1(a_t|s_t)``
   over sampled episodes read from both seats, with the exact advantages along each path.
   Its expectation equals :func:`aa_lib.exact.shaping.aa_estimator_expectation` (tested by
   enumerating all paths of a short game).

The sign masks make eq. 8 non-linear in the path (the sign of a running sum), so for
T = 16 (4^16 paths) the AA expectation is sampled, not enumerated; everything else is
exact. Training on these gradients is :mod:`aa_lib.exact.sign_mask_training`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch

from .._validation import check_finite, check_gamma, check_positive_int, check_tensor
from ..advantages import SIGN_MASKS, past_advantage_sum, shaping_term, time_weights
from ..games.matrix import MATRIX_GAMES, as_payoff_tensor
from .memory_one import SEAT_SWAP
from .tabular import solve_tabular_logits

__all__ = [
    "QUADRANTS",
    "QUADRANT_LETTERS",
    "STANDARD_VARIANTS",
    "PAPER_VARIANTS",
    "SignMaskVariant",
    "sign_mask_variant",
    "payoff_table",
    "quadrant_terms",
    "variant_shaping",
    "sample_self_play",
    "along_paths",
    "score_gradient",
    "self_play_gradients",
    "REFERENCE_POLICIES",
    "QuadrantMap",
    "quadrant_gradient_map",
]

#: The four quadrants, in the order of :data:`aa_lib.advantages.SIGN_MASKS`.
QUADRANTS: Tuple[str, ...] = tuple(SIGN_MASKS)
#: One-letter names of App. C.2 / Fig. 7.
QUADRANT_LETTERS = {"C": "cooperative", "E": "empathetic", "V": "vengeful", "S": "spiteful"}
#: Naive learning, full AA and each quadrant alone.
STANDARD_VARIANTS = ("naive", "aa", "cooperative", "empathetic", "vengeful", "spiteful")
#: The ablations of the paper's Fig. 7 league (AA with the named quadrants removed).
PAPER_VARIANTS = ("aa-E", "aa-V", "aa-S", "aa-CE", "aa-VS")


# ----------------------------------------------------------------------------
# Variants: which quadrants of the AA term are removed
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SignMaskVariant:
    """A learning rule ``w_t = A1_t + beta * (AA term without the quadrants of sign_mask)``.

    Attributes:
        name: display name (e.g. ``"vengeful"``, ``"aa-CE"``).
        sign_mask: the quadrants REMOVED, in :data:`QUADRANTS` order: the ``sign_mask`` argument
            of :func:`~aa_lib.advantages.shaping_term` and of the rule ``aa_sign_mask``
            (all four: naive learning; none: Advantage Alignment).
    """

    name: str
    sign_mask: Tuple[str, ...]

    @property
    def kept(self) -> Tuple[str, ...]:
        """The quadrants left in the AA term (``()``: naive learning)."""
        return tuple(q for q in QUADRANTS if q not in self.sign_mask)

    @property
    def shapes(self) -> bool:
        """Whether any AA term is left (False for naive learning)."""
        return bool(self.kept)

    def keep_vector(self) -> torch.Tensor:
        """``[4]`` float: 1 for each quadrant left in the AA term, in :data:`QUADRANTS` order."""
        return torch.tensor([float(q not in self.sign_mask) for q in QUADRANTS], dtype=torch.float64)


def _quadrant(token: str, spec: str) -> str:
    name = QUADRANT_LETTERS.get(token, token)
    if name not in QUADRANTS:
        raise ValueError(f"variant {spec!r}: {token!r} is not a quadrant; use one of {QUADRANTS} "
                         f"or the letters {tuple(QUADRANT_LETTERS)}")
    return name


def sign_mask_variant(spec: Union[str, SignMaskVariant]) -> SignMaskVariant:
    """Parse a variant name into its :class:`SignMaskVariant` (``sign_mask`` = quadrants removed).

    - ``"naive"``: no AA term (all four removed); ``"aa"``: the whole AA term (none removed);
    - ``"cooperative"`` (or ``"C"``), ... : only that quadrant (the other three removed);
      ``"cooperative+vengeful"`` (or ``"C+V"``): only those quadrants;
    - ``"aa-V"``, ``"aa-vengeful"``, ``"aa-CE"``, ``"aa-C-E"``: AA with the named
      quadrants removed (the paper's AdAlign-V, AdAlign-CE, ...).
    """
    if isinstance(spec, SignMaskVariant):
        return spec
    if not isinstance(spec, str) or not spec:
        raise TypeError(f"a variant must be a non-empty string or SignMaskVariant, got {spec!r}")
    if spec == "naive":
        return SignMaskVariant(spec, QUADRANTS)
    if spec == "aa":
        return SignMaskVariant(spec, ())
    if spec.startswith("aa-"):
        rest = spec[3:]
        tokens = rest.split("-") if "-" in rest or rest in QUADRANTS else list(rest)
        removed = {_quadrant(tok, spec) for tok in tokens}
        return SignMaskVariant(spec, tuple(q for q in QUADRANTS if q in removed))
    kept = {_quadrant(tok, spec) for tok in spec.split("+")}
    return SignMaskVariant(spec, tuple(q for q in QUADRANTS if q not in kept))


def payoff_table(game) -> torch.Tensor:
    """The payoff tensor of ``game``: a name in :data:`aa_lib.games.matrix.MATRIX_GAMES` or a game/table."""
    if isinstance(game, str):
        if game not in MATRIX_GAMES:
            raise ValueError(f"unknown game {game!r}; choose one of {sorted(MATRIX_GAMES)}")
        game = MATRIX_GAMES[game]
    return as_payoff_tensor(game)


# ----------------------------------------------------------------------------
# The AA term, quadrant by quadrant
# ----------------------------------------------------------------------------
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
    past = past_advantage_sum(own, decay)  # S_t, [batch, T]
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
    return shaping_term(own, other_advantages, gamma, sign_mask=variant.sign_mask or None, **shaping_options)



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
# The naive and quadrant gradients of memory-one self-play
# ----------------------------------------------------------------------------
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
    payoffs = payoff_table(game).to(theta)
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

