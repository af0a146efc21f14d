"""Training loop: checkpoints and bit-for-bit resume, NaN guard, replay buffer, callbacks."""
import json
from dataclasses import replace

import pytest
import torch

from aa_lib.training.presets import preset
from aa_lib.training import (AgentReplayBuffer, CheckpointCallback, MetricLogger, NonFiniteLossError,
                             TrainConfig, Trainer, load_checkpoint, save_checkpoint)
from aa_lib.training.rollout import Trajectory, collect_rollout


def _tiny(algo="aa", **over):
    base = TrainConfig(game="ipd", algo=algo, game_options={"episode_length": 5}, batch_size=12, hidden=8,
                       iterations=4, replay_capacity=3, replay_push_every=1, current_agent_fraction=0.5,
                       replay_groups=2, algo_options={"entropy_coef": 0.1})
    return replace(base, **over)


def _params(trainer):
    return torch.cat([p.detach().reshape(-1) for l in trainer.learners
                      for m in (l.policy, l.critic, l.target) for p in m.parameters()])


@pytest.mark.parametrize("algo", ["aa", "ppo", "loqa"])
def test_resume_from_checkpoint_is_bit_for_bit(tmp_path, algo):
    straight = Trainer(_tiny(algo))
    straight.train(4)
    first = Trainer(_tiny(algo))
    first.train(2)
    first.save(tmp_path / "ckpt.pt")
    resumed = Trainer.from_checkpoint(tmp_path / "ckpt.pt")
    assert resumed.iteration == 2 and len(resumed.buffer) == len(first.buffer)
    resumed.train(4)
    assert torch.equal(_params(straight), _params(resumed))
    assert straight.history == resumed.history
    # and the optimiser states agree too
    s1, s2 = straight.learners[0].actor_opt.state_dict(), resumed.learners[0].actor_opt.state_dict()
    for k in s1["state"]:
        assert torch.equal(s1["state"][k]["exp_avg"], s2["state"][k]["exp_avg"])


def test_separate_learners_train_and_resume(tmp_path):
    cfg = _tiny("naive", self_play=False, replay_capacity=0)
    a = Trainer(cfg)
    assert len(a.learners) == 2 and a.buffer is None
    a.train(3)
    b = Trainer(cfg)
    b.train(1)
    b.save(tmp_path / "c.pt")
    b = Trainer.from_checkpoint(tmp_path / "c.pt")
    b.train(3)
    assert torch.equal(_params(a), _params(b))


def test_same_seed_same_run_different_seed_different_run():
    a, b, c = Trainer(_tiny()), Trainer(_tiny()), Trainer(_tiny(seed=1))
    for t in (a, b, c):
        t.train(2)
    assert torch.equal(_params(a), _params(b))
    assert not torch.equal(_params(a), _params(c))


def test_nan_loss_stops_training_naming_the_step():
    trainer = Trainer(_tiny())
    trainer.algo.beta = float("inf")  # the config refuses an infinite beta (issue 24); the rule does not look
    with pytest.raises(NonFiniteLossError, match="iteration 0"):
        trainer.train(2)


def test_nan_in_critic_is_caught():
    trainer = Trainer(_tiny("naive"))
    trainer.train(1)
    with torch.no_grad():
        next(trainer.learners[0].critic.value_head.parameters()).fill_(float("nan"))
    with pytest.raises((NonFiniteLossError, ValueError), match="iteration 1|NaN"):
        trainer.step()


