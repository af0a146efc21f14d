"""Plots and a dashboard for exact learning runs (:mod:`aa_lib.exact.learning`).

A :class:`~aa_lib.exact.learning.LearningHistory` holds ``K + 1`` snapshots of
``N`` independent seeds: logits ``theta1, theta2 [K+1, N, 5]`` and exact per-step
rewards ``reward1, reward2 [K+1, N]``. The plots here show

- :func:`plot_reward_curves` -- per-step reward over learning steps: the mean over
  seeds with a +-1 standard deviation band and every seed as a faint line;
- :func:`plot_cooperation_trajectories` -- P(C | state) over steps for the five
  memory-one states (start, CC, CD, DC, DD, own seat);
- :func:`plot_final_policies` -- final P(C | state): mean bars and one dot per seed;
- :func:`plot_final_reward_histogram` -- how the seeds' final rewards spread
  (multi-modal outcomes show up here, not in the mean);
- :func:`plot_state_sequence` -- for one pair of policies, the exact probability of
  each state at each time step of the game (alternation CD, DC, ... is visible).

:func:`explore_learning` runs :func:`~aa_lib.exact.learning.run_exact_learning`
and summarises it; :func:`learning_explorer` wraps it in ipywidgets.
"""
from __future__ import annotations

from typing import Optional

import torch

from ..exact.learning import RULES, LearningHistory, run_exact_learning
from ..exact.memory_one import STATE_NAMES, finite_horizon_solution
from ..games.matrix import PRISONERS_DILEMMA

__all__ = [
    "STATE_COLORS",
    "IPD_LEVELS",
    "summarize_history",
    "format_summary",
    "opening_disagreement",
    "explore_learning",
    "plot_reward_curves",
    "plot_cooperation_trajectories",
    "plot_final_policies",
    "plot_final_reward_histogram",
    "plot_state_sequence",
    "plot_learning_summary",
    "LearningExplorer",
    "learning_explorer",
]

#: One colour per memory-one state (start, CC, CD, DC, DD).
STATE_COLORS = ("tab:gray", "tab:green", "tab:red", "tab:blue", "tab:purple")
#: Per-step rewards of the Prisoner's Dilemma of REFERENCES.md worth marking on reward plots.
IPD_LEVELS = {"mutual cooperation": -1.0, "alternation CD/DC": -1.5, "mutual defection": -2.0}


def _check_history(history) -> LearningHistory:
    if not isinstance(history, LearningHistory):
        raise TypeError(f"history must be a LearningHistory, got {type(history).__name__}")
    return history


def _pooled_policies(history: LearningHistory, player) -> torch.Tensor:
    """P(C | state), own seat, ``[K+1, M, 5]``: one player's seeds, or both players' (M = 2N)."""
    if player == 1:
        return history.p_cooperate1
    if player == 2:
        return history.p_cooperate2
    if player == "both":
        return torch.cat([history.p_cooperate1, history.p_cooperate2], dim=1)
    raise ValueError(f"player must be 1, 2 or 'both', got {player!r}")


def summarize_history(history: LearningHistory, threshold: float = 0.5) -> dict:
    """Key numbers of a run.

    Returns a dict: ``rules``, ``lr``, ``lookahead_lr``, ``gamma``, ``n_seeds``,
    ``n_steps``; ``initial_mean_reward`` and ``final_mean_reward`` (mean over seeds
    and both players), ``final_std_reward`` (std over seeds of the two players'
    mean), ``tft_fraction`` (fraction of (seed, player) pairs whose final policy
    is TFT-like, see :func:`~aa_lib.exact.learning.is_tft_like`) and
    ``final_p_cooperate`` (mean final P(C | state) over seeds and players, 5 floats).
    """
    h = _check_history(history)
    final = h.mean_reward[-1]  # [N]
    pooled = _pooled_policies(h, "both")[-1]  # [2N, 5]
    return {
        "rules": h.rules,
        "lr": h.lr,
        "lookahead_lr": h.lookahead_lr,
        "gamma": h.gamma,
        "n_seeds": int(h.theta1.shape[1]),
        "n_steps": int(h.theta1.shape[0] - 1),
        "initial_mean_reward": float(h.mean_reward[0].mean()),
        "final_mean_reward": float(final.mean()),
        "final_std_reward": float(final.std(unbiased=False)),
        "tft_fraction": h.tft_fraction(threshold),
        "final_p_cooperate": [float(x) for x in pooled.mean(0)],
    }


