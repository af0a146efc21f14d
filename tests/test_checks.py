"""The notebooks' self-checks (aa_lib.evaluation.checks): pass on the shipped data and correct inputs,
fail with a message naming the agent and the condition on wrong ones."""
import copy
import dataclasses
import json
import math
from types import SimpleNamespace

import pytest
import torch

from aa_lib.evaluation import checks
from aa_lib.evaluation.shipped import ASSETS_DIR, load_shipped
from aa_lib.evaluation.summary import Evaluation
from aa_lib.games import make_env
from aa_lib.training.presets import preset


# ------------------------------------------------------------------ helpers
def run(iterations=3, stopped=False, loss=0.5, env=None, policy=None):
    """A stand-in for a SessionResult: what the checks read of a live run."""
    history = [{"actor_loss": loss, "critic_loss": 0.1}] * iterations
    return SimpleNamespace(history=history, stopped=stopped, env=env, policy=policy)


def evaluation_of(record, **changes):
    """The recorded evaluation of a shipped record as an Evaluation, with metrics changed."""
    metrics = {**record["evaluation"]["metrics"], **changes}
    return Evaluation(metrics, dict(record["evaluation"]["errors"]))


def with_metrics(runs, seed_index, **changes):
    """A copy of ShippedRuns whose record ``seed_index`` has changed metrics."""
    records = copy.deepcopy(runs.records)
    records[seed_index]["evaluation"]["metrics"].update(changes)
    return dataclasses.replace(runs, records=records)


class League:
    """A stand-in for LeagueResult: value(row, column) and a table."""

    def __init__(self, values, size):
        self.values, self.table = values, torch.zeros(size, size)

    def value(self, row, col):
        return self.values[row, col]


@pytest.fixture(scope="module")
def ipd():
    return {algo: load_shipped("ipd", algo) for algo in ("aa", "naive", "ppo")}


@pytest.fixture(scope="module")
def coin():
    return {algo: load_shipped("coin", algo) for algo in ("aa", "ppo")}


@pytest.fixture(scope="module")
def negotiation():
    return {algo: load_shipped("negotiation", algo) for algo in ("aa_factored", "aa", "ppo", "ppo_sr")}


# ------------------------------------------------------------------ shared
def test_live_runs():
    checks.check_live_runs({"aa": run(3), "ppo": run(3)}, 3)
    with pytest.raises(AssertionError, match="live ppo: expected 3 completed iterations, got 2"):
        checks.check_live_runs({"aa": run(3), "ppo": run(2)}, 3)
    with pytest.raises(AssertionError, match=r"live aa: expected 3 completed iterations, got 3 \(stopped\)"):
        checks.check_live_runs({"aa": run(3, stopped=True)}, 3)
    with pytest.raises(AssertionError, match="live aa: a non-finite actor or critic loss"):
        checks.check_live_runs({"aa": run(3, loss=math.nan)}, 3)


def test_agrees_with_record_within_five_combined_standard_errors():
    recorded = {"metrics": {"x": 0.5}, "errors": {"x": 0.03}}
    fresh = lambda value: SimpleNamespace(metrics={"x": value}, errors={"x": 0.04})  # noqa: E731  se 0.05
    checks.check_agrees_with_record(recorded, fresh(0.5 + 0.249), ["x"])
    checks.check_agrees_with_record(recorded, fresh(0.5 - 0.249), ["x"])
    with pytest.raises(AssertionError, match=r"x: re-evaluated 0.7510, recorded 0.5000; .* 5.0 combined"):
        checks.check_agrees_with_record(recorded, fresh(0.751), ["x"])
    checks.check_agrees_with_record(recorded, fresh(0.751), ["x"], n_se=6.0)


def test_safe_checkpoint(tmp_path):
    checks.check_safe_checkpoint(ASSETS_DIR / "commons" / "paa_s0.pt", game="commons")
    with pytest.raises(AssertionError, match="a 'ipd' checkpoint, expected 'coin'"):
        checks.check_safe_checkpoint(ASSETS_DIR / "ipd" / "aa_s0.pt", game="coin")
    torch.save({"format": "something else"}, tmp_path / "x.pt")
    with pytest.raises(AssertionError, match="format 'something else', expected 'aa_lib.trainer/1'"):
        checks.check_safe_checkpoint(tmp_path / "x.pt")


