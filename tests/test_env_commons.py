"""Commons Harvest: layout, regrowth statistics, moves, eating, zapping, removal, views, endings, errors."""
import math

import pytest
import torch

from aa_lib.agents.scripted import RandomAgent
from aa_lib.games import CommonsConfig, CommonsHarvest, collect_rewards, make_generator
from aa_lib.games.commons import ACTIONS, CHANNELS, LAYOUTS, parse_layout, sample_episode_length

NOOP, FORWARD, BACKWARD, LEFT, RIGHT, TURN_LEFT, TURN_RIGHT, ZAP = range(8)
N, E, S, W = range(4)
STEP = {N: (-1, 0), E: (0, 1), S: (1, 0), W: (0, -1)}


def test_action_names():
    assert ACTIONS == ("noop", "forward", "backward", "step_left", "step_right", "turn_left", "turn_right", "zap")


def test_melting_pot_layout():
    rows = parse_layout("open")
    assert (len(rows[0]), len(rows)) == (24, 18)
    text = "".join(rows)
    assert text.count("A") == 64 and text.count("Q") == 2 and text.count("P") == 60
    env = CommonsHarvest()
    assert env.n_players == 7 and env.n_actions == 8 and env.observation_shape == (6, 11, 11)
    assert env.config == CommonsConfig.melting_pot()
    obs = env.reset(3, generator=make_generator(0))
    assert obs.shape == (7, 3, 6, 11, 11) and obs.dtype == torch.float32
    assert env.apple_grid().sum().item() == 3 * 64  # every spot starts with an apple
    # the first two players start on the inside spawn points, the others on the bottom rows
    rows_of = env.positions // env.width
    assert (rows_of[:2] == 7).all() and (rows_of[2:] >= 14).all()
    assert len(set(env.positions[:, 0].tolist())) == 7


def _cluster_layout():
    """Isolated apple clusters (more than 2 cells apart) plus a far-away spawn area.

    Each cluster has one target spot T (starts empty) and full neighbours; the
    expected neighbour count of T is in the name. 'far' clusters have their only
    other spot at L2 distance sqrt(5) or sqrt(8): outside the radius-2 disc but
    inside the Chebyshev square.
    """
    copies = 6
    width = 7 * 6 * copies + 6
    grid = [[" "] * width for _ in range(12)]
    targets = {}
    shapes = {  # offsets of the neighbours around the target at (0, 0)
        "k0": [], "k1": [(0, 1)], "k2": [(0, 1), (0, 2)], "k3": [(0, -1), (0, 1), (1, 0)],
        "k4": [(0, -1), (0, 1), (1, 0), (-1, 0)], "far5": [(1, 2)], "far8": [(2, 2)],
    }
    col = 3
    for copy in range(copies):
        for name, offsets in shapes.items():
            r, c = 3, col
            grid[r][c] = "A"
            for dr, dc in offsets:
                grid[r + dr][c + dc] = "A"
            targets.setdefault(name, []).append((r, c))
            col += 6  # clusters span at most 3 columns: 3 empty columns between them
    for c in range(1, 5):
        grid[10][c] = "P"
    for r in range(12):
        grid[r][0] = grid[r][-1] = "W"
    grid[0] = grid[-1] = ["W"] * width
    return "\n".join("".join(row) for row in grid), targets


def test_regrowth_frequencies_per_neighbour_count():
    layout, targets = _cluster_layout()
    env = CommonsHarvest(layout=layout, n_players=2, inside_spawn_players=0, min_steps=200, end_interval=200)
    B, T = 100, 200
    env.reset(B, generator=make_generator(21))
    start = env.apple_grid().clone()
    for cells in targets.values():
        for r, c in cells:
            start[:, r, c] = False
    env.set_apples(start)
    expected_counts = {"k0": 0, "k1": 1, "k2": 2, "k3": 3, "k4": 4, "far5": 0, "far8": 0}
    counts = env.neighbour_counts()
    for name, cells in targets.items():
        for r, c in cells:
            spot = (env._spot_cells == r * env.width + c).nonzero().item()
            assert (counts[:, spot] == expected_counts[name]).all(), name
    names = list(targets)
    spots = torch.tensor([[(env._spot_cells == r * env.width + c).nonzero().item() for r, c in targets[n]]
                          for n in names])  # [kinds, copies]
    exposure = torch.zeros(len(names), dtype=torch.long)
    events = torch.zeros(len(names), dtype=torch.long)
    noop = torch.zeros(2, B, dtype=torch.long)
    for _ in range(T):
        empty = ~env.apples[:, spots]  # [B, kinds, copies]
        env.step(noop)
        exposure += empty.sum(dim=(0, 2))
        events += (empty & env.apples[:, spots]).sum(dim=(0, 2))
    exposure = dict(zip(names, exposure.tolist()))
    events = dict(zip(names, events.tolist()))
    probs = (0.0, 0.0025, 0.005, 0.025)
    for name in targets:
        p = probs[min(expected_counts[name], 3)]
        if p == 0:
            assert events[name] == 0, name  # no neighbours in the L2 disc: never regrows
        else:
            sd = math.sqrt(p * (1 - p) * exposure[name])
            assert abs(events[name] - p * exposure[name]) < 4.5 * sd, (name, events[name], p * exposure[name])
    assert events["k1"] > 0  # the rare rate was actually observed


