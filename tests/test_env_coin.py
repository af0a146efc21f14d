"""Coin Game: pickups, penalties, colour alternation, spawning, torus, seat symmetry, errors."""
import pytest
import torch

from aa_lib.agents.scripted import RandomAgent
from aa_lib.games import CoinGame, collect_rewards, make_generator
from aa_lib.games.coin import MOVES, _one_hot_planes

RIGHT, LEFT, DOWN, UP = 0, 1, 2, 3


def cell(r, c, g=3):
    return r * g + c


def test_moves_are_right_left_down_up():
    assert MOVES == ((0, 1), (0, -1), (1, 0), (-1, 0))


@pytest.mark.parametrize("start, move, end", [
    ((0, 0), UP, (2, 0)), ((0, 0), LEFT, (0, 2)), ((2, 2), DOWN, (0, 2)), ((2, 2), RIGHT, (2, 0)),
    ((1, 1), UP, (0, 1)), ((1, 1), RIGHT, (1, 2)),
])
def test_torus_wrap_around(start, move, end):
    env = CoinGame(episode_length=5)
    env.reset(1)
    other = next(c for c in range(9) if c not in (cell(*start), cell(*end)))
    coin = next(c for c in range(9) if c not in (cell(*start), cell(*end), other, other + 1 if other < 8 else 0))
    env.set_state([[cell(*start)], [other]], [coin], [0])
    env.step(torch.tensor([[move], [RIGHT]]))
    assert env.positions[0, 0].item() == cell(*end)


# (coin owner, player 0 lands on coin, player 1 lands on coin) -> rewards (red, blue)
PICKUPS = [
    (0, True, False, (1.0, 0.0)),    # red takes its own coin
    (0, False, True, (-2.0, 1.0)),   # blue takes red's coin: red pays the penalty
    (1, True, False, (1.0, -2.0)),   # red takes blue's coin
    (1, False, True, (0.0, 1.0)),    # blue takes its own coin
    (0, True, True, (-1.0, 1.0)),    # both take the red coin at once
    (1, True, True, (1.0, -1.0)),    # both take the blue coin at once (symmetric)
    (0, False, False, (0.0, 0.0)),   # nobody takes it
]


@pytest.mark.parametrize("owner, red_takes, blue_takes, expected", PICKUPS)
def test_pickup_rewards_and_penalties(owner, red_takes, blue_takes, expected):
    env = CoinGame(episode_length=5, penalty=-2.0)
    env.reset(1)
    coin = cell(1, 1)
    # red starts left of the coin, blue above it; RIGHT / DOWN land on the coin.
    env.set_state([[cell(1, 0)], [cell(0, 1)]], [coin], [owner])
    actions = torch.tensor([[RIGHT if red_takes else LEFT], [DOWN if blue_takes else UP]])
    result = env.step(actions)
    assert result.rewards[:, 0].tolist() == list(expected)
    picked_any = red_takes or blue_takes
    assert env.coin_owner[0].item() == (1 - owner if picked_any else owner)  # colours alternate
    if picked_any:
        assert env.coin[0].item() not in env.positions[:, 0].tolist()
    else:
        assert env.coin[0].item() == coin
    own = torch.tensor([owner == 0, owner == 1])
    picked = torch.tensor([red_takes, blue_takes])
    assert result.info["picked_own"][:, 0].tolist() == (picked & own).tolist()
    assert result.info["picked_other"][:, 0].tolist() == (picked & ~own).tolist()


def test_penalty_is_a_parameter():
    env = CoinGame(episode_length=5, penalty=-3.0)
    env.reset(1)
    env.set_state([[cell(1, 0)], [cell(0, 1)]], [cell(1, 1)], [0])
    assert env.step(torch.tensor([[LEFT], [DOWN]])).rewards[:, 0].tolist() == [-3.0, 1.0]


