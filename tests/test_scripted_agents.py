"""Scripted agents: the strategies they promise, in every game, from every seat."""
import pytest
import torch

from aa_lib.agents import (SCRIPTED_NAMES, scripted_names, AlwaysCooperate, AlwaysDefect, CoinAlwaysCooperate, CoinAlwaysDefect,
                           GreedyHarvester, GrimTrigger, MemoryOneAgent, NegotiationAlwaysCooperate,
                           NegotiationAlwaysDefect, RandomAgent, RandomProposals, TitForTat, scripted_agent)
from aa_lib.games.coin import torus_distance
from aa_lib.games import (CoinGame, CommonsConfig, CommonsHarvest, IteratedMatrixGame, JointPolicy,
                          NegotiationGame, collect_rewards, make_generator)
from aa_lib.games.commons import ACTIONS, CHANNELS

STATES = torch.eye(5)  # start, CC, CD, DC, DD (own action first)


@pytest.mark.parametrize("agent, expected", [
    (AlwaysCooperate(), [0, 0, 0, 0, 0]),
    (AlwaysDefect(), [1, 1, 1, 1, 1]),
    (TitForTat(), [0, 0, 1, 0, 1]),  # copies the other's last action (second letter)
])
def test_deterministic_memory_one_agents(agent, expected):
    assert agent.act(STATES).tolist() == expected


def test_memory_one_agent_probabilities_and_per_game_policies():
    gen = make_generator(0)
    p = torch.tensor([0.9, 0.1, 0.5, 0.3, 0.7])
    agent = MemoryOneAgent(p)
    obs = STATES.repeat_interleave(4000, 0)
    coop = (agent.act(obs, gen) == 0).float().view(5, 4000).mean(1)
    assert torch.allclose(coop, p, atol=0.03)
    same = MemoryOneAgent(logits=torch.log(p / (1 - p)))
    assert torch.allclose(same.p_cooperate, p, atol=1e-6)
    per_game = MemoryOneAgent(torch.tensor([[1.0, 1, 1, 1, 1], [0.0, 0, 0, 0, 0]]))
    assert per_game.act(STATES[[3, 3]]).tolist() == [0, 1]
    with pytest.raises(ValueError, match="exactly one"):
        MemoryOneAgent()
    with pytest.raises(ValueError, match="shape"):
        MemoryOneAgent(torch.ones(4))
    with pytest.raises(ValueError, match="probabilities"):
        MemoryOneAgent(torch.full((5,), 1.5))
    with pytest.raises(ValueError, match="games"):
        per_game.act(STATES)
    with pytest.raises(ValueError, match="obs"):
        agent.act(torch.zeros(3, 4))


def test_grim_trigger_in_self_play_keeps_one_memory_per_seat():
    env = IteratedMatrixGame(episode_length=10)
    states = []
    collect_rewards(env, GrimTrigger(), 8, on_step=lambda r: states.append(r.info["state"]))
    assert all((s == 1).all() for s in states)  # mutual cooperation throughout
    # against a defector it cooperates once, then defects for ever
    states = []
    collect_rewards(env, [GrimTrigger(), AlwaysDefect()], 4, on_step=lambda r: states.append(r.info["state"][0]))
    assert states[0].tolist() == [2] * 4 and all((s == 4).all() for s in states[1:])


def test_grim_trigger_memory_travels_in_the_rollout_state():
    """One Grim object in two groups of different sizes, against AD and against AC: memories stay apart."""
    from aa_lib.agents.policies import ScriptedPolicy
    from aa_lib.training.rollout import collect_mixed_rollout

    env = IteratedMatrixGame(episode_length=6)
    grim = GrimTrigger()
    states = []
    collect_mixed_rollout(env, [([ScriptedPolicy(grim), ScriptedPolicy(AlwaysDefect())], 5),
                                ([ScriptedPolicy(grim), ScriptedPolicy(AlwaysCooperate())], 3)],
                          make_generator(0), on_step=lambda r: states.append(r.info["state"][0]))
    states = torch.stack(states)  # [T, 8], seat 0's view: 1 CC, 2 CD, 4 DD
    assert (states[0, :5] == 2).all() and (states[1:, :5] == 4).all()  # robbed once, then defects for ever
    assert (states[:, 5:] == 1).all()  # never provoked by the cooperator


