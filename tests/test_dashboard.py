"""Training sessions (the plain function behind the dashboards), their stop flag, evaluation, and the widgets."""
import math
import threading

import pytest
import torch

from aa_lib.agents.scripted import AlwaysCooperate, AlwaysDefect, MemoryOneAgent, TitForTat
from aa_lib.evaluation import cooperation_probe
from aa_lib.training.presets import preset
from aa_lib.games import make_env
from aa_lib.training import Callback, Trainer
from aa_lib.evaluation import evaluate_policy, play_transcript, ratio_and_error, seed_summary
from aa_lib.training.session import (DEFAULT_REPLAY, ScriptedOpponentTrainer, opponent_choices, session_config,
                                     train_session)

TINY = dict(iterations=2, batch_size=8, device="cpu")


class Recorder(Callback):
    """Counts hooks; optionally sets ``flag`` once ``trainer.iteration`` reaches ``stop_at``."""

    def __init__(self, flag=None, stop_at=None):
        self.flag, self.stop_at = flag, stop_at
        self.starts = self.iterations = self.ends = 0

    def on_train_start(self, trainer):
        self.starts += 1

    def on_iteration_end(self, trainer, metrics):
        self.iterations += 1
        if self.flag is not None and trainer.iteration >= self.stop_at:
            self.flag.set()

    def on_train_end(self, trainer):
        self.ends += 1


# ------------------------------------------------------------------ config
def test_session_config_turns_only_the_given_knobs():
    base = preset("ipd", "aa", "classroom")
    cfg = session_config("ipd", "aa", beta=0.5, gamma=0.8, lr=2e-3, entropy=0.05, opponent="self-play",
                         iterations=7, seed=3, device="cpu")
    assert cfg.algo_options["beta"] == 0.5 and cfg.algo_options["entropy_coef"] == 0.05
    assert cfg.algo_options["aa_gamma"] == base.algo_options["aa_gamma"]
    assert (cfg.gamma, cfg.actor_lr, cfg.iterations, cfg.seed) == (0.8, 2e-3, 7, 3)
    assert cfg.replay_capacity == 0 and cfg.self_play
    assert (cfg.batch_size, cfg.critic_lr, cfg.hidden) == (base.batch_size, base.critic_lr, base.hidden)
    untouched = session_config("ipd", "aa", device="cpu")
    assert untouched == base  # the classroom preset uses the replay buffer: opponent "replay" is the preset


def test_session_config_opponents():
    naive = session_config("ipd", "naive", beta=2.0, device="cpu")
    assert "beta" not in naive.algo_options  # no shaping term to weigh
    independent = session_config("ipd", "naive", opponent="independent", device="cpu")
    assert not independent.self_play and independent.replay_capacity == 0
    paper = session_config("negotiation", "aa", opponent="replay", device="cpu", preset_name="paper")
    assert paper.replay_capacity == DEFAULT_REPLAY["replay_capacity"]  # the preset has none: default buffer
    assert opponent_choices("ipd") == ("self-play", "replay", "independent", "AC", "AD", "TFT", "Grim", "Random")


@pytest.mark.parametrize("kwargs, error, word", [
    (dict(opponent="nobody"), ValueError, "opponent"),
    (dict(gamma=1.5), ValueError, "gamma"),
    (dict(lr=0.0), ValueError, "lr"),
    (dict(entropy=float("nan")), ValueError, "entropy"),
    (dict(beta="big"), TypeError, "beta"),
    (dict(iterations=0), ValueError, "iterations"),
])
def test_session_config_rejects_bad_knobs(kwargs, error, word):
    with pytest.raises(error, match=word):
        session_config("ipd", "aa", device="cpu", **kwargs)


def test_stop_flag_must_have_is_set():
    with pytest.raises(TypeError, match="stop_flag"):
        train_session("ipd", "aa", stop_flag=True, **TINY)


# ---------------------------------------------------------------- training
def test_train_session_is_the_trainer_with_that_config():
    result = train_session("ipd", "aa", beta=0.7, seed=4, **TINY)
    reference = Trainer(session_config("ipd", "aa", beta=0.7, seed=4, **TINY)).train()
    assert not result.stopped and result.iterations == 2
    assert result.history == reference
    assert all(math.isfinite(m["actor_loss"]) and math.isfinite(m["critic_loss"]) for m in result.history)


def test_stop_event_returns_partial_result():
    flag = threading.Event()
    recorder = Recorder(flag, stop_at=3)
    result = train_session("ipd", "aa", callbacks=[recorder], stop_flag=flag,
                           **{**TINY, "iterations": 50})
    assert result.stopped and result.iterations == 3 and len(result.history) == 3
    assert (recorder.starts, recorder.iterations, recorder.ends) == (1, 3, 1)  # callbacks still closed


