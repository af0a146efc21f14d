"""Negotiation Game: reward formula, values, observation layout, AC/AD expectations, errors."""
import pytest
import torch

from aa_lib.agents.scripted import (NegotiationAlwaysCooperate, NegotiationAlwaysDefect, RandomProposals)
from aa_lib.games import NegotiationGame, collect_rewards, make_generator
from aa_lib.games.negotiation import OBS_LAYOUT


def reference_reward(p_own, p_other, v_own):
    """Hand-written formula: sum_i p_i / max(p_i + q_i, 5) * v_i / 15 (plain Python)."""
    return sum(p / max(p + q, 5.0) * v for p, q, v in zip(p_own, p_other, v_own)) / 15.0


def test_rewards_match_the_formula():
    env = NegotiationGame(episode_length=10)
    gen = make_generator(0)
    env.reset(64, generator=gen)
    for _ in range(5):
        values = env.values.clone()
        proposals = 5 * torch.rand(2, 64, 3, generator=gen)
        proposals[:, :8] = torch.tensor([5.0, 0.0, 2.5])  # some exact corner cases
        result = env.step(proposals)
        assert torch.equal(result.info["values"], values)
        for b in range(64):
            for i in range(2):
                expected = reference_reward(proposals[i, b].tolist(), proposals[1 - i, b].tolist(),
                                            values[i, b].tolist())
                assert result.rewards[i, b].item() == pytest.approx(expected, abs=1e-6)


def test_hand_computed_round():
    env = NegotiationGame()
    env.reset(1)
    env.values = torch.tensor([[[5.0, 1.0, 5.0]], [[1.0, 5.0, 1.0]]])
    p = torch.tensor([[[5.0, 0.0, 1.0]], [[0.0, 5.0, 1.0]]])
    r = env.step(p).rewards[:, 0]
    # item 3: total 2 < 5, so each gets 1/5 of it
    assert r[0].item() == pytest.approx((5 + 0 + 1 / 5 * 5) / 15)
    assert r[1].item() == pytest.approx((0 + 5 + 1 / 5 * 1) / 15)


def test_values_are_high_contrast_resampled_every_round_and_uniform():
    env = NegotiationGame(episode_length=50)
    gen = make_generator(3)
    env.reset(2000, generator=gen)
    seen = []
    for _ in range(3):
        seen.append(env.values.clone())
        env.step(torch.zeros(2, 2000, 3))
    for v in seen:
        assert torch.equal(v.sum(0), torch.full((2000, 3), 6.0))  # player 2's value is 6 minus player 1's
        assert set(v.unique().tolist()) == {1.0, 5.0}
        assert abs((v[0] == 5).float().mean().item() - 0.5) < 0.02
    assert (seen[0] != seen[1]).any()  # resampled
    # independent across rounds: agreement between rounds close to 1/2
    assert abs((seen[0] == seen[1]).float().mean().item() - 0.5) < 0.02


def test_observation_layout_from_each_seat():
    env = NegotiationGame()
    obs = env.reset(3, generator=make_generator(1))
    assert obs.shape == (2, 3, 15) and obs.dtype == torch.float32
    v = env.values
    assert torch.equal(obs[:, :, OBS_LAYOUT["item_pool"]], torch.ones(2, 3, 3))
    assert torch.allclose(obs[:, :, OBS_LAYOUT["own_values"]], v / 5)
    assert torch.allclose(obs[:, :, OBS_LAYOUT["other_values"]], v.flip(0) / 5)
    assert torch.equal(obs[:, :, OBS_LAYOUT["own_last_proposal"]], torch.zeros(2, 3, 3))
    p = torch.tensor([1.0, 2.0, 3.0]).expand(2, 3, 3).clone()
    p[1] = torch.tensor([4.0, 5.0, 0.0])
    obs = env.step(p).obs
    assert torch.allclose(obs[0, :, OBS_LAYOUT["own_last_proposal"]], torch.tensor([0.2, 0.4, 0.6]).expand(3, 3))
    assert torch.allclose(obs[0, :, OBS_LAYOUT["other_last_proposal"]], torch.tensor([0.8, 1.0, 0.0]).expand(3, 3))
    assert torch.equal(obs[1, :, 6:9], obs[0, :, 12:15]) and torch.equal(obs[1, :, 3:6], obs[0, :, 9:12])
    assert torch.allclose(obs[:, :, OBS_LAYOUT["own_values"]], env.values / 5)  # the next round's values