def test_random_agent_is_uniform_and_reproducible():
    obs = torch.zeros(30000, 3)
    a = RandomAgent(4).act(obs, make_generator(1))
    assert torch.equal(a, RandomAgent(4).act(obs, make_generator(1)))
    freq = torch.bincount(a, minlength=4).float() / 30000
    assert torch.allclose(freq, torch.full((4,), 0.25), atol=0.015)


def _coin_obs(g, me, other, coin, mine):
    obs = torch.zeros(len(me), 4, g * g)
    for b in range(len(me)):
        obs[b, 0, me[b]] = 1
        obs[b, 1, other[b]] = 1
        obs[b, 2 if mine[b] else 3, coin[b]] = 1
    return obs.view(len(me), 4, g, g)


@pytest.mark.parametrize("g", [3, 4, 5])
def test_coin_defector_always_steps_closer_to_the_coin(g):
    gen = make_generator(g)
    B = 500
    env = CoinGame(g)
    env.reset(B, generator=gen)
    obs = env._observe()
    for seat in range(2):
        move = CoinAlwaysDefect().act(obs[seat], gen)
        me = env.positions[seat]
        after = env._move_table[me * 4 + move]
        assert (torus_distance(after, env.coin, g) == torus_distance(me, env.coin, g) - 1).all()


def test_coin_cooperator_only_takes_its_own_coins():
    env = CoinGame(episode_length=50)
    for seat in range(2):
        agents = [CoinAlwaysDefect(), CoinAlwaysDefect()]
        agents[seat] = CoinAlwaysCooperate()
        picked_own, picked_other = [], []
        collect_rewards(env, agents, 256, generator=make_generator(seat), on_step=lambda r: (
            picked_own.append(r.info["picked_own"][seat]), picked_other.append(r.info["picked_other"][seat])))
        assert not torch.stack(picked_other).any()
        assert torch.stack(picked_own).float().mean() > 0.1
    # two cooperators never pay a penalty
    rewards = collect_rewards(env, CoinAlwaysCooperate(), 256, generator=make_generator(3))
    assert (rewards >= 0).all() and rewards.mean() > 0.2


def test_coin_cooperator_steps_to_its_own_coin_and_around_the_others():
    obs = _coin_obs(3, me=[4, 4], other=[0, 0], coin=[5, 5], mine=[True, False])
    gen = make_generator(0)
    for _ in range(20):
        a = CoinAlwaysCooperate().act(obs, gen)
        assert a[0].item() == 0  # right: onto its own coin
        assert a[1].item() != 0  # never onto the other's coin
    with pytest.raises(ValueError, match="Coin Game planes"):
        CoinAlwaysCooperate().act(torch.zeros(2, 3, 3, 3))


def test_negotiation_agents_bids():
    env = NegotiationGame()
    obs = env.reset(64, generator=make_generator(2))[0]
    own_high = env.values[0] == 5
    ac = NegotiationAlwaysCooperate().act(obs)
    assert torch.equal(ac, torch.where(own_high, 5.0, 0.0))
    assert torch.equal(NegotiationAlwaysDefect().act(obs), torch.full((64, 3), 5.0))
    bids = RandomProposals().act(obs.repeat(100, 1), make_generator(3))
    assert bids.min() >= 0 and bids.max() <= 5 and abs(bids.mean().item() - 2.5) < 0.1
    assert torch.equal(NegotiationAlwaysCooperate(low_bid=1.0).act(obs), torch.where(own_high, 5.0, 1.0))
    with pytest.raises(ValueError, match="obs"):
        NegotiationAlwaysDefect().act(torch.zeros(4, 14))


