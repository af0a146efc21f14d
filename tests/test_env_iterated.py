"""Iterated matrix game: rewards, own-seat observations, exact values by Monte Carlo, errors."""
import math

import pytest
import torch

from aa_lib.agents.scripted import AlwaysDefect, GrimTrigger, MemoryOneAgent, RandomAgent, TitForTat
from aa_lib.exact.memory_one import finite_horizon_values, memory_one_values
from aa_lib.games import IteratedMatrixGame, collect_rewards, make_generator
from aa_lib.games.matrix import CHICKEN, MATRIX_GAMES, PRISONERS_DILEMMA


@pytest.mark.parametrize("name", sorted(MATRIX_GAMES))
def test_rewards_and_observations_for_every_joint_action(name):
    game = MATRIX_GAMES[name]
    env = IteratedMatrixGame(game, episode_length=3)
    obs = env.reset(4)
    assert obs.shape == (2, 4, 5) and obs.dtype == torch.float32
    assert torch.equal(obs.argmax(-1), torch.zeros(2, 4, dtype=torch.long))  # start state
    a1 = torch.tensor([0, 0, 1, 1])
    a2 = torch.tensor([0, 1, 0, 1])
    result = env.step(torch.stack([a1, a2]))
    for k in range(4):
        assert result.rewards[0, k] == pytest.approx(float(game.payoffs[0, a1[k], a2[k]]))
        assert result.rewards[1, k] == pytest.approx(float(game.payoffs[1, a2[k], a1[k]]))
    # own action first: player 1 sees CC, CD, DC, DD; player 2 sees CC, DC, CD, DD
    assert result.obs[0].argmax(-1).tolist() == [1, 2, 3, 4]
    assert result.obs[1].argmax(-1).tolist() == [1, 3, 2, 4]
    assert result.rewards.dtype == torch.float32 and result.done.tolist() == [False] * 4


def test_swapping_seats_swaps_observations_and_rewards():
    env = IteratedMatrixGame(PRISONERS_DILEMMA, episode_length=5)
    gen = make_generator(0)
    actions = torch.randint(2, (5, 2, 32), generator=gen)
    env.reset(32)
    swapped = IteratedMatrixGame(PRISONERS_DILEMMA, episode_length=5)
    swapped.reset(32)
    for t in range(5):
        r = env.step(actions[t])
        s = swapped.step(actions[t].flip(0))
        assert torch.equal(r.obs, s.obs.flip(0))
        assert torch.equal(r.rewards, s.rewards.flip(0))
    assert r.done.all() and s.done.all()