def test_shipped_seeds(ipd):
    checks.check_shipped_seeds(ipd, ("aa", "naive", "ppo"), 5)
    with pytest.raises(AssertionError, match="expected shipped naive checkpoints: at least 6 seeds, found 5"):
        checks.check_shipped_seeds(ipd, ("naive",), 6)
    with pytest.raises(AssertionError, match="expected shipped lola checkpoints: at least 1 seeds, found 0"):
        checks.check_shipped_seeds(ipd, ("lola",), 1)


def test_gap_in_standard_errors():
    a = {"metrics": {"r": 1.0}, "errors": {"r": 0.3}}
    b = {"metrics": {"r": 0.0}, "errors": {"r": 0.4}}
    assert checks.gap_in_standard_errors(a, b, "r") == pytest.approx(2.0)
    assert checks.gap_in_standard_errors(b, a, "r") == pytest.approx(-2.0)


# ------------------------------------------------------------------ IPD (07)
TFT = {"start": 0.9, "CC": 0.9, "CD": 0.1, "DC": 0.5, "DD": 0.05}


def test_tit_for_tat_like_thresholds():
    checks.check_tit_for_tat_like(TFT, -2.149, "x")
    with pytest.raises(AssertionError, match="x: exploited by Always Defect, reward -2.150"):
        checks.check_tit_for_tat_like(TFT, -2.15, "x")
    with pytest.raises(AssertionError, match=r"y: expected P\(C \| CC\) > 0.85 and P\(C \| start\) > 0.85"):
        checks.check_tit_for_tat_like({**TFT, "start": 0.5}, -2.0, "y")
    checks.check_tit_for_tat_like({**TFT, "start": 0.5}, -2.0, "y", opens=False)
    with pytest.raises(AssertionError, match="expected retaliation"):
        checks.check_tit_for_tat_like({**TFT, "DD": 0.1}, -2.0, "z")
    with pytest.raises(AssertionError, match=r"P\(C \| CC\) - P\(C \| CD\) > 0.7"):
        checks.check_tit_for_tat_like({**TFT, "CC": 0.86, "CD": 0.17}, -2.0, "z")


def test_defects_thresholds():
    checks.check_defects({"start": 0.1, "CC": None, "CD": 0.19}, -1.81, "x")  # None: a state never reached
    with pytest.raises(AssertionError, match=r"x: expected P\(C \| state\) < 0.2 in every state"):
        checks.check_defects({"start": 0.1, "CC": 0.2}, -1.9, "x")
    with pytest.raises(AssertionError, match="x: expected self-play reward < -1.8 .*, got -1.800"):
        checks.check_defects({"start": 0.1}, -1.8, "x")


def test_ipd_science_on_the_shipped_runs(ipd):
    assert checks.check_ipd_science(ipd, {}) == "science: AA is Tit-for-Tat-like, naive AC and PPO defect"
    live = {"aa": evaluation_of(ipd["aa"].records[0]), "naive": evaluation_of(ipd["naive"].records[0])}
    checks.check_ipd_science(ipd, live)
    with pytest.raises(AssertionError, match="shipped naive seed 2: expected P"):
        checks.check_ipd_science({**ipd, "naive": with_metrics(ipd["naive"], 2, **{"p_cooperate/random/CC": 0.5})},
                                 {})
    with pytest.raises(AssertionError, match="live ppo: expected P"):
        checks.check_ipd_science(ipd, {"ppo": evaluation_of(ipd["aa"].records[0])})
    opening = {"p_cooperate/random/start": 0.5}
    fewer_openers = {**ipd, "aa": with_metrics(with_metrics(ipd["aa"], 0, **opening), 2, **opening)}
    with pytest.raises(AssertionError, match=r"shipped aa: expected P\(C \| start\) > 0.85 on at least 4 seeds"):
        checks.check_ipd_science(fewer_openers, {})