def test_neighbour_counts_use_the_l2_disc_of_radius_2():
    env = CommonsHarvest()
    env.reset(4, generator=make_generator(3))
    grid = torch.rand(4, env.height, env.width, generator=make_generator(4)) < 0.5
    spots = torch.zeros(env.height * env.width, dtype=torch.bool)
    spots[env._spot_cells] = True
    grid &= spots.view(env.height, env.width)
    env.set_apples(grid)
    counts = env.neighbour_counts()
    for b in range(4):
        for k, cell in enumerate(env._spot_cells.tolist()):
            r, c = divmod(cell, env.width)
            brute = sum(int(grid[b, r + dr, c + dc]) for dr in range(-2, 3) for dc in range(-2, 3)
                        if (dr or dc) and dr * dr + dc * dc <= 4
                        and 0 <= r + dr < env.height and 0 <= c + dc < env.width)
            assert counts[b, k].item() == brute


def _open_env(n_players=2, **kw):
    return CommonsHarvest(n_players=n_players, **kw)


def test_moves_are_relative_to_the_orientation_and_turns():
    env = _open_env(1)
    env.reset(4)
    env.set_apples(torch.zeros(4, env.height, env.width, dtype=torch.bool))
    for move, relative in ((FORWARD, 0), (RIGHT, 1), (BACKWARD, 2), (LEFT, 3)):
        env.place_agents(torch.full((1, 4), 12), torch.full((1, 4), 10), torch.tensor([[N, E, S, W]]))
        env.step(torch.full((1, 4), move))
        for b, o in enumerate((N, E, S, W)):
            dr, dc = STEP[(o + relative) % 4]
            assert divmod(env.positions[0, b].item(), env.width) == (12 + dr, 10 + dc)
    env.place_agents(torch.full((1, 4), 12), torch.full((1, 4), 10), torch.tensor([[N, E, S, W]]))
    env.step(torch.full((1, 4), TURN_LEFT))
    assert env.orientations[0].tolist() == [W, N, E, S]
    env.step(torch.full((1, 4), TURN_RIGHT))
    env.step(torch.full((1, 4), TURN_RIGHT))
    assert env.orientations[0].tolist() == [E, S, W, N]
    assert (env.positions[0] == 12 * env.width + 10).all()


def test_walls_and_agents_block_moves_and_conflicts_have_one_winner():
    env = _open_env(2)
    B = 200
    env.reset(B, generator=make_generator(5))
    env.set_apples(torch.zeros(B, env.height, env.width, dtype=torch.bool))
    # into the wall: agent 0 at (1, 5) facing N; agent 1 far away
    env.place_agents(torch.tensor([[1], [12]]), torch.tensor([[5], [12]]), torch.tensor([[N], [N]]))
    env.step(torch.tensor([[FORWARD], [NOOP]]).expand(2, B))
    assert (env.positions[0] == 1 * env.width + 5).all()
    # both step into the same cell (12, 10) from left and right: exactly one gets there, at random
    env.place_agents(torch.tensor([[12], [12]]), torch.tensor([[9], [11]]), torch.tensor([[E], [W]]))
    env.step(torch.full((2, B), FORWARD))
    winner = env.positions == 12 * env.width + 10
    assert (winner.sum(0) == 1).all()
    assert 0.35 < winner[0].float().mean() < 0.65
    # into a standing agent: blocked
    env.place_agents(torch.tensor([[12], [12]]), torch.tensor([[9], [10]]), torch.tensor([[E], [E]]))
    env.step(torch.tensor([[FORWARD], [NOOP]]).expand(2, B))
    assert (env.positions[0] == 12 * env.width + 9).all()


def test_agents_never_share_a_cell_and_stay_off_walls():
    env = CommonsHarvest(layout="small")
    B = 64
    gen = make_generator(8)
    env.reset(B, generator=gen)
    for _ in range(60):
        env.step(torch.randint(8, (7, B), generator=gen))
        on_map = env.active
        cells = torch.where(on_map, env.positions, -1 - torch.arange(7)[:, None])
        assert ((cells[:, None] == cells[None, :]).sum(0) == 1).all()
        assert not (env._wall[env.positions] & on_map).any()


def test_eating_on_arrival_only():
    env = _open_env(1)
    env.reset(1)
    grid = torch.zeros(1, env.height, env.width, dtype=torch.bool)
    grid[0, 5, 8] = True  # an apple spot of the top-left diamond
    env.set_apples(grid)
    env.place_agents([[6]], [[8]], [[N]])
    r = env.step(torch.tensor([[FORWARD]]))
    assert r.rewards.item() == 1.0 and not env.apple_grid()[0, 5, 8]
    assert r.info["apples"].item() == 0
    grid[0, 5, 8] = True  # an apple regrows under the standing agent: not eaten until it re-enters
    env.set_apples(grid)
    assert env.step(torch.tensor([[NOOP]])).rewards.item() == 0.0
    assert env.step(torch.tensor([[TURN_LEFT]])).rewards.item() == 0.0
    assert env.step(torch.tensor([[BACKWARD]])).rewards.item() == 0.0  # steps off to the east
    assert env.step(torch.tensor([[FORWARD]])).rewards.item() == 1.0  # and back on


# beam cells relative to a zapper facing north at (12, 10): (row, col, hit?)
BEAM = [(11, 10, True), (10, 10, True), (9, 10, True), (8, 10, False),
        (12, 9, True), (11, 9, True), (10, 9, True), (9, 9, False),
        (12, 11, True), (11, 11, True), (10, 11, True), (9, 11, False),
        (13, 10, False), (12, 8, False), (11, 12, False), (13, 9, False)]


