"""load_shipped: the shipped checkpoints and records of assets/<game>/, as notebooks 07-09 show them."""
import json
import math
import shutil

import pytest
import torch

from aa_lib.evaluation import load_policy
from aa_lib.evaluation.shipped import ASSETS_DIR, ShippedRuns, load_shipped, shipped_seeds
from aa_lib.evaluation.summary import seed_summary
from aa_lib.training.checkpoint import load_checkpoint


def notebook_block(folder):
    """The loading block that notebooks 07-09 repeated before load_shipped (records grouped by rule)."""
    records = {}
    for path in sorted(folder.glob("*.json")):
        record = json.loads(path.read_text())
        records.setdefault(record["algo"], []).append(record)
    summary = {algo: seed_summary([r["evaluation"]["metrics"] for r in rs]) for algo, rs in records.items()}
    histories = {algo: [load_checkpoint(folder / r["checkpoint"])["history"] for r in rs] for algo, rs in records.items()}
    agents = {algo: [load_policy(folder / r["checkpoint"]) for r in rs] for algo, rs in records.items()}
    return records, summary, histories, agents


def same_numbers(a, b):
    """Equal nested dicts of floats, NaN equal to NaN."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_numbers(a[k], b[k]) for k in a)
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b


@pytest.mark.parametrize("game, algos", [("ipd", ["aa", "naive", "ppo"]), ("coin", ["aa", "ppo"]),
                                         ("negotiation", ["aa_factored", "aa", "ppo", "ppo_sr"])])
def test_equals_the_notebooks_old_loading_block(game, algos):
    records, summary, histories, agents = notebook_block(ASSETS_DIR / game)
    assert sorted(records) == sorted(algos)  # the rules a notebook loads are all that is shipped
    for algo in algos:
        runs = load_shipped(game, algo)
        assert runs.records == records[algo]
        assert same_numbers(runs.summary, summary[algo])
        assert runs.histories == histories[algo]
        assert runs.seeds == [r["seed"] for r in records[algo]]
        assert runs.checkpoints == [ASSETS_DIR / game / r["checkpoint"] for r in records[algo]]
        assert len(runs.policies) == len(agents[algo])
        for new, old in zip(runs.policies, agents[algo]):
            assert type(new) is type(old) and not new.training
            old_state = old.state_dict()
            assert all(torch.equal(v, old_state[k]) for k, v in new.state_dict().items())


def test_seeds_are_chosen_ordered_and_matched_by_whole_name():
    runs = load_shipped("ipd", "aa", seeds=[3, 0])
    assert runs.seeds == [3, 0] and [r["checkpoint"] for r in runs.records] == ["aa_s3.pt", "aa_s0.pt"]
    assert runs.policy(seed=0) is runs.policies[1]
    with pytest.raises(ValueError, match="seed 1 .* loaded seeds: \\[3, 0\\]"):
        runs.policy(seed=1)
    # "ppo" is not a prefix match: ppo_sr_s0.json belongs to the run "ppo_sr"
    assert shipped_seeds("negotiation", "ppo") == [0, 1, 2]
    assert [r["algo"] for r in load_shipped("negotiation", "ppo").records] == ["ppo"] * 3
    # a variant of a rule is a run of its own (Commons Harvest: PAA with beta 2)
    variant = load_shipped("commons", "paa_b2")
    assert variant.seeds == [0] and variant.records[0]["algo"] == "paa" and variant.records[0]["beta"] == 2.0


def test_summary_is_the_mean_and_std_over_seeds():
    runs = load_shipped("coin", "aa")
    values = [r["evaluation"]["metrics"]["reward/self"] for r in runs.records]
    mean = sum(values) / 3
    assert runs.summary["reward/self"]["mean"] == pytest.approx(mean, abs=1e-12)
    assert runs.metrics == [r["evaluation"]["metrics"] for r in runs.records]


def test_clear_errors():
    with pytest.raises(FileNotFoundError, match="no shipped run 'lola'"):
        load_shipped("ipd", "lola")
    with pytest.raises(FileNotFoundError, match="aa_s7.json; seeds of 'aa': \\[0, 1, 2, 3, 4\\]"):
        load_shipped("ipd", "aa", seeds=[0, 7])
    with pytest.raises(FileNotFoundError, match="no shipped runs for game 'chess'"):
        load_shipped("chess", "aa")
    with pytest.raises(TypeError, match="seeds must be a sequence of ints"):
        load_shipped("ipd", "aa", seeds=["0"])
    with pytest.raises(TypeError, match="algo must be a non-empty string"):
        load_shipped("ipd", "")


def test_a_record_of_another_game_is_refused(tmp_path):
    folder = tmp_path / "coin"
    folder.mkdir()
    shutil.copy(ASSETS_DIR / "ipd" / "aa_s0.pt", folder / "aa_s0.pt")
    record = json.loads((ASSETS_DIR / "ipd" / "aa_s0.json").read_text())
    (folder / "aa_s0.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="records game 'ipd', seed 0; expected 'coin', 0"):
        load_shipped("coin", "aa", assets=tmp_path)
    folder.rename(tmp_path / "ipd")  # the same files under their own game load
    runs = load_shipped("ipd", "aa", assets=tmp_path)
    assert isinstance(runs, ShippedRuns) and runs.seeds == [0] and runs.records == [record]
