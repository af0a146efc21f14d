"""Evaluation of LLM agents: league, reciprocity probe, exploiter test."""
import copy

import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("peft")

from aa_lib.games.text import TextIPD, make_text_agent  # noqa: E402
from aa_lib.llm import (BASE, LLMConfig, add_adapter, exploiter_test, league, lora_config,  # noqa: E402
                        play_games, probe_reciprocity, reciprocity, tiny_model)


@pytest.fixture(scope="module")
def lm():
    game = TextIPD()
    return tiny_model(game.vocabulary(), hidden=32, layers=1, heads=2, seed=0)


def test_reciprocity_counts_by_the_coplayers_last_move():
    # seat 0 plays C D C C, seat 1 plays D C C D. Seat 0 after D: D (round 1); after C: C, C (rounds 2, 3).
    # Seat 1 after C: C (round 1), D (round 3); after D: C (round 2).
    actions = torch.tensor([[[0, 1, 0, 0]], [[1, 0, 0, 1]]])
    probe = reciprocity(actions, seat=0)
    assert probe["first_round"] == 1.0
    assert probe["after_cooperate"] == 1.0 and probe["n_after_cooperate"] == 2
    assert probe["after_defect"] == 0.0 and probe["n_after_defect"] == 1
    other = reciprocity(actions, seat=1)
    assert (other["after_cooperate"], other["after_defect"], other["first_round"]) == (0.5, 1.0, 0.0)
    with pytest.raises(ValueError, match="actions"):
        reciprocity(actions[0])


def test_league_of_scripted_agents_matches_the_payoff_table(lm):
    model, tokenizer = lm
    game = TextIPD()
    members = {name: make_text_agent(game, name) for name in ("always_cooperate", "always_defect", "tit_for_tat")}
    result = league(game, model, tokenizer, members, games_per_pair=4)
    # REFERENCES: 10 rounds, AllC-AllC 30/30, AllD-AllD 10/10, AllC vs AllD 0/50, TFT vs AllD 9/14 (per round / 10)
    expected = torch.tensor([[3.0, 0.0, 3.0], [5.0, 1.0, 1.4], [3.0, 0.9, 3.0]])
    assert torch.allclose(result.points, expected)
    assert torch.allclose(result.welfare, expected + expected.T) and (result.stderr == 0).all()
    assert result.names == list(members) and "tit_for_tat" in result.table()


def test_league_with_adapters_and_probe(lm):
    model, tokenizer = lm
    model = add_adapter(copy.deepcopy(model), "agent", lora_config(4, 8))
    game = TextIPD(n_rounds=3)
    result = league(game, model, tokenizer, {"agent": "agent", "base": BASE,
                                             "allc": make_text_agent(game, "always_cooperate")}, games_per_pair=8)
    assert result.points.shape == (3, 3) and torch.isfinite(result.points).all()
    # pair k (row-major over i <= j) is played with seed k: (agent, allc) is pair 2
    direct = play_games(game, model, tokenizer, ["agent", make_text_agent(game, "always_cooperate")], 8, seed=2)
    assert result.points[0, 2] == direct.game_rewards[0].mean() and result.points[2, 0] == direct.game_rewards[1].mean()
    assert result.points[0, 0] == play_games(game, model, tokenizer, ["agent", "agent"], 8, seed=0).game_rewards.mean()
    tft = probe_reciprocity(game, model, tokenizer, make_text_agent(game, "tit_for_tat"), games=64)
    assert tft["after_cooperate"] == 1.0 and tft["after_defect"] == 0.0
    assert tft["n_after_cooperate"] > 20 and tft["n_after_defect"] > 20
    with pytest.raises(TypeError, match="text IPD"):
        probe_reciprocity(object(), model, tokenizer, "agent")


def test_exploiter_gains_against_unconditional_cooperation(lm):
    model, tokenizer = lm
    config = LLMConfig(game="text-ipd", game_options={"n_rounds": 3}, batch_size=16, group_size=None, lora_r=4,
                       lora_alpha=8.0, lr=0.02, seed=0)
    game = TextIPD(n_rounds=3)
    out = exploiter_test(make_text_agent(game, "always_cooperate"), copy.deepcopy(model), tokenizer, config,
                         iterations=8, eval_games=64)
    # against AllC, defecting pays 5 instead of 3: the exploiter learns it (from ~50% defection to ~all)
    assert out["before"] < 4.5 and out["after"] > 4.9 and out["gain"] == pytest.approx(out["after"] - out["before"])
    assert out["frozen_after"] < 0.2 < out["frozen_before"]
    assert out["trainer"].config.algo == "naive" and out["trainer"].buffer is None