def test_stop_event_set_before_training_stops_at_once():
    flag = threading.Event()
    flag.set()
    result = train_session("ipd", "naive", stop_flag=flag, **TINY)
    assert result.stopped and result.iterations == 0 and result.history == []


def test_stop_from_another_thread():
    flag, started, box = threading.Event(), threading.Event(), {}

    class Started(Callback):
        def on_iteration_end(self, trainer, metrics):
            started.set()

    def run():
        box["result"] = train_session("ipd", "naive", callbacks=[Started()], stop_flag=flag,
                                      **{**TINY, "iterations": 100_000})

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(30)
    flag.set()
    thread.join(30)
    assert not thread.is_alive()
    assert box["result"].stopped and 1 <= box["result"].iterations < 100_000


def test_scripted_opponent_rewards_follow_the_payoff_table():
    result = train_session("ipd", "aa", opponent="AD", **TINY)
    assert isinstance(result.trainer, ScriptedOpponentTrainer)
    for m in result.history:
        # Against Always Defect the learner gets -3 (C) or -2 (D) and AD gets 0 or -2:
        # with p the learner's cooperation rate, r0 = -2 - p and r1 = -2 + 2 p.
        p = m["cooperation"]
        assert m["reward_0"] == pytest.approx(-2 - p, abs=1e-5)
        assert m["reward_1"] == pytest.approx(-2 + 2 * p, abs=1e-5)
    assert result.trainer.state_dict()["scripted_opponent"] == "AD"


def test_scripted_seat_has_its_own_trained_critic():
    trainer = ScriptedOpponentTrainer(session_config("ipd", "aa", opponent="TFT", **TINY), "TFT")
    own, theirs = trainer._seat_learner(0), trainer._seat_learner(1)
    assert own is trainer.learners[0] and theirs is trainer.opponent_critics[0]
    before = [p.detach().clone() for p in theirs.critic.parameters()]
    metrics = trainer.step()
    assert math.isfinite(metrics["opponent_critic_loss"])
    assert any(not torch.equal(b, p) for b, p in zip(before, theirs.critic.parameters()))


def test_scripted_opponent_run_resumes_bit_for_bit(tmp_path):
    config = session_config("ipd", "aa", opponent="TFT", **{**TINY, "iterations": 3})
    straight = ScriptedOpponentTrainer(config, "TFT").train()
    first = ScriptedOpponentTrainer(config, "TFT")
    first.train(2)
    first.save(tmp_path / "run.pt")
    resumed = ScriptedOpponentTrainer.from_checkpoint(tmp_path / "run.pt")
    assert resumed.opponent == "TFT"
    assert resumed.train() == straight
    with pytest.raises(ValueError, match="TFT"):
        ScriptedOpponentTrainer(config, "AD").load_state_dict(first.state_dict())


def test_independent_learners():
    result = train_session("ipd", "naive", opponent="independent", **TINY)
    assert len(result.trainer.learners) == 2 and "actor_loss_1" in result.history[-1]


# -------------------------------------------------------------- evaluation
def test_evaluate_policy_exact_values_of_scripted_agents():
    env = make_env("ipd", episode_length=16)
    tft = evaluate_policy(TitForTat(), env, opponents=("self", "AD", "AC"), episodes=8)
    assert tft.metrics["reward/self"] == pytest.approx(-1.0) and tft.errors["reward/self"] == 0.0
    assert tft.metrics["reward/AD"] == pytest.approx((-3 - 2 * 15) / 16)  # exploited once, then D-D
    assert tft.metrics["opponent_reward/AD"] == pytest.approx((0 - 2 * 15) / 16)
    assert tft.metrics["reward/AC"] == pytest.approx(-1.0)
    ac = evaluate_policy(AlwaysCooperate(), env, opponents=(), probes=("random",), episodes=32)
    probe = ac.probe("random")
    assert [probe[s] for s in ("start", "CC", "CD")] == [1.0, 1.0, 1.0]
    assert math.isnan(probe["DC"]) and ac.metrics["visits/random/DC"] == 0  # AC never played D
    assert ac.metrics["visits/random/start"] == 32


def test_evaluate_policy_probe_is_cooperation_probe():
    env = make_env("ipd", episode_length=16)
    torch.manual_seed(0)
    policy = Trainer(preset("ipd", "aa", iterations=1, batch_size=8)).policy
    ours = evaluate_policy(policy, env, opponents=(), probes=("random",), episodes=64, seed=5).probe("random")
    theirs = cooperation_probe(policy, env, "random", 64, torch.Generator().manual_seed(5)).probabilities
    assert ours == pytest.approx(theirs, rel=1e-5)


