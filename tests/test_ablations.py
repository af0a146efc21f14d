"""The sign-mask study (App. C.2): quadrants and variants (aa_lib.exact.sign_masks), exact training
(aa_lib.exact.sign_mask_training), the league (aa_lib.evaluation.sign_mask_league), the Trainer route
(aa_lib.training.sign_masks) and the registered rule aa_sign_mask (aa_lib.algos.sign_mask)."""
import math
from dataclasses import replace

import pytest
import torch

from aa_lib.advantages import SIGN_MASKS, past_advantage_sum, shaping_term, time_weights
from aa_lib.algos import AdvantageAlignment, LearnerBatch, SignMaskedAdvantageAlignment
from aa_lib.evaluation.sign_mask_league import SCRIPTED_POLICIES, sign_mask_league
from aa_lib.exact.estimators import all_paths, trajectory_ensemble
from aa_lib.exact.memory_one import SEAT_SWAP
from aa_lib.exact.shaping import aa_estimator_expectation, exact_policy_gradient
from aa_lib.exact.sign_mask_training import AblationConfig, expected_per_step_rewards, train_sign_mask_variants
from aa_lib.exact.sign_masks import (
    PAPER_VARIANTS,
    QUADRANTS,
    STANDARD_VARIANTS,
    along_paths,
    quadrant_terms,
    sample_self_play,
    score_gradient,
    self_play_gradients,
    sign_mask_variant,
    variant_shaping,
)
from aa_lib.exact.tabular import solve_tabular_logits
from aa_lib.games.matrix import CHICKEN, PRISONERS_DILEMMA
from aa_lib.training.sign_masks import train_variant_with_trainer

DT = torch.float64
OPTIONS = {"past_discount": 0.9}  # the AA discount of Tables 1-2; time weight gamma^(t+1) (eq. 8)


def randn(seed, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=DT)


# ----------------------------------------------------------------------------- variants
def test_variant_names_parse_to_kept_quadrants():
    """A variant's sign_mask holds the quadrants REMOVED (the library's one convention); kept is the rest."""
    assert sign_mask_variant("naive").kept == () and sign_mask_variant("naive").sign_mask == QUADRANTS
    assert sign_mask_variant("aa").kept == QUADRANTS and sign_mask_variant("aa").sign_mask == ()
    assert sign_mask_variant("vengeful").kept == ("vengeful",)
    assert sign_mask_variant("V").kept == ("vengeful",)
    assert sign_mask_variant("vengeful").sign_mask == ("cooperative", "empathetic", "spiteful")
    assert sign_mask_variant("aa-V").sign_mask == ("vengeful",)
    assert sign_mask_variant("C+V").kept == ("cooperative", "vengeful")
    assert sign_mask_variant("aa-V").kept == ("cooperative", "empathetic", "spiteful")
    assert sign_mask_variant("aa-vengeful").kept == sign_mask_variant("aa-V").kept
    assert sign_mask_variant("aa-CE").kept == ("vengeful", "spiteful")
    assert sign_mask_variant("aa-C-E").kept == ("vengeful", "spiteful")
    assert sign_mask_variant("C+E+V+S").kept == QUADRANTS
    for name in STANDARD_VARIANTS + PAPER_VARIANTS:
        assert sign_mask_variant(name).name == name


@pytest.mark.parametrize("bad", ["X", "aa-Q", "cooperative+nice", ""])
def test_bad_variant_names_are_refused(bad):
    with pytest.raises((ValueError, TypeError)):
        sign_mask_variant(bad)


def test_quadrant_definitions_follow_the_library():
    """cooperative (+,+), empathetic (+,-), vengeful (-,+), spiteful (-,-): (own past sum, other's advantage)."""
    assert SIGN_MASKS == {"cooperative": (1, 1), "empathetic": (1, -1), "vengeful": (-1, 1), "spiteful": (-1, -1)}
    own, other = randn(0, 64, 6), randn(1, 64, 6)
    terms = quadrant_terms(own, other, 0.9, **OPTIONS)
    past = past_advantage_sum(own, 0.9)
    for q, (s_own, s_other) in zip(QUADRANTS, SIGN_MASKS.values()):
        live = terms[QUADRANTS.index(q)] != 0
        assert live.any()
        assert (torch.sign(past[live]) == s_own).all() and (torch.sign(other[live]) == s_other).all()
        # the sign of the weight is the product of the signs (the time weight is positive)
        assert (torch.sign(terms[QUADRANTS.index(q)][live]) == s_own * s_other).all()


