"""Plots and widgets build, and the functions behind them give the right numbers."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from aa_lib.exact import run_exact_learning  # noqa: E402
from aa_lib.games.matrix import CHICKEN, PRISONERS_DILEMMA  # noqa: E402
from aa_lib.viz.games import convex_hull, game_from_outcomes, payoff_table_markdown, plot_payoff_region  # noqa: E402
from aa_lib.viz.learning import plot_cooperation, plot_final_policies, plot_history, plot_rewards  # noqa: E402


def test_convex_hull_of_the_prisoners_dilemma_outcomes():
    points = [(-1, -1), (-3, 0), (0, -3), (-2, -2)]
    # (-2, -2) lies below the line x + y = -3 through (-3, 0) and (0, -3): a vertex too.
    assert set(convex_hull(points)) == {(-1.0, -1.0), (-3.0, 0.0), (0.0, -3.0), (-2.0, -2.0)}
    # An interior point (the centre of a square) and a duplicate are dropped.
    square = [(0, 0), (2, 0), (2, 2), (0, 2), (1, 1), (0, 0)]
    assert set(convex_hull(square)) == {(0.0, 0.0), (2.0, 0.0), (2.0, 2.0), (0.0, 2.0)}


def test_payoff_region_plot_draws_the_four_outcomes():
    ax = plot_payoff_region(CHICKEN)
    xs = {round(float(x), 6) for coll in ax.collections for x, _ in coll.get_offsets()}
    assert {-10.0, -1.0, 0.0, 1.0} <= xs
    plt.close("all")


def test_payoff_table_and_round_trip():
    table = payoff_table_markdown(PRISONERS_DILEMMA)
    assert "-3" in table and "|" in table
    rebuilt = game_from_outcomes([[(-1, -1), (-3, 0)], [(0, -3), (-2, -2)]])
    assert rebuilt.payoffs.tolist() == PRISONERS_DILEMMA.payoffs.tolist()


def test_learning_plots():
    h = run_exact_learning("naive", n_seeds=3, n_steps=5)
    ax = plot_rewards(h)
    assert len(ax.lines) >= 4  # 3 seeds + mean (+ reference levels)
    axes = plot_cooperation(h, player=2)
    assert len(axes) == 5 and axes[1].get_title() == "P(C | CC)"
    plot_final_policies({"naive": h})
    plot_history(h)
    with pytest.raises(ValueError, match="player"):
        plot_cooperation(h, player=3)
    plt.close("all")


def test_widgets_build():
    pytest.importorskip("ipywidgets")
    from aa_lib.viz.games import payoff_editor
    from aa_lib.viz.learning import learning_explorer

    assert payoff_editor(PRISONERS_DILEMMA) is not None
    assert learning_explorer(n_seeds=2, n_steps=3) is not None
    plt.close("all")