def test_evaluate_policy_standard_error_matches_binomial():
    # A memory-one agent cooperating with probability 0.3 in every state, probed against a
    # random player: every step is an independent Bernoulli(0.3), so the standard error of
    # P(C | CC) is sqrt(0.3 * 0.7 / visits).
    env = make_env("ipd", episode_length=16)
    agent = MemoryOneAgent(p_cooperate=torch.full((5,), 0.3))
    ev = evaluate_policy(agent, env, opponents=(), probes=("random",), episodes=2048, seed=1)
    visits = ev.metrics["visits/random/CC"]
    binomial = math.sqrt(0.3 * 0.7 / visits)
    assert ev.errors["p_cooperate/random/CC"] == pytest.approx(binomial, rel=0.1)
    assert abs(ev.metrics["p_cooperate/random/CC"] - 0.3) < 5 * binomial


def test_ratio_and_error_by_hand():
    # y = (1, 2, 0), n = (2, 2, 0): r = 3/4; residuals y - r n = (-0.5, 0.5, 0);
    # se^2 = 3/2 * 0.5 / 16.
    r, se = ratio_and_error(torch.tensor([1.0, 2.0, 0.0]), torch.tensor([2.0, 2.0, 0.0]))
    assert r == 0.75 and se == pytest.approx(math.sqrt(1.5 * 0.5) / 4)
    r, se = ratio_and_error(torch.zeros(3), torch.zeros(3))
    assert math.isnan(r) and math.isnan(se)


def test_evaluate_policy_rejects_bad_input():
    env = make_env("ipd")
    with pytest.raises(ValueError, match="episodes"):
        evaluate_policy(TitForTat(), env, episodes=1)
    with pytest.raises(ValueError, match="probes"):
        evaluate_policy(TitForTat(), env, probes=("TFT",))


def test_seed_summary_by_hand():
    summary = seed_summary([{"a": 1.0, "b": 5.0, "c": None}, {"a": 3.0, "b": float("nan")}])
    assert list(summary) == ["a", "b"]  # "c" has no value in any seed
    assert summary["a"] == {"mean": 2.0, "std": pytest.approx(math.sqrt(2.0)), "n": 2}
    assert summary["b"] == {"mean": 5.0, "std": 0.0, "n": 1}  # an unvisited state does not count
    with pytest.raises(ValueError, match="metrics"):
        seed_summary([])


def test_play_transcript():
    env = make_env("ipd", episode_length=4)
    text = play_transcript(env, [TitForTat(), AlwaysDefect()], ["TFT", "AD"], n_episodes=1)
    assert text.splitlines() == ["episode 1  TFT: C D D D", "            AD: D D D D"]


# ------------------------------------------------------------------ widgets
def test_dashboard_builds_with_preset_defaults():
    pytest.importorskip("ipywidgets")
    from aa_lib.viz.dashboard import training_dashboard

    dash = training_dashboard("ipd", "aa", device="cpu")
    base = preset("ipd", "aa")
    assert dash.beta.value == base.algo_options["beta"] and dash.gamma.value == base.gamma
    assert dash.lr.value == pytest.approx(base.actor_lr) and dash.entropy.value == base.algo_options["entropy_coef"]
    assert dash.iterations.value == base.iterations and dash.opponent.value == "replay"
    assert tuple(dash.opponent.options) == opponent_choices("ipd")
    assert dash.references == {"all cooperate": -1.0, "all defect": -2.0}
    dash.algo.value = "naive"
    assert dash.beta.disabled
    dash.algo.value = "aa"
    assert not dash.beta.disabled
    dash.beta.value, dash.opponent.value = 0.4, "TFT"
    settings = dash.settings()
    assert settings["beta"] == 0.4 and settings["opponent"] == "TFT" and settings["algo"] == "aa"


def test_dashboard_train_button_and_live_plot():
    pytest.importorskip("ipywidgets")
    from aa_lib.viz.dashboard import training_dashboard

    dash = training_dashboard("ipd", "aa", iterations=2, batch_size=8, device="cpu", plot_every=1,
                              probe_batch_size=8)
    dash.train_button.click()
    assert dash.wait(60)
    assert dash.error is None and dash.result.iterations == 2 and not dash.result.stopped
    assert dash.image.value[:4] == b"\x89PNG"
    assert dash.status.value.startswith("finished after 2 iterations")
    assert not dash.train_button.disabled and dash.stop_button.disabled