# ------------------------------------------------------------------- the AA term split
@pytest.mark.parametrize("options", [OPTIONS, {}, {"past_discount": 1.0, "time_weight": "gamma^t"},
                                     {"past_discount": 0.5, "time_weight": "1/(1+t)"}])
def test_quadrants_partition_the_aa_term(options):
    own, other = randn(2, 32, 8), randn(3, 32, 8)
    full = shaping_term(own, other, 0.9, **options)
    terms = quadrant_terms(own, other, 0.9, **options)
    assert ((terms != 0).sum(0) <= 1).all()  # every term lies in one quadrant (or is zero)
    assert ((terms != 0).sum(0) == (full != 0)).all()
    assert torch.allclose(terms.sum(0), full, atol=1e-12, rtol=0)
    # each quadrant equals the library's shaping_term with the other three removed
    for i, q in enumerate(QUADRANTS):
        alone = shaping_term(own, other, 0.9, sign_mask=[r for r in QUADRANTS if r != q], **options)
        assert torch.allclose(terms[i], alone, atol=1e-12, rtol=0)
        assert torch.equal(variant_shaping(q, own, other, 0.9, **options), alone)


def test_quadrant_terms_use_the_library_past_sum():
    """The split is f(t) * past_advantage_sum(A1) * A2 exactly (no second implementation of S_t)."""
    own, other = randn(20, 7, 9), randn(21, 7, 9)
    for decay in (0.0, 0.5, 0.9, 1.0):
        expected = time_weights(9, 0.9, "gamma^(t+1)", DT) * past_advantage_sum(own, decay) * other
        assert torch.equal(quadrant_terms(own, other, 0.9, past_discount=decay).sum(0), expected)


def test_quadrant_terms_refuse_bad_input():
    with pytest.raises(ValueError):
        quadrant_terms(randn(0, 3, 4), randn(1, 3, 5), 0.9)
    with pytest.raises(ValueError):
        quadrant_terms(randn(0, 3, 4), randn(1, 3, 4), 1.5)
    with pytest.raises(ValueError):
        quadrant_terms(randn(0, 3, 4), torch.full((3, 4), float("nan"), dtype=DT), 0.9)


def test_variant_with_every_quadrant_is_full_aa_and_naive_has_no_term():
    own, other = randn(4, 16, 5), randn(5, 16, 5)
    full = shaping_term(own, other, 0.96, **OPTIONS)
    assert torch.equal(variant_shaping("aa", own, other, 0.96, **OPTIONS), full)
    assert torch.equal(variant_shaping("C+E+V+S", own, other, 0.96, **OPTIONS), full)
    assert torch.equal(variant_shaping("naive", own, other, 0.96, **OPTIONS), torch.zeros_like(own))
    # the paper's "AA minus V" is AA minus the vengeful quadrant
    minus_v = full - variant_shaping("vengeful", own, other, 0.96, **OPTIONS)
    assert torch.allclose(variant_shaping("aa-V", own, other, 0.96, **OPTIONS), minus_v, atol=1e-15)


def test_masked_algorithm_matches_variant_shaping_and_library_aa():
    own, other = randn(6, 12, 7).float(), randn(7, 1, 12, 7).float()
    batch = LearnerBatch(obs=torch.zeros(12, 7, 5), actions=torch.zeros(12, 7, dtype=torch.long),
                         old_log_probs=torch.zeros(12, 7), advantages=own, other_advantages=other, gamma=0.9)
    for name in ("vengeful", "C+E", "aa-S"):
        algo = SignMaskedAdvantageAlignment(sign_mask=sign_mask_variant(name).sign_mask, beta=1.0, aa_gamma=0.9)
        assert torch.equal(algo.shaping(batch), variant_shaping(name, own, other[0], 0.9, past_discount=0.9))
    nothing_removed = SignMaskedAdvantageAlignment(sign_mask=(), beta=0.3)
    assert torch.equal(nothing_removed.shaping(batch), AdvantageAlignment(beta=0.3).shaping(batch))
    # the registry's single-quadrant rule removes that quadrant: aa_spiteful == variant aa-S
    from aa_lib.algos import make_algorithm
    assert torch.equal(make_algorithm("aa_spiteful").shaping(batch),
                       SignMaskedAdvantageAlignment(sign_mask=sign_mask_variant("aa-S").sign_mask).shaping(batch))
    with pytest.raises(ValueError):
        SignMaskedAdvantageAlignment(sign_mask=("friendly",))
    with pytest.raises(TypeError):
        AdvantageAlignment(sign_mask="vengeful")  # one home: masks belong to the sign-mask rule