def _commons_obs(config, apples=(), agents=(), walls=(), ready=1.0, batch=1):
    rows, cols = config.view_ahead + 1 + config.view_behind, 2 * config.view_sides + 1
    obs = torch.zeros(batch, len(CHANNELS), rows, cols)
    for r, c in apples:
        obs[:, CHANNELS.index("apple"), r, c] = 1
    for r, c in agents:
        obs[:, CHANNELS.index("agent"), r, c] = 1
    for r, c in walls:
        obs[:, CHANNELS.index("wall"), r, c] = 1
    obs[:, CHANNELS.index("ready_to_shoot")] = ready
    return obs


def test_greedy_harvester_walks_to_the_nearest_apple():
    config = CommonsConfig()
    me = (9, 5)  # row 9, column 5 of the 11 x 11 window
    greedy = GreedyHarvester(config, turn_probability=0.0)
    act = lambda obs: ACTIONS[greedy.act(obs, make_generator(0)).item()]  # noqa: E731
    assert act(_commons_obs(config, apples=[(7, 5), (9, 9)])) == "forward"
    assert act(_commons_obs(config, apples=[(9, 7), (3, 5)])) == "step_right"
    assert act(_commons_obs(config, apples=[(9, 2)])) == "step_left"
    assert act(_commons_obs(config, apples=[(10, 5)])) == "backward"
    # the way ahead is blocked by an agent: it sidesteps towards a diagonal apple
    assert act(_commons_obs(config, apples=[(7, 6)], agents=[(8, 5)])) == "step_right"
    # nothing in sight: forward, or a turn when a wall is ahead
    assert act(_commons_obs(config)) == "forward"
    assert act(_commons_obs(config, walls=[(8, 5)])) in ("turn_left", "turn_right")
    assert me == (config.view_ahead, config.view_sides)
    zapper = GreedyHarvester(config, zap=True)
    assert ACTIONS[zapper.act(_commons_obs(config, agents=[(7, 5)]), make_generator(0)).item()] == "zap"
    assert ACTIONS[zapper.act(_commons_obs(config, agents=[(7, 5)], ready=0.5), make_generator(0)).item()] != "zap"
    assert ACTIONS[zapper.act(_commons_obs(config, agents=[(2, 5)]), make_generator(0)).item()] != "zap"


def test_greedy_harvesters_eat_faster_than_random_agents():
    env = CommonsHarvest(CommonsConfig.classroom(), min_steps=60, end_interval=60, end_probability=1.0)
    greedy = collect_rewards(env, scripted_agent(env, "Greedy"), 8, generator=make_generator(4)).sum()
    random = collect_rewards(env, scripted_agent(env, "Random"), 8, generator=make_generator(4)).sum()
    assert greedy > random


def test_scripted_agent_factory():
    for env in (IteratedMatrixGame(), CoinGame(), NegotiationGame(), CommonsHarvest(layout="small")):
        names = scripted_names(env)
        assert names == SCRIPTED_NAMES[type(env)]
        for name in names:
            agent = scripted_agent(env, name)
            obs = env.reset(3, generator=make_generator(0))
            players = JointPolicy(agent, env.n_players)
            players.reset(3)
            env.step(players(obs, make_generator(1)))  # valid actions for this game
        with pytest.raises(ValueError, match="unknown scripted agent"):
            scripted_agent(env, "Nope")
    with pytest.raises(ValueError, match="no scripted agents"):
        scripted_agent(object(), "AC")


def test_joint_policy_checks():
    with pytest.raises(ValueError, match="2 policies"):
        JointPolicy([AlwaysCooperate()], 2)
    with pytest.raises(TypeError, match="callable"):
        JointPolicy([AlwaysCooperate(), 3], 2)
    plain = JointPolicy([lambda obs, generator=None: torch.zeros(obs.shape[0], dtype=torch.long)] * 2, 2)
    assert plain(torch.zeros(2, 5, 5)).shape == (2, 5)