def test_checkpoint_is_atomic_and_loads_with_weights_only(tmp_path):
    path = tmp_path / "x.pt"
    save_checkpoint({"a": torch.arange(3), "b": [1, 2.5, "s"]}, path)
    assert [p.name for p in tmp_path.iterdir()] == ["x.pt"]  # no temporary file left behind
    assert torch.equal(load_checkpoint(path)["a"], torch.arange(3))

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(Exception):
        load_checkpoint(tmp_path / "evil.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


def test_agent_replay_buffer_fifo_and_sampling():
    buffer = AgentReplayBuffer(capacity=2, push_every=3)
    policy = torch.nn.Linear(2, 1)
    pushed = [buffer.maybe_push(policy, i) for i in range(7)]
    assert pushed == [True, False, False, True, False, False, True]
    assert len(buffer) == 2
    with torch.no_grad():
        policy.weight.fill_(4.0)
    buffer.push(policy)
    assert len(buffer) == 2 and torch.equal(buffer.snapshots[-1]["weight"], torch.full((1, 2), 4.0))
    idx = buffer.sample_indices(100, torch.Generator().manual_seed(0))
    assert set(idx) == {0, 1}
    restored = AgentReplayBuffer(1)
    restored.load_state_dict(buffer.state_dict())
    assert restored.capacity == 2 and len(restored) == 2
    with pytest.raises(ValueError, match="capacity"):
        AgentReplayBuffer(0)


def test_replay_opponents_fill_the_last_seat():
    trainer = Trainer(_tiny(current_agent_fraction=0.0))
    trainer.step()
    chunks = trainer._plan()
    assert all(c.learner_seats == [True, False] for c in chunks)
    assert sum(c.size for c in chunks) == 12
    assert all(c.policies[1] is not trainer.policy for c in chunks)


def test_metric_logger_and_checkpoint_callback(tmp_path):
    cfg = _tiny("naive")
    callbacks = [MetricLogger(tmp_path / "m.csv", tmp_path / "m.jsonl"),
                 CheckpointCallback(tmp_path / "last.pt", every=2, best_path=tmp_path / "best.pt")]
    Trainer(cfg, callbacks).train(3)
    lines = (tmp_path / "m.jsonl").read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[-1])["iteration"] == 2
    assert len((tmp_path / "m.csv").read_text().splitlines()) == 4
    assert load_checkpoint(tmp_path / "last.pt")["iteration"] == 3
    assert (tmp_path / "best.pt").exists()


def test_trajectory_shapes_and_concatenation():
    from aa_lib.agents.policies import MemoryOnePolicy
    from aa_lib.games.iterated import IteratedMatrixGame

    env = IteratedMatrixGame(episode_length=4)
    pol = MemoryOnePolicy()
    t1 = collect_rollout(env, [pol, pol], 3, torch.Generator().manual_seed(0))
    assert t1.obs.shape == (2, 3, 4, 5) and t1.rewards.shape == (2, 3, 4) and t1.dones.shape == (3, 4)
    assert t1.dones[:, -1].all() and not t1.dones[:, :-1].any()
    both = Trajectory.cat([t1, t1])
    assert both.batch_size == 6 and both.obs_with_final().shape == (2, 6, 5, 5)
    with pytest.raises(ValueError, match="one policy per seat"):
        collect_rollout(env, [pol], 3)


def test_config_validation_and_presets():
    with pytest.raises(ValueError, match="current_agent_fraction"):
        TrainConfig(current_agent_fraction=1.5)
    with pytest.raises(ValueError, match="unknown algorithm"):
        Trainer(_tiny("nope"))
    paper = preset("ipd", "aa", "paper")
    assert (paper.batch_size, paper.actor_lr, paper.algo_options["beta"], paper.algo_options["entropy_coef"]) \
        == (2048, 1e-4, 0.3, 0.15)
    assert (paper.replay_capacity, paper.current_agent_fraction, paper.gamma) == (10000, 0.0, 0.9)
    coin = preset("coin", "aa", "paper")
    assert (coin.batch_size, coin.actor_lr, coin.critic_lr, coin.replay_push_every) == (512, 2e-3, 5e-3, 10)
    neg = preset("negotiation", "aa", "paper")
    assert (neg.batch_size, neg.algo_options["beta"], neg.max_grad_norm) == (16384, 3.0, 1.0)
    assert "beta" not in preset("ipd", "ppo", "paper").algo_options
    with pytest.raises(ValueError, match="preset"):
        preset("ipd", "aa", "nope")


@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_a_cuda_device_without_a_gpu_is_refused_up_front(monkeypatch, device):
    """Without a usable GPU (here simulated), asking for CUDA fails with our message, not torch's."""
    from aa_lib.games import make_env
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"config.device=.*cuda.*no CUDA GPU"):
        Trainer(replace(_tiny("aa"), device=device))
    with pytest.raises(ValueError, match=r"device=.*cuda.*no CUDA GPU"):
        make_env("coin", device=device)


def test_a_device_index_beyond_the_visible_gpus_and_a_bad_name_are_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"'cuda:1', but torch sees only 1 CUDA device"):
        Trainer(replace(_tiny("aa"), device="cuda:1"))
    with pytest.raises(ValueError, match="must be a torch device such as 'cpu' or 'cuda', got 'gpu'"):
        Trainer(replace(_tiny("aa"), device="gpu"))