def format_summary(summary: dict) -> str:
    """One-paragraph text of :func:`summarize_history`'s dict."""
    rules = summary["rules"]
    rule = rules[0] if rules[0] == rules[1] else f"{rules[0]} vs {rules[1]}"
    pc = ", ".join(f"{name} {p:.2f}" for name, p in zip(STATE_NAMES, summary["final_p_cooperate"]))
    return (
        f"{rule}: lr={summary['lr']:g}, eta={summary['lookahead_lr']:g}, gamma={summary['gamma']:g}, "
        f"{summary['n_seeds']} seeds x {summary['n_steps']} steps\n"
        f"  per-step reward {summary['initial_mean_reward']:.3f} -> {summary['final_mean_reward']:.3f} "
        f"(std over seeds {summary['final_std_reward']:.3f}); TFT-like {summary['tft_fraction']:.0%}\n"
        f"  mean final P(C | state): {pc}"
    )


def opening_disagreement(history: LearningHistory) -> torch.Tensor:
    """Fraction of seeds whose two players open differently, ``[K+1]``.

    A seed "disagrees" at step k when one player's P(C | start) is above 1/2 and
    the other's below: the most likely first joint action is CD or DC.
    """
    h = _check_history(history)
    opens_c1 = h.p_cooperate1[..., 0] > 0.5
    opens_c2 = h.p_cooperate2[..., 0] > 0.5
    return (opens_c1 != opens_c2).double().mean(dim=1)


def explore_learning(rule: str = "lola_shaping", lr: float = 1.0, eta: float = 25.0,
                     gamma: float = 0.96, n_seeds: int = 50, n_steps: int = 200,
                     seed: int = 0, game=PRISONERS_DILEMMA, progress: bool = False):
    """Run exact learning with one rule for both players and summarise it.

    A thin wrapper (the function behind :func:`learning_explorer`) over
    :func:`~aa_lib.exact.learning.run_exact_learning` with ``lookahead_lr=eta``.

    Returns:
        ``(history, summary)``: the :class:`LearningHistory` and :func:`summarize_history`.
    """
    history = run_exact_learning(rule, n_seeds=n_seeds, n_steps=n_steps, game=game, gamma=gamma,
                                 lr=lr, lookahead_lr=eta, seed=seed, progress=progress)
    return history, summarize_history(history)


