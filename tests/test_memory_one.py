"""Exact values of memory-one iterated games against independent computations."""
import itertools
import math

import numpy as np
import pytest
import torch

from aa_lib.exact.memory_one import (
    finite_horizon_solution,
    finite_horizon_values,
    memory_one_values,
    per_step_values,
    policy_logits,
)
from aa_lib.games.matrix import CHICKEN, MATRIX_GAMES, MATCHING_PENNIES, PRISONERS_DILEMMA, STAG_HUNT

GAMMA = 0.96
ALLC = policy_logits([1, 1, 1, 1, 1.0])
ALLD = policy_logits([0, 0, 0, 0, 0.0])
TFT = policy_logits([1, 1, 0, 1, 0.0])  # copy the other's last move: C after CC, DC
GRIM = policy_logits([1, 1, 0, 0, 0.0])  # cooperate until anyone defects


def _hand_chain(theta1, theta2, payoffs, gamma):
    """Build the joint chain from scratch with explicit loops (own-seat states)."""
    p1 = 1 / (1 + np.exp(-np.asarray(theta1, dtype=float)))
    p2 = 1 / (1 + np.exp(-np.asarray(theta2, dtype=float)))
    payoffs = np.asarray(payoffs, dtype=float)
    joint = list(itertools.product(range(2), repeat=2))  # (a1, a2): CC, CD, DC, DD

    def state_index(a_own, a_other):  # 1 + 2*own + other in the 5-state list
        return 1 + 2 * a_own + a_other

    def probs(s1, s2):
        out = np.zeros(4)
        for k, (a1, a2) in enumerate(joint):
            q1 = p1[s1] if a1 == 0 else 1 - p1[s1]
            q2 = p2[s2] if a2 == 0 else 1 - p2[s2]
            out[k] = q1 * q2
        return out

    p0 = probs(0, 0)
    P = np.stack([probs(state_index(a1, a2), state_index(a2, a1)) for a1, a2 in joint])
    r1 = np.array([payoffs[0, a1, a2] for a1, a2 in joint])
    r2 = np.array([payoffs[1, a2, a1] for a1, a2 in joint])
    return p0, P, r1, r2


def _truncated_sum(theta1, theta2, payoffs, gamma, steps):
    p0, P, r1, r2 = _hand_chain(theta1, theta2, payoffs, gamma)
    d, v1, v2 = p0, 0.0, 0.0
    for t in range(steps):
        v1 += gamma**t * d @ r1
        v2 += gamma**t * d @ r2
        d = d @ P
    return v1, v2


@pytest.mark.parametrize("name", sorted(MATRIX_GAMES))
@pytest.mark.parametrize("gamma", [0.5, 0.9, 0.96])
def test_values_match_long_truncated_sum(name, gamma):
    game = MATRIX_GAMES[name]
    gen = torch.Generator().manual_seed(hash((name, gamma)) % 2**31)
    th = torch.randn(2, 4, 5, generator=gen, dtype=torch.float64) * 1.5
    v1, v2 = memory_one_values(th[0], th[1], game, gamma)
    steps = int(math.log(1e-12) / math.log(gamma)) + 1
    for i in range(4):
        e1, e2 = _truncated_sum(th[0, i], th[1, i], game.payoffs, gamma, steps)
        assert float(v1[i]) == pytest.approx(e1, abs=1e-4)
        assert float(v2[i]) == pytest.approx(e2, abs=1e-4)


def test_values_match_monte_carlo_sampling_of_the_chain():
    """Sample 20k truncated episodes of the Markov chain; agree within 5 standard errors."""
    gen = torch.Generator().manual_seed(0)
    th1, th2 = torch.randn(2, 5, generator=gen, dtype=torch.float64)
    gamma, n, steps = 0.9, 20000, 200
    p0, P, r1, r2 = _hand_chain(th1, th2, PRISONERS_DILEMMA.payoffs, gamma)
    rng = np.random.default_rng(0)
    state = rng.choice(4, size=n, p=p0)
    ret = np.zeros((2, n))
    cum = np.cumsum(P, axis=1)
    for t in range(steps):
        ret[0] += gamma**t * r1[state]
        ret[1] += gamma**t * r2[state]
        u = rng.random(n)
        state = (u[:, None] > cum[state]).sum(1).clip(max=3)
    v1, v2 = memory_one_values(th1, th2, PRISONERS_DILEMMA, gamma)
    for v, r in ((v1, ret[0]), (v2, ret[1])):
        se = r.std() / math.sqrt(n)
        assert abs(float(v) - r.mean()) < 5 * se


