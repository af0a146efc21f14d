"""Plots and widgets build, and the functions behind them give the right numbers."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Polygon  # noqa: E402

from aa_lib.exact import policy_logits, run_exact_learning  # noqa: E402
from aa_lib.games.matrix import CHICKEN, MATCHING_PENNIES, PRISONERS_DILEMMA, STAG_HUNT  # noqa: E402
from aa_lib.viz.games import (  # noqa: E402
    convex_hull,
    format_description,
    game_from_outcomes,
    pareto_front_segments,
    payoff_table_html,
    payoff_table_markdown,
    plot_payoff_region,
)
from aa_lib.viz.learning import (  # noqa: E402
    explore_learning,
    format_summary,
    opening_disagreement,
    plot_cooperation_trajectories,
    plot_final_policies,
    plot_final_reward_histogram,
    plot_learning_summary,
    plot_reward_curves,
    plot_state_sequence,
    summarize_history,
)
from aa_lib.games.dilemmas import describe_game  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ---------------------------------------------------------------- geometry


def test_convex_hull_of_the_prisoners_dilemma_outcomes():
    points = [(-1, -1), (-3, 0), (0, -3), (-2, -2)]
    # (-2, -2) lies below the line x + y = -3 through (-3, 0) and (0, -3): a vertex too.
    hull = convex_hull(points)
    assert set(hull) == {(-1.0, -1.0), (-3.0, 0.0), (0.0, -3.0), (-2.0, -2.0)}
    # Counter-clockwise: the shoelace area is positive. The kite's diagonals, (-3, 0)-(0, -3) of
    # length 3 sqrt(2) and (-2, -2)-(-1, -1) of length sqrt(2), are perpendicular: area 3.
    area = 0.5 * sum(p[0] * q[1] - q[0] * p[1] for p, q in zip(hull, hull[1:] + hull[:1]))
    assert area == pytest.approx(3.0)


def test_convex_hull_drops_interior_duplicate_and_collinear_points():
    square = [(0, 0), (2, 0), (2, 2), (0, 2), (1, 1), (0, 0), (1, 0)]
    assert set(convex_hull(square)) == {(0.0, 0.0), (2.0, 0.0), (2.0, 2.0), (0.0, 2.0)}
    assert convex_hull([(1, -1), (-1, 1), (1, -1), (-1, 1)]) == [(-1.0, 1.0), (1.0, -1.0)]
    assert convex_hull([(0, 0), (1, 1), (2, 2)]) == [(0.0, 0.0), (2.0, 2.0)]


def test_pareto_front_segments():
    pd = pareto_front_segments(convex_hull([(-1, -1), (-3, 0), (0, -3), (-2, -2)]))
    assert {frozenset(s) for s in pd} == {frozenset({(0.0, -3.0), (-1.0, -1.0)}),
                                          frozenset({(-1.0, -1.0), (-3.0, 0.0)})}
    # A square's front is its top-right corner alone: no edge.
    assert pareto_front_segments(convex_hull([(0, 0), (1, 0), (1, 1), (0, 1)])) == []
    # Zero-sum: the whole (degenerate) region is the front; an increasing segment has none.
    assert len(pareto_front_segments([(-1.0, 1.0), (1.0, -1.0)])) == 1
    assert pareto_front_segments([(0.0, 0.0), (2.0, 2.0)]) == []


# ---------------------------------------------------------------- game plots and tables


def test_payoff_region_plot_of_the_prisoners_dilemma():
    ax = plot_payoff_region(PRISONERS_DILEMMA)
    _, labels = ax.get_legend_handles_labels()
    assert labels == ["feasible payoffs", "Pareto front", "pure outcomes", "Pareto-optimal", "pure Nash"]
    (patch,) = [p for p in ax.patches if isinstance(p, Polygon)]
    assert {tuple(v) for v in patch.get_xy().tolist()} == {(-1.0, -1.0), (-3.0, 0.0), (0.0, -3.0), (-2.0, -2.0)}
    offsets = {lab: c.get_offsets().tolist() for c, lab in zip(ax.collections, [c.get_label() for c in ax.collections])}
    assert offsets["pure Nash"] == [[-2.0, -2.0]]
    assert sorted(map(tuple, offsets["Pareto-optimal"])) == [(-3.0, 0.0), (-1.0, -1.0), (0.0, -3.0)]
    texts = [t.get_text() for t in ax.texts]
    assert "(C, D)\n-3, 0" in texts and len(texts) == 4
    assert ax.get_title() == "Prisoner's Dilemma"


def test_payoff_region_marks_the_mixed_equilibrium_and_shares_labels_of_equal_outcomes():
    ax = plot_payoff_region(CHICKEN)
    mixed = [c for c in ax.collections if c.get_label() == "mixed Nash (expected)"]
    assert mixed[0].get_offsets().tolist()[0] == pytest.approx([-0.1, -0.1])
    ax = plot_payoff_region(MATCHING_PENNIES)
    # (Heads, Heads) and (Tails, Tails) both pay (1, -1): one shared label; no Polygon (a segment).
    assert "(Heads, Heads)\n(Tails, Tails)\n1, -1" in [t.get_text() for t in ax.texts]
    assert not [p for p in ax.patches if isinstance(p, Polygon)]
    with pytest.raises(TypeError, match="game"):
        plot_payoff_region(PRISONERS_DILEMMA.payoffs)


def test_payoff_tables():
    assert payoff_table_markdown(STAG_HUNT).splitlines() == [
        "| player 1 \\ player 2 | Stag | Hare |",
        "|---|---|---|",
        "| **Stag** | 4, 4 | 0, 3 |",
        "| **Hare** | 3, 0 | 3, 3 |",
    ]
    html = payoff_table_html(PRISONERS_DILEMMA)
    assert html.startswith("<table>") and "<td>-3, 0</td>" in html and "<td>0, -3</td>" in html


def test_game_from_outcomes_round_trip():
    rebuilt = game_from_outcomes([[(-1, -1), (-3, 0)], [(0, -3), (-2, -2)]])
    assert rebuilt.payoffs.tolist() == PRISONERS_DILEMMA.payoffs.tolist()
    mp = game_from_outcomes([[(1, -1), (-1, 1)], [(-1, 1), (1, -1)]], actions=("Heads", "Tails"))
    assert torch.equal(mp.payoffs, MATCHING_PENNIES.payoffs)
    with pytest.raises(ValueError, match="outcomes"):
        game_from_outcomes([[1, 2], [3, 4]])


def test_format_description():
    text = format_description(describe_game(CHICKEN))
    assert "P1(Swerve) = 0.9, P2(Swerve) = 0.9, expected payoffs (-0.1, -0.1)" in text
    assert "social dilemma:              no (fails 2R > T + S)" in text
    assert "yes (Prisoner's Dilemma)" in format_description(describe_game(PRISONERS_DILEMMA))


def test_payoff_editor_rebuilds_and_redescribes_the_game():
    pytest.importorskip("ipywidgets")
    from aa_lib.viz.games import PayoffEditor, payoff_editor

    widget = payoff_editor(PRISONERS_DILEMMA)
    editor = widget.editor
    assert isinstance(editor, PayoffEditor) and editor.symmetric.value
    assert len(editor.form.children) == 2  # R S / T P
    editor.symmetric_boxes["R"].value = -2.5  # now worse than mutual defection
    assert editor.game.payoffs[0, 0, 0] == -2.5 and editor.game.payoffs[1, 0, 0] == -2.5
    assert not editor.description["social_dilemma"]
    assert "no (fails 2R &gt; T + S, R &gt; P)" in editor.text.value  # the summary, HTML-escaped
    # Untick "symmetric": the 8 boxes carry the current payoffs over.
    editor.symmetric.value = False
    assert editor.outcome_boxes[(0, 0, 1)].value == -2.5 and len(editor.form.children) == 2
    editor.outcome_boxes[(0, 1, 1)].value = 5.0  # player 2's payoff at (C, D)
    assert editor.game.payoffs[1, 1, 0] == 5.0 and editor.game.payoffs[0, 0, 1] == -3.0
    assert not editor.description["symmetric"]


def test_payoff_editor_toggle_to_symmetric_and_invalid_input():
    pytest.importorskip("ipywidgets")
    from aa_lib.viz.games import PayoffEditor

    editor = PayoffEditor(MATCHING_PENNIES, draw=False)
    assert not editor.symmetric.value and editor.description["constant_sum"]
    editor.symmetric.value = True  # player 1's own-seat table now defines both
    assert editor.game.payoffs[1].tolist() == MATCHING_PENNIES.payoffs[0].tolist()
    editor.symmetric_boxes["T"].value = float("inf")
    assert "invalid payoffs" in editor.text.value
    assert torch.isfinite(editor.game.payoffs).all()  # the last valid game is kept


# ---------------------------------------------------------------- learning plots


@pytest.fixture(scope="module")
def naive_history():
    return run_exact_learning("naive", n_seeds=3, n_steps=5)


def test_summary_numbers(naive_history):
    h = naive_history
    s = summarize_history(h)
    assert s["n_seeds"] == 3 and s["n_steps"] == 5 and s["rules"] == ("naive", "naive")
    assert s["final_mean_reward"] == pytest.approx(float(0.5 * (h.reward1[-1] + h.reward2[-1]).mean()))
    assert s["initial_mean_reward"] == pytest.approx(float(h.mean_reward[0].mean()))
    pooled = torch.cat([torch.sigmoid(h.theta1[-1]), torch.sigmoid(h.theta2[-1])])
    assert s["final_p_cooperate"] == pytest.approx(pooled.mean(0).tolist())
    assert "3 seeds x 5 steps" in format_summary(s)


def test_explore_learning_passes_eta_as_lookahead_lr():
    h, s = explore_learning("lola_shaping", lr=0.5, eta=7.0, gamma=0.9, n_seeds=2, n_steps=2, seed=3)
    direct = run_exact_learning("lola_shaping", n_seeds=2, n_steps=2, gamma=0.9, lr=0.5, lookahead_lr=7.0, seed=3)
    assert torch.equal(h.theta1, direct.theta1) and s["lookahead_lr"] == 7.0 and s["gamma"] == 0.9


def test_opening_disagreement_counts_mismatched_start_moves():
    opens_c, opens_d = policy_logits([0.9] * 5), policy_logits([0.1] * 5)
    th1 = torch.stack([opens_c, opens_c, opens_d, opens_d])
    th2 = torch.stack([opens_c, opens_d, opens_c, opens_d])
    h = run_exact_learning("naive", n_seeds=4, n_steps=0, theta1=th1, theta2=th2)
    assert opening_disagreement(h).tolist() == [0.5]


def test_reward_curves_draw_seeds_mean_band_and_levels(naive_history):
    ax = plot_reward_curves(naive_history, levels={"a": -1.0, "b": -2.0})
    # 1 mean + 3 seeds + 2 reference lines.
    assert len(ax.lines) == 6
    assert ax.lines[0].get_ydata().tolist() == pytest.approx(naive_history.mean_reward.mean(1).tolist())
    assert len(ax.collections) == 1  # the std band
    ax = plot_reward_curves(naive_history, show_seeds=False)
    assert len(ax.lines) == 1


def test_cooperation_trajectories(naive_history):
    fig = plot_cooperation_trajectories(naive_history, player=2)
    axes = fig.axes
    assert len(axes) == 5 and [a.get_title() for a in axes][1] == "P(C | CC)"
    # Panel s: 3 faint seed lines + the mean of player 2's P(C | s).
    assert len(axes[3].lines) == 4
    assert axes[3].lines[-1].get_ydata().tolist() == pytest.approx(naive_history.p_cooperate2[:, :, 3].mean(1).tolist())
    assert len(plot_cooperation_trajectories(naive_history).axes[0].lines) == 7  # both players pooled
    with pytest.raises(ValueError, match="player"):
        plot_cooperation_trajectories(naive_history, player=3)


def test_final_policies_and_histogram(naive_history):
    ax = plot_final_policies(naive_history)
    bars = [p.get_height() for p in ax.patches]
    expected = naive_history.p_cooperate1[-1].mean(0).tolist() + naive_history.p_cooperate2[-1].mean(0).tolist()
    assert bars == pytest.approx(expected)
    assert len(ax.collections) == 2 and len(ax.collections[0].get_offsets()) == 15  # 3 seeds x 5 states
    ax = plot_final_reward_histogram(naive_history, range_=None)
    assert sum(p.get_height() for p in ax.patches) == 3
    fig = plot_learning_summary(naive_history)
    assert len(fig.axes) == 3
    with pytest.raises(TypeError, match="history"):
        plot_final_policies({"naive": naive_history})


def test_state_sequence_shows_tit_for_tat_alternation():
    tft = policy_logits([1, 1, 0, 1, 0])
    suspicious = policy_logits([0, 1, 0, 1, 0])  # Tit-for-Tat that opens with D
    ax = plot_state_sequence(suspicious, tft, horizon=5)
    image = torch.tensor(ax.images[0].get_array())  # [state, t]
    # t=0 start; then DC, CD, DC, CD (player 1's seat) with probability 1.
    assert image.argmax(0).tolist() == [0, 3, 2, 3, 2]
    assert image.max(0).values.tolist() == pytest.approx([1.0] * 5)
    with pytest.raises(ValueError, match="shape"):
        plot_state_sequence(tft[:4], tft)


# ---------------------------------------------------------------- learning explorer


def test_learning_explorer_runs_with_its_controls():
    pytest.importorskip("ipywidgets")
    from aa_lib.viz.learning import learning_explorer

    widget = learning_explorer(rule="naive", n_seeds=2, n_steps=3)
    explorer = widget.explorer
    assert explorer.history is None  # nothing runs until asked
    explorer.draw = False
    explorer.rule.value = "lola_lookahead"
    explorer.eta.value = 10.0
    history, summary = explorer.run()
    assert history.rules == ("lola_lookahead", "lola_lookahead")
    assert history.lookahead_lr == pytest.approx(10.0) and summary["n_steps"] == 3
    direct = run_exact_learning("lola_lookahead", n_seeds=2, n_steps=3, lr=explorer.lr.value,
                                lookahead_lr=explorer.eta.value, gamma=explorer.gamma.value)
    assert torch.allclose(history.theta2, direct.theta2)
    assert "lola_lookahead" in explorer.text.value
    # POLA's proximal displacement runs with lr 1: choosing it resets the slider; another lr is refused
    explorer.lr.value = 3.0
    explorer.rule.value = "pola"
    assert explorer.lr.value == pytest.approx(1.0)
    assert explorer.run()[0].rules == ("pola", "pola")
    explorer.lr.value = 3.0
    assert explorer.run() is None and "lr=1" in explorer.text.value
