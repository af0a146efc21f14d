"""Leagues, cooperation probes and exploitability."""
import math

import pytest
import torch

from aa_lib.agents.policies import MemoryOnePolicy
from aa_lib.agents.scripted import AlwaysCooperate, AlwaysDefect, TitForTat
from aa_lib.evaluation import cooperation_probe, exploitability, play, run_league
from aa_lib.games.iterated import IteratedMatrixGame


def test_league_of_scripted_ipd_agents_matches_payoffs():
    env = IteratedMatrixGame(episode_length=8)
    result = run_league(env, {"AC": AlwaysCooperate(), "AD": [AlwaysDefect(), AlwaysDefect()],
                              "TFT": TitForTat()}, batch_size=4)
    assert result.value("AC", "AC") == -1.0 and result.value("AD", "AD") == -2.0
    assert result.value("AC", "AD") == -3.0 and result.value("AD", "AC") == 0.0
    # TFT against AD: exploited once (-3), then mutual defection (-2) for 7 steps.
    assert math.isclose(result.value("TFT", "AD"), (-3 - 2 * 7) / 8)
    assert torch.allclose(result.opponent_table, result.table.T)
    assert "TFT" in result.to_text()
    import matplotlib

    matplotlib.use("Agg")
    assert result.heatmap() is not None


def test_probe_of_memory_one_policy_recovers_its_parameters():
    theta = torch.tensor([2.0, 1.0, -1.0, 0.5, -2.0])
    env = IteratedMatrixGame(episode_length=6)
    probe = cooperation_probe(MemoryOnePolicy(theta), env, "random", 256, torch.Generator().manual_seed(0))
    assert torch.allclose(probe.as_tensor(), torch.sigmoid(theta), atol=1e-6)
    assert probe.counts["start"] == 256 and sum(probe.counts.values()) == 256 * 6


def test_probe_of_scripted_tit_for_tat_uses_sampled_actions():
    env = IteratedMatrixGame(episode_length=6)
    probe = cooperation_probe(TitForTat(), env, "random", 128, torch.Generator().manual_seed(1))
    assert probe.as_tensor().tolist() == [1.0, 1.0, 0.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="opponent"):
        cooperation_probe(TitForTat(), env, "nobody")


def test_exploitability_against_always_defect():
    env = IteratedMatrixGame(episode_length=4)
    naive_coop = exploitability(AlwaysCooperate(), env, batch_size=8)
    assert naive_coop == {"agent": -3.0, "opponent": 0.0, "gap": 3.0}
    tft = exploitability(TitForTat(), env, batch_size=8)
    assert tft["gap"] == pytest.approx(0.75)  # exploited on the first step only


def test_play_mixes_learned_and_scripted_agents():
    env = IteratedMatrixGame(episode_length=4)
    always_c = MemoryOnePolicy(torch.full((5,), 30.0))
    rewards = play(env, [always_c, AlwaysDefect()], batch_size=4)
    assert torch.allclose(rewards, torch.tensor([-3.0, 0.0]))


def test_coin_pickups_of_scripted_agents():
    from aa_lib.agents.scripted import CoinAlwaysCooperate, CoinAlwaysDefect
    from aa_lib.evaluation import coin_pickups
    from aa_lib.games.coin import CoinGame

    env = CoinGame(episode_length=8)
    g = torch.Generator().manual_seed(0)
    ac = coin_pickups(CoinAlwaysCooperate(), env, "self", 128, g)
    assert ac["own_fraction"] == 1.0 and ac["other_per_step"] == 0.0
    assert ac["reward"] == pytest.approx(ac["own_per_step"])  # +1 per own coin, nobody is penalised
    ad = coin_pickups(CoinAlwaysDefect(), env, "self", 256, g)
    assert 0.4 < ad["own_fraction"] < 0.6  # takes any coin
    # a taken own coin pays +1, a taken coin of the other's colour +1, and the other's thefts -2
    exploited = coin_pickups(CoinAlwaysCooperate(), env, "AD", 256, g)
    assert exploited["own_fraction"] == 1.0 and exploited["reward"] < 0 < exploited["opponent_reward"]
    with pytest.raises(ValueError, match="CoinGame"):
        coin_pickups(CoinAlwaysCooperate(), IteratedMatrixGame(episode_length=2))


def test_retaliation_shares_hand_computed():
    from aa_lib.evaluation import retaliation_shares

    # one game of 6 steps; the co-player steals at step 1; the coin is the co-player's at steps 2, 3, 5
    chance = torch.tensor([[0, 0, 1, 1, 0, 1]], dtype=torch.bool)
    took_other = torch.tensor([[0, 0, 0, 1, 0, 0]], dtype=torch.bool)
    stole = torch.tensor([[0, 1, 0, 0, 0, 0]], dtype=torch.bool)
    out = retaliation_shares(chance, took_other, stole, window=2)  # after a theft: steps 2, 3
    assert out["steps_after_theft"] == 2 and out["after_theft"] == 0.5
    assert out["steps_otherwise"] == 1 and out["otherwise"] == 0.0  # step 5
    out = retaliation_shares(chance, took_other, stole, window=1)  # only step 2 follows the theft
    assert out["after_theft"] == 0.0 and out["otherwise"] == 0.5
    none = retaliation_shares(chance & False, took_other, stole, window=2)
    assert math.isnan(none["after_theft"]) and none["steps_otherwise"] == 0
    with pytest.raises(ValueError, match="window"):
        retaliation_shares(chance, took_other, stole, window=0)
    with pytest.raises(ValueError, match="co_player_stole"):
        retaliation_shares(chance, took_other, stole[:, :3])


