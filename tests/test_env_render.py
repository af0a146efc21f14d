"""Drawing: every environment renders a game, and whole episodes animate (for notebooks)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from aa_lib.agents import (CoinAlwaysCooperate, CoinAlwaysDefect, GreedyHarvester,  # noqa: E402
                           NegotiationAlwaysCooperate, TitForTat)
from aa_lib.games import (CoinGame, CommonsConfig, CommonsHarvest, IteratedMatrixGame, NegotiationGame,  # noqa: E402
                          animate_episode, make_generator, record_episode)

CASES = [
    (lambda: IteratedMatrixGame(episode_length=4), TitForTat),
    (lambda: CoinGame(episode_length=4), CoinAlwaysCooperate),
    (lambda: NegotiationGame(episode_length=4), NegotiationAlwaysCooperate),
    (lambda: CommonsHarvest(CommonsConfig.classroom()), lambda: GreedyHarvester(CommonsConfig.classroom())),
]


@pytest.mark.parametrize("make_env, make_agent", CASES, ids=["iterated", "coin", "negotiation", "commons"])
def test_record_and_animate_an_episode(make_env, make_agent):
    env = make_env()
    frames = record_episode(env, make_agent(), batch_size=2, index=1, generator=make_generator(0), max_steps=4)
    assert len(frames) == 5 and frames[0]["t"] == 0 and frames[-1]["t"] == 4
    anim = animate_episode(env, make_agent(), generator=make_generator(0), max_steps=3, interval=50)
    html = anim.to_jshtml()
    assert "<script" in html and html.count("data:image/png") >= 4  # one image per frame (start + 3 steps)
    fig, ax = plt.subplots()
    assert env.render(0, ax=ax) is ax
    plt.close("all")


def test_recorded_frames_follow_the_game():
    env = CoinGame(episode_length=6)
    frames = record_episode(env, [CoinAlwaysCooperate(), CoinAlwaysDefect()], generator=make_generator(3))
    assert len(frames) == 7
    assert frames[-1]["returns"] == [float(r) for r in env.returns[:, 0]]
    with pytest.raises(ValueError, match="max_steps"):
        record_episode(env, CoinAlwaysDefect(), max_steps=0)


def test_render_before_reset_is_refused():
    with pytest.raises(RuntimeError, match="reset"):
        CoinGame().render()
    env = CoinGame()
    env.reset(2)
    with pytest.raises(ValueError, match="index"):
        env.render(5)
    plt.close("all")
