"""Pictures of 2x2 games: the feasible payoff region, payoff tables, a payoff editor.

Everything drawn is computed by :mod:`aa_lib.games.matrix` and
:mod:`aa_lib.games.dilemmas`; this module only lays it out.

- :func:`plot_payoff_region` -- the set of expected payoff pairs (u1, u2) that
  some joint randomisation over the four pure outcomes reaches: the convex hull
  of the four outcome payoff pairs. Pure outcomes are labelled with action
  names; pure Nash equilibria, the mixed equilibrium's expected payoff and the
  Pareto-optimal outcomes (and the Pareto front of the region) are highlighted.
- :func:`payoff_table_markdown` / :func:`payoff_table_html` -- the bimatrix.
- :func:`payoff_editor` -- an ipywidgets form that rebuilds a game from typed
  payoffs and redraws, wrapping :func:`aa_lib.games.dilemmas.describe_game`.
"""
from __future__ import annotations

import html
from typing import List, Sequence, Tuple

import torch

from ..games.dilemmas import describe_game, is_symmetric
from ..games.matrix import PRISONERS_DILEMMA, MatrixGame, outcome_payoffs, symmetric_game

__all__ = [
    "convex_hull",
    "pareto_front_segments",
    "plot_payoff_region",
    "format_description",
    "payoff_table_markdown",
    "payoff_table_html",
    "game_from_outcomes",
    "PayoffEditor",
    "payoff_editor",
]

Point = Tuple[float, float]


def convex_hull(points: Sequence[Point]) -> List[Point]:
    """Vertices of the convex hull, counter-clockwise (Andrew's monotone chain).

    Duplicate and collinear points are dropped; 1 or 2 vertices are returned
    when all points coincide or lie on one line.
    """
    pts = sorted(set((float(x), float(y)) for x, y in points))
    if len(pts) <= 2:
        return pts

    def cross(o: Point, a: Point, b: Point) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    def half(seq):
        chain: List[Point] = []
        for p in seq:
            while len(chain) >= 2 and cross(chain[-2], chain[-1], p) <= 0:
                chain.pop()
            chain.append(p)
        return chain

    lower, upper = half(pts), half(reversed(pts))
    return lower[:-1] + upper[:-1]


def pareto_front_segments(hull: Sequence[Point]) -> List[Tuple[Point, Point]]:
    """Edges of a counter-clockwise hull that lie on its Pareto front.

    An edge is on the front when its outward normal points strictly up and to
    the right (both players gain by moving outwards), i.e. no point of the
    region dominates a point of the edge. For a CCW edge ``p -> q`` the
    outward normal is ``(dy, -dx)``. A 2-vertex (degenerate) hull is one
    segment, on the front when it slopes downwards.
    """
    hull = list(hull)
    if len(hull) == 2:
        (x0, y0), (x1, y1) = hull
        return [(hull[0], hull[1])] if (x1 - x0) * (y1 - y0) < 0 else []
    segments = []
    for p, q in zip(hull, hull[1:] + hull[:1]):
        dx, dy = q[0] - p[0], q[1] - p[1]
        if dy > 0 and -dx > 0:
            segments.append((p, q))
    return segments


def _outcome_points(game) -> dict:
    """``{(a1, a2): (u1, u2)}`` for the four pure outcomes."""
    pay = outcome_payoffs(game.payoffs)
    return {(a1, a2): (float(pay[a1, a2, 0]), float(pay[a1, a2, 1])) for a1 in range(2) for a2 in range(2)}