def test_mixed_rollout_plays_each_group_with_its_own_players():
    from aa_lib.agents.policies import MemoryOnePolicy, ScriptedPolicy
    from aa_lib.agents.scripted import AlwaysCooperate, AlwaysDefect
    from aa_lib.games.iterated import IteratedMatrixGame
    from aa_lib.training import collect_mixed_rollout

    env = IteratedMatrixGame(episode_length=3)
    cooperator = MemoryOnePolicy(torch.full((5,), 30.0))  # cooperates (P(C) = 1 - 1e-13)
    calls = []
    original_act = cooperator.act
    cooperator.act = lambda obs, state, gen=None: calls.append(obs.shape[0]) or original_act(obs, state, gen)
    defector = ScriptedPolicy(AlwaysDefect())
    groups = [([cooperator, defector], 3), ([cooperator, cooperator], 2), ([ScriptedPolicy(AlwaysCooperate()),
                                                                           defector], 1)]
    traj = collect_mixed_rollout(env, groups, torch.Generator().manual_seed(0))
    assert traj.rewards.shape == (2, 6, 3) and traj.obs.shape == (2, 6, 3, 5)
    expected_first = torch.tensor([-3.0] * 3 + [-1.0] * 2 + [-3.0])
    expected_second = torch.tensor([0.0] * 3 + [-1.0] * 2 + [0.0])
    assert torch.equal(traj.rewards[0], expected_first[:, None].expand(6, 3))
    assert torch.equal(traj.rewards[1], expected_second[:, None].expand(6, 3))
    assert calls == [3 + 2 + 2] * 3  # one call per step on all 7 (seat, game) slots of the learner
    assert torch.equal(traj.games(3, 5).rewards, traj.rewards[:, 3:5]) and traj.games(3, 5).dones.shape == (2, 3)
    with pytest.raises(ValueError, match="one policy per seat"):
        collect_mixed_rollout(env, [([cooperator], 2)])


def test_shaping_advantages_use_their_own_gae_lambda():
    """``shaping_gae_lambda=0``: the shaping term sees centred one-step TD errors, the policy gradient GAE."""
    from aa_lib.advantages import gae, td_errors

    trainer = Trainer(_tiny(shaping_gae_lambda=0.0, center_advantages=True, replay_capacity=0))
    traj = collect_rollout(trainer.env, [trainer.policy] * 2, 12, torch.Generator().manual_seed(3))
    est = trainer.estimate(traj)
    with torch.no_grad():
        values = trainer.learners[0].critic(traj.obs_with_final()[0], trainer._times(traj.horizon))
    td = td_errors(traj.rewards[0], values[:, :-1], trainer.config.gamma)  # episodes end: no bootstrap
    assert torch.allclose(est.shaping_advantages[0], td - td.mean(0), atol=1e-5)
    lam = gae(traj.rewards[0], values[:, :-1], trainer.config.gamma, trainer.config.gae_lambda)
    assert torch.allclose(est.advantages[0], lam - lam.mean(0), atol=1e-5)
    batch = trainer.learner_batch(traj, est, [(0, torch.arange(12)), (1, torch.arange(12))])
    assert torch.equal(batch.shaping_advantages, est.shaping_advantages.reshape(24, -1))
    assert torch.equal(batch.other_advantages[0], est.shaping_advantages.flip(0).reshape(24, -1))
    # the default (None) reuses the policy-gradient advantages, and non-shaping rules never compute them
    assert Trainer(_tiny()).estimate(traj).shaping_advantages is None
    assert Trainer(_tiny("ppo", shaping_gae_lambda=0.0)).estimate(traj).shaping_advantages is None


