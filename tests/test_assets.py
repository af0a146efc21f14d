"""The checkpoints shipped in assets/: they load safely, play, and their recorded metrics are reproducible.

Each ``assets/<game>/<name>.pt`` comes with ``<name>.json`` written by
``assets/make_assets.py``: the metrics of
:func:`aa_lib.evaluation.evaluate_policy` with their Monte Carlo standard
errors and the evaluation protocol. Here every checkpoint is evaluated again
with the same protocol and a different seed; the two estimates are independent,
so their difference has standard deviation ``sqrt(se_recorded^2 + se_fresh^2)``.
The bound is ``z`` of those, with ``z`` chosen (Bonferroni, normal
approximation) so that the chance that *any* comparison of this file fails
while every checkpoint is fine is ``FAMILY_ALPHA``. Probe states visited fewer
than ``MIN_VISITS`` times in either evaluation are not compared: their
ratio estimate is too far from normal for the bound to mean anything.
"""
import json
import math
from pathlib import Path
from statistics import NormalDist

import pytest
import torch

from aa_lib.evaluation import load_policy, play
from aa_lib.evaluation.commons import focal_evaluation
from aa_lib.games import make_env
from aa_lib.evaluation import evaluate_policy

ASSETS = Path(__file__).resolve().parents[1] / "assets"
CHECKPOINTS = sorted(ASSETS.rglob("*.pt"))
FAMILY_ALPHA = 1e-3
MIN_VISITS = 100
#: float32 rounding of one network output (a probability that is the same in every episode has no MC error).
FLOAT_SLACK = 1e-6
ASSET_BUDGET_BYTES = 5 * 2 ** 20
#: Share of the budget for the Commons Harvest checkpoints (notebook 10).
COMMONS_BUDGET_BYTES = 1.5 * 2 ** 20




def _record(checkpoint: Path) -> dict:
    return json.loads(checkpoint.with_suffix(".json").read_text())


def _compared(record: dict):
    """Keys of the recorded metrics that carry a standard error and enough visits."""
    ev = record["evaluation"]
    for key, value in ev["metrics"].items():
        if key.startswith("visits/") or value is None or ev["errors"].get(key) is None:
            continue
        if key.startswith("p_cooperate/"):
            _, probe, state = key.split("/")
            if ev["metrics"][f"visits/{probe}/{state}"] < MIN_VISITS:
                continue
        yield key


N_COMPARISONS = sum(len(list(_compared(_record(c)))) for c in CHECKPOINTS if c.with_suffix(".json").exists())
Z = NormalDist().inv_cdf(1 - FAMILY_ALPHA / (2 * max(N_COMPARISONS, 1)))


def _ids(paths):
    return [str(p.relative_to(ASSETS)) for p in paths]


def test_ipd_assets_are_shipped_within_budget():
    names = {p.stem for p in (ASSETS / "ipd").glob("*.pt")}
    for algo in ("aa", "naive", "ppo"):
        assert len([n for n in names if n.startswith(f"{algo}_s")]) >= 3, f"need >= 3 seeds of {algo}"
    assert (ASSETS / "make_assets.py").exists()
    total = sum(p.stat().st_size for p in ASSETS.rglob("*") if p.is_file())
    assert total < ASSET_BUDGET_BYTES, f"assets/ holds {total / 2 ** 20:.1f} MB"


def test_commons_assets_are_shipped_within_budget():
    names = {p.stem for p in (ASSETS / "commons").glob("*.pt")}
    for name in ("paa_s0", "ppo_s0", "ppo_sr_s0", "paa_b0p5_s0", "paa_b2_s0"):  # notebook 10 and Fig. 8
        assert name in names, f"missing assets/commons/{name}.pt"
    total = sum(p.stat().st_size for p in (ASSETS / "commons").rglob("*") if p.is_file())
    assert total < COMMONS_BUDGET_BYTES, f"assets/commons/ holds {total / 2 ** 20:.2f} MB"


def _fresh_evaluation(checkpoint: Path, record: dict, env):
    """The recorded protocol again, with the next seed."""
    protocol = record["evaluation"]["protocol"]
    if protocol.get("kind") == "commons_focal":  # focal agents + greedy invaders (Commons Harvest)
        return focal_evaluation(load_policy(checkpoint), env, n_invaders=protocol["n_invaders"],
                                invader=protocol["invader"], episodes=protocol["episodes"],
                                seed=protocol["seed"] + 1, self_play=protocol["self_play"])
    return evaluate_policy(load_policy(checkpoint), env, opponents=protocol["opponents"],
                           probes=protocol["probes"], episodes=protocol["episodes"], seed=protocol["seed"] + 1)


@pytest.mark.parametrize("checkpoint", CHECKPOINTS, ids=_ids(CHECKPOINTS))
def test_checkpoint_loads_safely_and_plays(checkpoint):
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)  # plain tensors and containers only
    record = _record(checkpoint)
    assert state["format"] == "aa_lib.trainer/1"
    assert state["config"] == record["config"] and state["iteration"] == record["iterations"]
    assert len(state["history"]) == record["iterations"]
    policy = load_policy(checkpoint)
    env = make_env(record["game"], **record["config"]["game_options"])
    rewards = play(env, [policy] * env.n_players, 4, torch.Generator().manual_seed(0))
    assert rewards.shape == (env.n_players,) and torch.isfinite(rewards).all()


@pytest.mark.parametrize("checkpoint", CHECKPOINTS, ids=_ids(CHECKPOINTS))
def test_recorded_metrics_match_a_fresh_evaluation(checkpoint):
    record = _record(checkpoint)
    recorded = record["evaluation"]
    env = make_env(record["game"], **record["config"]["game_options"])
    fresh = _fresh_evaluation(checkpoint, record, env)
    keys = list(_compared(record))
    assert any(k.startswith(("reward/", "return/")) for k in keys)
    for key in keys:
        if key.startswith("p_cooperate/") and fresh.metrics[key.replace("p_cooperate", "visits")] < MIN_VISITS:
            continue
        se = math.sqrt(recorded["errors"][key] ** 2 + fresh.errors[key] ** 2)
        difference = abs(fresh.metrics[key] - recorded["metrics"][key])
        assert difference <= Z * se + FLOAT_SLACK, (
            f"{key}: recorded {recorded['metrics'][key]:.4f}, fresh {fresh.metrics[key]:.4f}, "
            f"difference {difference:.2e} > {Z:.2f} x se {se:.2e}")