def _new_axes(ax, figsize=(5.5, 3.5)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_reward_curves(history: LearningHistory, ax=None, label: Optional[str] = None,
                       color: Optional[str] = None, show_seeds: bool = True,
                       levels: Optional[dict] = None):
    """Per-step reward (mean of the two players) over learning steps.

    Draws every seed as a faint line (``show_seeds``), the mean over seeds as a
    thick line and a +-1 std band; ``levels`` (e.g. :data:`IPD_LEVELS`) adds
    labelled dashed reference lines. Returns the Axes.
    """
    h = _check_history(history)
    ax = _new_axes(ax)
    r = h.mean_reward.detach().cpu()  # [K+1, N]
    steps = torch.arange(r.shape[0])
    mean, std = r.mean(1), r.std(1, unbiased=False)
    line, = ax.plot(steps, mean, lw=2, color=color, label=label or _rule_label(h))
    c = line.get_color()
    ax.fill_between(steps, mean - std, mean + std, color=c, alpha=0.2, lw=0)
    if show_seeds:
        ax.plot(steps, r, color=c, alpha=0.12, lw=0.6)
    for name, level in (levels or {}).items():
        ax.axhline(level, color="grey", ls="--", lw=0.8)
        ax.annotate(name, (0, level), va="bottom", fontsize=7, color="grey")
    ax.set_xlabel("learning step")
    ax.set_ylabel("per-step reward (1 - gamma) V")
    ax.legend(fontsize=8)
    return ax


def _rule_label(h: LearningHistory) -> str:
    rule = h.rules[0] if h.rules[0] == h.rules[1] else f"{h.rules[0]} vs {h.rules[1]}"
    if any(r != "naive" for r in h.rules):
        return f"{rule} (lr {h.lr:g}, eta {h.lookahead_lr:g})"
    return f"{rule} (lr {h.lr:g})"


def plot_cooperation_trajectories(history: LearningHistory, player="both", axes=None,
                                  max_lines: int = 100):
    """P(C | state) over learning steps, one panel per memory-one state (own seat).

    Args:
        history: the run.
        player: 1, 2 or ``"both"`` (pool both players' seeds; in self-play each is a learner).
        axes: 5 Axes to draw on (a new 1x5 figure when None).
        max_lines: at most this many faint per-seed lines per panel.

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt

    h = _check_history(history)
    p = _pooled_policies(h, player).detach().cpu()  # [K+1, M, 5]
    if axes is None:
        fig, axes = plt.subplots(1, 5, figsize=(15, 3), sharey=True)
    else:
        fig = axes[0].figure
    if len(axes) != 5:
        raise ValueError(f"axes must hold 5 Axes (one per state), got {len(axes)}")
    steps = torch.arange(p.shape[0])
    for s, ax in enumerate(axes):
        ax.plot(steps, p[:, :max_lines, s], color=STATE_COLORS[s], alpha=0.15, lw=0.6)
        ax.plot(steps, p[:, :, s].mean(1), color="black", lw=2, label="mean")
        ax.set_title(f"P(C | {STATE_NAMES[s]})")
        ax.set_xlabel("learning step")
        ax.set_ylim(-0.02, 1.02)
    axes[0].set_ylabel("probability of cooperating")
    axes[0].legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def plot_final_policies(history: LearningHistory, ax=None, seed: int = 0):
    """Final P(C | state): bars for the mean over seeds, one dot per seed and player.

    Both players (own seat) are shown side by side. ``seed`` fixes the horizontal
    jitter of the dots. Returns the Axes.
    """
    h = _check_history(history)
    ax = _new_axes(ax, (6, 3.5))
    gen = torch.Generator().manual_seed(seed)
    width = 0.38
    finals = (h.p_cooperate1[-1].detach().cpu(), h.p_cooperate2[-1].detach().cpu())  # [N, 5] each
    for k, (p, shade) in enumerate(zip(finals, (0.9, 0.55))):
        x = torch.arange(5, dtype=torch.float64) + (k - 0.5) * width  # [5]
        ax.bar(x.numpy(), p.mean(0).numpy(), width=width, color=STATE_COLORS, alpha=shade * 0.6,
               edgecolor="black", label=f"player {k + 1} (mean)")
        jitter = (torch.rand(p.shape, generator=gen, dtype=torch.float64) - 0.5) * width * 0.7  # [N, 5]
        ax.scatter((x + jitter).flatten().numpy(), p.flatten().numpy(), s=6, color="black", alpha=0.5, zorder=3)
    ax.set_xticks(range(5), [f"P(C | {s})" for s in STATE_NAMES], fontsize=8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("final probability of cooperating")
    frac = h.tft_fraction()
    ax.set_title(f"final policies: {frac:.0%} TFT-like")
    ax.legend(fontsize=8, loc="upper right")
    return ax


def plot_final_reward_histogram(history: LearningHistory, ax=None, bins: int = 30,
                                label: Optional[str] = None, range_=(-2.05, -0.95)):
    """Histogram over seeds of the final per-step reward (mean of the two players).

    ``range_`` defaults to the Prisoner's Dilemma's feasible symmetric range
    (mutual defection -2 to mutual cooperation -1); pass None to fit the data.
    Returns the Axes.
    """
    h = _check_history(history)
    ax = _new_axes(ax, (5, 3))
    ax.hist(h.mean_reward[-1].detach().cpu().numpy(), bins=bins, range=range_, alpha=0.6,
            label=label or _rule_label(h), edgecolor="black")
    ax.set_xlabel("final per-step reward of a seed")
    ax.set_ylabel("number of seeds")
    ax.legend(fontsize=8)
    return ax


def plot_state_sequence(theta1, theta2, game=PRISONERS_DILEMMA, gamma: float = 0.96,
                        horizon: int = 12, ax=None, title: Optional[str] = None):
    """Exact probability of each state at each step of the game, as a heat map.

    Uses :func:`~aa_lib.exact.memory_one.finite_horizon_solution` for one pair of
    policies (``theta1``, ``theta2`` of shape ``[5]``). The state at step t > 0 is
    the joint action of step t - 1, written from player 1's seat (CD = player 1
    cooperated, player 2 defected). Returns the Axes.
    """
    theta1 = torch.as_tensor(theta1, dtype=torch.float64)
    theta2 = torch.as_tensor(theta2, dtype=torch.float64)
    if theta1.shape != (5,) or theta2.shape != (5,):
        raise ValueError(f"theta1 and theta2 must have shape (5,), got {tuple(theta1.shape)}, {tuple(theta2.shape)}")
    probs = finite_horizon_solution(theta1, theta2, game, gamma, horizon).state_probs.detach().cpu()  # [T, 5]
    ax = _new_axes(ax, (6, 2.6))
    im = ax.imshow(probs.T.numpy(), aspect="auto", cmap="Blues", vmin=0, vmax=1)
    ax.set_yticks(range(5), STATE_NAMES)
    ax.set_xlabel("time step t of the game")
    ax.set_ylabel("state (player 1's seat)")
    ax.figure.colorbar(im, ax=ax, label="probability")
    if title:
        ax.set_title(title)
    return ax


def plot_learning_summary(history: LearningHistory):
    """Reward curves, final policies and final-reward histogram side by side; returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 3.6), gridspec_kw={"width_ratios": [1.2, 1.3, 1]})
    plot_reward_curves(history, ax=axes[0])
    plot_final_policies(history, ax=axes[1])
    plot_final_reward_histogram(history, ax=axes[2], range_=None)
    fig.tight_layout()
    return fig