def test_dashboard_stop_button():
    pytest.importorskip("ipywidgets")
    from aa_lib.viz.dashboard import training_dashboard

    started = threading.Event()

    class Started(Callback):
        def on_iteration_end(self, trainer, metrics):
            started.set()

    dash = training_dashboard("ipd", "naive", iterations=2000, batch_size=8, device="cpu", plot_every=1000,
                              probe_batch_size=8, extra_callbacks=[Started()])
    dash.train_button.click()
    assert dash.running and started.wait(30)
    dash.stop_button.click()
    assert dash.wait(30)
    assert dash.result.stopped and dash.result.iterations < 2000
    assert dash.status.value.startswith("stopped after")


def test_dashboard_reports_errors_without_raising():
    pytest.importorskip("ipywidgets")
    from aa_lib.viz.dashboard import training_dashboard

    dash = training_dashboard("ipd", "aa", iterations=2, batch_size=0, device="cpu")
    dash.start(background=False)
    assert isinstance(dash.error, ValueError) and "batch_size" in dash.status.value
    assert not dash.train_button.disabled


def test_training_figure_panels():
    from aa_lib.viz.dashboard import plot_probe_groups, training_figure

    history = [{"iteration": i, "reward": -1.5 + 0.1 * i, "cooperation": 0.5} for i in range(3)]
    probe = dict(zip(("start", "CC", "CD", "DC", "DD"), (1.0, 0.9, 0.1, 0.8, 0.0)))
    assert len(training_figure(history, probe, references={"all C": -1.0}).axes) == 3
    assert len(training_figure([{"iteration": 0, "reward": 0.2}]).axes) == 1
    fig = plot_probe_groups({"paper": (probe, None), "ours": (probe, probe)})
    assert len(fig.axes[0].patches) == 10
    with pytest.raises(ValueError, match="groups"):
        plot_probe_groups({})
    import matplotlib.pyplot as plt

    plt.close("all")


def test_dashboard_references_and_beta_range_beyond_the_ipd():
    from aa_lib.training.presets import preset
    from aa_lib.viz.dashboard import training_dashboard

    coin = training_dashboard("coin", "aa", device="cpu")
    assert coin.beta.value == preset("coin", "aa").algo_options["beta"] == 3.0  # not clamped by the slider
    assert coin.references["all cooperate"] > 0.25 and abs(coin.references["all defect"]) < 0.05
    negotiation = training_dashboard("negotiation", "aa", device="cpu")
    # per-step reward averaged over both seats: AC-AC gives 0.5 and AD-AD 0.3 in every game
    assert negotiation.references == pytest.approx({"all cooperate": 0.5, "all defect": 0.3})
    # item-factored AA is offered where the reward splits over items, with its own preset beta
    assert "aa_factored" in negotiation.algo.options and "aa_factored" not in coin.algo.options
    assert negotiation.beta.value == 3.0
    negotiation.algo.value = "aa_factored"
    assert negotiation.beta.value == preset("negotiation", "aa_factored").algo_options["beta"] == 11.0
    assert negotiation.beta.max >= 22.0 and not negotiation.beta.disabled
    negotiation.algo.value = "ppo"
    assert negotiation.beta.disabled and negotiation.beta.value == 11.0
    with pytest.raises(ValueError, match="aa_factored"):
        training_dashboard("coin", "aa_factored", device="cpu")


def test_evaluate_policy_own_coin_share_in_the_coin_game():
    from aa_lib.agents.scripted import CoinAlwaysCooperate, CoinAlwaysDefect
    from aa_lib.evaluation import coin_pickups
    from aa_lib.games.coin import CoinGame
    from aa_lib.evaluation import evaluate_policy

    env = CoinGame(episode_length=16)
    ac = evaluate_policy(CoinAlwaysCooperate(), env, opponents=("self", "AD"), episodes=128)
    assert ac.metrics["own_coin/self"] == 1.0 and ac.metrics["own_coin/AD"] == 1.0
    assert ac.errors["own_coin/AD"] == 0.0
    # the same games as coin_pickups (same seed, same draws): the same share
    ad = evaluate_policy(CoinAlwaysDefect(), env, opponents=("AD",), episodes=256, seed=4)
    direct = coin_pickups(CoinAlwaysDefect(), env, "AD", 256, torch.Generator().manual_seed(4))
    assert ad.metrics["own_coin/AD"] == pytest.approx(direct["own_fraction"], abs=1e-12)
    assert 0.0 < ad.errors["own_coin/AD"] < 0.02