def test_ipd_mechanics(ipd):
    env = make_env("ipd", episode_length=16)
    record = ipd["aa"].records[0]
    live = {"aa": run(3, env=env, policy=ipd["aa"].policies[0])}
    evaluations = {"aa": evaluation_of(record)}
    assert checks.check_ipd_mechanics(live, evaluations, ipd, evaluation_of(record), 3) == "mechanics: ok"
    off = record["evaluation"]["metrics"]["reward/AD"] + 0.5
    with pytest.raises(AssertionError, match="reward/AD: re-evaluated"):
        checks.check_ipd_mechanics(live, evaluations, ipd, evaluation_of(record, **{"reward/AD": off}), 3)
    with pytest.raises(AssertionError, match=r"live aa: p_cooperate/self/CC = 1.2 \(error"):
        checks.check_ipd_mechanics(live, {"aa": evaluation_of(record, **{"p_cooperate/self/CC": 1.2})}, ipd,
                                   evaluation_of(record), 3)


# ------------------------------------------------------------ Coin Game (08)
PAPER_FIG2 = {("AA", "AA"): 0.28, ("AA", "AC"): 0.35, ("AC", "AA"): 0.31, ("AA", "AD"): -0.08, ("AD", "AA"): 0.15}


def coin_inputs():
    league = League({("AA", "AA"): 0.25, ("PPO", "PPO"): 0.0, ("AD", "GRIM"): 0.1, ("GRIM", "AD"): -0.02}, 5)
    retaliation = {checks.COIN_BLIND_REFERENCE: {"after_theft": 0.5, "otherwise": 0.45},
                   "AA seed 0": {"after_theft": 0.9, "otherwise": 0.5},
                   "AA seed 0 vs AD": {"after_theft": 0.5, "otherwise": 0.5},  # against AD: not checked
                   "PPO seed 0": {"after_theft": 0.5, "otherwise": 0.5}}
    counterfactual = {"AA seed 0 prefix 0": {"difference": 0.1, "difference_se": 0.01},
                      "PPO seed 0 prefix 0": {"difference": 0.01, "difference_se": 0.01}}
    return league, retaliation, counterfactual


def test_coin_agent_checks():
    checks.check_coin_cooperative({"own_coin/self": 0.71, "reward/self": 0.16, "opponent_reward/AD": 0.3,
                                   "reward/AD": -0.19}, "x")
    with pytest.raises(AssertionError, match="x: exploited by AD, AD's per-step gain over it 0.500"):
        checks.check_coin_cooperative({"own_coin/self": 0.9, "reward/self": 0.3, "opponent_reward/AD": 0.3,
                                       "reward/AD": -0.2}, "x")
    checks.check_coin_greedy({"own_coin/self": 0.41, "reward/self": 0.079}, "y")
    with pytest.raises(AssertionError, match="y: expected own-coin share within 0.1 of 0.5"):
        checks.check_coin_greedy({"own_coin/self": 0.61, "reward/self": 0.0}, "y")


def test_coin_science_on_the_shipped_runs(coin):
    league, retaliation, counterfactual = coin_inputs()
    message = checks.check_coin_science(coin, {}, league, retaliation, counterfactual, PAPER_FIG2)
    gaps = sorted(r["evaluation"]["metrics"]["opponent_reward/AD"] - r["evaluation"]["metrics"]["reward/AD"]
                  for r in coin["aa"].records)
    assert message.endswith(f"AD beats AA by {gaps} per step (grim trigger: 0.12)")
    live = {"aa": evaluation_of(coin["aa"].records[0]), "ppo": evaluation_of(coin["ppo"].records[0])}
    checks.check_coin_science(coin, live, league, retaliation, counterfactual, PAPER_FIG2,
                              live_retaliation={"after_theft": 0.9, "otherwise": 0.5})
    with pytest.raises(AssertionError, match="live aa: retaliation margin"):
        checks.check_coin_science(coin, live, league, retaliation, counterfactual, PAPER_FIG2,
                                  live_retaliation={"after_theft": 0.5, "otherwise": 0.5})
    weak = {**retaliation, "AA seed 1": {"after_theft": 0.79, "otherwise": 0.5}}  # 0.29 < 0.25 + 0.05
    with pytest.raises(AssertionError, match="AA seed 1: takes the other's coin"):
        checks.check_coin_science(coin, {}, league, weak, counterfactual, PAPER_FIG2)
    forgetful = {**counterfactual, "AA seed 1 prefix 8": {"difference": 0.06, "difference_se": 0.013}}
    with pytest.raises(AssertionError, match="AA seed 1 prefix 8: counterfactual difference"):
        checks.check_coin_science(coin, {}, league, retaliation, forgetful, PAPER_FIG2)
    generous_grim = League({**league.values, ("AD", "GRIM"): 0.0, ("GRIM", "AD"): 0.0}, 5)
    with pytest.raises(AssertionError, match="is not below the grim trigger's 0.000"):
        checks.check_coin_science(coin, {}, generous_grim, retaliation, counterfactual, PAPER_FIG2)
    with pytest.raises(AssertionError, match="shipped ppo seed 1: expected own-coin share"):
        checks.check_coin_science({**coin, "ppo": with_metrics(coin["ppo"], 1, **{"own_coin/self": 0.7})}, {},
                                  league, retaliation, counterfactual, PAPER_FIG2)