class LearningExplorer:
    """Controls for :func:`explore_learning`, a Run button, the plots and the summary.

    ``run()`` does what the button does (handy in tests): it reads the controls,
    runs, stores :attr:`history` and :attr:`summary` and redraws.
    """

    def __init__(self, rule: str = "lola_shaping", lr: float = 1.0, eta: float = 25.0,
                 gamma: float = 0.96, n_seeds: int = 20, n_steps: int = 100, draw: bool = True):
        import ipywidgets as widgets

        style = {"description_width": "110px"}
        wide = widgets.Layout(width="360px")
        self.rule = widgets.Dropdown(options=sorted(RULES), value=rule, description="rule", style=style)
        self.lr = widgets.FloatLogSlider(value=lr, base=10, min=-1, max=2, step=0.05,
                                         description="lr (on (1-g)V)", style=style, layout=wide)
        self.eta = widgets.FloatLogSlider(value=eta, base=10, min=-1, max=2, step=0.05,
                                          description="eta (look-ahead)", style=style, layout=wide)
        self.gamma = widgets.FloatSlider(value=gamma, min=0.5, max=0.99, step=0.01,
                                         description="gamma", style=style, layout=wide)
        self.n_seeds = widgets.IntSlider(value=n_seeds, min=1, max=200, description="seeds",
                                         style=style, layout=wide)
        self.n_steps = widgets.IntSlider(value=n_steps, min=1, max=1000, description="steps",
                                         style=style, layout=wide)
        self.button = widgets.Button(description="Run", button_style="primary")
        self.text = widgets.HTML()
        self.plot = widgets.Output()
        self.button.on_click(lambda _b: self.run())
        # POLA's rule is a proximal displacement: it runs with lr = 1 (its own step sizes are options)
        self.rule.observe(lambda change: setattr(self.lr, "value", 1.0) if change["new"] == "pola" else None,
                          names="value")
        self.draw = draw
        self.history: Optional[LearningHistory] = None
        self.summary: Optional[dict] = None
        controls = widgets.VBox([self.rule, self.lr, self.eta, self.gamma, self.n_seeds, self.n_steps,
                                 self.button])
        self.widget = widgets.VBox([controls, self.text, self.plot])

    def run(self):
        """Run with the current controls; returns ``(history, summary)``."""
        import html

        self.text.value = "<i>running...</i>"
        try:
            self.history, self.summary = explore_learning(
                rule=self.rule.value, lr=self.lr.value, eta=self.eta.value, gamma=self.gamma.value,
                n_seeds=self.n_seeds.value, n_steps=self.n_steps.value,
            )
        except (ValueError, FloatingPointError) as err:  # e.g. a step size that diverges
            self.text.value = f"<b>run failed:</b> {html.escape(str(err))}"
            return None
        self.text.value = "<pre>" + html.escape(format_summary(self.summary)) + "</pre>"
        if self.draw:
            self._redraw()
        return self.history, self.summary

    def _redraw(self) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        self.plot.clear_output(wait=True)
        with self.plot:
            fig = plot_learning_summary(self.history)
            display(fig)
            plt.close(fig)


def learning_explorer(**defaults):
    """An ipywidgets dashboard over :func:`explore_learning` (see :class:`LearningExplorer`).

    Keyword arguments set the initial control values (``rule``, ``lr``, ``eta``,
    ``gamma``, ``n_seeds``, ``n_steps``). Returns the displayable widget; the
    :class:`LearningExplorer` is its ``explorer`` attribute. Nothing runs until
    the Run button is pressed (or ``widget.explorer.run()`` is called).
    """
    explorer = LearningExplorer(**defaults)
    explorer.widget.explorer = explorer
    return explorer.widget