# Hand-derived discounted returns in the IPD (R=-1 mutual C, S=-3 sucker, T=0, P=-2),
# with G = gamma/(1-gamma) the weight of the steps after the first.
R, S, T, P = -1.0, -3.0, 0.0, -2.0
G = GAMMA / (1 - GAMMA)
HAND = {
    ("ALLC", "ALLC"): (R + G * R, R + G * R),
    ("ALLC", "ALLD"): (S + G * S, T + G * T),
    ("ALLD", "ALLD"): (P + G * P, P + G * P),
    ("TFT", "ALLC"): (R + G * R, R + G * R),
    ("TFT", "ALLD"): (S + G * P, T + G * P),  # one sucker's payoff, then mutual defection
    ("TFT", "TFT"): (R + G * R, R + G * R),
    ("GRIM", "ALLD"): (S + G * P, T + G * P),
    ("GRIM", "TFT"): (R + G * R, R + G * R),
    ("GRIM", "ALLC"): (R + G * R, R + G * R),
}
POLICIES = {"ALLC": ALLC, "ALLD": ALLD, "TFT": TFT, "GRIM": GRIM}


@pytest.mark.parametrize("pair", sorted(HAND))
def test_known_matchups_from_both_seats(pair):
    a, b = pair
    expected = HAND[pair]
    v1, v2 = memory_one_values(POLICIES[a], POLICIES[b], PRISONERS_DILEMMA, GAMMA)
    assert (float(v1), float(v2)) == pytest.approx(expected, abs=1e-6)
    w1, w2 = memory_one_values(POLICIES[b], POLICIES[a], PRISONERS_DILEMMA, GAMMA)
    assert (float(w1), float(w2)) == pytest.approx(expected[::-1], abs=1e-6)


def test_tft_reciprocates_from_both_seats_against_a_one_off_defector():
    """A policy that defects at the start, then plays TFT, against TFT: they alternate (CD/DC)."""
    opener = policy_logits([0, 1, 0, 1, 0.0])
    v1, v2 = memory_one_values(TFT, opener, PRISONERS_DILEMMA, GAMMA)
    # TFT is suckered at even steps and exploits at odd steps: S, T, S, T, ...
    alt = 1 / (1 - GAMMA**2)
    assert float(v1) == pytest.approx(S * alt + T * GAMMA * alt, abs=1e-6)
    assert float(v2) == pytest.approx(T * alt + S * GAMMA * alt, abs=1e-6)
    w2, w1 = memory_one_values(opener, TFT, PRISONERS_DILEMMA, GAMMA)
    assert (float(w1), float(w2)) == pytest.approx((float(v1), float(v2)), abs=1e-9)


def test_batched_values_equal_one_by_one():
    th = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    v1, v2 = memory_one_values(th[0], th[1], CHICKEN, 0.8)
    assert v1.shape == v2.shape == (3, 4)
    for i, j in itertools.product(range(3), range(4)):
        s1, s2 = memory_one_values(th[0, i, j], th[1, i, j], CHICKEN, 0.8)
        assert float(s1) == pytest.approx(float(v1[i, j]), abs=1e-12)
        assert float(s2) == pytest.approx(float(v2[i, j]), abs=1e-12)


def test_leading_dimensions_broadcast():
    v1, _ = memory_one_values(torch.zeros(3, 1, 5, dtype=torch.float64), torch.zeros(4, 5, dtype=torch.float64),
                              PRISONERS_DILEMMA, 0.9)
    assert v1.shape == (3, 4)


def test_gradients_match_finite_differences():
    gen = torch.Generator().manual_seed(3)
    th1, th2 = torch.randn(2, 5, generator=gen, dtype=torch.float64).requires_grad_(True)

    def f(a, b):
        v1, v2 = memory_one_values(a, b, STAG_HUNT, 0.9)
        return v1 + 2 * v2

    assert torch.autograd.gradcheck(f, (th1, th2), eps=1e-6, atol=1e-5)


