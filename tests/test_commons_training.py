"""Training on Commons Harvest: the presets, the 3 + 2 replay seats, PAA vs PPO, the session and dashboard."""
import math

import pytest
import torch

from aa_lib.games.commons import CommonsHarvest
from aa_lib.training.presets import preset
from aa_lib.games import make_env
from aa_lib.training import Trainer
from aa_lib.training.session import train_session

TINY = dict(batch_size=2, horizon=6, iterations=2)


def test_paper_preset_holds_table_4():
    c = preset("commons", "paa", "paper")
    assert (c.gamma, c.actor_lr, c.critic_lr, c.max_grad_norm) == (0.99, 1e-5, 1e-5, 10.0)
    assert c.algo_options["clip"] == 0.1 and c.algo_options["n_epochs"] == 2
    assert c.algo_options["entropy_coef"] == 0.1 and c.algo_options["beta"] == 1.0
    assert c.algo_options["standardize"] is True
    assert c.replay_seats == 2 and c.current_agent_fraction == 0.0 and c.self_play
    env = make_env("commons", **c.game_options)
    assert env.n_players == 7 and env.episode_length == 1000  # Melting Pot's map and episodes


def test_classroom_preset_builds_a_small_commons():
    c = preset("commons", "paa")
    env = make_env("commons", **c.game_options)
    assert isinstance(env, CommonsHarvest) and env.config.layout == "small"
    assert c.horizon == env.episode_length  # whole (first 100 steps of) episodes: depletion happens inside
    assert c.replay_seats == 2 and c.replay_seats < env.n_players and c.current_agent_fraction == 0.0
    assert "beta" not in preset("commons", "ppo").algo_options
    assert preset("commons", "ppo_sr").algo_options["clip"] == c.algo_options["clip"]


@pytest.mark.parametrize("algo", ["paa", "ppo", "ppo_sr"])
def test_a_tiny_classroom_run_trains_with_replayed_seats(algo):
    torch.manual_seed(0)
    trainer = Trainer(preset("commons", algo, replay_push_every=1, **TINY))
    history = trainer.train()
    assert len(history) == 2
    assert all(math.isfinite(m["actor_loss"]) and math.isfinite(m["critic_loss"]) for m in history)
    # from the second iteration on, the last 2 seats are past agents from the buffer, the first 3 learn
    chunks = trainer._plan()
    assert len(trainer.buffer) >= 1
    assert all(c.learner_seats == [True, True, True, False, False] for c in chunks)


def test_paa_with_beta_zero_is_ppo():
    """Proximal AA differs from PPO only by the shaping term: with beta = 0 the runs coincide."""
    a = Trainer(preset("commons", "paa", algo_options={"beta": 0.0}, **TINY))
    b = Trainer(preset("commons", "ppo", **TINY))
    a.train(), b.train()
    for p, q in zip(a.policy.parameters(), b.policy.parameters()):
        assert torch.equal(p, q)
    c = Trainer(preset("commons", "paa", **TINY))
    c.train()
    assert any(not torch.equal(p, q) for p, q in zip(c.policy.parameters(), b.policy.parameters()))


def test_train_session_and_dashboard_work_for_commons():
    result = train_session("commons", "paa", beta=2.0, iterations=1, batch_size=2, device="cpu")
    assert result.iterations == 1 and result.config.algo_options["beta"] == 2.0
    assert result.config.game == "commons" and not result.stopped
    pytest.importorskip("ipywidgets")
    from aa_lib.viz.dashboard import training_dashboard

    dashboard = training_dashboard("commons", "paa", iterations=1, batch_size=2, device="cpu")
    assert "Greedy" in dashboard.opponent.options
    dashboard.start(background=False)
    assert dashboard.error is None and dashboard.result.iterations == 1
    assert dashboard.image.value  # the live figure was drawn


def test_commons_driver_rebuilds_the_recorded_configs_from_its_documented_command():
    """experiments/commons.py applies --beta/--seed and its --set strings with aa_lib.training.overrides:
    the commands of experiments/results/commons/NOTES.md (session 11) rebuild the configs recorded in
    runs.jsonl exactly, and a misspelt --set key is refused by name."""
    import json
    from pathlib import Path

    from experiment_scripts import load_experiment

    driver = load_experiment("commons")
    records = {}
    for line in (Path(driver.RESULTS) / "runs.jsonl").read_text().splitlines():
        record = json.loads(line)
        records[record["label"]] = record["config"]
    big_map = ["horizon=250", "game_options.min_steps=250", "game_options.layout=open", "game_options.n_players=7"]
    for label, algo, beta, seed in [("paa_open7_h250_s3", "paa", None, 3), ("ppo_sr_open7_h250_s2", "ppo_sr", None, 2),
                                    ("paa_b2_open7_h250", "paa", 2.0, 0)]:
        assert driver.build_config(algo, beta, seed, None, big_map).to_dict() == records[label], label
    config = driver.build_config("paa", 2.0, 0, 7, ["algo_options.beta=0.5", "seed=5"])
    assert (config.algo_options["beta"], config.seed, config.iterations) == (0.5, 5, 7)  # --set wins
    with pytest.raises(ValueError, match="unknown config field 'horizn'"):
        driver.build_config("paa", None, 0, None, ["horizn=250"])
