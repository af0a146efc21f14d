"""Issue 24: every bad value is refused where it enters, with a message naming the argument.

Property-based (hypothesis): random invalid values for every TrainConfig field, every learning-rule
option given through ``algo_options``, the environments' and exact learners' arguments, and the
functions that take a discount, a horizon, logits or probabilities. Each must raise a ValueError or
TypeError whose message names the argument; valid values of the same fields must be accepted.
"""
import math
import re
from dataclasses import fields

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aa_lib._validation import check_int, check_number
from aa_lib.advantages import TIME_WEIGHTS, past_advantage_sum, time_weights
from aa_lib.exact.learning import run_exact_learning
from aa_lib.exact.memory_one import memory_one_values, policy_logits
from aa_lib.games.coin import CoinGame
from aa_lib.games.iterated import IteratedMatrixGame
from aa_lib.games.matrix import PRISONERS_DILEMMA, MatrixGame
from aa_lib.games.negotiation import NegotiationGame
from aa_lib.training.config import TrainConfig
from aa_lib.training.presets import preset

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAN, INF = float("nan"), float("inf")

# ------------------------------------------------------------------ invalid values
not_numbers = st.one_of(st.text(max_size=4), st.none(), st.booleans(), st.lists(st.integers(), max_size=2),
                        st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))
non_finite = st.sampled_from([NAN, INF, -INF])


def outside_unit_interval():
    return st.one_of(st.floats(allow_nan=False).filter(lambda x: not 0.0 <= x <= 1.0),
                     st.integers().filter(lambda x: not 0 <= x <= 1), non_finite, not_numbers)


def not_positive_finite():
    return st.one_of(st.floats(max_value=0.0), st.integers(max_value=0), non_finite, not_numbers)


def not_positive_int():
    return st.one_of(st.integers(max_value=0), st.floats(allow_nan=True), st.booleans(), st.text(max_size=3),
                     st.none())


def not_nonnegative_int():
    return st.one_of(st.integers(max_value=-1), st.floats(allow_nan=True), st.booleans(), st.text(max_size=3),
                     st.none())


def not_bool():
    return st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=3), st.none())


#: TrainConfig field -> strategy of values it must refuse (the field's None, where allowed, is valid).
INVALID_FIELDS = {
    "game": st.text(max_size=8).filter(lambda s: s not in ("ipd", "coin", "negotiation", "commons")),
    "game_options": st.one_of(st.lists(st.integers(), max_size=2), st.text(max_size=3), st.integers()),
    "algo": st.text(max_size=8).filter(lambda s: s not in __import__("aa_lib.algos").algos.ALGORITHMS),
    "algo_options": st.one_of(st.lists(st.integers(), max_size=2), st.text(max_size=3), st.integers()),
    "iterations": not_positive_int(),
    "batch_size": not_positive_int(),
    "horizon": not_positive_int().filter(lambda v: v is not None),
    "gamma": outside_unit_interval(),
    "gae_lambda": outside_unit_interval(),
    "shaping_gae_lambda": outside_unit_interval().filter(lambda v: v is not None),
    "center_advantages": not_bool(),
    "actor_lr": not_positive_finite(),
    "critic_lr": not_positive_finite(),
    "critic_ema": outside_unit_interval(),
    "critic_updates": not_positive_int(),
    "hidden": not_positive_int(),
    "recurrent": not_bool(),
    "critic_recurrent": not_bool().filter(lambda v: v is not None),
    "policy": st.text(max_size=8).filter(lambda s: s not in ("neural", "memory_one")),
    "max_grad_norm": not_positive_finite().filter(lambda v: v is not None),
    "self_play": not_bool(),
    "replay_capacity": not_nonnegative_int(),
    "replay_push_every": not_positive_int(),
    "current_agent_fraction": outside_unit_interval(),
    "replay_seats": not_positive_int(),
    "replay_groups": not_positive_int(),
    "seed": st.one_of(st.floats(), st.text(max_size=3), st.booleans(), st.none(),
                      st.integers(max_value=-(2 ** 63) - 1), st.integers(min_value=2 ** 63)),
    "device": st.one_of(st.integers(), st.none(), st.floats(allow_nan=False)),
}