def test_loqa_taken_q_is_the_uncentred_advantage_plus_value():
    """LOQA's estimate of Q(s_t, b_t) must not depend on centring the advantages for the actor."""
    from aa_lib.advantages import gae

    centred, raw = Trainer(_tiny("loqa", center_advantages=True)), Trainer(_tiny("loqa", center_advantages=False))
    raw.learners[0].critic.load_state_dict(centred.learners[0].critic.state_dict())
    traj = collect_rollout(centred.env, [centred.policy, centred.policy], 16, torch.Generator().manual_seed(0))
    est_c, est_r = centred.estimate(traj), raw.estimate(traj)
    assert torch.allclose(est_c.taken_q, est_r.taken_q)
    assert not torch.allclose(est_c.advantages, est_r.advantages)  # the actor's advantages are centred
    values = est_r.values
    expected = gae(traj.rewards[0], values[0], centred.config.gamma, centred.config.gae_lambda,
                   next_value=torch.zeros(16)) + values[0]  # episodes end at the last step
    assert torch.allclose(est_c.taken_q[0], expected, atol=1e-6)
    assert Trainer(_tiny("aa")).estimate(traj).taken_q is None


def test_advantages_are_centred_per_seat_with_the_learner_apart(perturb_replay_buffer):
    """With replayed agents in a seat, the learner's advantages (and the shaping advantages) are
    centred over the learner's games in that seat, and the replayed agents' over theirs; without
    a mask every game of the seat is centred together."""
    centred = Trainer(_tiny("aa", center_advantages=True, shaping_gae_lambda=0.0, batch_size=16))
    raw = Trainer(_tiny("aa", center_advantages=False, shaping_gae_lambda=0.0, batch_size=16))
    centred.train(2)
    perturb_replay_buffer(centred)  # past agents that play clearly differently
    raw.learners[0].critic.load_state_dict(centred.learners[0].critic.state_dict())
    chunks, traj, mask = centred.collect()
    assert not mask[1].all() and mask[1].any()  # seat 1: the learner in some games, past agents in others
    est, ref = centred.estimate(traj, learner_mask=mask), raw.estimate(traj, learner_mask=mask)
    one_group = centred.estimate(traj)  # no mask
    for got, base, unmasked in ((est.advantages, ref.advantages, one_group.advantages),
                                (est.shaping_advantages, ref.shaping_advantages, one_group.shaping_advantages)):
        for seat in range(2):
            for rows in (mask[seat], ~mask[seat]):
                if rows.any():
                    torch.testing.assert_close(got[seat, rows], base[seat, rows] - base[seat, rows].mean(0))
        whole = base - base.mean(1, keepdim=True)
        assert (got[1] - whole[1]).abs().max() > 1e-3  # differs from centring seat 1 as a whole
        torch.testing.assert_close(unmasked, whole)  # no mask: every game of a seat in one group


def test_a_single_learner_game_in_the_replayed_seats_warns_and_is_indeed_zeroed():
    """batch_size * current_agent_fraction = 1 puts the learner in one game of the replayed seat:
    centring makes its advantages there exactly zero, so the trainer says so up front."""
    with pytest.warns(UserWarning, match="single game per iteration"):
        trainer = Trainer(_tiny("aa", center_advantages=True, batch_size=4, current_agent_fraction=0.25))
    trainer.train(1)  # fills the buffer
    _, traj, mask = trainer.collect()
    assert mask[1].sum() == 1  # seat 1: the learner in one game, past agents in the other three
    est = trainer.estimate(traj, learner_mask=mask)
    assert est.advantages[1, mask[1]].abs().max() == 0
    assert est.advantages[0].abs().max() > 0


@pytest.mark.parametrize("over", [dict(center_advantages=True), dict(center_advantages=False, batch_size=4,
                                                                       current_agent_fraction=0.25),
                                  dict(center_advantages=True, batch_size=4, current_agent_fraction=0.0)])
def test_no_warning_when_the_learner_has_several_games_or_advantages_are_not_centred(over, recwarn):
    Trainer(_tiny("aa", **over))
    assert not [w for w in recwarn if "single game" in str(w.message)]


def test_estimate_shaping_lambda_override_equals_the_config_setting():
    base, zero = Trainer(_tiny("aa")), Trainer(_tiny("aa", shaping_gae_lambda=0.0))
    zero.learners[0].critic.load_state_dict(base.learners[0].critic.state_dict())
    traj = collect_rollout(base.env, [base.policy, base.policy], 8, torch.Generator().manual_seed(2))
    assert base.estimate(traj).shaping_advantages is None  # same lambda as the policy gradient
    assert torch.equal(base.estimate(traj, 0.0).shaping_advantages, zero.estimate(traj).shaping_advantages)
    assert base.config.shaping_gae_lambda is None  # the override does not touch the config


