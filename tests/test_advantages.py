"""aa_lib.advantages: returns, GAE, leave-one-out baseline and the shaping term.

The shaping term is checked against a plain double loop over (t, k) for every
option, and with hypothesis-generated shapes.
"""
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aa_lib.advantages import (
    SIGN_MASKS,
    discounted_returns,
    gae,
    leave_one_out_baseline,
    past_advantage_sum,
    shaping_term,
    td_errors,
    time_weights,
)

DT = torch.float64


# ----------------------------------------------------------------------------
# Returns, TD errors, GAE, baselines
# ----------------------------------------------------------------------------
def test_discounted_returns_hand_computed():
    r = torch.tensor([1.0, 2.0, 3.0], dtype=DT)
    g = discounted_returns(r, 0.5)
    # G2 = 3, G1 = 2 + 0.5*3 = 3.5, G0 = 1 + 0.5*3.5 = 2.75
    assert torch.equal(g, torch.tensor([2.75, 3.5, 3.0], dtype=DT))
    g_boot = discounted_returns(r, 0.5, bootstrap=torch.tensor(8.0, dtype=DT))
    assert torch.allclose(g_boot, torch.tensor([3.75, 5.5, 7.0], dtype=DT))


def test_discounted_returns_matches_double_loop_and_batches():
    gen = torch.Generator().manual_seed(0)
    r = torch.randn(3, 4, 7, generator=gen, dtype=DT)
    boot = torch.randn(3, 4, generator=gen, dtype=DT)
    gamma = 0.9
    g = discounted_returns(r, gamma, boot)
    T = r.shape[-1]
    for t in range(T):
        ref = sum(gamma ** (u - t) * r[..., u] for u in range(t, T)) + gamma ** (T - t) * boot
        assert torch.allclose(g[..., t], ref, atol=1e-12)


def test_td_errors_and_gae_limits():
    gen = torch.Generator().manual_seed(1)
    r = torch.randn(5, 6, generator=gen, dtype=DT)
    v = torch.randn(5, 6, generator=gen, dtype=DT)
    nv = torch.randn(5, generator=gen, dtype=DT)
    gamma = 0.8
    delta = td_errors(r, v, gamma, nv)
    assert torch.allclose(delta[:, 2], r[:, 2] + gamma * v[:, 3] - v[:, 2])
    assert torch.allclose(delta[:, -1], r[:, -1] + gamma * nv - v[:, -1])
    # lam = 0: TD errors; lam = 1: returns minus values.
    assert torch.allclose(gae(r, v, gamma, 0.0, nv), delta, atol=1e-12)
    assert torch.allclose(gae(r, v, gamma, 1.0, nv), discounted_returns(r, gamma, nv) - v, atol=1e-12)


def test_gae_matches_double_loop():
    gen = torch.Generator().manual_seed(2)
    r = torch.randn(4, 9, generator=gen, dtype=DT)
    v = torch.randn(4, 9, generator=gen, dtype=DT)
    gamma, lam = 0.95, 0.7
    delta = td_errors(r, v, gamma)
    adv = gae(r, v, gamma, lam)
    for t in range(9):
        ref = sum((gamma * lam) ** (u - t) * delta[:, u] for u in range(t, 9))
        assert torch.allclose(adv[:, t], ref, atol=1e-12)