#: The message must name the field; for these it names the choice instead.
_NAMED_BY = {"game": "game", "algo": "algorithm"}


def test_every_trainconfig_field_has_an_invalid_strategy():
    assert set(INVALID_FIELDS) == {f.name for f in fields(TrainConfig)}


@pytest.mark.parametrize("name", sorted(INVALID_FIELDS))
def test_an_invalid_trainconfig_field_is_refused_naming_it(name):
    @FAST
    @given(INVALID_FIELDS[name])
    def check(value):
        with pytest.raises((ValueError, TypeError), match=re.escape(_NAMED_BY.get(name, name))):
            TrainConfig(**{name: value})

    check()


VALID_FIELDS = {
    "gamma": st.floats(0.0, 1.0), "gae_lambda": st.floats(0.0, 1.0), "critic_ema": st.floats(0.0, 1.0),
    "current_agent_fraction": st.floats(0.0, 1.0), "shaping_gae_lambda": st.one_of(st.none(), st.floats(0.0, 1.0)),
    "actor_lr": st.floats(1e-9, 10.0), "critic_lr": st.floats(1e-9, 10.0),
    "max_grad_norm": st.one_of(st.none(), st.floats(1e-6, 1e6)), "horizon": st.one_of(st.none(), st.integers(1, 99)),
    "replay_capacity": st.integers(0, 10 ** 6), "seed": st.integers(-(2 ** 63), 2 ** 63 - 1),
    "iterations": st.integers(1, 10 ** 6), "critic_recurrent": st.one_of(st.none(), st.booleans()),
}


@pytest.mark.parametrize("name", sorted(VALID_FIELDS))
def test_valid_values_of_the_same_fields_are_accepted(name):
    @FAST
    @given(VALID_FIELDS[name])
    def check(value):
        assert getattr(TrainConfig(**{name: value}), name) == value

    check()


def test_the_messages_give_the_allowed_range_and_the_value():
    cases = {"gamma": (1.5, "gamma must be in [0, 1], got 1.5"),
             "max_grad_norm": (-1, "max_grad_norm must be in (0, inf), got -1"),
             "critic_ema": (5, "critic_ema must be in [0, 1], got 5"),
             "replay_capacity": (-1, "replay_capacity must be an integer >= 0, got -1"),
             "horizon": (-3, "horizon must be an integer >= 1, got -3"),
             "seed": ("abc", "seed must be an integer, got str 'abc'"),
             "actor_lr": (NAN, "actor_lr must be a finite number in (0, inf), got nan")}
    for name, (value, message) in cases.items():
        with pytest.raises((ValueError, TypeError)) as info:
            TrainConfig(**{name: value})
        assert str(info.value) == message


# ------------------------------------------------------------- learning-rule options
#: (rule, option) -> invalid values; the option's type and range come from the rule's field.
INVALID_OPTIONS = {
    ("naive", "entropy_coef"): st.one_of(st.floats(max_value=-1e-9), non_finite, not_numbers),
    ("ppo", "clip"): st.one_of(st.floats(max_value=0.0), non_finite, not_numbers.filter(lambda v: v is not None)),
    ("ppo", "n_epochs"): not_positive_int(),
    ("paa", "n_epochs"): not_positive_int(),
    ("aa", "beta"): st.one_of(non_finite, not_numbers),
    ("aa", "aa_gamma"): outside_unit_interval().filter(lambda v: v is not None),
    ("aa", "time_weight"): st.text(max_size=5).filter(lambda s: s not in TIME_WEIGHTS),
    ("loqa", "temperature"): not_positive_finite(),
    ("lola_dice", "lookahead_lr"): not_positive_finite(),
    ("aa", "standardize"): not_bool(),
    ("aa", "bogus_option"): st.integers(),
}


@pytest.mark.parametrize("algo,option", sorted(INVALID_OPTIONS))
def test_an_invalid_rule_option_is_refused_when_the_config_is_built(algo, option):
    @FAST
    @given(INVALID_OPTIONS[(algo, option)])
    def check(value):
        with pytest.raises((ValueError, TypeError), match=re.escape(f"algo_options.{option}")):
            TrainConfig(algo=algo, algo_options={option: value})

    check()