def _discounted(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """rewards [P, B, T] -> sum_t gamma^t r_t, [P, B] (float64)."""
    T = rewards.shape[-1]
    weights = gamma ** torch.arange(T, dtype=torch.float64)
    return (rewards.double() * weights).sum(-1)


def _check_against_exact(game, horizon, gamma, exact_fn, truncation):
    """Per-game random memory-one policies; sampled returns vs the exact values."""
    n_pairs, per_pair = 6, 1500
    gen = make_generator(1234)
    theta = torch.randn(2, n_pairs, 5, generator=gen, dtype=torch.float64)
    # Every game of the batch plays its own pair: repeat each pair per_pair times.
    th1 = theta[0].repeat_interleave(per_pair, 0)
    th2 = theta[1].repeat_interleave(per_pair, 0)
    agents = [MemoryOneAgent(logits=th1), MemoryOneAgent(logits=th2)]
    env = IteratedMatrixGame(game, episode_length=horizon)
    rewards = collect_rewards(env, agents, n_pairs * per_pair, generator=gen)
    returns = _discounted(rewards, gamma).reshape(2, n_pairs, per_pair)
    mean, se = returns.mean(-1), returns.std(-1) / math.sqrt(per_pair)
    v1, v2 = exact_fn(theta[0], theta[1])
    exact = torch.stack([v1, v2])
    # 4.5 standard errors (a false alarm has probability ~1e-5 per comparison).
    assert ((mean - exact).abs() <= 4.5 * se + truncation).all(), (mean, exact, se)


@pytest.mark.parametrize("game", [PRISONERS_DILEMMA, CHICKEN], ids=["pd", "chicken"])
def test_sampled_returns_match_infinite_horizon_memory_one_values(game):
    gamma, horizon = 0.9, 120
    max_abs = float(game.payoffs.abs().max())
    truncation = gamma ** horizon * max_abs / (1 - gamma)  # the unsampled tail
    _check_against_exact(game, horizon, gamma,
                         lambda a, b: memory_one_values(a, b, game, gamma), truncation)


def test_sampled_returns_match_finite_horizon_values():
    gamma, horizon = 0.9, 16  # the paper's IPD setting
    _check_against_exact(PRISONERS_DILEMMA, horizon, gamma,
                         lambda a, b: finite_horizon_values(a, b, PRISONERS_DILEMMA, gamma, horizon), 0.0)


@pytest.mark.parametrize("tft_seat", [0, 1])
def test_tit_for_tat_reciprocates_from_both_seats(tft_seat):
    env = IteratedMatrixGame(episode_length=4)
    agents = [TitForTat(), AlwaysDefect()]
    if tft_seat == 1:
        agents = agents[::-1]
    moves = []
    collect_rewards(env, agents, 3, on_step=lambda r: moves.append((r.info["state"][tft_seat] - 1) // 2))
    own = torch.stack(moves)  # [T, B] TFT's actions
    assert own[0].tolist() == [0, 0, 0]  # cooperates first
    assert (own[1:] == 1).all()  # then retaliates against the defector


def test_grim_trigger_never_forgives():
    env = IteratedMatrixGame(episode_length=6)
    grim = GrimTrigger()
    obs = env.reset(2)
    other = torch.tensor([[0, 1], [0, 0], [0, 0], [0, 0], [0, 0], [0, 0]])  # game 1: one defection at t=0
    played = []
    for t in range(6):
        a = grim.act(obs[0])
        played.append(a)
        obs = env.step(torch.stack([a, other[t]])).obs
    played = torch.stack(played)
    assert played[:, 0].tolist() == [0] * 6
    assert played[:, 1].tolist() == [0, 1, 1, 1, 1, 1]
    # a new episode clears the trigger (the start state is seen again)
    assert grim.act(env.reset(2)[0]).tolist() == [0, 0]


def test_same_seed_same_episode_different_seeds_differ():
    def run(seed):
        env = IteratedMatrixGame(episode_length=16)
        gen = make_generator(seed)
        states = []
        collect_rewards(env, RandomAgent(2), 64, generator=gen, on_step=lambda r: states.append(r.info["state"]))
        return torch.stack(states)

    assert torch.equal(run(3), run(3))
    assert not torch.equal(run(3), run(4))


def test_episode_ends_after_episode_length_and_refuses_more_steps():
    env = IteratedMatrixGame(episode_length=3)
    env.reset(2)
    dones = [env.step(torch.zeros(2, 2, dtype=torch.long)).done.tolist() for _ in range(3)]
    assert dones == [[False, False], [False, False], [True, True]]
    with pytest.raises(RuntimeError, match="reset"):
        env.step(torch.zeros(2, 2, dtype=torch.long))


def test_bad_input_gives_clear_errors():
    env = IteratedMatrixGame()
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(torch.zeros(2, 4, dtype=torch.long))
    env.reset(4)
    with pytest.raises(ValueError, match="player"):
        env.step(torch.zeros(3, 4, dtype=torch.long))  # wrong number of players
    with pytest.raises(ValueError, match="shape"):
        env.step(torch.zeros(2, 5, dtype=torch.long))
    with pytest.raises(TypeError, match="integer"):
        env.step(torch.zeros(2, 4))
    with pytest.raises(TypeError, match="integer"):
        env.step(torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        env.step(torch.full((2, 4), 2))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        env.step(torch.full((2, 4), -1))
    with pytest.raises(TypeError, match="torch.Tensor"):
        env.step([[0, 0, 0, 0], [0, 0, 0, 0]])
    with pytest.raises(ValueError, match="batch_size"):
        env.reset(0)
    with pytest.raises(TypeError, match="generator"):
        env.reset(4, generator=123)
    with pytest.raises(ValueError, match="episode_length"):
        IteratedMatrixGame(episode_length=0)
    with pytest.raises(ValueError, match="game payoffs"):
        IteratedMatrixGame(torch.zeros(2, 2))
    # int32 actions are accepted (cast to long)
    assert env.step(torch.zeros(2, 4, dtype=torch.int32)).rewards.shape == (2, 4)


def test_render_draws_a_game():
    import matplotlib.pyplot as plt

    env = IteratedMatrixGame(episode_length=4)
    env.reset(2)
    env.step(torch.tensor([[0, 1], [1, 1]]))
    ax = env.render(index=1)
    assert ax.get_title().startswith("Prisoner's Dilemma, t = 1")
    with pytest.raises(ValueError, match="index"):
        env.render(index=2)
    plt.close("all")