# ------------------------------------------------------- sampling and score gradients
def test_sampled_paths_follow_the_game_rules():
    tft = torch.tensor([SCRIPTED_POLICIES["TFT"]], dtype=DT)
    ad = torch.tensor([SCRIPTED_POLICIES["AD"]], dtype=DT)
    states, a, b = sample_self_play(tft, 5, 3, torch.Generator().manual_seed(0), p_other=ad)
    assert states.shape == a.shape == b.shape == (1, 3, 5)
    assert (b == 1).all()  # AD always defects
    assert (a[..., 0] == 0).all() and (a[..., 1:] == 1).all()  # TFT: C first, then copies D
    assert (states[..., 0] == 0).all()
    assert torch.equal(states[..., 1:], 1 + 2 * a[..., :-1] + b[..., :-1])


def test_sampled_action_frequencies_match_the_policy():
    p = torch.tensor([[0.2, 0.9, 0.5, 0.7, 0.1]], dtype=DT)
    states, a, _ = sample_self_play(p, 8, 4000, torch.Generator().manual_seed(1))
    for s in range(5):
        hit = states == s
        n = int(hit.sum())
        freq = float((a[hit] == 0).double().mean())
        assert abs(freq - float(p[0, s])) < 5 * math.sqrt(0.25 / n), (s, freq, n)


def test_along_paths_reads_the_table_entry_of_each_step():
    table = randn(8, 2, 3, 5, 2, 2)
    states = torch.tensor([[[0, 4, 1], [0, 2, 3]], [[0, 1, 1], [0, 3, 2]]])
    a = torch.tensor([[[1, 0, 0], [0, 1, 1]], [[0, 0, 1], [1, 0, 1]]])
    b = torch.tensor([[[1, 0, 1], [1, 0, 0]], [[0, 0, 0], [0, 1, 1]]])
    got = along_paths(table, states, a, b)
    for i in range(2):
        for n in range(2):
            for t in range(3):
                assert got[i, n, t] == table[i, t, states[i, n, t], a[i, n, t], b[i, n, t]]


def _enumerated(theta1, theta2, game, gamma, T):
    """Every path of the T-step game, its exact probability and the exact advantages along it."""
    sol = solve_tabular_logits(theta1, theta2, game, gamma, T)
    ens = trajectory_ensemble(sol)
    paths = all_paths(T)
    B = theta1.shape[0]
    expand = lambda x: x.expand(B, *x.shape)  # noqa: E731
    states, a, b = expand(paths.states), expand(paths.actions1), expand(paths.actions2)
    adv1, adv2 = sol.advantages()
    return states, a, b, along_paths(adv1, states, a, b), along_paths(adv2, states, a, b), ens.probs


@pytest.mark.parametrize("variant", ["aa", "cooperative", "empathetic", "vengeful", "spiteful", "aa-CE"])
def test_score_gradient_over_all_paths_is_the_exact_aa_expectation(variant):
    """sum_paths Pr(path) sum_t w_t grad log pi1 == aa_lib.exact.shaping.aa_estimator_expectation."""
    T, gamma = 4, 0.9
    th1, th2 = randn(10, 3, 5), randn(11, 3, 5)
    states, a, b, A1, A2, probs = _enumerated(th1, th2, PRISONERS_DILEMMA, gamma, T)
    w = variant_shaping(variant, A1.reshape(-1, T), A2.reshape(-1, T), gamma, **OPTIONS).reshape(A1.shape)
    ours = score_gradient(torch.sigmoid(th1), states, a, w, probs)
    removed = sign_mask_variant(variant).sign_mask or None
    ref = aa_estimator_expectation(th1, th2, PRISONERS_DILEMMA, gamma, T, sign_mask=removed, **OPTIONS)
    assert torch.allclose(ours, ref, atol=1e-12, rtol=1e-10)
    assert ref.abs().max() > 1e-3