def test_the_issue_examples_of_rule_options_and_presets():
    with pytest.raises(ValueError, match=r"algo_options.clip must be in \(0, inf\), got -0.2"):
        preset("coin", "ppo", algo_options={"clip": -0.2})
    with pytest.raises(ValueError, match=r"algo_options.n_epochs must be an integer >= 1, got 0"):
        preset("commons", "paa", algo_options={"n_epochs": 0})
    with pytest.raises(ValueError, match="algo_options.beta must be a finite number, got inf"):
        preset("ipd", "aa", algo_options={"beta": INF})
    with pytest.raises(ValueError, match="unknown algorithm 'bogus_algo'"):
        preset("ipd", "bogus_algo")
    with pytest.raises(ValueError, match="unknown TrainConfig fields \\['hiden'\\]"):
        preset("ipd", "aa", hiden=3)
    # valid options of every preset and rule still build
    assert preset("commons", "paa").algo_options["n_epochs"] == 2
    assert preset("ipd", "aa", algo_options={"beta": -0.5}).algo_options["beta"] == -0.5


# -------------------------------------------------------------- environments
ENV_ARGUMENTS = {
    (CoinGame, "penalty"): st.one_of(non_finite, not_numbers),
    (CoinGame, "grid_size"): st.one_of(st.integers(max_value=1), st.floats(), st.text(max_size=2)),
    (CoinGame, "episode_length"): not_positive_int(),
    (CoinGame, "observe_thefts"): not_bool(),
    (NegotiationGame, "max_proposal"): not_positive_finite(),
    (NegotiationGame, "min_total"): not_positive_finite(),
    (NegotiationGame, "low_value"): st.one_of(st.floats(max_value=-1e-9), non_finite, not_numbers),
    (NegotiationGame, "high_value"): not_positive_finite(),
    (NegotiationGame, "episode_length"): not_positive_int(),
    (IteratedMatrixGame, "episode_length"): not_positive_int(),
}


@pytest.mark.parametrize("env_class,argument", sorted(ENV_ARGUMENTS, key=lambda k: (k[0].__name__, k[1])),
                         ids=lambda v: getattr(v, "__name__", v))
def test_an_invalid_environment_argument_is_refused_naming_it(env_class, argument):
    @FAST
    @given(ENV_ARGUMENTS[(env_class, argument)])
    def check(value):
        with pytest.raises((ValueError, TypeError), match=argument):
            env_class(**{argument: value})

    check()


def test_environment_examples_of_the_issue():
    with pytest.raises(ValueError, match="penalty must be a finite number, got nan"):
        CoinGame(penalty=NAN)
    with pytest.raises(ValueError, match=r"max_proposal must be a finite number in \(0, inf\), got inf"):
        NegotiationGame(max_proposal=INF)
    with pytest.raises(ValueError, match="payoffs contains NaN"):
        MatrixGame("broken", torch.full((2, 2, 2), NAN))
    assert CoinGame(penalty=-1).penalty == -1.0 and NegotiationGame(max_proposal=3).action_high == 3.0


# ---------------------------------------------------- functions where values enter
@FAST
@given(st.one_of(st.integers(max_value=0), st.floats(), st.text(max_size=2), st.none()))
def test_time_weights_refuses_a_bad_horizon(horizon):
    with pytest.raises((ValueError, TypeError), match="horizon"):
        time_weights(horizon, 0.9)


@FAST
@given(outside_unit_interval())
def test_time_weights_and_past_advantage_sum_refuse_a_bad_discount(value):
    with pytest.raises((ValueError, TypeError), match="gamma"):
        time_weights(4, value)
    with pytest.raises((ValueError, TypeError), match="decay"):
        past_advantage_sum(torch.ones(2, 4), value)


def test_time_weights_and_past_advantage_sum_keep_their_values():
    assert torch.allclose(time_weights(3, 0.5), torch.tensor([0.5, 0.25, 0.125], dtype=torch.float64))
    assert torch.equal(past_advantage_sum(torch.ones(1, 3), 0.5), torch.tensor([[0.0, 0.5, 0.75]]))
    with pytest.raises(ValueError, match="time_weight must be one of"):
        time_weights(3, 0.5, "gamma^2")


