"""Credit of the LLM agents: group-relative baseline, naive / sum-of-rewards / AA against plain loops."""
import pytest
import torch

from aa_lib.advantages import group_relative_baseline, leave_one_out_baseline
from aa_lib.llm import credit as credit_module
from aa_lib.llm.credit import aa_shaping, round_advantages, round_credit, token_credit


def _loop_returns(rewards, gamma):
    P, B, T = rewards.shape
    out = torch.zeros_like(rewards)
    for i in range(P):
        for b in range(B):
            for t in range(T):
                out[i, b, t] = sum(gamma ** (u - t) * rewards[i, b, u] for u in range(t, T))
    return out


def _loop_baseline(returns, groups):
    P, B, T = returns.shape
    out = torch.zeros_like(returns)
    for i in range(P):
        for b in range(B):
            others = [c for c in range(B) if c != b and groups[c] == groups[b]]
            for t in range(T):
                out[i, b, t] = sum(returns[i, c, t] for c in others) / len(others)
    return out


def _loop_aa(adv, beta, gamma, include_current, extra_gamma):
    """credit_t = A1_t + beta * f * sum_{k<t (or <=t)} gamma^(t-k) A1_k * A2_t, f = gamma (release) or 1."""
    P, B, T = adv.shape
    out = torch.zeros_like(adv)
    for i in range(P):
        j = 1 - i
        for b in range(B):
            for t in range(T):
                last = t + 1 if include_current else t
                past = sum(gamma ** (t - k) * adv[i, b, k] for k in range(last))
                factor = gamma if extra_gamma else 1.0
                out[i, b, t] = adv[i, b, t] + beta * factor * past * adv[j, b, t]
    return out


@pytest.fixture
def rewards():
    return torch.rand(2, 8, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def test_group_relative_baseline_against_a_loop(rewards):
    groups = torch.tensor([3, 3, 7, 7, 7, 1, 1, 3])  # any labels, groups of different sizes
    got = group_relative_baseline(rewards, groups)
    assert torch.allclose(got, _loop_baseline(rewards, groups.tolist()), atol=1e-12)
    # one group: the plain leave-one-out baseline over the batch
    assert torch.allclose(group_relative_baseline(rewards, torch.zeros(8, dtype=torch.long)),
                          leave_one_out_baseline(rewards, dim=1), atol=1e-12)
    # the batch dimension can be any dimension
    assert torch.allclose(group_relative_baseline(rewards.transpose(0, 1), groups, dim=0),
                          got.transpose(0, 1), atol=1e-12)


def test_group_baseline_is_independent_of_the_games_own_return(rewards):
    groups = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    base = group_relative_baseline(rewards, groups)
    changed = rewards.clone()
    changed[1, 2, 3] += 100.0
    new = group_relative_baseline(changed, groups)
    assert torch.allclose(new[1, 2], base[1, 2], rtol=0, atol=1e-12)  # its own baseline does not move
    moved = (new - base).abs() > 1e-9
    assert moved[1, [0, 1, 3], 3].all() and moved.sum() == 3  # only its group-mates' same seat, same round


def test_group_baseline_errors(rewards):
    with pytest.raises(ValueError, match="at least 2 games per group"):
        group_relative_baseline(rewards, torch.tensor([0, 0, 0, 1, 1, 1, 1, 2]))
    with pytest.raises(ValueError, match="group_ids"):
        group_relative_baseline(rewards, torch.zeros(7, dtype=torch.long))
    with pytest.raises(ValueError, match="group_ids"):
        group_relative_baseline(rewards, torch.zeros(8))
    with pytest.raises(TypeError, match="floating-point"):
        group_relative_baseline(torch.ones(2, 8, 5, dtype=torch.long), torch.zeros(8, dtype=torch.long))


def test_round_advantages_are_returns_to_go_minus_the_baseline(rewards):
    groups = torch.tensor([0, 0, 1, 1, 2, 2, 2, 2])
    returns = _loop_returns(rewards, 0.9)
    expected = returns - _loop_baseline(returns, groups.tolist())
    assert torch.allclose(round_advantages(rewards, groups, 0.9), expected, atol=1e-12)


@pytest.mark.parametrize("include_current,extra_gamma", [(False, True), (True, False), (False, False), (True, True)])
def test_aa_credit_against_a_double_loop(rewards, include_current, extra_gamma):
    adv = round_advantages(rewards, torch.zeros(8, dtype=torch.long), 0.9)
    got = round_credit(adv, "aa", beta=0.7, aa_gamma=0.8, include_current=include_current, extra_gamma=extra_gamma)
    assert torch.allclose(got, _loop_aa(adv, 0.7, 0.8, include_current, extra_gamma), atol=1e-12)


def test_naive_and_sum_of_rewards_credit(rewards):
    adv = round_advantages(rewards, torch.zeros(8, dtype=torch.long), 0.9)
    assert torch.equal(round_credit(adv, "naive"), adv)
    summed = round_credit(adv, "sum_rewards")
    assert torch.allclose(summed, adv + adv.flip(0), atol=1e-12)
    # ... which is the advantage of the summed rewards (the baseline is linear)
    both = rewards.sum(0, keepdim=True).expand(2, -1, -1)
    assert torch.allclose(summed, round_advantages(both, torch.zeros(8, dtype=torch.long), 0.9), atol=1e-12)


def test_aa_goes_through_shaping_term(monkeypatch, rewards):
    calls = []
    original = credit_module.shaping_term

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(credit_module, "shaping_term", spy)
    aa_shaping(rewards, 0.9)
    assert len(calls) == 2 and calls[0]["time_weight"] == "gamma" and calls[0]["past_discount"] == 0.9


def test_credit_errors(rewards):
    with pytest.raises(ValueError, match="rule"):
        round_credit(rewards, "lola")
    with pytest.raises(ValueError, match="aa_gamma"):
        round_credit(rewards, "aa")
    with pytest.raises(ValueError, match="aa_gamma"):
        round_credit(rewards, "aa", aa_gamma=1.5)
    with pytest.raises(ValueError, match="n_players"):
        round_advantages(rewards[0], torch.zeros(8, dtype=torch.long), 0.9)


def test_token_credit_lands_on_the_generated_tokens_of_its_round():
    credit = torch.arange(2 * 3 * 4, dtype=torch.float64).reshape(2, 3, 4) + 1  # all non-zero
    round_index = torch.tensor([[-1, -1, 0, -1, -1, 1, 1, -1, 2, -1, 3],
                                [-1, 0, -1, 1, -1, 2, -1, -1, 3, -1, -1]])
    row_seat, row_game = torch.tensor([1, 0]), torch.tensor([2, 0])
    got = token_credit(credit, row_seat, row_game, round_index)
    for r in range(2):
        for col in range(round_index.shape[1]):
            t = int(round_index[r, col])
            expected = 0.0 if t < 0 else float(credit[row_seat[r], row_game[r], t])
            assert float(got[r, col]) == expected