def test_coin_mechanics(coin):
    league, retaliation, _ = coin_inputs()
    steps = {"steps_after_theft": 10, "steps_otherwise": 100}
    retaliation = {name: {**r, **steps} for name, r in retaliation.items()}
    record = coin["aa"].records[0]
    live, evaluations = {"aa": run(3)}, {"aa": evaluation_of(record)}
    assert checks.check_coin_mechanics(live, evaluations, league, retaliation, coin, evaluation_of(record),
                                       3) == "mechanics: ok"
    with pytest.raises(AssertionError, match=r"league table of shape \(4, 4\) \(expected \(5, 5\)\)"):
        checks.check_coin_mechanics(live, evaluations, League({}, 4), retaliation, coin, evaluation_of(record), 3)
    retaliation["AA seed 0"]["steps_after_theft"] = 0
    with pytest.raises(AssertionError, match="AA seed 0: no steps after a theft"):
        checks.check_coin_mechanics(live, evaluations, league, retaliation, coin, evaluation_of(record), 3)


# ---------------------------------------------------------- Negotiation (09)
def negotiation_inputs():
    bids = {"AD": [[1.0, 3.0], [0.8, 2.6], [1.2, 3.1]], "AC": [[1.0, 1.0], [0.9, 1.2], [1.1, 1.5]]}
    diagnostics = {0: {"td": {"cosine": 0.7, "split_cosine": 0.9, "pg_norm": 1.0},
                       "gae": {"cosine": 0.4, "pg_norm": 1.0}, "reward": {"cosine": 0.0, "pg_norm": 1.0}}}
    return bids, diagnostics


def test_negotiation_agent_checks():
    checks.check_negotiation_greedy({"bid_low/self": 3.01, "reward/self": 0.344}, "x")
    with pytest.raises(AssertionError, match="x: expected greedy"):
        checks.check_negotiation_greedy({"bid_low/self": 3.0, "reward/self": 0.3}, "x")
    exploited = {"bid_low/self": 1.9, "reward/self": 0.43, "opponent_reward/AD": 0.5, "reward/AD": 0.34}
    checks.check_cooperates_and_is_exploited(exploited, "y")
    with pytest.raises(AssertionError, match="y: expected exploited by AD"):
        checks.check_cooperates_and_is_exploited({**exploited, "reward/AD": 0.35}, "y")
    firm = {"bid_low/self": 2.9, "reward/self": 0.36, "opponent_reward/AD": 0.4, "reward/AD": 0.33}
    checks.check_cooperates_and_is_not_exploited(firm, "z")
    with pytest.raises(AssertionError, match="z: exploited by AD"):
        checks.check_cooperates_and_is_not_exploited({**firm, "reward/AD": 0.32}, "z")


def test_negotiation_science_on_the_shipped_runs(negotiation):
    bids, diagnostics = negotiation_inputs()
    message = checks.check_negotiation_science(negotiation, {}, bids, diagnostics)
    assert message.startswith("science: PPO and eq. 8 AA are greedy")
    with pytest.raises(AssertionError, match="live aa: expected greedy"):
        checks.check_negotiation_science(negotiation, {"aa": evaluation_of(negotiation["ppo_sr"].records[0])},
                                         bids, diagnostics)
    with pytest.raises(AssertionError, match="bid against AD climbs by 1.500; expected > 1.5"):
        checks.check_negotiation_science(negotiation, {}, {**bids, "AD": [[1.0, 2.5]]}, diagnostics)
    with pytest.raises(AssertionError, match="last-round bid against AC 2.000 is not below"):
        checks.check_negotiation_science(negotiation, {}, {**bids, "AC": [[1.0, 2.0]]}, diagnostics)
    noisy = {0: {**diagnostics[0], "td": {"cosine": 0.7, "split_cosine": 0.8}}}
    with pytest.raises(AssertionError, match="diagnostic seed 0: td noise-floor cosine"):
        checks.check_negotiation_science(negotiation, {}, bids, noisy)