def plot_payoff_region(game: MatrixGame = PRISONERS_DILEMMA, ax=None, title: str | None = None):
    """Draw the feasible payoff region of a 2x2 game and its landmarks.

    Args:
        game: a :class:`MatrixGame`.
        ax: matplotlib Axes to draw on (a new figure when None).
        title: axes title (default: the game's name).

    Returns:
        The Axes. Legend labels: ``"feasible payoffs"``, ``"pure outcomes"``,
        ``"Pareto front"``, ``"Pareto-optimal"``, ``"pure Nash"``, ``"mixed Nash
        (expected)"`` (those that exist for this game).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon

    if not isinstance(game, MatrixGame):
        raise TypeError(f"game must be a MatrixGame, got {type(game).__name__}")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.2))
    desc = describe_game(game)
    points = _outcome_points(game)
    hull = convex_hull(list(points.values()))

    if len(hull) >= 3:
        ax.add_patch(Polygon(hull, closed=True, facecolor="tab:blue", alpha=0.15,
                             edgecolor="tab:blue", label="feasible payoffs"))
    else:  # all outcomes on one line (or one point): the region is a segment
        xs, ys = zip(*(hull + hull[:1]))
        ax.plot(xs, ys, color="tab:blue", alpha=0.4, lw=6, label="feasible payoffs")

    for i, (p, q) in enumerate(pareto_front_segments(hull)):
        ax.plot([p[0], q[0]], [p[1], q[1]], color="tab:green", lw=3,
                label="Pareto front" if i == 0 else None)

    xy = torch.tensor(list(points.values()))
    ax.scatter(xy[:, 0], xy[:, 1], s=30, color="black", zorder=3, label="pure outcomes")
    # One label per distinct point: outcomes with equal payoffs share it.
    labels: dict = {}
    for (a1, a2), uv in points.items():
        labels.setdefault(uv, []).append(f"({game.actions[a1]}, {game.actions[a2]})")
    for (u1, u2), names in labels.items():
        ax.annotate("\n".join(names) + f"\n{u1:g}, {u2:g}", (u1, u2),
                    textcoords="offset points", xytext=(6, 6), fontsize=8)

    pareto = [points[o] for o in _labels_to_outcomes(game, desc["pareto_optimal"])]
    if pareto:
        px, py = zip(*pareto)
        ax.scatter(px, py, s=160, facecolors="none", edgecolors="tab:green", linewidths=2,
                   zorder=4, label="Pareto-optimal")
    nash = [points[o] for o in _labels_to_outcomes(game, desc["pure_nash"])]
    if nash:
        nx, ny = zip(*nash)
        ax.scatter(nx, ny, s=220, marker="*", color="tab:red", zorder=5, label="pure Nash")
    for i, eq in enumerate(desc["mixed_nash"]):
        ax.scatter(*eq["payoffs"], s=80, marker="D", color="tab:orange", zorder=5,
                   label="mixed Nash (expected)" if i == 0 else None)

    _pad_limits(ax, xy)
    ax.set_xlabel("payoff of player 1 (row)")
    ax.set_ylabel("payoff of player 2 (column)")
    ax.set_title(title if title is not None else game.name)
    ax.legend(fontsize=7, loc="best")
    return ax


def _labels_to_outcomes(game, labels) -> List[Tuple[int, int]]:
    lookup = {f"({game.actions[a1]}, {game.actions[a2]})": (a1, a2) for a1 in range(2) for a2 in range(2)}
    return [lookup[label] for label in labels]


def _pad_limits(ax, xy: torch.Tensor, frac: float = 0.25) -> None:
    """Leave room around the outcomes for their labels."""
    lo, hi = xy.min(0).values, xy.max(0).values
    span = torch.clamp(hi - lo, min=1.0)
    ax.set_xlim(float(lo[0] - frac * span[0]), float(hi[0] + 1.6 * frac * span[0]))
    ax.set_ylim(float(lo[1] - frac * span[1]), float(hi[1] + 1.6 * frac * span[1]))


def format_description(desc: dict) -> str:
    """Plain-text summary of :func:`describe_game`'s dict (deterministic, rounded)."""

    def listing(items):
        return ", ".join(items) if items else "none"

    mixed = "none"
    if desc["mixed_nash"]:
        eq = desc["mixed_nash"][0]
        a0 = desc["actions"][0]
        mixed = (f"P1({a0}) = {eq['p1']:.4g}, P2({a0}) = {eq['p2']:.4g}, "
                 f"expected payoffs ({eq['payoffs'][0]:.4g}, {eq['payoffs'][1]:.4g})")
    if desc["social_dilemma"]:
        dilemma = f"yes ({desc['dilemma_kind']})"
    else:
        failed = sorted({name for conds in desc["conditions"] for name, ok in conds.items()
                         if name not in ("greed", "fear") and not ok})
        dilemma = "no (fails " + ", ".join(failed) + ")"
    kind = "symmetric" if desc["symmetric"] else "asymmetric"
    if desc["constant_sum"]:
        kind += ", constant-sum"
    return "\n".join([
        f"{desc['name']} ({kind})",
        f"  pure Nash equilibria:        {listing(desc['pure_nash'])}",
        f"  mixed Nash equilibrium:      {mixed}",
        f"  Pareto-optimal outcomes:     {listing(desc['pareto_optimal'])}",
        f"  Pareto-dominated equilibria: {listing(desc['pareto_dominated_nash'])}",
        f"  social dilemma:              {dilemma}",
    ])


