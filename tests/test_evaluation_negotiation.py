"""Negotiation probes: bids on low/high-value items and Fig. 3b transcripts, on scripted agents."""
import pytest
import torch

from aa_lib.agents.scripted import scripted_agent
from aa_lib.evaluation import bid_profile, bids_by_round, negotiation_transcript
from aa_lib.games.coin import CoinGame
from aa_lib.games.negotiation import NegotiationGame


@pytest.fixture
def env():
    return NegotiationGame(episode_length=6)


def test_bid_profile_of_scripted_agents(env):
    ac, ad = scripted_agent(env, "AC"), scripted_agent(env, "AD")
    out = bid_profile(ac, env, "AD", 64, torch.Generator().manual_seed(0))
    assert out["bid_low"] == 0.0 and out["bid_high"] == 5.0 and out["bid_low_se"] == 0.0
    # AC against AD: AC gets its high-value items half (5 / 10), AD gets everything else
    assert out["reward"] < 0.3 < out["opponent_reward"]
    out = bid_profile(ad, env, "self", 64, torch.Generator().manual_seed(0))
    assert out["bid_low"] == out["bid_high"] == 5.0
    assert out["reward"] + out["opponent_reward"] == pytest.approx(0.6, abs=1e-6)  # AD-AD: 0.3 each per game


def test_bid_profile_of_random_proposals_is_uniform(env):
    out = bid_profile(scripted_agent(env, "Random"), env, "AD", 512, torch.Generator().manual_seed(1))
    for key in ("bid_low", "bid_high"):  # uniform on [0, 5]: mean 2.5
        assert abs(out[key] - 2.5) < 5 * out[f"{key}_se"], out


def test_negotiation_transcript_marks_defections(env):
    text = negotiation_transcript(env, [scripted_agent(env, "AC"), scripted_agent(env, "AD")], ["AC", "AD"],
                                  rounds=3, seed=2)
    lines = text.splitlines()
    assert len(lines) == 4  # header + 3 rounds
    for line in lines[1:]:
        assert line.count("AD 1/5!") + line.count("AD 5/5 ") == 3  # AD bids 5 on every item
        assert line.count("AC 1/0 ") + line.count("AC 5/5 ") == 3  # AC: 0 on low items, 5 on high ones
    assert "AC" in text and "!" in text


def test_negotiation_probes_reject_bad_input(env):
    with pytest.raises(ValueError, match="NegotiationGame"):
        bid_profile(scripted_agent(env, "AC"), CoinGame(episode_length=4))
    with pytest.raises(ValueError, match="batch_size"):
        bid_profile(scripted_agent(env, "AC"), env, batch_size=1)
    with pytest.raises(ValueError, match="rounds"):
        negotiation_transcript(env, [scripted_agent(env, "AC")] * 2, ["a", "b"], rounds=7)
    with pytest.raises(ValueError, match="one entry per seat"):
        negotiation_transcript(env, [scripted_agent(env, "AC")], ["a"])


def test_evaluate_policy_records_the_same_bids_as_bid_profile(env):
    from aa_lib.evaluation import evaluate_policy

    ac = scripted_agent(env, "AC")
    report = evaluate_policy(ac, env, opponents=("self", "AD"), episodes=64, seed=5)
    assert report.metrics["bid_low/self"] == 0.0 and report.metrics["bid_high/AD"] == 5.0
    random = scripted_agent(env, "Random")
    report = evaluate_policy(random, env, opponents=("AD",), episodes=64, seed=5)
    direct = bid_profile(random, env, "AD", 64, torch.Generator().manual_seed(5))
    assert report.metrics["bid_low/AD"] == pytest.approx(direct["bid_low"], abs=1e-9)
    assert report.errors["bid_low/AD"] == pytest.approx(direct["bid_low_se"], rel=1e-6)


class _OpenThenDefect:
    """Test agent: 0 on its low-value items in the first round, 5 once the co-player has bid anything."""

    def reset(self, batch_size):
        pass

    def act(self, obs, generator=None):
        started = (obs[:, 12:15].amax(-1, keepdim=True) > 0).float()  # other's last proposals / 5
        low = (obs[:, 3:6] < 0.5).float()  # own values / 5
        return 5.0 * (1 - low) + 5.0 * low * started


def test_bids_by_round_shows_when_an_agent_changes_its_bids(env):
    out = bids_by_round(_OpenThenDefect(), env, "AD", 64, torch.Generator().manual_seed(3))
    assert out["bid_low"] == [0.0] + [5.0] * 5 and out["bid_high"] == [5.0] * 6
    out = bids_by_round(scripted_agent(env, "AC"), env, "AD", 64, torch.Generator().manual_seed(3))
    assert out["bid_low"] == [0.0] * 6 and out["bid_high"] == [5.0] * 6
    with pytest.raises(ValueError, match="batch_size"):
        bids_by_round(scripted_agent(env, "AC"), env, batch_size=1)