@FAST
@given(st.integers(0, 4), st.sampled_from(["theta1", "theta2"]))
def test_memory_one_values_refuses_nan_logits_naming_the_player(index, name):
    thetas = {"theta1": torch.zeros(5, dtype=torch.float64), "theta2": torch.zeros(5, dtype=torch.float64)}
    thetas[name][index] = NAN
    with pytest.raises(ValueError, match=f"{name} contains NaN"):
        memory_one_values(thetas["theta1"], thetas["theta2"], PRISONERS_DILEMMA, 0.9)


def test_deterministic_logits_are_still_allowed():
    v1, v2 = memory_one_values(torch.full((5,), INF, dtype=torch.float64), torch.full((5,), INF, dtype=torch.float64),
                               PRISONERS_DILEMMA, 0.5)
    assert float(v1) == float(v2) == -2.0  # always cooperate: -1 per step, sum 1 / (1 - 0.5)


@FAST
@given(st.one_of(st.floats(allow_nan=False).filter(lambda x: not 0.0 <= x <= 1.0), st.just(NAN)))
def test_policy_logits_refuses_values_that_are_not_probabilities(bad):
    with pytest.raises(ValueError, match=r"p_cooperate must hold probabilities in \[0, 1\]"):
        policy_logits([0.5, bad, 0.5, 0.5, 0.5])


def test_policy_logits_of_valid_probabilities_is_unchanged():
    logits = policy_logits([0.5, 1.0, 0.0, 0.25, 0.75])
    assert logits[0] == 0.0 and logits[1] > 27.0 and logits[2] < -27.0
    assert math.isclose(float(logits[3]), math.log(1 / 3), rel_tol=1e-12)


EXACT_ARGUMENTS = {
    "lr": st.one_of(st.floats(max_value=-1e-9), non_finite, not_numbers),
    "lookahead_lr": st.one_of(st.floats(max_value=-1e-9), non_finite, not_numbers),
    "init_std": st.one_of(st.floats(max_value=-1e-9), non_finite, not_numbers),
    "seed": st.one_of(st.floats(), st.text(max_size=2), st.none()),
}


@pytest.mark.parametrize("argument", sorted(EXACT_ARGUMENTS))
def test_exact_learning_names_a_bad_argument_instead_of_diverging(argument):
    @FAST
    @given(EXACT_ARGUMENTS[argument])
    def check(value):
        with pytest.raises((ValueError, TypeError), match=argument):
            run_exact_learning("naive", n_seeds=2, n_steps=1, **{argument: value})

    check()


@pytest.mark.parametrize("name", ["theta1", "theta2"])
def test_exact_learning_names_a_nan_start(name):
    start = torch.zeros(2, 5, dtype=torch.float64)
    start[1, 3] = NAN
    with pytest.raises(ValueError, match=f"{name} contains NaN"):
        run_exact_learning("naive", n_seeds=2, n_steps=1, **{name: start})


def test_exact_learning_with_valid_arguments_is_unchanged():
    history = run_exact_learning("naive", n_seeds=3, n_steps=2, lr=0.5, seed=1)
    again = run_exact_learning("naive", n_seeds=3, n_steps=2, lr=0.5, seed=1)
    assert torch.equal(history.theta1, again.theta1) and history.theta1.shape == (3, 3, 5)


# ---------------------------------------------------------- the helpers themselves
def test_check_number_and_check_int_messages():
    with pytest.raises(ValueError, match=r"^x must be in \[0, 1\), got 1$"):
        check_number(1, "x", 0.0, 1.0, high_open=True)
    with pytest.raises(TypeError, match="^x must be a number, got str '1'$"):
        check_number("1", "x")
    with pytest.raises(TypeError, match="^n must be an integer, got float 2.0$"):
        check_int(2.0, "n")
    with pytest.raises(ValueError, match=r"^n must be an integer in \[1, 3\], got 4$"):
        check_int(4, "n", 1, 3)
    assert check_number(torch.tensor(0.5), "x", 0, 1) == 0.5 and check_int(3, "n", 1) == 3
