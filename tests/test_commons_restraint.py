"""The restrained harvester of experiments/commons_restraint.py (the scripted check of session 10).

- its neighbour count is the environment's: the L2 disc of radius 2 without the centre;
- every apple a restrained population eats had at least K apples around it (the true
  count before the step; the agent only sees part of it, so it can only undercount);
- greedy harvesters do eat apples with 0, 1 and 2 neighbours (so each check can fail);
- a restrained population keeps more patches alive than a greedy one; bad K is refused.
"""

import pytest
import torch

from aa_lib.agents.scripted import GreedyHarvester
from aa_lib.evaluation.commons import commons_stats
from aa_lib.games import make_generator
from aa_lib.games.commons import ACTIONS, CHANNELS
from aa_lib.games import make_env
from experiment_scripts import load_experiment

restraint = load_experiment("commons_restraint")


def _env(steps=60):
    return make_env("commons", layout="small", n_players=5, view_ahead=5, view_sides=3, min_steps=steps,
                    max_steps=steps, end_interval=20, regrowth_probabilities=[0.0, 0.01, 0.02, 0.1])


def _neighbours_of_eaten_apples(env, agents, games=16, seed=0):
    """Neighbour counts (before the step) of every apple eaten in ``games`` games, as one 1-d tensor."""
    obs = env.reset(games, generator=make_generator(seed))
    generator = make_generator(seed + 1)
    for a in agents:
        a.reset(games)
    counts = []
    while not env.episode_over:
        before = env.apples[:, : env.n_spots].clone()
        around = env.neighbour_counts()  # [B, S]
        actions = torch.stack([a.act(o, generator) for a, o in zip(agents, obs)])
        obs = env.step(actions).obs
        # an apple disappears only by being eaten (regrowth can only add apples); an apple eaten
        # and regrown in the same step is missed, which cannot hide an apple with no neighbours
        # (they never regrow) and hides others rarely (regrowth probability <= 0.02 below 3)
        eaten = before & ~env.apples[:, : env.n_spots]
        counts.append(around[eaten])
    return torch.cat(counts)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_restrained_harvesters_never_eat_an_apple_with_fewer_than_k_neighbours(k):
    env = _env()
    eaten = _neighbours_of_eaten_apples(env, [restraint.RestrainedHarvester(env.config, k) for _ in range(5)])
    assert eaten.numel() > 20  # they do harvest
    assert eaten.min().item() >= k


def test_greedy_harvesters_eat_apples_with_few_neighbours():
    env = _env()
    eaten = _neighbours_of_eaten_apples(env, [GreedyHarvester(env.config) for _ in range(5)])
    for count in (0, 1, 2):
        assert (eaten == count).sum().item() > 0


@pytest.mark.parametrize("offset, neighbours", [((0, 1), True), ((2, 0), True), ((1, 1), True), ((0, 2), True),
                                                ((1, 2), False), ((2, 2), False), ((0, 3), False)])
def test_neighbours_are_counted_within_l2_radius_two(offset, neighbours):
    """Two apples in an empty view: each is the other's neighbour iff their L2 distance is <= 2,
    the rule of the environment's regrowth (``CommonsHarvest.neighbour_counts``)."""
    env = _env()
    obs = torch.zeros(1, *env.observation_shape)
    apple = CHANNELS.index("apple")
    (r, c), (dr, dc) = (1, 1), offset
    obs[0, apple, r, c] = obs[0, apple, r + dr, c + dc] = 1.0
    protected = restraint.RestrainedHarvester(env.config, 1).protected(obs)[0]
    assert protected[r, c].item() == protected[r + dr, c + dc].item() == (not neighbours)
    assert protected.sum().item() == (0 if neighbours else 2)
    # and the environment agrees: on a map with two apple spots at that offset, each counts the other
    rows = [list("W" * 9)] + [list("W" + " " * 7 + "W") for _ in range(6)] + [list("W" * 9)]
    rows[2][2] = rows[2 + dr][2 + dc] = "A"
    rows[6][6] = "P"
    two = make_env("commons", layout="\n".join("".join(x) for x in rows), n_players=1, min_steps=5, max_steps=5)
    two.reset(1)
    assert two.neighbour_counts().tolist() == [[int(neighbours)] * 2]