@pytest.mark.parametrize("orientation", [N, E, S, W])
def test_zap_beam_shape_in_every_orientation(orientation):
    env = _open_env(2)
    B = len(BEAM)
    env.reset(B)
    env.set_apples(torch.zeros(B, env.height, env.width, dtype=torch.bool))

    def rotate(r, c):  # rotate a cell around the zapper (12, 10), north -> orientation
        dr, dc = r - 12, c - 10
        for _ in range(orientation):
            dr, dc = dc, -dr
        return 12 + dr, 10 + dc

    cells = [rotate(r, c) for r, c, _ in BEAM]
    rows = torch.tensor([[12] * B, [r for r, _ in cells]])
    cols = torch.tensor([[10] * B, [c for _, c in cells]])
    env.place_agents(rows, cols, torch.tensor([[orientation] * B, [N] * B]))
    result = env.step(torch.tensor([[ZAP] * B, [NOOP] * B]))
    assert result.info["fired"][0].all()
    assert result.info["zapped"][1].tolist() == [hit for _, _, hit in BEAM]
    assert not result.info["zapped"][0].any()
    assert result.rewards.eq(0).all()  # zapping gives and costs nothing


def test_beam_stops_at_the_first_agent_and_at_walls():
    layout = "\n".join([
        "WWWWWWWWWWW",
        "W         W",
        "W         W",
        "W    W    W",
        "W         W",
        "W         W",
        "WPPPPPPPPPW",
        "WWWWWWWWWWW",
    ])
    env = CommonsHarvest(layout=layout, n_players=3, inside_spawn_players=0)
    env.reset(2)
    # game 0: a wall two cells ahead shields the agent behind it; game 1: the first agent shields the second
    env.place_agents(torch.tensor([[5, 5], [2, 4], [4, 3]]), torch.tensor([[5, 5], [5, 4], [4, 4]]),
                     torch.tensor([[N, N], [N, N], [N, N]]))
    zapped = env.step(torch.tensor([[ZAP, ZAP], [NOOP, NOOP], [NOOP, NOOP]])).info["zapped"]
    assert zapped[:, 0].tolist() == [False, False, True]  # (4, 4) is on the side ray, (2, 5) behind the wall
    assert zapped[:, 1].tolist() == [False, True, False]  # (4, 4) hit, (3, 4) behind it on the same ray


def test_zap_cooldown_and_ready_to_shoot_channel():
    env = _open_env(2)
    env.reset(1)
    env.place_agents(torch.tensor([[12], [5]]), torch.tensor([[10], [20]]), torch.tensor([[N], [N]]))
    ready = CHANNELS.index("ready_to_shoot")
    fired, readiness = [], []
    for _ in range(5):
        r = env.step(torch.tensor([[ZAP], [NOOP]]))
        fired.append(bool(r.info["fired"][0, 0]))
        readiness.append(r.obs[0, 0, ready, 0, 0].item())
    assert fired == [True, False, False, True, False]
    assert readiness == [0.0, 0.5, 1.0, 0.0, 0.5]


