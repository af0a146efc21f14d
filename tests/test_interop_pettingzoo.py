"""PettingZoo adapters: every game of the batched registry passes PettingZoo's own API and seed tests,
and plays exactly the library's dynamics."""
import dataclasses
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("pettingzoo")
from pettingzoo.test import parallel_api_test, parallel_seed_test  # noqa: E402

from aa_lib.games import GAMES, CommonsConfig, make_env, make_generator  # noqa: E402
from aa_lib.interop.pettingzoo import parallel_env  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: Commons Harvest episodes last at least 1000 steps by default; shorter ones keep the tests quick.
SHORT = {"commons": {"min_steps": 40, "end_interval": 10, "max_steps": 80}}


def _env(game, **kw):
    return parallel_env(game, **SHORT.get(game, {}), **kw)


@pytest.mark.parametrize("game", sorted(GAMES))
def test_pettingzoo_parallel_api_test(game):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the API test warns about anything it finds dubious
        parallel_api_test(_env(game), num_cycles=1000)


@pytest.mark.parametrize("game", sorted(GAMES))
def test_pettingzoo_parallel_seed_test(game):
    parallel_seed_test(lambda: _env(game))


@pytest.mark.parametrize("game", sorted(GAMES))
def test_episode_is_the_batched_environment_s_game_with_the_same_seed(game):
    """Same seed, same actions: the adapter's observations and rewards are those of the batched env at batch 1."""
    env = _env(game)
    ref = make_env(game, **SHORT.get(game, {}))
    obs, _ = env.reset(seed=7)
    ref_obs = ref.reset(1, generator=make_generator(7))
    spaces = {a: (env.observation_space(a), env.action_space(a)) for a in env.agents}
    for seat, agent in enumerate(env.possible_agents):
        assert np.array_equal(obs[agent], ref_obs[seat, 0].numpy())
    rng, steps = np.random.default_rng(0), 0
    while env.agents:
        actions = {}
        for agent in env.agents:
            space = spaces[agent][1]
            actions[agent] = (int(rng.integers(space.n)) if hasattr(space, "n") else
                              rng.uniform(space.low, space.high).astype(np.float32))
        obs, rewards, terms, truncs, infos = env.step(actions)
        joint = np.stack([actions[a] for a in env.possible_agents])
        result = ref.step(torch.as_tensor(joint).unsqueeze(1))
        steps += 1
        for seat, agent in enumerate(env.possible_agents):
            assert np.array_equal(obs[agent], result.obs[seat, 0].numpy())
            assert spaces[agent][0].contains(obs[agent]), (agent, obs[agent].min(), obs[agent].max())
            assert rewards[agent] == float(result.rewards[seat, 0])
            assert terms[agent] is False and truncs[agent] is bool(result.done[0])
    assert steps == ref.current_length and env.agents == []


def test_infos_give_each_agent_its_own_row():
    env = parallel_env("coin")
    env.reset(seed=0)
    _, _, _, _, infos = env.step({"player_0": 0, "player_1": 1})
    assert set(infos["player_0"]) == {"picked_own", "picked_other"}
    assert isinstance(infos["player_0"]["picked_own"], bool)


def test_spaces():
    coin, negotiation, commons = parallel_env("coin"), parallel_env("negotiation"), _env("commons")
    assert coin.possible_agents == ["player_0", "player_1"] and len(commons.possible_agents) == 7
    assert coin.action_space("player_0").n == 4 and coin.observation_space("player_1").shape == (4, 3, 3)
    box = negotiation.action_space("player_0")
    assert box.shape == (3,) and box.low.tolist() == [0, 0, 0] and box.high.tolist() == [5, 5, 5]
    assert (commons.observation_space("player_3").low.min(), commons.observation_space("player_3").high.max()) \
        == (-1, 1)


@pytest.mark.skipif("observation" not in {f.name for f in dataclasses.fields(CommonsConfig)},
                    reason="Commons Harvest without compact observations")
def test_compact_commons_observations_are_integer_codes():
    env = _env("commons", observation="compact")
    space = env.observation_space("player_0")
    assert np.issubdtype(space.dtype, np.integer) and space.high.max() == env.env.n_observation_codes - 1
    obs, _ = env.reset(seed=0)
    assert space.contains(obs["player_0"])
    parallel_api_test(env, num_cycles=100)


def test_seeding():
    def first_observations(seed):
        env = parallel_env("coin")
        return [env.reset(seed=seed)[0]["player_0"] for _ in range(1)] + [env.reset()[0]["player_0"]]
    a, b, c = first_observations(3), first_observations(3), first_observations(4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))  # reset(seed) and the resets after it replay
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_render():
    env = parallel_env("coin", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3 and frame.std() > 0
    env.step({"player_0": 0, "player_1": 0})
    assert not np.array_equal(env.render(), frame)  # the players moved
    quiet = parallel_env("ipd")
    quiet.reset(seed=0)
    with pytest.warns(UserWarning, match="without specifying any render mode"):
        assert quiet.render() is None  # no render mode: a warning and nothing else (PettingZoo's convention)


def test_errors():
    with pytest.raises(ValueError, match="unknown game 'pong'"):
        parallel_env("pong")
    with pytest.raises(ValueError, match="render_mode"):
        parallel_env("ipd", render_mode="ansi")
    env = parallel_env("ipd", episode_length=1)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="missing \\['player_1'\\]"):
        env.step({"player_0": 0})
    with pytest.raises(ValueError, match="action of player_0 must be one integer"):
        env.step({"player_0": 0.5, "player_1": 0})
    with pytest.raises(ValueError, match=r"actions must lie in \[0, 1\]"):
        env.step({"player_0": 2, "player_1": 0})
    env.step({"player_0": 0, "player_1": 0})
    with pytest.raises(RuntimeError, match="call reset"):
        env.step({"player_0": 0, "player_1": 0})
    with pytest.raises(ValueError, match="action of player_0 must be 3 floats"):
        negotiation = parallel_env("negotiation")
        negotiation.reset(seed=0)
        negotiation.step({"player_0": [1.0], "player_1": [1.0, 1.0, 1.0]})


def test_readme_example_runs():
    """The README's example of an external training loop on an adapter runs (fewer episodes)."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    example = next(b for b in blocks if "aa_lib.interop.pettingzoo" in b)
    namespace = {}
    exec(compile(example.replace("range(300)", "range(20)"), "README example", "exec"), namespace)
    assert namespace["env"].possible_agents == ["player_0", "player_1"]