def test_script_prints_a_table(capsys):
    restraint.main(["--steps", "10", "--episodes", "2", "--ks", "1"])
    out = capsys.readouterr().out
    assert "| greedy | 2 |" in out and "| restrained K=1 | 2 |" in out
    restraint.main(["--steps", "10", "--episodes", "2", "--ks", "2", "--zap", "--guards"])
    out = capsys.readouterr().out
    assert "| greedy (zaps) | 2 |" in out and "| restrained K=2 (zaps) | 2 |" in out and "| guard K=2 | 2 |" in out


def _view(env, apples=(), agents=(), ready=True):
    """One egocentric observation [1, C, rows, cols] with apples and agents at (row, col) cells."""
    obs = torch.zeros(1, *env.observation_shape)
    for r, c in apples:
        obs[0, CHANNELS.index("apple"), r, c] = 1.0
    for r, c in agents:
        obs[0, CHANNELS.index("agent"), r, c] = 1.0
    obs[0, CHANNELS.index("ready_to_shoot")] = float(ready)
    return obs


def test_patch_guard_zaps_in_its_beam_only_next_to_a_patch():
    env = _env()
    me_r, me_c = env.config.view_ahead, env.config.view_sides
    guard = restraint.PatchGuard(env.config, 1)
    zap = ACTIONS.index("zap")
    at_patch = [(me_r, me_c - 1), (me_r, me_c - 2)]  # two apples at my left: edible, next to me
    intruder = [(me_r - 2, me_c)]  # two cells ahead: in the beam
    for seed in range(5):
        g = make_generator(seed)
        assert guard.act(_view(env, at_patch, intruder), g).item() == zap
        assert guard.act(_view(env, at_patch, intruder, ready=False), g).item() != zap  # cooling down
        assert guard.act(_view(env, [(0, 0), (0, 1)], intruder), g).item() != zap  # far from any apple
        # a greedy harvester in the same place does not zap at all
        assert GreedyHarvester(env.config).act(_view(env, at_patch, intruder), g).item() != zap


def test_patch_guard_stays_by_a_patch_it_may_not_eat():
    env = _env()
    me_r, me_c = env.config.view_ahead, env.config.view_sides
    lone = [(me_r - 1, me_c)]  # one apple just ahead, no neighbours: protected for K = 1
    stay = {ACTIONS.index("noop"), ACTIONS.index("turn_left")}
    moves = [restraint.PatchGuard(env.config, 1).act(_view(env, lone), make_generator(s)).item() for s in range(20)]
    assert set(moves) <= stay and len(set(moves)) == 2
    # the restrained harvester without the guard rule explores instead (it sees no edible apple)
    walks = [restraint.RestrainedHarvester(env.config, 1).act(_view(env, lone), make_generator(s)).item()
             for s in range(20)]
    assert not set(walks) <= stay


def test_script_refuses_a_zero_restraint_level(capsys):
    with pytest.raises(SystemExit):
        restraint.main(["--ks", "0"])
    assert "restraint levels must be positive integers" in capsys.readouterr().err


def test_restraint_keeps_patches_alive_in_self_play():
    env = _env(steps=100)
    greedy = commons_stats(env, [GreedyHarvester(env.config) for _ in range(5)], episodes=32,
                           generator=make_generator(1))
    kept = commons_stats(env, [restraint.RestrainedHarvester(env.config, 2) for _ in range(5)], episodes=32,
                         generator=make_generator(1))
    assert kept.patches_alive.float().mean() > greedy.patches_alive.float().mean() + 1.5
    assert kept.rewards.sum(-1).mean() > greedy.rewards.sum(-1).mean()


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_restraint_level_must_be_a_positive_integer(k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        restraint.RestrainedHarvester(_env().config, k)