def test_coin_retaliation_of_scripted_agents():
    from aa_lib.agents.scripted import CoinAlwaysCooperate, CoinAlwaysDefect
    from aa_lib.evaluation import coin_retaliation
    from aa_lib.games.coin import CoinGame

    env, g = CoinGame(episode_length=16), torch.Generator().manual_seed(3)
    ac = coin_retaliation(CoinAlwaysCooperate(), env, "AD", 256, g)
    assert ac["after_theft"] == 0.0 and ac["otherwise"] == 0.0 and ac["steps_after_theft"] > 100
    # Always Defect ignores the history. Counting the share of its *pickups* that are steals gives
    # 0.58 after a theft vs 0.24 otherwise (colours alternate, so a theft is always followed by a coin
    # of the thief's colour); the take rate per step with such a coin on the board removes that:
    # 0.65 vs 0.59 at 2048 games (the rest is coin age: "otherwise" holds more coins that have lain
    # out of reach for a while). A reciprocal agent has to beat this history-blind reference.
    ad = coin_retaliation(CoinAlwaysDefect(), env, "AD", 512, g)
    assert 0.4 < ad["otherwise"] < 0.8 and 0.0 <= ad["after_theft"] - ad["otherwise"] < 0.15, ad
    with pytest.raises(ValueError, match="CoinGame"):
        from aa_lib.games.iterated import IteratedMatrixGame
        coin_retaliation(CoinAlwaysCooperate(), IteratedMatrixGame(episode_length=2))


@pytest.mark.parametrize("observe_thefts", [False, True])
def test_coin_counterfactual_probe_is_zero_for_a_feed_forward_policy(observe_thefts):
    from aa_lib.agents.policies import make_policy
    from aa_lib.agents.scripted import CoinAlwaysDefect
    from aa_lib.evaluation import coin_counterfactual_probe
    from aa_lib.games.coin import CoinGame

    env = CoinGame(episode_length=8, observe_thefts=observe_thefts)
    torch.manual_seed(0)
    feed_forward = make_policy(env, hidden=16, recurrent=False)
    out = coin_counterfactual_probe(feed_forward, env, 64, torch.Generator().manual_seed(1))
    # the two histories end in the same observation: a memoryless policy cannot tell them apart
    assert out["difference"] == 0.0 and out["difference_se"] == 0.0
    assert 0.0 < out["after_theft"] < 1.0
    gru = make_policy(env, hidden=16, recurrent=True)
    out = coin_counterfactual_probe(gru, env, 64, torch.Generator().manual_seed(1), prefix_steps=3)
    assert out["difference"] != 0.0 and out["difference_se"] > 0.0  # a GRU sees the different first step
    with pytest.raises(ValueError, match="sequence_distribution"):
        coin_counterfactual_probe(CoinAlwaysDefect(), env)
    with pytest.raises(ValueError, match="prefix_steps"):
        coin_counterfactual_probe(gru, env, 8, prefix_steps=9)
    with pytest.raises(ValueError, match="CoinGame"):
        from aa_lib.games.iterated import IteratedMatrixGame
        coin_counterfactual_probe(gru, IteratedMatrixGame(episode_length=2))


def test_coin_counterfactual_probe_shows_the_theft_on_the_theft_planes():
    """With observe_thefts the after-theft history shows "the other stole from me" at step 1 only."""
    from aa_lib.agents.distributions import CategoricalDist
    from aa_lib.evaluation import coin_counterfactual_probe
    from aa_lib.games.coin import CoinGame

    class Spy:
        def __init__(self):
            self.seen = []

        def sequence_distribution(self, obs):  # [N, L, 6, g, g] -> uniform moves
            self.seen.append(obs.clone())
            return CategoricalDist(torch.zeros(obs.shape[0], obs.shape[1], 4))

    env = CoinGame(episode_length=8, observe_thefts=True)
    spy = Spy()
    out = coin_counterfactual_probe(spy, env, 32, torch.Generator().manual_seed(2))
    after, before = spy.seen  # after_theft, then no_theft
    assert after.shape == (32, 3, 6, 3, 3)
    assert (after[:, 1, 4] == 1).all() and (after[:, 1, 5] == 0).all()  # the co-player stole from me
    assert after[:, [0, 2], 4:].sum() == 0 and before[:, :, 4:].sum() == 0
    assert torch.equal(after[:, 2], before[:, 2])  # same last observation
    # the stolen coin had the agent's colour (plane 2) and lay where the co-player then stands
    assert torch.equal(after[:, 0, 2], after[:, 1, 1])
    assert out["difference"] == 0.0  # a uniform policy: only the recorded inputs matter here