# --------------------------------------------------- the learning rule's hooks (issue 18)
def test_a_new_rule_brings_its_own_data_and_update_through_the_hooks(monkeypatch):
    """A rule defined outside the library plugs in by its hooks alone: it refuses a game, adds its own
    per-seat data to the estimates and the learner batch, and may take over the actor update."""
    from dataclasses import dataclass

    from aa_lib.algos import ALGORITHMS, PolicyGradientAlgorithm

    calls = []

    @dataclass
    class RewardWeighted(PolicyGradientAlgorithm):
        """Weights log pi by the learner's raw rewards; with ``own_update`` it never moves the policy."""
        name = "reward_weighted"
        own_update: bool = False

        def validate(self, env, game=""):
            if env.episode_length < 3:
                raise ValueError(f"reward_weighted needs 3 steps or more; {game!r} has {env.episode_length}")

        def extend_estimates(self, est, inputs):
            est.extras["rewards"] = 2.0 * inputs.traj.rewards

        def extend_batch(self, batch, est, traj, rows):
            batch.extras["rewards"] = rows.own(est.extras["rewards"])

        def weights(self, batch):
            return batch.extras["rewards"]

        def update_actor(self, trainer, learner_index, chunks, traj, est):
            if not self.own_update:
                return None
            calls.append((learner_index, sum(c.size for c in chunks), tuple(est.advantages.shape)))
            return {"own_update": 1.0}

    monkeypatch.setitem(ALGORITHMS, "reward_weighted", RewardWeighted)
    with pytest.raises(ValueError, match="3 steps or more; 'ipd' has 2"):
        Trainer(_tiny("reward_weighted", game_options={"episode_length": 2}))
    trainer = Trainer(_tiny("reward_weighted"))
    trainer.train(1)
    _, traj, mask = trainer.collect()
    est = trainer.estimate(traj, learner_mask=mask)
    assert torch.equal(est.extras["rewards"], 2.0 * traj.rewards)
    rows = trainer._rows(0, mask)
    batch = trainer.learner_batch(traj, est, rows)
    assert torch.equal(batch.extras["rewards"], torch.cat([2.0 * traj.rewards[s][idx] for s, idx in rows]))
    assert torch.equal(trainer.algo.final_weights(batch), batch.extras["rewards"])
    before = [p.detach().clone() for p in trainer.policy.parameters()]
    trainer.train(2)
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.policy.parameters()))  # default update
    # its own update replaces the trainer's: the policy stays, the critic still learns
    own = Trainer(_tiny("reward_weighted", algo_options={"own_update": True}))
    policy, critic = ([p.detach().clone() for p in m.parameters()] for m in (own.policy, own.learners[0].critic))
    own.train(2)
    assert calls == [(0, 12, (2, 12, 5))] * 2 and own.history[-1]["own_update"] == 1.0
    assert all(torch.equal(a, b) for a, b in zip(policy, own.policy.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(critic, own.learners[0].critic.parameters()))


def test_the_trainer_never_asks_which_rule_it_runs():
    """trainer.py calls no isinstance / hasattr / getattr on its rule and imports no concrete rule."""
    import ast
    import inspect

    import aa_lib.algos as algos
    from aa_lib.training import trainer as trainer_module

    tree = ast.parse(inspect.getsource(trainer_module))
    rule_classes = {name for name in algos.__all__ if isinstance(getattr(algos, name), type)
                    and issubclass(getattr(algos, name), algos.LearningRule)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id in ("isinstance", "hasattr", "getattr"):
            assert "algo" not in ast.unparse(node.args[0]), ast.unparse(node)
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("algos"):
            assert not {a.name for a in node.names} & rule_classes, ast.unparse(node)


def test_beta_is_a_property_of_the_rule_read_by_the_presets():
    from aa_lib.algos import ALGORITHMS, rule_takes_beta
    from aa_lib.training.presets import AA_FAMILY

    assert rule_takes_beta("aa") and rule_takes_beta("loqa") and rule_takes_beta("aa_vengeful")
    assert rule_takes_beta("aa_factored") and not rule_takes_beta("ppo") and not rule_takes_beta("lola_dice")
    for name in ALGORITHMS:
        assert ("beta" in preset("ipd", name).algo_options) == rule_takes_beta(name) == (name in AA_FAMILY), name
    with pytest.raises(ValueError, match="unknown algorithm 'nope'"):
        rule_takes_beta("nope")