def test_observations_and_rewards_mirror_when_seats_are_swapped():
    gen = make_generator(4)
    env, swapped = NegotiationGame(episode_length=6), NegotiationGame(episode_length=6)
    env.reset(128, generator=gen)
    swapped.reset(128)
    for _ in range(6):
        swapped.values, swapped.last_proposals = env.values.flip(0), env.last_proposals.flip(0)
        assert torch.equal(swapped._observe(), env._observe().flip(0))
        p = 5 * torch.rand(2, 128, 3, generator=gen)
        r, s = env.step(p), swapped.step(p.flip(0))
        assert torch.equal(r.rewards, s.rewards.flip(0))


@pytest.mark.parametrize("first, second, expected", [
    ("AC", "AC", (0.50, 0.50)),
    ("AD", "AD", (0.30, 0.30)),
    ("AC", "AD", (0.25, 0.55)),
])
def test_expected_rewards_of_scripted_matchups(first, second, expected):
    agents = {"AC": NegotiationAlwaysCooperate(), "AD": NegotiationAlwaysDefect()}
    env = NegotiationGame(episode_length=50)
    rewards = collect_rewards(env, [agents[first], agents[second]], 1024, generator=make_generator(9))
    per_round = rewards.mean(dim=(1, 2))
    for got, want in zip(per_round.tolist(), expected):
        assert abs(got - want) < 0.01


def test_slightly_out_of_range_proposals_are_clipped_far_ones_and_nan_rejected():
    env = NegotiationGame()
    env.reset(2)
    p = torch.full((2, 2, 3), 5.0 + 5e-5)
    p[0, 0, 0] = -5e-5
    result = env.step(p)
    assert result.info["proposals"].min() == 0.0 and result.info["proposals"].max() == 5.0
    with pytest.raises(ValueError, match="NaN"):
        env.step(torch.full((2, 2, 3), float("nan")))
    with pytest.raises(ValueError, match="NaN or infinite"):
        env.step(torch.full((2, 2, 3), float("inf")))
    with pytest.raises(ValueError, match=r"\[0.0, 5.0\]"):
        env.step(torch.full((2, 2, 3), 5.01))
    with pytest.raises(ValueError, match=r"\[0.0, 5.0\]"):
        env.step(torch.full((2, 2, 3), -0.5))
    with pytest.raises(TypeError, match="floating"):
        env.step(torch.zeros(2, 2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="player"):
        env.step(torch.zeros(3, 2, 3))
    with pytest.raises(ValueError, match="shape"):
        env.step(torch.zeros(2, 2, 2))
    with pytest.raises(ValueError, match="low_value"):
        NegotiationGame(low_value=5.0, high_value=1.0)


def test_proposals_with_gradient_are_accepted_and_detached():
    env = NegotiationGame()
    env.reset(2)
    p = torch.full((2, 2, 3), 2.0, requires_grad=True)
    result = env.step(p * 1.0)
    assert not result.rewards.requires_grad


def test_same_seed_same_episode_different_seeds_differ():
    def run(seed):
        env = NegotiationGame(episode_length=20)
        return collect_rewards(env, RandomProposals(), 16, generator=make_generator(seed))

    assert torch.equal(run(1), run(1))
    assert not torch.equal(run(1), run(2))


def test_render_draws_a_game():
    import matplotlib.pyplot as plt

    env = NegotiationGame()
    env.reset(2, generator=make_generator(0))
    env.step(torch.full((2, 2, 3), 5.0))
    ax = env.render(1)
    assert ax.get_title().startswith("Negotiation, round 1")
    assert len(ax.patches) == 6
    plt.close("all")
