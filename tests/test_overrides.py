"""One parser for ``key=value`` overrides (aa_lib.training.overrides), used by the CLI, the experiment
drivers and session_config.

- values are read as Python literals, then JSON, then kept as strings; exact parsed values;
- dotted keys set one entry of game_options / algo_options and keep the others; whole dicts follow
  preset()'s convention (algo_options merged, game_options replaced);
- unknown keys, dotted keys on plain fields, pairs without '=' and values of the wrong type raise a
  ValueError naming the key and the value;
- the CLI (``aa train --set``) and session_config(overrides=...) apply them the same way.
"""
import json

import pytest

from aa_lib.training.config import TrainConfig
from aa_lib.training.overrides import apply_overrides, parse_override_value, parse_overrides
from aa_lib.training.presets import preset
from aa_lib.training.session import session_config


def test_values_are_literals_then_json_then_strings():
    parsed = parse_overrides(["hidden=16", "actor_lr=1e-3", "gamma=1", "recurrent=False", "self_play=true",
                              "max_grad_norm=None", "horizon=null", "device=cuda", " seed = 7 ",
                              "game_options={'episode_length': 4}", "algo_options.beta=2",
                              "game_options.layout=open", "hidden=32"])
    assert parsed == {"hidden": 32, "actor_lr": 0.001, "gamma": 1.0, "recurrent": False, "self_play": True,
                      "max_grad_norm": None, "horizon": None, "device": "cuda", "seed": 7,
                      "game_options": {"episode_length": 4}, "algo_options.beta": 2, "game_options.layout": "open"}
    assert type(parsed["gamma"]) is float and type(parsed["hidden"]) is int  # an int given for a float field
    assert parse_override_value("[0.0, 0.01]") == [0.0, 0.01]
    assert parse_override_value('{"a": true}') == {"a": True}  # JSON when it is not a Python literal
    assert parse_override_value("x=1") == "x=1"
    assert parse_overrides(None) == {} and parse_overrides([]) == {}


def test_dotted_keys_set_one_option_and_keep_the_others():
    base = preset("commons", "paa")
    config = apply_overrides(base, ["horizon=250", "game_options.layout=open", "game_options.n_players=7",
                                    "algo_options.beta=2"])
    assert config.horizon == 250
    assert config.game_options == {**base.game_options, "layout": "open", "n_players": 7}
    assert config.algo_options == {**base.algo_options, "beta": 2}
    assert base.game_options["layout"] == "small" and base.algo_options["beta"] == 1.0  # base untouched
    # the same overrides as a mapping (what session_config and the drivers pass) give the same config
    assert apply_overrides(base, {"horizon": 250, "game_options.layout": "open", "game_options.n_players": 7,
                                  "algo_options.beta": 2}) == config


def test_whole_dicts_follow_the_preset_convention():
    base = preset("ipd", "aa")
    config = apply_overrides(base, ["game_options={'episode_length': 4}", "algo_options={'beta': 5.0}",
                                    "game_options.gamma_hint=1"])
    assert config.game_options == {"episode_length": 4, "gamma_hint": 1}  # replaced, then one entry set
    assert config.algo_options == {**base.algo_options, "beta": 5.0}  # merged, as preset(algo_options=...) does
    assert config == apply_overrides(preset("ipd", "aa", algo_options={"beta": 5.0},
                                            game_options={"episode_length": 4}), ["game_options.gamma_hint=1"])
    assert apply_overrides(base, None) is base and apply_overrides(base, []) == base


@pytest.mark.parametrize("pairs, message", [
    (["bogus=1"], "override key 'bogus': unknown config field 'bogus'"),
    (["game_option.layout=open"], "unknown config field 'game_option'"),
    (["hidden.size=3"], "override key 'hidden.size': only game_options, algo_options take dotted keys"),
    (["game_options.=3"], "override key 'game_options.': expected <field>.<option>"),
    (["algo_options.a.b=3"], "override key 'algo_options.a.b': expected <field>.<option>"),
    (["hidden"], "override 'hidden': expected key=value"),
    ("hidden=8", "the single string 'hidden=8'"),
])
def test_bad_keys_are_named(pairs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_overrides(pairs)


@pytest.mark.parametrize("pair, message", [
    ("batch_size=abc", "override batch_size='abc': batch_size must be of type int, got str"),
    ("batch_size=2.5", "override batch_size=2.5: batch_size must be of type int, got float"),
    ("recurrent=1", "override recurrent=1: recurrent must be of type bool, got int"),
    ("max_grad_norm=abc", r"override max_grad_norm='abc': max_grad_norm must be of type Optional\[float\]"),
    ("game_options=4", "override game_options=4: game_options must be of type dict, got int"),
])
def test_values_of_the_wrong_type_are_named(pair, message):
    with pytest.raises(ValueError, match=message):
        parse_overrides([pair])
    key, value = pair.split("=")
    with pytest.raises(ValueError, match=message):  # a mapping is checked the same way
        apply_overrides(TrainConfig(), {key: parse_override_value(value)})


def test_train_config_checks_still_run():
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        apply_overrides(TrainConfig(), ["batch_size=0"])
    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        apply_overrides({"batch_size": 4}, ["batch_size=8"])


def test_session_config_takes_overrides_after_its_knobs():
    config = session_config("ipd", "aa", beta=2.0, opponent="self-play", device="cpu",
                            overrides=["hidden=16", "algo_options.beta=3", "game_options.episode_length=8"])
    assert config.hidden == 16 and config.algo_options["beta"] == 3  # the override of beta wins
    assert config.game_options["episode_length"] == 8
    plain = session_config("ipd", "aa", beta=2.0, opponent="self-play", device="cpu")
    assert config == apply_overrides(plain, {"hidden": 16, "algo_options.beta": 3, "game_options.episode_length": 8})
    with pytest.raises(ValueError, match="unknown config field 'hiden'"):
        session_config("ipd", "aa", device="cpu", overrides={"hiden": 16})


def test_cli_set_takes_dotted_keys(tmp_path):
    from aa_lib.cli import main

    run = tmp_path / "run"
    assert main(["train", "ipd", "--algo", "naive", "--iterations", "1", "--batch-size", "4", "--run-dir", str(run),
                 "--quiet", "--set", "hidden=8", "game_options.episode_length=3", "algo_options.entropy_coef=0.5"]) == 0
    written = json.loads((run / "config.json").read_text())
    expected = apply_overrides(preset("ipd", "naive"), {"hidden": 8, "game_options.episode_length": 3,
                                                        "algo_options.entropy_coef": 0.5, "iterations": 1,
                                                        "batch_size": 4})
    assert written == expected.to_dict()
    with pytest.raises(SystemExit, match="aa train: error: override batch_size='x'"):
        main(["train", "ipd", "--run-dir", str(tmp_path / "bad"), "--set", "batch_size=x"])