def test_coin_scripted_agents_ignore_the_theft_planes():
    plain, thefts = CoinGame(episode_length=20), CoinGame(episode_length=20, observe_thefts=True)
    for agent in (CoinAlwaysDefect(), CoinAlwaysCooperate()):
        runs = [collect_rewards(env, agent, 128, generator=make_generator(5)) for env in (plain, thefts)]
        assert torch.equal(runs[0], runs[1])
    with pytest.raises(ValueError, match="4 or 6"):
        CoinAlwaysDefect().act(torch.zeros(3, 5, 3, 3))


def test_coin_grim_trigger_cooperates_until_robbed_then_defects():
    from aa_lib.agents.scripted import CoinGrimTrigger

    env = CoinGame(episode_length=16, observe_thefts=True)
    # against Always Cooperate it is never robbed, so it never steals: nobody pays a penalty
    grim_ac = collect_rewards(env, [CoinGrimTrigger(), CoinAlwaysCooperate()], 256, generator=make_generator(4))
    assert (grim_ac >= 0).all() and grim_ac.mean() > 0.2
    # against Always Defect: it never steals before the first theft, and takes coins of
    # both colours afterwards; the same object twice: reset clears the memory
    grim = CoinGrimTrigger()
    for seed in (5, 6):
        steals, robbed = [], []
        collect_rewards(env, [grim, CoinAlwaysDefect()], 512, generator=make_generator(seed), on_step=lambda r: (
            steals.append(r.info["picked_other"][0]), robbed.append(r.info["picked_other"][1])))
        steals, robbed = torch.stack(steals, -1), torch.stack(robbed, -1)  # [B, T]
        was_robbed = torch.cat([torch.zeros_like(robbed[:, :1]), robbed[:, :-1]], -1).cumsum(-1) > 0
        assert not steals[~was_robbed].any() and steals[was_robbed].float().mean() > 0.2
    # so it loses far less to AD than AC does
    def mean_rewards(agent):
        r = collect_rewards(env, [agent, CoinAlwaysDefect()], 1024, generator=make_generator(6))
        return r[0].mean().item(), r[1].mean().item()
    (g_me, g_ad), (c_me, c_ad) = mean_rewards(CoinGrimTrigger()), mean_rewards(CoinAlwaysCooperate())
    assert g_me - g_ad > c_me - c_ad + 0.5
    with pytest.raises(ValueError, match="observe_thefts"):
        CoinGrimTrigger().act_with_memory(torch.zeros(2, 4, 3, 3), torch.zeros(2, 1))
    with pytest.raises(RuntimeError, match="reset"):
        CoinGrimTrigger().act(torch.zeros(2, 6, 3, 3))
    grim.reset(3)
    with pytest.raises(ValueError, match="one object per seat"):
        grim.act(torch.zeros(2, 6, 3, 3))


def test_coin_grim_trigger_memory_travels_in_the_rollout_state():
    """One Grim object in both seats, or wrapped twice with batches of different sizes: memories stay apart."""
    from aa_lib.agents.policies import ScriptedPolicy
    from aa_lib.agents.scripted import CoinGrimTrigger
    from aa_lib.training.rollout import collect_mixed_rollout

    env = CoinGame(episode_length=16, observe_thefts=True)
    grim, ad = CoinGrimTrigger(), ScriptedPolicy(CoinAlwaysDefect())
    infos = []
    collect_mixed_rollout(env, [([ScriptedPolicy(grim), ad], 64), ([ScriptedPolicy(grim), ad], 32)],
                          make_generator(1), on_step=lambda r: infos.append(r.info))
    steals = torch.stack([i["picked_other"][0] for i in infos], -1)
    robbed = torch.stack([i["picked_other"][1] for i in infos], -1)
    was_robbed = torch.cat([torch.zeros_like(robbed[:, :1]), robbed[:, :-1]], -1).cumsum(-1) > 0
    assert not steals[~was_robbed].any() and steals[was_robbed].float().mean() > 0.2
    # self-play with one wrapper over both seats: nobody is robbed, so nobody steals
    infos = []
    collect_mixed_rollout(env, [([ScriptedPolicy(grim)] * 2, 128)], make_generator(2),
                          on_step=lambda r: infos.append(r.info))
    assert not torch.stack([i["picked_other"] for i in infos]).any()