def test_per_step_values_scale():
    v1, v2 = memory_one_values(TFT, ALLD, PRISONERS_DILEMMA, GAMMA)
    u1, u2 = per_step_values(TFT, ALLD, PRISONERS_DILEMMA, GAMMA)
    assert float(u1) == pytest.approx((1 - GAMMA) * float(v1))
    assert float(u1) == pytest.approx(-2.04, abs=1e-9)


# ---------------------------------------------------------------- finite horizon
@pytest.mark.parametrize("horizon", [1, 2, 5, 12])
@pytest.mark.parametrize("gamma", [0.7, 1.0])
def test_finite_horizon_matches_truncated_sum(horizon, gamma):
    gen = torch.Generator().manual_seed(horizon)
    th1, th2 = torch.randn(2, 5, generator=gen, dtype=torch.float64)
    v1, v2 = finite_horizon_values(th1, th2, MATCHING_PENNIES, gamma, horizon)
    e1, e2 = _truncated_sum(th1, th2, MATCHING_PENNIES.payoffs, gamma, horizon)
    assert float(v1) == pytest.approx(e1, abs=1e-10)
    assert float(v2) == pytest.approx(e2, abs=1e-10)


def test_finite_horizon_tends_to_infinite_horizon():
    th = torch.randn(2, 6, 5, dtype=torch.float64)
    v_inf = memory_one_values(th[0], th[1], PRISONERS_DILEMMA, 0.9)
    v_fin = finite_horizon_values(th[0], th[1], PRISONERS_DILEMMA, 0.9, 400)
    for a, b in zip(v_inf, v_fin):
        assert torch.allclose(a, b, atol=1e-9)


def test_finite_horizon_bellman_consistency():
    """q[t, s, a, b] = r(a, b) + gamma v[t+1, (a, b)], and v = E_pi q, state by state."""
    th1, th2 = torch.randn(2, 5, dtype=torch.float64)
    sol = finite_horizon_solution(th1, th2, CHICKEN, 0.8, 4)
    r1 = CHICKEN.payoffs[0]
    for t, s, a, b in itertools.product(range(4), range(5), range(2), range(2)):
        nxt = 0.0 if t == 3 else float(sol.v1[t + 1, 1 + 2 * a + b])
        assert float(sol.q1[t, s, a, b]) == pytest.approx(float(r1[a, b]) + 0.8 * nxt, abs=1e-12)
    pi = sol.pi1[:, :, None] * sol.pi2[:, None, :]
    assert torch.allclose(sol.v1, (pi * sol.q1).sum((-2, -1)))
    assert torch.allclose(sol.state_probs.sum(-1), torch.ones(4, dtype=torch.float64))
    # The discounted return from the start equals the state-distribution weighted rewards.
    expected_r = (pi * torch.stack([CHICKEN.payoffs[0]] * 5)).sum((-2, -1))  # [5]
    direct = sum(0.8**t * float(sol.state_probs[t] @ expected_r) for t in range(4))
    assert float(sol.values[0]) == pytest.approx(direct, abs=1e-12)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "th1, th2, gamma, match",
    [
        (torch.zeros(4), torch.zeros(5), 0.9, "theta1"),
        (torch.zeros(5), torch.zeros(2, 6), 0.9, "theta2"),
        (torch.zeros(3, 5), torch.zeros(4, 5), 0.9, "broadcast"),
        (torch.zeros(5), torch.zeros(5), 1.0, "gamma"),
        (torch.zeros(5), torch.zeros(5), -0.1, "gamma"),
        (torch.zeros(5, dtype=torch.long), torch.zeros(5), 0.9, "floating"),
    ],
)
def test_bad_input_raises_clear_errors(th1, th2, gamma, match):
    with pytest.raises((ValueError, TypeError), match=match):
        memory_one_values(th1, th2, PRISONERS_DILEMMA, gamma)


def test_bad_payoff_tensor_and_horizon():
    with pytest.raises(ValueError, match="payoffs"):
        memory_one_values(torch.zeros(5), torch.zeros(5), torch.zeros(2, 2), 0.9)
    with pytest.raises(ValueError, match="horizon"):
        finite_horizon_values(torch.zeros(5), torch.zeros(5), PRISONERS_DILEMMA, 0.9, 0)