def test_score_gradient_from_the_second_seat_is_the_exact_aa_expectation_of_player_2():
    T, gamma = 3, 0.8
    th1, th2 = randn(12, 2, 5), randn(13, 2, 5)
    states, a, b, A1, A2, probs = _enumerated(th1, th2, CHICKEN, gamma, T)
    w = variant_shaping("vengeful", A2.reshape(-1, T), A1.reshape(-1, T), gamma, **OPTIONS).reshape(A1.shape)
    ours = score_gradient(torch.sigmoid(th2), torch.tensor(SEAT_SWAP)[states], b, w, probs)
    swapped_game = torch.as_tensor(CHICKEN.payoffs, dtype=DT).flip(0)
    ref = aa_estimator_expectation(th2, th1, swapped_game, gamma, T,
                                   sign_mask=sign_mask_variant("vengeful").sign_mask, **OPTIONS)
    assert torch.allclose(ours, ref, atol=1e-12, rtol=1e-10)


def test_score_gradient_of_discounted_advantages_is_the_exact_policy_gradient():
    T, gamma = 4, 0.9
    th1, th2 = randn(14, 2, 5), randn(15, 2, 5)
    states, a, b, A1, _, probs = _enumerated(th1, th2, PRISONERS_DILEMMA, gamma, T)
    w = A1 * gamma ** torch.arange(T, dtype=DT)
    ours = score_gradient(torch.sigmoid(th1), states, a, w, probs)
    ref = exact_policy_gradient(th1, th2, PRISONERS_DILEMMA, gamma, T)
    assert torch.allclose(ours, ref, atol=1e-12)


def test_self_play_gradients_converge_to_the_exact_expectation():
    """The sampled quadrant gradients are unbiased: within 5 standard errors of the enumerated expectation."""
    T, gamma, n, repeats = 3, 0.9, 1000, 20
    theta = randn(16, 2, 5)
    gen = torch.Generator().manual_seed(3)
    runs = [self_play_gradients(theta, "Prisoner's Dilemma", gamma, T, n, gen, **OPTIONS) for _ in range(repeats)]
    naive = runs[0][0]
    quadrants = torch.stack([q for _, q in runs])  # [repeats, 4, 2, 5]
    assert torch.allclose(naive, exact_policy_gradient(theta, theta, PRISONERS_DILEMMA, gamma, T), atol=1e-12)
    mean, stderr = quadrants.mean(0), quadrants.std(0) / math.sqrt(repeats)
    for i, q in enumerate(QUADRANTS):
        removed = [r for r in QUADRANTS if r != q]
        ref = aa_estimator_expectation(theta, theta, PRISONERS_DILEMMA, gamma, T, sign_mask=removed, **OPTIONS)
        assert ((mean[i] - ref).abs() <= 5 * stderr[i] + 1e-12).all(), q
        assert ref.abs().max() > 10 * stderr[i].max(), q  # the check has power: the signal beats the noise


# ------------------------------------------------------------------------ training
SMALL = dict(n_seeds=2, iterations=3, batch_size=32, episode_length=6, record_every=1)


def test_training_is_deterministic_for_a_seed():
    one = train_sign_mask_variants(**SMALL, seed=5)
    two = train_sign_mask_variants(**SMALL, seed=5)
    other = train_sign_mask_variants(**SMALL, seed=6)
    assert torch.equal(one.theta, two.theta) and torch.equal(one.reward_history, two.reward_history)
    assert not torch.equal(one.theta, other.theta)
    assert one.theta.shape == (len(STANDARD_VARIANTS), 2, 5)
    assert one.theta_history.shape == (4, len(STANDARD_VARIANTS), 2, 5)
    assert one.iterations.tolist() == [0, 1, 2, 3]


def test_naive_training_step_is_exact_gradient_ascent():
    cfg = AblationConfig(variants=("naive", "aa"), beta=0.0, lr=0.7, **SMALL)
    run = train_sign_mask_variants(cfg)
    theta0 = run.theta_history[0, 0]
    step = exact_policy_gradient(theta0, theta0, PRISONERS_DILEMMA, cfg.gamma, cfg.episode_length)
    assert torch.allclose(run.theta_history[1, 0], theta0 + 0.7 * step, atol=1e-12)
    # beta = 0: AA is naive (equal up to rounding: the two rows sit at different places of one batch)
    assert torch.allclose(run.theta_history[:, 0], run.theta_history[:, 1], atol=1e-12, rtol=0)
    # every variant starts from the same initial policies
    assert torch.equal(run.theta_history[0, 0], run.theta_history[0, 1])