def _cells(game) -> List[List[str]]:
    """``cells[a1][a2] = "u1, u2"``."""
    points = _outcome_points(game)
    return [[f"{points[(a1, a2)][0]:g}, {points[(a1, a2)][1]:g}" for a2 in range(2)] for a1 in range(2)]


def payoff_table_markdown(game: MatrixGame) -> str:
    """The bimatrix as a Markdown table: rows = player 1's action, cells = ``u1, u2``."""
    cells = _cells(game)
    a = game.actions
    lines = [
        f"| player 1 \\ player 2 | {a[0]} | {a[1]} |",
        "|---|---|---|",
    ]
    lines += [f"| **{a[i]}** | {cells[i][0]} | {cells[i][1]} |" for i in range(2)]
    return "\n".join(lines)


def payoff_table_html(game: MatrixGame) -> str:
    """The bimatrix as an HTML table: rows = player 1's action, cells = ``u1, u2``."""
    cells = _cells(game)
    a = [html.escape(x) for x in game.actions]
    head = f"<tr><th>player 1 \\ player 2</th><th>{a[0]}</th><th>{a[1]}</th></tr>"
    rows = "".join(
        f"<tr><th>{a[i]}</th><td>{cells[i][0]}</td><td>{cells[i][1]}</td></tr>" for i in range(2)
    )
    return f"<table>{head}{rows}</table>"


def game_from_outcomes(outcomes, name: str = "custom game", actions=("C", "D")) -> MatrixGame:
    """A game from its bimatrix ``outcomes[a1][a2] = (u1, u2)`` (textbook layout).

    Player 2's own-seat table is the transpose of its column of the bimatrix:
    ``payoffs[1, a2, a1] = u2(a1, a2)``.
    """
    pay = torch.as_tensor(outcomes, dtype=torch.float64)
    if tuple(pay.shape) != (2, 2, 2):
        raise ValueError(f"outcomes must have shape (2, 2, 2) indexed (a1, a2, player), got {tuple(pay.shape)}")
    return MatrixGame(name, torch.stack([pay[..., 0], pay[..., 1].transpose(0, 1)]), tuple(actions))