def test_zapped_agent_is_removed_for_four_steps_then_returns_on_a_spawn_point():
    env = _open_env(2)
    env.reset(1, generator=make_generator(2))
    env.place_agents(torch.tensor([[12], [11]]), torch.tensor([[10], [10]]), torch.tensor([[N], [S]]))
    r = env.step(torch.tensor([[ZAP], [NOOP]]))
    assert r.info["zapped"][1, 0] and not r.info["active"][1, 0]
    assert r.obs[1].abs().sum() == 0  # a removed agent sees nothing
    assert r.obs[0, 0, CHANNELS.index("agent")].sum() == 0  # and is not seen
    actives = []
    for _ in range(4):
        # while removed its actions are ignored (it tries to zap its zapper)
        r = env.step(torch.tensor([[NOOP], [ZAP]]))
        actives.append(bool(r.info["active"][1, 0]))
        assert not r.info["fired"][1, 0] and r.rewards[1, 0] == 0
    assert actives == [False, False, False, True]
    cell = env.positions[1, 0].item()
    assert parse_layout("open")[cell // env.width][cell % env.width] == "P"
    assert r.obs[1].abs().sum() > 0


def _reference_view(env, b, p):
    """The observation of agent p in game b by explicit loops (an independent implementation)."""
    c = env.config
    rows = parse_layout(c.layout)
    apples = env.apple_grid()[b]
    obs = torch.zeros(env.observation_shape)
    if not env.active[p, b]:
        return obs
    r0, c0 = divmod(env.positions[p, b].item(), env.width)
    o = env.orientations[p, b].item()
    fwd, rgt = STEP[o], STEP[(o + 1) % 4]
    others = {}
    for q in range(env.n_players):
        if q != p and env.active[q, b]:
            others[divmod(env.positions[q, b].item(), env.width)] = (env.orientations[q, b].item() - o) % 4
    for i in range(env.view_rows):
        for j in range(env.view_cols):
            a, x = c.view_ahead - i, j - c.view_sides
            r, col = r0 + a * fwd[0] + x * rgt[0], c0 + a * fwd[1] + x * rgt[1]
            inside = 0 <= r < env.height and 0 <= col < env.width
            obs[0, i, j] = float(not inside or rows[r][col] == "W")
            obs[1, i, j] = float(inside and bool(apples[r, col]))
            if (r, col) in others:
                rel = others[(r, col)]
                obs[2, i, j] = 1.0
                obs[3, i, j] = (1.0, 0.0, -1.0, 0.0)[rel]
                obs[4, i, j] = (0.0, 1.0, 0.0, -1.0)[rel]
    obs[5] = 1.0 - env.cooldown[p, b].item() / c.zap_cooldown
    return obs


@pytest.mark.parametrize("layout, view", [
    ("open", {}), ("small", {"view_ahead": 5, "view_sides": 3, "view_behind": 2})])
def test_view_window_matches_a_loop_implementation(layout, view):
    env = CommonsHarvest(layout=layout, **view)
    gen = make_generator(6)
    env.reset(3, generator=gen)
    for _ in range(25):
        result = env.step(torch.randint(8, (7, 3), generator=gen))
    assert result.info["active"].any()
    for b in range(3):
        for p in range(7):
            assert torch.equal(result.obs[p, b], _reference_view(env, b, p)), (b, p)


def test_view_shows_wall_behind_an_agent_at_the_bottom():
    env = _open_env(1)
    obs = env.reset(1)
    obs = env.place_agents([[16]], [[10]], [[N]])
    walls = obs[0, 0, CHANNELS.index("wall")]
    assert walls[10].eq(1).all()  # the row behind is the bottom wall
    assert walls[9, 0] == 0 and walls[9, 5] == 0  # own row: floor


def test_observations_permute_with_the_players():
    env = CommonsHarvest()
    gen = make_generator(9)
    env.reset(2, generator=gen)
    for _ in range(10):
        env.step(torch.randint(8, (7, 2), generator=gen))
    perm = torch.randperm(7, generator=gen)
    obs = env._observe()
    env.positions, env.orientations = env.positions[perm], env.orientations[perm]
    env.active, env.cooldown = env.active[perm], env.cooldown[perm]
    permuted = env._observe()
    assert torch.equal(permuted, obs[perm])


def test_episode_length_distribution():
    config = CommonsConfig()
    gen = make_generator(11)
    lengths = torch.tensor([sample_episode_length(config, gen) for _ in range(4000)])
    assert lengths.min() >= 1000 and lengths.max() <= 5000
    assert ((lengths - 1000) % 100 == 0).all()
    k = (lengths - 1000) // 100
    # P(k) = 0.85^k 0.15 (capped): compare P(k = 0), P(k = 1) and the mean
    for value, p in ((0, 0.15), (1, 0.15 * 0.85)):
        freq = (k == value).double().mean().item()
        assert abs(freq - p) < 4.5 * math.sqrt(p * (1 - p) / 4000)
    n_max = 40
    probs = torch.tensor([0.85 ** j * 0.15 for j in range(n_max)] + [0.85 ** n_max], dtype=torch.float64)
    mean = (probs * torch.arange(n_max + 1, dtype=torch.float64)).sum().item()
    assert abs(k.double().mean().item() - mean) < 4.5 * (k.double().std().item() / math.sqrt(4000))
    assert sample_episode_length(CommonsConfig(end_probability=1.0), gen) == 1000
    assert sample_episode_length(CommonsConfig(min_steps=1050, end_probability=1.0), gen) == 1100
    assert sample_episode_length(CommonsConfig(end_probability=0.0), gen) == 5000


def test_the_whole_batch_ends_at_the_drawn_length():
    env = CommonsHarvest(layout="small", min_steps=6, end_interval=3, end_probability=0.5, max_steps=30)
    gen = make_generator(1)
    env.reset(5, generator=gen)
    length = env.current_length
    assert 6 <= length <= 30 and length % 3 == 0 and env.episode_length == 6
    for t in range(1, length + 1):
        done = env.step(torch.zeros(7, 5, dtype=torch.long)).done
        assert done.tolist() == [t == length] * 5
    with pytest.raises(RuntimeError, match="reset"):
        env.step(torch.zeros(7, 5, dtype=torch.long))
    # the length is drawn from the reset's generator: reproducible, and it varies
    drawn = []
    for seed in range(12):
        env.reset(1, generator=make_generator(seed))
        drawn.append(env.current_length)
    env.reset(1, generator=make_generator(0))
    assert env.current_length == drawn[0] and len(set(drawn)) > 1


def test_same_seed_same_episode_different_seeds_differ():
    def run(seed):
        env = CommonsHarvest(layout="small", min_steps=40, end_interval=40, end_probability=1.0)
        trace = []
        collect_rewards(env, RandomAgent(8), 8, generator=make_generator(seed),
                        on_step=lambda r: trace.append(torch.cat([env.positions, env.apples.T.long()])))
        return torch.stack(trace)

    assert torch.equal(run(5), run(5))
    assert not torch.equal(run(5), run(6))


def test_classroom_preset():
    env = CommonsHarvest(CommonsConfig.classroom())
    assert env.observation_shape == (6, 7, 7) and env.n_players == 7 and env.n_spots == 11
    rewards = collect_rewards(env, RandomAgent(8), 2, generator=make_generator(0))
    assert rewards.shape[:2] == (7, 2) and 100 <= rewards.shape[2] <= 400


def test_bad_input_and_bad_settings_give_clear_errors():
    env = CommonsHarvest(layout="small")
    env.reset(2)
    with pytest.raises(ValueError, match="7"):
        env.step(torch.zeros(2, 2, dtype=torch.long))  # wrong number of players
    with pytest.raises(ValueError, match=r"\[0, 7\]"):
        env.step(torch.full((7, 2), 8))
    with pytest.raises(TypeError, match="integer"):
        env.step(torch.zeros(7, 2))
    with pytest.raises(TypeError, match="unknown CommonsHarvest settings"):
        CommonsHarvest(n_agents=7)
    with pytest.raises(ValueError, match="surrounded by walls"):
        CommonsHarvest(layout="WWW\nW A\nWWW")
    with pytest.raises(ValueError, match="unknown characters"):
        CommonsHarvest(layout="WWWW\nWXPW\nWWWW")
    with pytest.raises(ValueError, match="spawn points"):
        CommonsHarvest(layout="WWWWW\nWAPPW\nWWWWW")
    with pytest.raises(ValueError, match="regrowth_probabilities"):
        CommonsHarvest(regrowth_probabilities=(0.0, 1.5))
    with pytest.raises(ValueError, match="n_players"):
        CommonsHarvest(n_players=0)
    with pytest.raises(ValueError, match="share a cell"):
        env.place_agents(torch.full((7, 2), 4), torch.full((7, 2), 4), torch.zeros(7, 2))
    with pytest.raises(ValueError, match="apple spots"):
        env.set_apples(torch.ones(2, env.height, env.width, dtype=torch.bool))
    assert set(LAYOUTS) == {"open", "small"}


def test_render_draws_a_game():
    import matplotlib.pyplot as plt

    env = CommonsHarvest()
    env.reset(2, generator=make_generator(0))
    rows = torch.tensor([12, 11, 15, 15, 15, 15, 15])[:, None].expand(7, 2)
    cols = torch.tensor([10, 10, 2, 4, 6, 8, 12])[:, None].expand(7, 2)
    env.place_agents(rows, cols, torch.zeros(7, 2, dtype=torch.long))
    env.step(torch.tensor([[ZAP] * 2] + [[NOOP] * 2] * 6))
    snap = env.snapshot(1)
    assert (11, 10) in snap["beam"] and not snap["agents"][1]["active"]
    ax = env.render(1)
    assert ax.get_title().startswith("Commons Harvest, t = 1")
    plt.close("all")


def test_the_package_keeps_every_name_of_the_former_module():
    # games/commons.py became a package split by concern (config, map, dynamics, observation, env);
    # every name the module defined is still importable from aa_lib.games.commons, with its value.
    from aa_lib.games import commons
    from aa_lib.games.commons import dynamics, env, map, observation

    names = ["CommonsHarvest", "CommonsConfig", "LAYOUTS", "OPEN_LAYOUT", "SMALL_LAYOUT", "ACTIONS", "ORIENTATIONS",
             "CHANNELS", "ZAP", "_DIRECTIONS", "_MOVE_RELATIVE", "_TURN", "sample_episode_length", "parse_layout",
             "beam_offsets"]
    assert all(hasattr(commons, name) for name in names)
    assert set(commons.__all__) <= set(names)
    assert commons.ZAP == commons.ACTIONS.index("zap") == ZAP
    assert commons.LAYOUTS == {"open": commons.OPEN_LAYOUT, "small": commons.SMALL_LAYOUT}
    assert commons.CommonsHarvest is env.CommonsHarvest
    assert all(issubclass(commons.CommonsHarvest, part)
               for part in (map.MapMixin, dynamics.DynamicsMixin, observation.ObservationMixin))
    assert commons.beam_offsets(CommonsConfig()) == [[(0, -1), (1, -1), (2, -1)], [(1, 0), (2, 0), (3, 0)],
                                                   [(0, 1), (1, 1), (2, 1)]]


# ----------------------------------------------------------------- seeded trajectories against the recorded ones
# tests/data/commons_reference.pt holds trajectories recorded with the implementation of commit c21e212 (before
# the environment was made faster, issue 21); the rules must reproduce them bit for bit. Re-record (only after an
# intended change of the rules) with `python tests/test_env_commons.py --record`.
REFERENCE_FILE = __import__("pathlib").Path(__file__).parent / "data" / "commons_reference.pt"
REFERENCE_CASES = {
    "open": (dict(), 12, 100, 31),  # Melting Pot's settings: (config overrides, batch, steps, seed)
    "classroom": (dict(layout="small", n_players=5, view_ahead=5, view_sides=3, min_steps=100, end_interval=20,
                       max_steps=400, regrowth_probabilities=(0.0, 0.01, 0.02, 0.1)), 10, 120, 32),
    "odd": (dict(layout="small", n_players=3, view_ahead=4, view_behind=2, view_sides=2, beam_length=4,
                 beam_radius=2, zap_cooldown=3, removal_steps=2, inside_spawn_players=1, min_steps=30,
                 end_interval=10, end_probability=0.5, max_steps=60), 6, 90, 33),
}
#: action probabilities of the recorded runs (noop, forward, backward, left, right, turn left, turn right, zap)
REFERENCE_ACTIONS = torch.tensor([0.08, 0.3, 0.08, 0.1, 0.1, 0.1, 0.1, 0.14])


def _record_trajectory(config: dict, batch: int, steps: int, seed: int, **env_options) -> dict:
    """State, rewards, infos and an observation digest of a seeded run with random actions (resets included)."""
    env = CommonsHarvest(**config, **env_options)
    gen, acts = make_generator(seed), make_generator(seed + 1000)
    weights = torch.rand(env.n_players, 1, *env.observation_shape, generator=make_generator(7), dtype=torch.float64)

    def digest(obs):  # [B]: a weighted sum of each game's observations (equal observations, equal digests)
        return (obs.double() * weights).sum(dim=(0, 2, 3, 4))

    record = {k: [] for k in ("positions", "orientations", "active", "cooldown", "removal_timer", "apples",
                              "rewards", "zapped", "fired", "done", "obs", "reset_obs", "length")}
    apple_weights = torch.randint(1, 2 ** 40, (env.n_spots + 1,), generator=make_generator(8))
    record["reset_obs"].append(digest(env.reset(batch, generator=gen)))
    for t in range(steps):
        if env.episode_over:
            record["reset_obs"].append(digest(env.reset(batch, generator=gen)))
        actions = torch.multinomial(REFERENCE_ACTIONS, env.n_players * batch, replacement=True,
                                    generator=acts).view(env.n_players, batch)
        result = env.step(actions)
        record["obs"].append(digest(result.obs))
        for name, dtype in (("positions", torch.int16), ("orientations", torch.int8), ("active", torch.bool),
                            ("cooldown", torch.int8), ("removal_timer", torch.int8)):
            record[name].append(getattr(env, name).to(dtype))
        record["apples"].append((env.apples.long() * apple_weights).sum(1))
        record["rewards"].append(result.rewards.to(torch.int8))
        record["zapped"].append(result.info["zapped"].clone())
        record["fired"].append(result.info["fired"].clone())
        record["done"].append(result.done.clone())
        record["length"].append(torch.tensor(env.current_length, dtype=torch.int16))
    out = {k: torch.stack(v) for k, v in record.items()}
    out["last_obs"] = (6 * result.obs[:, :2]).round().to(torch.int8)  # values are multiples of 1/6 here
    return out


def test_seeded_trajectories_equal_the_recorded_ones():
    reference = torch.load(REFERENCE_FILE, weights_only=True)
    for name, (config, batch, steps, seed) in REFERENCE_CASES.items():
        run = _record_trajectory(config, batch, steps, seed)
        assert run.keys() == reference[name].keys()
        for key, value in reference[name].items():
            assert torch.equal(run[key], value), (name, key)


# ------------------------------------------------------- compact observations and the paper's setting (issue 21)
def _reference_planes(env, b, p):
    """All planes of agent p in game b by explicit loops, including identity and regrowable planes."""
    c = env.config
    obs = _reference_view(env, b, p)  # the six planes; the others start at zero
    names = env.observation_channels
    # ready_to_shoot in float32 arithmetic, as the environment has always computed it (1 - 1/3 differs
    # in the last bit from the double-precision value rounded to float32)
    obs[5] = (1.0 - env.cooldown[p, b].float() / c.zap_cooldown) * env.active[p, b]
    if not env.active[p, b]:
        return obs
    rows = parse_layout(c.layout)
    apples = env.apple_grid()[b]
    r0, c0 = divmod(env.positions[p, b].item(), env.width)
    o = env.orientations[p, b].item()
    fwd, rgt = STEP[o], STEP[(o + 1) % 4]
    seat_at = {divmod(env.positions[q, b].item(), env.width): q
               for q in range(env.n_players) if q != p and env.active[q, b]}
    probs = c.regrowth_probabilities
    for i in range(env.view_rows):
        for j in range(env.view_cols):
            a, x = c.view_ahead - i, j - c.view_sides
            r, col = r0 + a * fwd[0] + x * rgt[0], c0 + a * fwd[1] + x * rgt[1]
            if not (0 <= r < env.height and 0 <= col < env.width):
                continue
            if c.identity_planes and (r, col) in seat_at:
                obs[names.index(f"other_{(seat_at[(r, col)] - p) % env.n_players}"), i, j] = 1.0
            if c.regrowth_plane and rows[r][col] == "A" and not apples[r, col]:
                n = sum(int(apples[r + dr, col + dc]) for dr in range(-2, 3) for dc in range(-2, 3)
                        if (dr or dc) and dr * dr + dc * dc <= 4
                        and 0 <= r + dr < env.height and 0 <= col + dc < env.width)
                obs[names.index("regrowable"), i, j] = float(probs[min(n, len(probs) - 1)] > 0)
    return obs


SETTINGS = {
    "default": dict(),
    "paper": CommonsConfig.paper_setting().__dict__,
    "classroom": CommonsConfig.classroom().__dict__,
    "odd": dict(layout="small", n_players=3, view_ahead=4, view_behind=2, view_sides=2, zap_cooldown=3,
                removal_steps=2, identity_planes=True, regrowth_plane=True, regrowth_probabilities=(0.0, 0.0, 0.2)),
    "crowd": dict(n_players=20, identity_planes=True, respawn_draws="rank"),  # 368 codes: int16
}


@pytest.mark.parametrize("name", list(SETTINGS))
def test_compact_codes_expand_exactly_to_the_planes(name):
    settings = {k: v for k, v in SETTINGS[name].items() if k != "observation"}
    planes_env = CommonsHarvest(**settings, observation="planes")
    compact_env = CommonsHarvest(**settings, observation="compact")
    B, P = 6, planes_env.n_players
    assert compact_env.observation_shape == (planes_env.view_rows, planes_env.view_cols)
    small = compact_env.n_observation_codes <= 256
    assert compact_env.observation_dtype == (torch.uint8 if small else torch.int16) and small == (name != "crowd")
    gens = [make_generator(40), make_generator(40)]
    planes, codes = planes_env.reset(B, generator=gens[0]), compact_env.reset(B, generator=gens[1])
    acts = make_generator(41)
    for t in range(60):
        assert codes.dtype == compact_env.observation_dtype and codes.shape == (P, B, *compact_env.observation_shape)
        assert torch.equal(compact_env.expand_observation(codes), planes)
        assert int(codes.max()) < compact_env.n_observation_codes
        actions = torch.multinomial(REFERENCE_ACTIONS, P * B, replacement=True, generator=acts).view(P, B)
        planes, codes = planes_env.step(actions).obs, compact_env.step(actions).obs
    out = torch.empty(P, B, *planes_env.observation_shape)
    assert compact_env.expand_observation(codes, out=out) is out and torch.equal(out, planes)
    assert torch.equal(compact_env.expand_observation(codes[0, 1]), planes[0, 1])  # any leading shape
    # the planes agree with the loop implementation, identity and regrowable planes included
    for b in range(B):
        for p in range(P):
            assert torch.equal(planes[p, b], _reference_planes(planes_env, b, p)), (name, b, p)


def test_paper_setting():
    config = CommonsConfig.paper_setting()
    assert CommonsConfig.melting_pot() == CommonsConfig()  # the default is unchanged
    assert (config.layout, config.removal_steps, config.view_ahead, config.view_behind, config.view_sides) == \
        ("open", 5, 9, 1, 5)
    assert config.regrowth_probabilities == (0.0, 0.0025, 0.005, 0.025)
    assert config.identity_planes and config.regrowth_plane and config.respawn_draws == "rank"
    env = CommonsHarvest(config)
    assert env.observation_shape == (13, 11, 11)  # 6 planes + 6 other agents + regrowable; 11 x 11 window
    assert env.observation_channels == CHANNELS + tuple(f"other_{j}" for j in range(1, 7)) + ("regrowable",)
    assert env.reset(2, generator=make_generator(0)).shape == (7, 2, 13, 11, 11)
    assert CommonsConfig.paper_setting(observation="compact").observation == "compact"
    # the view: 9 rows ahead of the agent, its own row, 1 row behind
    env = CommonsHarvest(config, n_players=1)
    env.reset(1)
    env.set_apples(torch.zeros(1, env.height, env.width, dtype=torch.bool))
    walls = env.place_agents([[10]], [[12]], [[N]])[0, 0, CHANNELS.index("wall")]
    assert walls.eq(0).all()  # the top wall (map row 0) is 10 rows ahead: out of view
    walls = env.place_agents([[9]], [[12]], [[N]])[0, 0, CHANNELS.index("wall")]
    assert walls[0].eq(1).all() and walls[1:].eq(0).all()  # 9 ahead: the top wall


def test_identity_planes_on_a_hand_made_map():
    env = CommonsHarvest(CommonsConfig.paper_setting(n_players=3))
    env.reset(1)
    env.set_apples(torch.zeros(1, env.height, env.width, dtype=torch.bool))
    # seat 0 at (12, 10) facing N; seat 1 two cells ahead of it, facing S; seat 2 two cells to its right,
    # facing W
    obs = env.place_agents([[12], [10], [12]], [[10], [10], [12]], [[N], [S], [W]])
    names = env.observation_channels
    assert names[6:8] == ("other_1", "other_2")
    plane = lambda p, name: obs[p, 0, names.index(name)]  # noqa: E731
    # seat 0 (window row 9 is its own, column 5): seat 1 is other_1, seat 2 is other_2
    assert plane(0, "other_1").nonzero().tolist() == [[7, 5]]
    assert plane(0, "other_2").nonzero().tolist() == [[9, 7]]
    # seat 1 faces S: seat 0 is two ahead; seat 2 (its other_1) two ahead and two to its right (west)
    assert plane(1, "other_2").nonzero().tolist() == [[7, 5]]
    assert plane(1, "other_1").nonzero().tolist() == [[7, 3]]
    # seat 2 faces W: seat 0 (its other_1) two ahead; seat 1 (its other_2) two ahead and two to its right
    assert plane(2, "other_1").nonzero().tolist() == [[7, 5]]
    assert plane(2, "other_2").nonzero().tolist() == [[7, 7]]
    for p in range(3):  # the agent plane is the union of the identity planes
        assert torch.equal(plane(p, "agent"), plane(p, "other_1") + plane(p, "other_2"))


def test_identity_planes_are_relative_to_the_viewer_seat():
    env = CommonsHarvest(CommonsConfig.paper_setting(n_players=5, layout="small"))
    gen = make_generator(12)
    env.reset(3, generator=gen)
    for _ in range(15):
        env.step(torch.randint(8, (5, 3), generator=gen))
    obs = env._observe()
    shift = torch.tensor([2, 3, 4, 0, 1])  # seats rotated by two: every agent keeps its relative seats
    env.positions, env.orientations = env.positions[shift], env.orientations[shift]
    env.active, env.cooldown = env.active[shift], env.cooldown[shift]
    assert torch.equal(env._observe(), obs[shift])


def test_regrowth_plane_on_a_hand_made_map():
    layout = "\n".join([
        "WWWWWWWWWWWWWW",
        "W  AAA   A A W",
        "W   A      A W",
        "W            W",
        "W PPPPPPPPPP W",
        "WWWWWWWWWWWWWW",
    ])
    # spots (1, 3), (1, 4), (1, 5), (2, 4) | (1, 9) | (1, 11), (2, 11); the only apple left is at (1, 3)
    grid = torch.zeros(1, 6, 14, dtype=torch.bool)
    grid[0, 1, 3] = True
    for probs, expected in (
        ((0.0, 0.0025, 0.005, 0.025), {(1, 4), (1, 5), (2, 4)}),  # one apple within radius 2 suffices
        ((0.0, 0.0, 0.1), set()),  # two apples needed: none
        ((0.01, 0.02), {(1, 4), (1, 5), (2, 4), (1, 9), (1, 11), (2, 11)}),  # every empty spot can regrow
    ):
        env = CommonsHarvest(layout=layout, n_players=1, inside_spawn_players=0, view_ahead=5, view_sides=6,
                             view_behind=0, regrowth_plane=True, regrowth_probabilities=probs)
        env.reset(1)
        env.set_apples(grid)
        obs = env.place_agents([[4]], [[7]], [[N]])  # facing N at (4, 7): window column j is map column j + 1
        regrowable = obs[0, 0, env.observation_channels.index("regrowable")]
        cells = {(4 - (5 - i), j + 1) for i, j in regrowable.nonzero().tolist()}
        assert cells == expected, probs
        assert obs[0, 0, env.observation_channels.index("apple")].nonzero().tolist() == [[2, 2]]


@pytest.mark.parametrize("removal", [1, 4, 5])
def test_zapped_agent_is_absent_for_removal_steps_observations(removal):
    env = CommonsHarvest(CommonsConfig.paper_setting(n_players=2, removal_steps=removal))
    env.reset(1, generator=make_generator(2))
    env.place_agents(torch.tensor([[12], [11]]), torch.tensor([[10], [10]]), torch.tensor([[N], [S]]))
    result = env.step(torch.tensor([[ZAP], [NOOP]]))
    absent = [not result.info["active"][1, 0]]
    assert result.obs[1].abs().sum() == 0
    while not result.info["active"][1, 0]:
        result = env.step(torch.tensor([[NOOP], [NOOP]]))
        absent.append(not result.info["active"][1, 0])
    assert absent == [True] * removal + [False]  # absent in `removal` observations, back in the next
    assert parse_layout("open")[env.positions[1, 0].item() // env.width][env.positions[1, 0].item() % env.width] \
        == "P"
    assert result.obs[1].abs().sum() > 0


@pytest.mark.parametrize("draws", ["scores", "rank"])
def test_respawn_points_are_uniform_over_the_free_spawn_points(draws):
    layout = "\n".join(["WWWWWWWW", "W      W", "WPPPPP W", "WWWWWWWW"])
    env = CommonsHarvest(layout=layout, n_players=3, inside_spawn_players=0, view_ahead=2, view_sides=1,
                         removal_steps=1, respawn_draws=draws)
    B = 3000
    env.reset(B, generator=make_generator(5))
    # seat 2 stands on spawn point (2, 3); seats 0 and 1 are removed and return at the next step
    env.place_agents(torch.tensor([[1], [1], [2]]), torch.tensor([[1], [2], [3]]), torch.tensor([[N], [N], [N]]),
                     active=torch.tensor([[False], [False], [True]]))
    env.step(torch.zeros(3, B, dtype=torch.long))
    assert env.active.all()
    cols = env.positions % env.width
    assert (env.positions[:2] // env.width == 2).all() and (cols[:2] != 3).all() and (cols[0] != cols[1]).all()
    for seat in range(2):  # four free points, each taken with probability 1/4
        freq = torch.stack([(cols[seat] == c).double().mean() for c in (1, 2, 4, 5)])
        assert (freq - 0.25).abs().max() < 4.5 * math.sqrt(0.25 * 0.75 / B), freq


class _NoHostSync(__import__("torch.utils._python_dispatch", fromlist=["TorchDispatchMode"]).TorchDispatchMode):
    """Fails on the operations that make a host wait for an accelerator (item, bool(), nonzero)."""

    FORBIDDEN = {"aten::_local_scalar_dense", "aten::is_nonzero", "aten::nonzero", "aten::item"}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func._schema.name in self.FORBIDDEN:
            raise AssertionError(f"{func._schema.name} synchronises with the device")
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("settings", [dict(), dict(CommonsConfig.paper_setting(observation="compact").__dict__)])
def test_accelerator_path_never_waits_and_plays_the_same_game(settings):
    """The path taken on an accelerator (masks over the batch, no host synchronisation) run on the CPU:
    no synchronising operation in step, and the same trajectory as the CPU path when both draw the same
    random numbers (someone moves and someone returns at every step)."""
    settings = {**settings, "layout": "small", "n_players": 5, "removal_steps": 1}
    runs = []
    for sync_free in (False, True):
        env = CommonsHarvest(**settings)
        env._sync_free = sync_free
        B = 48
        env.reset(B, generator=make_generator(3))
        env.place_agents(torch.tensor([7, 7, 7, 7, 6])[:, None], torch.tensor([2, 4, 6, 8, 6])[:, None],
                         torch.zeros(5, 1, dtype=torch.long), active=torch.tensor([[False], [True], [True],
                                                                                   [True], [True]]))
        acts, trace = make_generator(4), []
        probs = torch.tensor([0.05, 0.2, 0.05, 0.1, 0.1, 0.05, 0.05, 0.4])  # many zaps: returns at every step
        for _ in range(40):
            actions = torch.multinomial(probs, 5 * B, replacement=True, generator=acts).view(5, B)
            back_next = (~env.active & (env.removal_timer == 1)).any()
            assert back_next  # the CPU path draws the respawn numbers at every step too
            if sync_free:
                with _NoHostSync():
                    result = env.step(actions)
            else:
                result = env.step(actions)
            trace.append(torch.cat([env.positions, env.orientations, result.rewards.long(),
                                    result.info["zapped"].long(), env.apples.T.long()]))
            trace.append(result.obs.reshape(-1).long() if result.obs.dtype != torch.float32
                         else (6 * result.obs).round().long().reshape(-1))
        runs.append(trace)
    for a, b in zip(*runs):
        assert torch.equal(a, b)
    env = CommonsHarvest(layout="small")
    env.reset(2)
    with pytest.raises(AssertionError, match="synchronises"), _NoHostSync():  # the CPU path does check
        env.step(torch.zeros(7, 2, dtype=torch.long))
    env._sync_free = True
    with pytest.raises(RuntimeError, match=r"\[0, 7\]"):  # the range check runs on the device
        env.step(torch.full((7, 2), 8))


def test_new_settings_give_clear_errors():
    with pytest.raises(ValueError, match="observation"):
        CommonsHarvest(observation="pixels")
    with pytest.raises(ValueError, match="respawn_draws"):
        CommonsHarvest(respawn_draws="fast")
    with pytest.raises(TypeError, match="identity_planes"):
        CommonsHarvest(identity_planes=1)
    env = CommonsHarvest(observation="compact")
    codes = env.reset(2)
    with pytest.raises(TypeError, match="integer"):
        env.expand_observation(codes.float())
    with pytest.raises(ValueError, match="window shape"):
        env.expand_observation(codes[..., :5])
    with pytest.raises(ValueError, match="out"):
        env.expand_observation(codes, out=torch.empty(3))


if __name__ == "__main__":
    import sys

    if "--record" in sys.argv:
        torch.set_num_threads(1)
        REFERENCE_FILE.parent.mkdir(exist_ok=True)
        torch.save({name: _record_trajectory(*case) for name, case in REFERENCE_CASES.items()}, REFERENCE_FILE)
        print("recorded", REFERENCE_FILE, REFERENCE_FILE.stat().st_size, "bytes")