def test_variants_with_the_same_kept_quadrants_train_identically():
    run = train_sign_mask_variants(variants=("aa-CE", "V+S", "aa-VS", "C+E"), **SMALL)
    same = lambda x, y: torch.allclose(x, y, atol=1e-12, rtol=0)  # noqa: E731  (rounding of batch position)
    assert same(run.theta[0], run.theta[1]) and same(run.theta[2], run.theta[3])
    assert not same(run.theta[0], run.theta[2])


def test_threads_are_restored_after_training():
    before = torch.get_num_threads()
    train_sign_mask_variants(**SMALL, num_threads=1)
    assert torch.get_num_threads() == before


def test_config_refuses_bad_values():
    for bad in (dict(variants=()), dict(variants=("aa", "aa")), dict(n_seeds=0), dict(gamma=1.5), dict(num_threads=0),
                dict(beta=-1.0), dict(time_weight="t^2"), dict(game="Poker"), dict(variants=("nope",))):
        with pytest.raises((ValueError, TypeError)):
            AblationConfig(**bad)


def test_run_summary_and_state_visits():
    run = train_sign_mask_variants(**SMALL)
    visits = run.state_visits()
    assert visits.shape == (len(STANDARD_VARIANTS), 2, 5)
    assert torch.allclose(visits.sum(-1), torch.ones(len(STANDARD_VARIANTS), 2, dtype=DT))
    assert torch.allclose(visits[..., 0], torch.full_like(visits[..., 0], 1 / 6))  # start: step 0 of 6
    summary = run.summary()
    assert list(summary) == list(STANDARD_VARIANTS)
    assert summary["aa"]["self_play_reward"] == pytest.approx(float(run.self_play_reward[1].mean()))
    assert "variant" in run.to_text()


# -------------------------------------------------------------------------- league
def test_exact_league_scripted_entries_and_symmetry():
    run = train_sign_mask_variants(**SMALL)
    league = sign_mask_league(run)
    T = run.config.episode_length
    assert league.names == list(STANDARD_VARIANTS) + ["AC", "AD", "TFT"]
    assert league.value("AC", "AD") == pytest.approx(-3.0)
    assert league.value("AD", "AC") == pytest.approx(0.0)
    assert league.value("TFT", "TFT") == pytest.approx(-1.0)
    assert league.value("TFT", "AD") == pytest.approx((-3.0 - 2.0 * (T - 1)) / T)
    assert league.value("AD", "TFT") == pytest.approx((0.0 - 2.0 * (T - 1)) / T)
    # the game is symmetric: the row's reward against j equals j's opponent reward as row
    assert torch.allclose(league.table, league.opponent_table.T, atol=1e-12)
    n = len(STANDARD_VARIANTS)
    assert torch.equal(league.std[n:, n:], torch.zeros(3, 3, dtype=league.std.dtype))
    # the row's entry averages the exact rewards of every seed pair
    p = run.p_cooperate
    r1, _ = expected_per_step_rewards(p[1][:, None], p[2][None, :], PRISONERS_DILEMMA, T)
    assert league.value("aa", "cooperative") == pytest.approx(float(r1.mean()))


def test_sampled_league_agrees_with_the_exact_one():
    run = train_sign_mask_variants(variants=("naive", "aa"), **SMALL)
    exact = sign_mask_league(run, seeds=[0])
    sampled = sign_mask_league(run, method="sampled", batch_size=2000, seed=1, seeds=[0])
    # per-step rewards lie in [-3, 0]: a game's mean has std <= 1.5, so the standard error is <= 1.5/sqrt(2000)
    assert (sampled.table - exact.table).abs().max() < 5 * 1.5 / math.sqrt(2000)
    with pytest.raises(ValueError):
        sign_mask_league(run, method="guess")
    with pytest.raises(ValueError):
        sign_mask_league(run, scripted=("Saint",))
    with pytest.raises(ValueError):
        sign_mask_league(run, seeds=[7])


def test_trainer_runs_a_masked_variant():
    init = torch.tensor([1.0, 0.5, -0.5, 0.0, -1.0])
    trainer = train_variant_with_trainer("vengeful", iterations=2, batch_size=16, init_theta=init, seed=3)
    assert isinstance(trainer.algo, SignMaskedAdvantageAlignment) and trainer.config.algo == "aa_sign_mask"
    assert trainer.algo.sign_mask == ("cooperative", "empathetic", "spiteful")  # the vengeful quadrant alone
    assert len(trainer.history) == 2 and not torch.equal(trainer.policy.theta.detach(), init)
    assert type(train_variant_with_trainer("aa", iterations=1, batch_size=8).algo) is AdvantageAlignment
    with pytest.raises(ValueError):
        train_variant_with_trainer("aa", iterations=1, init_theta=torch.zeros(4))