def test_negotiation_mechanics(negotiation):
    bids, diagnostics = negotiation_inputs()
    record = negotiation["aa_factored"].records[0]
    live, evaluations = {"ppo": run(3)}, {"ppo": evaluation_of(negotiation["ppo"].records[0])}
    by_round = {("AA-item", "AD"): bids["AD"], ("AA-item", "AC"): bids["AC"]}
    league = League({}, len(negotiation) + 2)
    assert checks.check_negotiation_mechanics(live, evaluations, diagnostics, league, by_round, negotiation,
                                              evaluation_of(record), 3) == "mechanics: ok"
    with pytest.raises(AssertionError, match=r"a mean bid by round outside \[0, 5\]"):
        checks.check_negotiation_mechanics(live, evaluations, diagnostics, league, {"x": [[5.1]]}, negotiation,
                                           evaluation_of(record), 3)
    with pytest.raises(AssertionError, match="bid_low/self: re-evaluated"):
        checks.check_negotiation_mechanics(live, evaluations, diagnostics, league, by_round, negotiation,
                                           evaluation_of(record, **{"bid_low/self": 4.0}), 3)


# ------------------------------------------------------ Commons Harvest (10)
@pytest.fixture(scope="module")
def commons_records():
    return {p.stem: json.loads(p.read_text()) for p in sorted((ASSETS_DIR / "commons").glob("*.json"))}


REFS = {"greedy_self": 2.3}


def test_commons_science_on_the_shipped_runs(commons_records):
    live = {name: commons_records[name]["evaluation"] for name in ("paa_s0", "ppo_s0", "ppo_sr_s0")}
    message = checks.check_commons_science(commons_records, REFS, live, deterministic_replay=True)
    assert message.startswith("science: PAA and PPO are greedy with equal focal returns")
    with pytest.raises(AssertionError, match=r"shipped paa_s0: self-play return 2.307 <= 0.9 x greedy 2.600"):
        checks.check_commons_science(commons_records, {"greedy_self": 2.6}, live, deterministic_replay=True)
    far = copy.deepcopy(live)
    far["ppo_s0"]["metrics"]["return/focal"] += 1.0
    with pytest.raises(AssertionError, match="live ppo_s0 differs from the shipped run on return/focal"):
        checks.check_commons_science(commons_records, REFS, far, deterministic_replay=True)
    checks.check_commons_science(commons_records, REFS, far, deterministic_replay=False)
    tied = copy.deepcopy(commons_records)
    tied["ppo_sr_s0"]["evaluation"]["metrics"]["return/self"] = tied["ppo_s0"]["evaluation"]["metrics"]["return/self"]
    with pytest.raises(AssertionError, match="PPO-SR's self-play return is not 3 standard errors above"):
        checks.check_commons_science(tied, REFS, live, deterministic_replay=False)


def test_commons_mechanics(commons_records):
    env = make_env("commons", **preset("commons", "paa", "classroom").game_options)
    live_evaluations = {"paa_s0": commons_records["paa_s0"]["evaluation"]}
    fresh = evaluation_of(commons_records["paa_s0"])
    folder = ASSETS_DIR / "commons"
    assert checks.check_commons_mechanics({"paa": run(2)}, live_evaluations, commons_records, fresh, env, 2,
                                          folder) == "mechanics: ok"
    bad = copy.deepcopy(live_evaluations)
    bad["paa_s0"]["metrics"]["patches_alive/self"] = 3.5  # the classroom map has 3 patches
    with pytest.raises(AssertionError, match="paa_s0: patches alive 3.5"):
        checks.check_commons_mechanics({}, bad, commons_records, fresh, env, 2, folder)
    missing = {k: v for k, v in commons_records.items() if k != "ppo_sr_s0"}
    with pytest.raises(AssertionError, match="expected the shipped checkpoint ppo_sr_s0"):
        checks.check_commons_mechanics({}, live_evaluations, missing, fresh, env, 2, folder)