class PayoffEditor:
    """A payoff form, its description and its payoff-region plot, kept in sync.

    With *symmetric* ticked, four boxes R, S, T, P (one player's own-seat table)
    define both players' payoffs; unticked, eight boxes give ``u1, u2`` for each
    outcome. Every edit rebuilds the :class:`MatrixGame` (:attr:`game`), calls
    :func:`describe_game` (:attr:`description`) and redraws. Display it with
    ``display(editor.widget)`` (or let :func:`payoff_editor` return the widget).
    """

    SYMMETRIC_NAMES = (("R", 0, 0), ("S", 0, 1), ("T", 1, 0), ("P", 1, 1))

    def __init__(self, game: MatrixGame = PRISONERS_DILEMMA, draw: bool = True):
        import ipywidgets as widgets

        if not isinstance(game, MatrixGame):
            raise TypeError(f"game must be a MatrixGame, got {type(game).__name__}")
        self.actions = tuple(game.actions)
        self.draw = draw
        self.game = game
        self.description = describe_game(game)
        a = self.actions
        own = game.payoffs[0]
        self.symmetric_boxes = {
            name: widgets.FloatText(value=float(own[i, j]), description=f"{name} ({a[i]},{a[j]})",
                                    layout=widgets.Layout(width="170px"))
            for name, i, j in self.SYMMETRIC_NAMES
        }
        pay = outcome_payoffs(game.payoffs)
        self.outcome_boxes = {
            (a1, a2, k): widgets.FloatText(value=float(pay[a1, a2, k]),
                                           description=f"u{k + 1}({a[a1]},{a[a2]})",
                                           layout=widgets.Layout(width="170px"))
            for a1 in range(2) for a2 in range(2) for k in range(2)
        }
        self.symmetric = widgets.Checkbox(value=is_symmetric(game), description="symmetric game")
        self.text = widgets.HTML()
        self.plot = widgets.Output()
        self.form = widgets.VBox()
        for box in list(self.symmetric_boxes.values()) + list(self.outcome_boxes.values()):
            box.observe(self._on_edit, names="value")
        self.symmetric.observe(self._on_toggle, names="value")
        self.widget = widgets.VBox([self.symmetric, self.form, widgets.HBox([self.plot, self.text])])
        self._syncing = False
        self._layout_form()
        self.refresh()

    # -- building the game --------------------------------------------------------
    def current_game(self) -> MatrixGame:
        """The game the boxes describe now."""
        if self.symmetric.value:
            table = [[0.0, 0.0], [0.0, 0.0]]
            for name, i, j in self.SYMMETRIC_NAMES:
                table[i][j] = self.symmetric_boxes[name].value
            return symmetric_game("custom game", table, self.actions)
        outcomes = [[[self.outcome_boxes[(a1, a2, k)].value for k in range(2)] for a2 in range(2)]
                    for a1 in range(2)]
        return game_from_outcomes(outcomes, "custom game", self.actions)

    def refresh(self) -> None:
        """Rebuild the game from the boxes, describe it and redraw."""
        try:
            game = self.current_game()
        except (ValueError, TypeError) as err:  # e.g. an infinite payoff
            self.text.value = f"<b>invalid payoffs:</b> {html.escape(str(err))}"
            return
        self.game = game
        self.description = describe_game(game)
        self.text.value = (payoff_table_html(game) + "<pre>"
                           + html.escape(format_description(self.description)) + "</pre>")
        if self.draw:
            self._redraw()

    def _redraw(self) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        self.plot.clear_output(wait=True)
        with self.plot:
            fig, ax = plt.subplots(figsize=(4.5, 4.2))
            plot_payoff_region(self.game, ax=ax)
            display(fig)
            plt.close(fig)

    # -- widget callbacks ---------------------------------------------------------
    def _layout_form(self) -> None:
        import ipywidgets as widgets

        if self.symmetric.value:
            b = self.symmetric_boxes
            self.form.children = [widgets.HBox([b["R"], b["S"]]), widgets.HBox([b["T"], b["P"]])]
        else:
            rows = []
            for a1 in range(2):
                rows.append(widgets.HBox([self.outcome_boxes[(a1, a2, k)] for a2 in range(2) for k in range(2)]))
            self.form.children = rows

    def _on_edit(self, _change) -> None:
        if not self._syncing:
            self.refresh()

    def _on_toggle(self, change) -> None:
        """Carry the current payoffs over to the other set of boxes."""
        self._syncing = True
        try:
            if change["new"]:  # to symmetric: player 1's own-seat table defines both
                own = self.game.payoffs[0]
                for name, i, j in self.SYMMETRIC_NAMES:
                    self.symmetric_boxes[name].value = float(own[i, j])
            else:
                pay = outcome_payoffs(self.game.payoffs)
                for (a1, a2, k), box in self.outcome_boxes.items():
                    box.value = float(pay[a1, a2, k])
        finally:
            self._syncing = False
        self._layout_form()
        self.refresh()


def payoff_editor(game: MatrixGame = PRISONERS_DILEMMA):
    """An ipywidgets payoff editor for ``game`` (see :class:`PayoffEditor`).

    Returns the displayable widget; the :class:`PayoffEditor` behind it is its
    ``editor`` attribute (``w.editor.game``, ``w.editor.description``).
    """
    editor = PayoffEditor(game)
    editor.widget.editor = editor
    return editor.widget