def test_common_random_numbers_give_identical_episodes_to_identical_policies():
    p = torch.tensor([[0.3, 0.8, 0.4, 0.6, 0.2], [0.9, 0.1, 0.5, 0.5, 0.7]], dtype=DT)
    states, a, b = sample_self_play(p.repeat(3, 1), 6, 10, torch.Generator().manual_seed(2), noise_repeats=3)
    for block in (2, 4):
        assert torch.equal(states[block:block + 2], states[:2]) and torch.equal(a[block:block + 2], a[:2])
    assert not torch.equal(states[0], states[1])
    with pytest.raises(ValueError):
        sample_self_play(p, 6, 10, noise_repeats=3)


def test_score_gradient_by_groups_splits_the_sum():
    p = torch.sigmoid(randn(20, 3, 5))
    states, a, _ = sample_self_play(p, 5, 7, torch.Generator().manual_seed(4))
    w = randn(21, 3, 7, 5)
    groups = torch.randint(0, 4, states.shape, generator=torch.Generator().manual_seed(5))
    split = score_gradient(p, states, a, w, groups=groups, n_groups=4)
    assert split.shape == (4, 3, 5)
    assert torch.allclose(split.sum(0), score_gradient(p, states, a, w), atol=1e-12)
    for g in range(4):
        assert torch.allclose(split[g], score_gradient(p, states, a, w * (groups == g)), atol=1e-12)


def test_training_on_cuda_without_a_gpu_is_refused_up_front(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"config.device='cuda', but torch sees no CUDA GPU"):
        train_sign_mask_variants(device="cuda", iterations=1)


# ------------------------------------------------------- the registered sign-mask rule
def test_sign_mask_rule_is_registered_and_removes_the_named_quadrants():
    """``aa_sign_mask`` (algos/sign_mask.py): sign_mask names the quadrants REMOVED, as shaping_term's."""
    from aa_lib.algos import ALGORITHMS, make_algorithm, rule_takes_beta
    from aa_lib.training import TrainConfig, Trainer

    own, other = randn(30, 10, 6).float(), randn(31, 1, 10, 6).float()
    batch = LearnerBatch(obs=torch.zeros(10, 6, 5), actions=torch.zeros(10, 6, dtype=torch.long),
                         old_log_probs=torch.zeros(10, 6), advantages=own, other_advantages=other, gamma=0.9)
    assert ALGORITHMS["aa_sign_mask"] is SignMaskedAdvantageAlignment and rule_takes_beta("aa_sign_mask")
    rule = make_algorithm("aa_sign_mask", sign_mask=("vengeful", "cooperative"), beta=0.5)
    assert rule.sign_mask == ("cooperative", "vengeful")  # stored in SIGN_MASKS order
    assert torch.equal(rule.shaping(batch), shaping_term(own, other, 0.9, past_discount=0.9,
                                                         sign_mask=("cooperative", "vengeful")))
    assert torch.equal(make_algorithm("aa_sign_mask", sign_mask="spiteful").shaping(batch),
                       make_algorithm("aa_spiteful").shaping(batch))
    assert torch.equal(make_algorithm("aa_sign_mask").shaping(batch), AdvantageAlignment().shaping(batch))
    everything = make_algorithm("aa_sign_mask", sign_mask=tuple(SIGN_MASKS), beta=2.0)
    assert torch.equal(everything.weights(batch), own)  # no quadrant left: the naive weight
    with pytest.raises(ValueError, match="removed"):
        make_algorithm("aa_sign_mask", sign_mask=("friendly",))
    # the trainer runs it with no change: the same run as aa_vengeful
    cfg = TrainConfig(game="ipd", algo="aa_vengeful", game_options={"episode_length": 5}, batch_size=8, hidden=8)
    a = Trainer(cfg)
    b = Trainer(replace(cfg, algo="aa_sign_mask", algo_options={"sign_mask": ["vengeful"]}))
    for trainer in (a, b):
        trainer.train(2)
    assert a.history == b.history
    assert all(torch.equal(p, q) for p, q in zip(a.policy.parameters(), b.policy.parameters()))