def test_new_coin_is_uniform_over_cells_no_player_occupies():
    B = 16000
    env = CoinGame(episode_length=5)
    gen = make_generator(7)
    env.reset(B, generator=gen)
    # half the games: players on distinct cells, half: on the same cell; red always takes the coin.
    red = torch.full((B,), cell(1, 0))
    blue = torch.where(torch.arange(B) < B // 2, torch.tensor(cell(2, 2)), torch.tensor(cell(1, 2)))
    env.set_state(torch.stack([red, blue]), torch.full((B,), cell(1, 1)), torch.zeros(B, dtype=torch.long))
    # red lands on the coin at (1, 1); blue lands on (2, 1) (first half) or on (1, 1) too (second half).
    env.step(torch.stack([torch.full((B,), RIGHT), torch.full((B,), LEFT)]))
    pos, coin = env.positions, env.coin
    assert not (coin[None] == pos).any()  # never under a player
    for half, n_free in ((slice(0, B // 2), 7), (slice(B // 2, B), 8)):
        counts = torch.bincount(coin[half], minlength=9).double()
        occupied = torch.unique(pos[:, half])
        assert counts[occupied].sum() == 0
        free = counts[counts > 0]
        assert len(free) == n_free
        expected = (B // 2) / n_free
        chi2 = ((free - expected) ** 2 / expected).sum()
        assert chi2 < 30.0  # chi-square, 6-7 degrees of freedom: p < 1e-4


def test_reset_never_puts_the_coin_under_a_player_and_colours_are_random():
    env = CoinGame()
    env.reset(5000, generator=make_generator(1))
    assert not (env.coin[None] == env.positions).any()
    assert 0.45 < env.coin_owner.float().mean() < 0.55
    assert (env.positions[0] == env.positions[1]).any()  # players may share a cell


def test_observation_planes():
    env = CoinGame(episode_length=5)
    env.reset(2)
    obs = env.set_state([[cell(0, 0), cell(2, 2)], [cell(1, 2), cell(2, 2)]], [cell(2, 1), cell(0, 0)], [1, 0])
    assert obs.shape == (2, 2, 4, 3, 3) and obs.dtype == torch.float32
    assert obs.sum(dim=(-1, -2)).tolist() == [[[1, 1, 0, 1], [1, 1, 1, 0]], [[1, 1, 1, 0], [1, 1, 0, 1]]]
    assert obs[0, 0, 0, 0, 0] == 1 and obs[0, 0, 1, 1, 2] == 1 and obs[0, 0, 3, 2, 1] == 1
    assert obs[1, 0, 0, 1, 2] == 1 and obs[1, 0, 1, 0, 0] == 1 and obs[1, 0, 2, 2, 1] == 1
    assert obs[0, 1, 2, 0, 0] == 1 and obs[1, 1, 3, 0, 0] == 1


@pytest.mark.parametrize("grid_size", [3, 4])
def test_observations_mirror_exactly_when_seats_are_swapped(grid_size):
    B, g = 256, grid_size
    gen = make_generator(5)
    env, swapped = CoinGame(g, episode_length=20), CoinGame(g, episode_length=20)
    env.reset(B, generator=gen)
    swapped.reset(B)
    for t in range(20):
        obs = swapped.set_state(env.positions.flip(0), env.coin, 1 - env.coin_owner)
        mine = env._observe()
        assert torch.equal(mine, obs.flip(0))
        actions = torch.randint(4, (2, B), generator=gen)
        coin_gen_state = gen.get_state()
        r = env.step(actions)
        gen.set_state(coin_gen_state)  # the swapped game draws the same new coin cell
        swapped.generator = gen
        s = swapped.step(actions.flip(0))
        assert torch.equal(r.rewards, s.rewards.flip(0))
        assert torch.equal(env.coin, swapped.coin)
        assert torch.equal(env.coin_owner, 1 - swapped.coin_owner)


def test_table_and_scatter_observations_agree():
    small, large = CoinGame(3), CoinGame(3)
    large._obs_table = None  # force the scatter path
    gen = make_generator(2)
    small.reset(300, generator=gen)
    large.reset(300)
    state = (small.positions, small.coin, small.coin_owner)
    assert torch.equal(small.set_state(*state), large.set_state(*state))
    assert small._obs_table.shape == (2 * 3 ** 6, 36)
    assert CoinGame(7)._obs_table is None  # too large: scatter
    assert torch.equal(_one_hot_planes(torch.tensor([0]), torch.tensor([0]), torch.tensor([3]),
                                       torch.tensor([1]), 2).view(4, 4),
                       torch.tensor([[1.0, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]]))


def test_episode_length_and_done():
    env = CoinGame(episode_length=4)
    rewards = collect_rewards(env, RandomAgent(4), 8, generator=make_generator(0))
    assert rewards.shape == (2, 8, 4)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(torch.zeros(2, 8, dtype=torch.long))


def test_same_seed_same_episode_different_seeds_differ():
    def run(seed):
        env = CoinGame(episode_length=30)
        gen = make_generator(seed)
        states = []
        collect_rewards(env, RandomAgent(4), 32, generator=gen,
                        on_step=lambda r: states.append(torch.cat([env.positions, env.coin[None]])))
        return torch.stack(states)

    assert torch.equal(run(11), run(11))
    assert not torch.equal(run(11), run(12))


def test_bad_input_gives_clear_errors():
    env = CoinGame()
    env.reset(4)
    with pytest.raises(ValueError, match="player"):
        env.step(torch.zeros(1, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="shape"):
        env.step(torch.zeros(2, 4, 1, dtype=torch.long))
    with pytest.raises(TypeError, match="integer"):
        env.step(torch.zeros(2, 4, dtype=torch.float32))
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        env.step(torch.full((2, 4), 4))
    with pytest.raises(ValueError, match="grid_size"):
        CoinGame(grid_size=1)
    with pytest.raises(ValueError, match="under a player"):
        env.set_state([[0, 1, 2, 3]] * 2, [0, 5, 5, 5], [0, 0, 0, 0])
    with pytest.raises(ValueError, match="shape"):
        env.set_state([[0, 1, 2]] * 2, [5, 5, 5], [0, 0, 0])


def test_render_draws_a_game():
    import matplotlib.pyplot as plt

    env = CoinGame()
    env.reset(3, generator=make_generator(0))
    env.step(torch.zeros(2, 3, dtype=torch.long))
    ax = env.render(2)
    assert ax.get_title().startswith("Coin Game, t = 1")
    assert len(ax.patches) == 3
    plt.close("all")


# ------------------------------------------------------------ observe_thefts planes
@pytest.mark.parametrize("owner, red_takes, blue_takes", [(o, r, b) for o, r, b, _ in PICKUPS])
def test_theft_planes_show_who_took_the_others_coin_in_the_previous_step(owner, red_takes, blue_takes):
    env = CoinGame(episode_length=5, observe_thefts=True)
    env.reset(1)
    obs = env.set_state([[cell(1, 0)], [cell(0, 1)]], [cell(1, 1)], [owner])
    assert obs.shape == (2, 1, 6, 3, 3) and env.observation_shape == (6, 3, 3)
    assert obs[:, :, 4:].sum() == 0  # no previous step yet
    actions = torch.tensor([[RIGHT if red_takes else LEFT], [DOWN if blue_takes else UP]])
    obs = env.step(actions).obs
    red_stole, blue_stole = red_takes and owner == 1, blue_takes and owner == 0
    # plane 4: the other stole from me; plane 5: I stole from the other; constant over the grid
    expected = {(0, 4): blue_stole, (0, 5): red_stole, (1, 4): red_stole, (1, 5): blue_stole}
    for (seat, plane), flag in expected.items():
        assert torch.equal(obs[seat, 0, plane], torch.full((3, 3), float(flag))), (seat, plane)
    # the planes show only the last step: move both players away from the new coin
    far = [m for m in range(4) if env._move_table[env.positions[0, 0] * 4 + m] != env.coin[0]][0]
    far1 = [m for m in range(4) if env._move_table[env.positions[1, 0] * 4 + m] != env.coin[0]][0]
    assert env.step(torch.tensor([[far], [far1]])).obs[:, :, 4:].sum() == 0


def test_theft_planes_leave_the_game_and_the_position_planes_unchanged():
    plain, with_thefts = CoinGame(episode_length=12), CoinGame(episode_length=12, observe_thefts=True)
    runs = []
    for env in (plain, with_thefts):
        obs_seen = []
        rewards = collect_rewards(env, RandomAgent(4), 64, generator=make_generator(3),
                                  on_step=lambda r: obs_seen.append(r.obs))
        runs.append((rewards, torch.stack(obs_seen)))
    assert torch.equal(runs[0][0], runs[1][0])  # same random stream, same games
    assert torch.equal(runs[0][1], runs[1][1][:, :, :, :4])
    assert runs[1][1][:, :, :, 4:].sum() > 0  # random players do steal


def test_theft_planes_bad_input():
    with pytest.raises(TypeError, match="observe_thefts"):
        CoinGame(observe_thefts=1)
    env = CoinGame(observe_thefts=True)
    env.reset(2)
    with pytest.raises(ValueError, match="last_thefts"):
        env.set_state([[0, 1], [2, 3]], [5, 5], [0, 0], last_thefts=torch.zeros(2, 2))
    obs = env.set_state([[0, 1], [2, 3]], [5, 5], [0, 0], last_thefts=torch.tensor([[True, False], [False, False]]))
    assert obs[1, 0, 4].sum() == 9 and obs[0, 0, 5].sum() == 9 and obs[:, 1, 4:].sum() == 0