def test_leave_one_out_baseline():
    x = torch.tensor([[1.0, 10.0], [2.0, 20.0], [6.0, 30.0]], dtype=DT)
    b = leave_one_out_baseline(x, dim=0)
    assert torch.allclose(b, torch.tensor([[4.0, 25.0], [3.5, 20.0], [1.5, 15.0]], dtype=DT))
    b1 = leave_one_out_baseline(x, dim=1)
    assert torch.allclose(b1, x.flip(1))
    # The baseline of entry i does not depend on entry i.
    y = x.clone()
    y[0, 0] = 100.0
    assert leave_one_out_baseline(y)[0, 0] == b[0, 0]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: discounted_returns(torch.ones(3, dtype=DT), 1.5), "gamma"),
        (lambda: discounted_returns(torch.ones(3, dtype=torch.int64), 0.9), "floating-point"),
        (lambda: discounted_returns(torch.tensor([1.0, float("nan")]), 0.9), "NaN"),
        (lambda: discounted_returns(torch.ones(2, 3), 0.9, bootstrap=torch.ones(3)), "bootstrap"),
        (lambda: td_errors(torch.ones(2, 3), torch.ones(2, 4), 0.9), "values"),
        (lambda: gae(torch.ones(3), torch.ones(3), 0.9, -0.1), "lam"),
        (lambda: leave_one_out_baseline(torch.ones(1, 3)), "at least 2"),
        (lambda: leave_one_out_baseline(torch.ones(2, 3), dim=4), "out of range"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


# ----------------------------------------------------------------------------
# The shaping term against a double loop
# ----------------------------------------------------------------------------
def reference_shaping(own, others, gamma, past_discount=None, include_current=False, normalise=False,
                      time_weight=None, sign_mask=None, loqa_other_probs=None, other_reduction="sum"):
    """Plain double loop over (t, k), one co-player at a time."""
    if others.dim() == 2:
        others = others.unsqueeze(0)
    if loqa_other_probs is not None and loqa_other_probs.dim() == 2:
        loqa_other_probs = loqa_other_probs.unsqueeze(0)
    lam = (1.0 if normalise else gamma) if past_discount is None else past_discount
    kind = time_weight or ("1/(1+t)" if normalise else "gamma^(t+1)")
    masks = [] if sign_mask is None else ([sign_mask] if isinstance(sign_mask, str) else list(sign_mask))
    n_others, batch, T = others.shape
    out = torch.zeros(batch, T, dtype=own.dtype)
    for i in range(batch):
        for t in range(T):
            prefactor = {"gamma^(t+1)": gamma ** (t + 1), "gamma^t": gamma ** t, "gamma": gamma,
                         "1/(1+t)": 1.0 / (1 + t), "1": 1.0}[kind]
            total = 0.0
            for j in range(n_others):
                past = 0.0
                last = t if include_current else t - 1
                for k in range(0, last + 1):
                    factor = 1.0 if loqa_other_probs is None else 1.0 - float(loqa_other_probs[j, i, k])
                    past += lam ** (t - k) * factor * float(own[i, k])
                other = float(others[j, i, t])
                masked = any(
                    math.copysign(1, past) == SIGN_MASKS[m][0] and past != 0
                    and math.copysign(1, other) == SIGN_MASKS[m][1] and other != 0
                    for m in masks
                )
                total += 0.0 if masked else past * other
            if other_reduction == "mean":
                total /= n_others
            out[i, t] = prefactor * total
    return out


def _random_case(seed, batch=3, T=6, n_others=1):
    gen = torch.Generator().manual_seed(seed)
    own = torch.randn(batch, T, generator=gen, dtype=DT)
    other = torch.randn(n_others, batch, T, generator=gen, dtype=DT)
    probs = torch.rand(n_others, batch, T, generator=gen, dtype=DT)
    return own, other, probs


def test_default_is_eq8_hand_computed():
    own = torch.tensor([[1.0, 2.0, -1.0]], dtype=DT)
    other = torch.tensor([[5.0, 3.0, 2.0]], dtype=DT)
    g = 0.5
    w = shaping_term(own, other, g)
    # t=0: no past. t=1: g^2 * (g * 1) * 3. t=2: g^3 * (g^2 * 1 + g * 2) * 2.
    expected = torch.tensor([[0.0, g**2 * g * 3.0, g**3 * (g**2 + 2 * g) * 2.0]], dtype=DT)
    assert torch.allclose(w, expected, atol=1e-15)


OPTION_CASES = [
    {},
    {"past_discount": 1.0},
    {"past_discount": 0.7},
    {"include_current": True},
    {"normalise": True},
    {"normalise": True, "past_discount": 0.9},
    {"time_weight": "gamma^t"},
    {"time_weight": "1"},
    {"time_weight": "gamma"},
    {"time_weight": "gamma^t", "past_discount": 1.0, "include_current": True},
    {"sign_mask": "cooperative"},
    {"sign_mask": "empathetic"},
    {"sign_mask": "vengeful"},
    {"sign_mask": "spiteful"},
    {"sign_mask": ("vengeful", "spiteful")},
    {"loqa": True},
    {"loqa": True, "include_current": True, "sign_mask": "vengeful"},
]


@pytest.mark.parametrize("options", OPTION_CASES, ids=[str(o) for o in OPTION_CASES])
@pytest.mark.parametrize("n_others", [1, 3])
def test_shaping_term_matches_double_loop(options, n_others):
    options = dict(options)
    own, other, probs = _random_case(10 + n_others, n_others=n_others)
    if options.pop("loqa", False):
        options["loqa_other_probs"] = probs if n_others > 1 else probs[0]
    other_in = other if n_others > 1 else other[0]
    gamma = 0.8
    got = shaping_term(own, other_in, gamma, **options)
    ref = reference_shaping(own, other_in, gamma, **options)
    assert got.shape == own.shape
    assert torch.allclose(got, ref, atol=1e-12), (got - ref).abs().max()


def test_mean_reduction_over_co_players():
    own, other, _ = _random_case(5, n_others=4)
    total = shaping_term(own, other, 0.9)
    mean = shaping_term(own, other, 0.9, other_reduction="mean")
    assert torch.allclose(mean * 4, total, atol=1e-12)
    assert torch.allclose(mean, reference_shaping(own, other, 0.9, other_reduction="mean"), atol=1e-12)


def test_sign_masks_partition_the_term():
    """The four masks remove disjoint cases: removing each in turn and adding up what
    was removed gives back the unmasked term."""
    own, other, _ = _random_case(7, batch=5, T=8)
    full = shaping_term(own, other[0], 0.9)
    removed = sum(full - shaping_term(own, other[0], 0.9, sign_mask=m) for m in SIGN_MASKS)
    assert torch.allclose(removed, full, atol=1e-12)
    assert torch.equal(shaping_term(own, other[0], 0.9, sign_mask=tuple(SIGN_MASKS)), torch.zeros_like(full))


def test_past_advantage_sum():
    a = torch.tensor([1.0, 2.0, 4.0], dtype=DT)
    assert torch.allclose(past_advantage_sum(a, 0.5), torch.tensor([0.0, 0.5, 0.25 + 1.0], dtype=DT))
    assert torch.allclose(past_advantage_sum(a, 0.5, include_current=True),
                          torch.tensor([1.0, 2.5, 5.25], dtype=DT))


def test_time_weights():
    assert torch.allclose(time_weights(3, 0.5), torch.tensor([0.5, 0.25, 0.125], dtype=DT))
    assert torch.allclose(time_weights(3, 0.5, "1/(1+t)"), torch.tensor([1.0, 0.5, 1 / 3], dtype=DT))
    with pytest.raises(ValueError, match="time_weight"):
        time_weights(3, 0.5, "gamma^2")


@settings(max_examples=40, deadline=None)
@given(
    batch=st.integers(1, 4),
    T=st.integers(1, 7),
    n_others=st.integers(1, 3),
    gamma=st.floats(0.0, 1.0),
    include_current=st.booleans(),
    normalise=st.booleans(),
    mask=st.sampled_from([None, *SIGN_MASKS]),
    loqa=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_shaping_term_hypothesis_shapes(batch, T, n_others, gamma, include_current, normalise, mask, loqa, seed):
    own, other, probs = _random_case(seed, batch=batch, T=T, n_others=n_others)
    options = dict(include_current=include_current, normalise=normalise, sign_mask=mask,
                   loqa_other_probs=probs if loqa else None)
    got = shaping_term(own, other, gamma, **options)
    ref = reference_shaping(own, other, gamma, **options)
    assert got.shape == (batch, T)
    assert torch.allclose(got, ref, atol=1e-10)


def test_shaping_term_float32_and_gradients():
    own, other, _ = _random_case(3)
    own32 = own.float().requires_grad_(True)
    w = shaping_term(own32, other[0].float(), 0.9)
    assert w.dtype == torch.float32
    w.sum().backward()  # differentiable (algorithms detach advantages themselves)
    assert own32.grad is not None and torch.isfinite(own32.grad).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(own_advantages=torch.ones(2, 3, 4)), "own_advantages"),
        (dict(other_advantages=torch.ones(2, 4)), "other_advantages"),
        (dict(sign_mask="greedy"), "sign_mask"),
        (dict(loqa_other_probs=torch.full((2, 3), 1.5)), "loqa_other_probs"),
        (dict(loqa_other_probs=torch.full((2, 2, 3), 0.5)), "co-players"),
        (dict(time_weight="gamma^t", normalise=True), "normalise"),
        (dict(other_reduction="max"), "other_reduction"),
        (dict(past_discount=2.0), "past_discount"),
        (dict(own_advantages=torch.tensor([[1.0, float("inf"), 0.0]] * 2)), "NaN or infinite"),
    ],
)
def test_shaping_term_refuses_bad_input(kwargs, message):
    args = dict(own_advantages=torch.ones(2, 3), other_advantages=torch.ones(2, 3), gamma=0.9)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=message):
        shaping_term(**args)
