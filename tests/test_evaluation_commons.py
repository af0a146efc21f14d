"""Commons Harvest evaluation: patches, per-episode statistics, the focal/invader protocol, scores."""
import pytest
import torch

from aa_lib.agents.scripted import GreedyHarvester, RandomAgent
from aa_lib.evaluation.commons import (classify_behaviour, commons_stats, focal_evaluation, normalised_score,
                                       patch_labels, patches_alive, reference_returns)
from aa_lib.games.commons import CommonsConfig, CommonsHarvest


def small_env(**overrides):
    return CommonsHarvest(CommonsConfig.classroom(), n_players=4, min_steps=20, end_interval=20, **overrides)


def test_patch_labels_of_the_small_map():
    env = small_env()
    labels = patch_labels(env)
    # three patches in map order: the left corner (3 spots), the centre diamond (5), the right corner (3)
    sizes = torch.bincount(labels).tolist()
    assert sorted(sizes) == [3, 3, 5] and len(sizes) == 3
    cols = env._spot_cells % env.width
    for patch in range(3):
        spots = cols[labels == patch]
        assert int(spots.max() - spots.min()) <= 2  # a patch is a local group of spots


def test_patches_alive_counts_patches_with_an_apple():
    env = small_env()
    env.reset(3, torch.Generator().manual_seed(0))
    grid = torch.zeros(3, env.height, env.width, dtype=torch.bool)
    grid[1, 3, 7] = True  # the tip of the centre diamond only
    grid[2, 1, 1] = grid[2, 1, 14] = grid[2, 2, 7] = True  # one apple in each patch
    env.set_apples(grid)
    assert patches_alive(env).tolist() == [0, 1, 3]


def test_stats_without_regrowth_account_for_every_apple():
    env = small_env(regrowth_probabilities=(0.0,))
    agents = [GreedyHarvester(env.config) for _ in range(env.n_players)]
    stats = commons_stats(env, agents, episodes=6, generator=torch.Generator().manual_seed(1))
    P, B, T = env.n_players, 6, env.episode_length
    assert stats.rewards.shape == (P, B, T) and stats.fired.shape == (P, B, T) and stats.apples.shape == (B, T)
    # no regrowth: apples eaten + apples left = the 11 apples of the map, in every game
    assert torch.equal(stats.rewards.sum((0, 2)) + stats.apples_left, torch.full((B,), 11.0))
    assert torch.equal(stats.apples[:, -1], stats.apples_left)
    assert not stats.fired.any()  # GreedyHarvester(zap=False) never fires
    assert stats.n_patches == 3


def test_focal_evaluation_protocol_and_determinism():
    env = small_env()
    greedy = GreedyHarvester(env.config)
    a = focal_evaluation(greedy, env, n_invaders=1, episodes=8, seed=3)
    b = focal_evaluation(greedy, env, n_invaders=1, episodes=8, seed=3)
    assert a.metrics == b.metrics and a.errors == b.errors
    for who in ("self", "focal"):
        for key in ("return", "apples_left", "patches_alive", "zap_rate"):
            assert f"{key}/{who}" in a.metrics and a.errors[f"{key}/{who}"] >= 0
        assert a.metrics[f"zap_rate/{who}"] == 0.0
    assert a.protocol["kind"] == "commons_focal" and a.protocol["n_invaders"] == 1
    # greedy focal agents with greedy invaders, every seat spawning alike: the seats are exchangeable
    # (by default the first two seats, focal ones, start on the inside spawn points next to the apples)
    env = small_env(inside_spawn_players=0)
    ev = focal_evaluation(greedy, env, n_invaders=2, episodes=64, seed=0, self_play=False)
    gap = abs(ev.metrics["return/focal"] - ev.metrics["return/invader"])
    assert gap < 4 * (ev.errors["return/focal"] ** 2 + ev.errors["return/invader"] ** 2) ** 0.5 + 1e-9


def test_focal_evaluation_rejects_bad_input():
    env = small_env()
    with pytest.raises(ValueError, match="n_invaders"):
        focal_evaluation(RandomAgent(8), env, n_invaders=4)
    with pytest.raises(ValueError, match="episodes"):
        focal_evaluation(RandomAgent(8), env, episodes=1)
    with pytest.raises(TypeError, match="CommonsHarvest"):
        patch_labels(object())


def test_random_agents_zap_and_harvest_less_than_greedy_ones():
    env = small_env()
    refs = reference_returns(env, n_invaders=1, episodes=32, seed=0)
    assert refs["greedy"] > refs["random"]
    ev = focal_evaluation(RandomAgent(8), env, n_invaders=1, episodes=32, seed=0)
    assert ev.metrics["zap_rate/self"] > 0.05  # 1 action in 8 is a zap, fired when ready


def test_normalised_score_and_behaviour_classes():
    refs = {"random": 1.0, "greedy": 3.0, "greedy_self": 2.0, "greedy_patches": 0.3}
    assert normalised_score(1.0, refs) == 0.0 and normalised_score(3.0, refs) == 1.0
    assert normalised_score(4.0, refs) == 1.5
    with pytest.raises(ValueError):
        normalised_score(1.0, {"random": 1.0, "greedy": 1.0})

    def metrics(ret, zap, patches):
        return {"return/self": ret, "zap_rate/self": zap, "patches_alive/self": patches}

    assert classify_behaviour(metrics(0.5, 0.0, 3.0), refs) == "idle"
    assert classify_behaviour(metrics(2.0, 0.1, 0.0), refs) == "guarding"
    assert classify_behaviour(metrics(2.0, 0.0, 1.5), refs) == "rotating"
    assert classify_behaviour(metrics(2.0, 0.0, 0.4), refs) == "greedy"


def test_policy_agent_plays_like_the_policy_and_frames_are_drawn():
    import matplotlib
    matplotlib.use("Agg")
    from aa_lib.agents.policies import make_policy
    from aa_lib.evaluation.commons import PolicyAgent, plot_episode_frames

    env = small_env()
    torch.manual_seed(0)
    policy = make_policy(env, 8, recurrent=True)
    agent = PolicyAgent(policy)
    agent.reset(3)
    obs = env.reset(3, torch.Generator().manual_seed(0))[0]
    # the wrapper samples exactly what the policy samples, and carries the GRU state forward
    state = policy.initial_state(3)
    expected = policy.act(obs, state, torch.Generator().manual_seed(5))
    assert torch.equal(agent.act(obs, torch.Generator().manual_seed(5)), expected.env_action)
    assert torch.equal(agent.state, expected.state)
    axes = plot_episode_frames(env, [policy] + [GreedyHarvester(env.config)] * 3, steps=(0, 2, 4), seed=1)
    assert len(axes) == 3 and axes[2].get_title().startswith("t = 4")
