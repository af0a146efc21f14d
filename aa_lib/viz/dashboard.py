"""The training dashboard shared by the training notebooks: knobs, Train / Stop, a live plot.

``training_dashboard(game="ipd", algo="aa")`` builds an ipywidgets panel with
sliders and menus for the AA weight beta, the discount, the learning rate, the
entropy bonus, the number of iterations, the seed, the algorithm and the
opponent (self-play, the agent replay buffer, independent learners, or a
scripted agent), a Train and a Stop button, a status line and a live plot of
the per-step return and the cooperation rate (after training, in the IPD, the
bar chart of P(C | previous joint action) as well).

Train calls :func:`aa_lib.training.session.train_session` -- the plain function
the notebooks also call directly -- in a background thread, so the kernel
stays free to receive the Stop click: Stop sets a ``threading.Event`` that the
session checks between iterations, and the partial result is kept
(:attr:`TrainingDashboard.result`). The plot is drawn without pyplot (a
``matplotlib.figure.Figure`` rendered to PNG into an ``ipywidgets.Image``), which
is safe from a thread.
"""
from __future__ import annotations

import html
import io
import threading
from typing import Dict, List, Optional, Sequence

from ..training.callbacks import Callback

__all__ = ["LiveFigure", "TrainingDashboard", "training_dashboard", "dashboard_algorithms", "training_figure",
           "figure_png", "plot_probe_groups", "plot_seed_curves"]

#: Learning rules offered by the algorithm menu (LOLA-DiCE is left out: far slower per iteration).
DASHBOARD_ALGORITHMS = ("aa", "paa", "loqa", "naive", "ppo", "ppo_sr", "aa_cooperative", "aa_empathetic",
                        "aa_vengeful", "aa_spiteful")
#: Games whose reward is split over action dimensions: their menu also offers item-factored AA.
FACTORED_GAMES = ("negotiation",)


def dashboard_algorithms(game: str) -> tuple:
    """The algorithm menu of ``game``'s dashboard (``aa_factored`` only where the game supports it)."""
    return DASHBOARD_ALGORITHMS + (("aa_factored",) if game in FACTORED_GAMES else ())


def plot_probe_groups(groups: Dict[str, tuple], ax=None, title: str = "P(C | previous joint action)"):
    """Grouped bar chart of P(C | state) for several agents, with error bars (Fig. 1b).

    Args:
        groups: ``name -> (means, errors)``, each ``{state: value}`` over the states
            (start, CC, CD, DC, DD); ``errors`` may be None (no whiskers).
        ax: matplotlib axes (default: a new figure).

    Returns the figure.
    """
    if not groups:
        raise ValueError("groups must hold at least one agent")
    if ax is None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 3.4))
    else:
        fig = ax.figure
    states = list(next(iter(groups.values()))[0])
    width = 0.8 / len(groups)
    for i, (name, (means, errors)) in enumerate(groups.items()):
        xs = [k - 0.4 + (i + 0.5) * width for k in range(len(states))]
        yerr = [errors[s] for s in states] if errors else None
        ax.bar(xs, [means[s] for s in states], width, yerr=yerr, capsize=3, label=name,
               error_kw={"ecolor": "black", "elinewidth": 1})
    ax.set_xticks(range(len(states)), states)
    ax.set_xlabel("previous joint action (own action first)")
    ax.set_ylabel("P(cooperate)")
    ax.set_ylim(0, 1.25)  # headroom for the legend above the bars
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=min(len(groups), 4), loc="upper center")
    return fig


def plot_seed_curves(groups: Dict[str, Sequence[List[Dict[str, float]]]], key: str = "reward", ax=None,
                     title: Optional[str] = None):
    """Training curves of several agents, one thin line per seed and a thick seed-mean line.

    Args:
        groups: ``name -> [history of seed 1, history of seed 2, ...]`` (lists of
            per-iteration metric dicts, e.g. a checkpoint's ``"history"``).
        key: the metric to draw.
        ax: matplotlib axes (default: a new figure).

    Returns the figure.
    """
    import torch

    if ax is None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.4))
    else:
        fig = ax.figure
    for i, (name, histories) in enumerate(groups.items()):
        curves = [[m[key] for m in h if key in m] for h in histories]
        for curve in curves:
            ax.plot(curve, color=f"C{i}", alpha=0.3, linewidth=0.8)
        length = min(len(c) for c in curves)
        if length:
            mean = torch.tensor([c[:length] for c in curves]).mean(0)
            ax.plot(mean.tolist(), color=f"C{i}", linewidth=2, label=f"{name} ({len(curves)} seeds)")
    ax.set_xlabel("iteration")
    ax.set_ylabel(key)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return fig


def training_figure(history: List[Dict[str, float]], probe: Optional[Dict[str, float]] = None,
                    title: str = "", references: Optional[Dict[str, float]] = None):
    """Return and cooperation curves (and the P(C | state) bars of ``probe``) on a pyplot-free Figure.

    Panels: per-step return of the learner, with horizontal ``references``
    (``{label: per-step return}``, e.g. mutual cooperation / defection); the
    fraction of cooperative actions when the history has a ``"cooperation"``
    metric (iterated 2x2 games); the bar chart of ``probe`` when given.
    """
    from matplotlib.figure import Figure

    from .training import plot_cooperation_probe, plot_training_curves

    has_coop = any("cooperation" in m for m in history)
    n = 1 + has_coop + (probe is not None)
    fig = Figure(figsize=(4.2 * n, 3.2), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    plot_training_curves(history, ("reward",), ax=axes[0])
    axes[0].set_ylabel("per-step return")
    for i, (label, value) in enumerate((references or {}).items()):
        axes[0].axhline(value, color=f"C{i + 2}", linestyle="--", linewidth=1, label=label)
    if references:
        axes[0].legend(loc="best", fontsize=8)
    if has_coop:
        plot_training_curves(history, ("cooperation",), ax=axes[1])
        axes[1].set_ylim(-0.02, 1.02)
        axes[1].set_ylabel("fraction of C actions")
    if probe is not None:
        plot_cooperation_probe(probe, ax=axes[-1], title="P(C | previous joint action)")
    if title:
        fig.suptitle(title)
    return fig


def figure_png(fig) -> bytes:
    """PNG bytes of a matplotlib figure."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


class LiveFigure(Callback):
    """Training callback: redraw :func:`training_figure` into ``image.value`` every ``every`` iterations.

    ``image`` is anything with a ``value`` attribute taking PNG bytes (an
    ``ipywidgets.Image``); drawing never touches pyplot, so it may run in a thread.
    """

    def __init__(self, image, every: int = 5, title: str = "", references: Optional[Dict[str, float]] = None):
        self.image, self.every, self.title, self.references = image, max(1, int(every)), title, references

    def draw(self, history, probe=None) -> None:
        self.image.value = figure_png(training_figure(history, probe, self.title, self.references))

    def on_iteration_end(self, trainer, metrics) -> None:
        if trainer.iteration % self.every == 0:
            self.draw(trainer.history)

    def on_train_end(self, trainer) -> None:
        self.draw(trainer.history)


class TrainingDashboard:
    """The widgets and the training thread behind :func:`training_dashboard`.

    Attributes:
        widget: the ``ipywidgets.VBox`` to display (``display(dashboard)`` works too).
        result: the last :class:`~aa_lib.training.session.SessionResult` (None before the first run).
        error: the exception of the last run, if it failed.
        beta, gamma, lr, entropy, iterations, seed, algo, opponent: the input widgets.
        train_button, stop_button, status, image: the controls and outputs.
    """

    def __init__(self, game: str = "ipd", algo: str = "aa", *, preset_name: str = "classroom",
                 iterations: Optional[int] = None, seed: int = 0, opponent: str = "replay",
                 device: Optional[str] = None, batch_size: Optional[int] = None, plot_every: int = 5,
                 probe_batch_size: int = 256, extra_callbacks: Sequence = ()):
        import ipywidgets as widgets

        from ..algos import rule_takes_beta
        from ..training.presets import preset
        from ..training.session import opponent_choices

        menu = dashboard_algorithms(game)
        if algo not in menu:
            raise ValueError(f"algo must be one of {menu} for game {game!r}, got {algo!r}")
        self.game, self.preset_name, self.device, self.batch_size = game, preset_name, device, batch_size
        self.plot_every, self.probe_batch_size = plot_every, probe_batch_size
        self.extra_callbacks = list(extra_callbacks)
        base = preset(game, "aa", preset_name)  # slider defaults: the preset's values
        self.references = self._references(base)
        choices = opponent_choices(game)
        if opponent not in choices:
            raise ValueError(f"opponent must be one of {choices}, got {opponent!r}")
        style, wide = {"description_width": "110px"}, widgets.Layout(width="360px")

        self.algo = widgets.Dropdown(options=menu, value=algo, description="algorithm",
                                     style=style, layout=wide)
        self.opponent = widgets.Dropdown(options=choices, value=opponent, description="opponent", style=style,
                                         layout=wide)
        #: the preset's beta of every AA-family rule in the menu (the slider moves to it when the rule is picked)
        self.preset_betas = {a: preset(game, a, preset_name).algo_options.get("beta", 1.0)
                             for a in menu if rule_takes_beta(a)}
        beta = self.preset_betas.get(algo, base.algo_options.get("beta", 1.0))
        self.beta = widgets.FloatSlider(value=beta, min=0.0, max=max(3.0, 2.0 * max(self.preset_betas.values())),
                                        step=0.05,
                                        description="AA weight β", style=style, layout=wide)
        self.gamma = widgets.FloatSlider(value=base.gamma, min=0.5, max=0.99, step=0.01, description="discount γ",
                                         style=style, layout=wide)
        self.lr = widgets.FloatLogSlider(value=base.actor_lr, base=10, min=-5, max=-1.5, step=0.25,
                                         description="learning rate", readout_format=".1e", style=style,
                                         layout=wide)
        self.entropy = widgets.FloatSlider(value=base.algo_options.get("entropy_coef", 0.0), min=0.0, max=0.5,
                                           step=0.01, description="entropy bonus", style=style, layout=wide)
        self.iterations = widgets.IntSlider(value=iterations or base.iterations, min=1, max=2000, step=1,
                                            description="iterations", style=style, layout=wide)
        self.seed = widgets.IntText(value=seed, description="seed", style=style, layout=wide)
        self.train_button = widgets.Button(description="Train", button_style="success", icon="play")
        self.stop_button = widgets.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.status = widgets.HTML("ready")
        self.image = widgets.Image(format="png")
        self.train_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.algo.observe(self._on_algo, names="value")
        self._on_algo({"new": algo})
        knobs = widgets.VBox([self.algo, self.opponent, self.beta, self.gamma, self.lr, self.entropy,
                              self.iterations, self.seed])
        controls = widgets.VBox([knobs, widgets.HBox([self.train_button, self.stop_button]), self.status])
        self.widget = widgets.VBox([controls, self.image])
        self.stop_event = threading.Event()
        self.thread: Optional[threading.Thread] = None
        self.result = None
        self.error: Optional[BaseException] = None

    # ------------------------------------------------------------------ state
    def _on_algo(self, change) -> None:
        from ..algos import rule_takes_beta

        self.beta.disabled = not rule_takes_beta(change["new"])  # naive / PPO have no shaping term
        new_beta = self.preset_betas.get(change["new"])
        if new_beta is not None and self.preset_betas.get(change.get("old")) != new_beta:
            self.beta.value = new_beta  # rules on different beta scales (aa 3 vs aa_factored 11 in Negotiation)

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def settings(self) -> dict:
        """The keyword arguments of :func:`~aa_lib.training.session.train_session` the widgets describe."""
        return {"game": self.game, "algo": self.algo.value, "beta": self.beta.value, "gamma": self.gamma.value,
                "lr": self.lr.value, "entropy": self.entropy.value, "opponent": self.opponent.value,
                "iterations": self.iterations.value, "seed": self.seed.value, "device": self.device,
                "batch_size": self.batch_size, "preset_name": self.preset_name}

    # --------------------------------------------------------------- actions
    def start(self, background: bool = True) -> None:
        """Train with the current settings (in a background thread unless ``background=False``)."""
        if self.running:
            return
        self.stop_event.clear()
        self.error = None
        self.train_button.disabled, self.stop_button.disabled = True, False
        settings = self.settings()
        self.status.value = f"training {html.escape(settings['algo'])} against {html.escape(settings['opponent'])}..."
        if background:
            self.thread = threading.Thread(target=self._run, args=(settings,), daemon=True)
            self.thread.start()
        else:
            self._run(settings)

    def stop(self) -> None:
        """Ask the running session to stop after its current iteration."""
        self.stop_event.set()
        if self.running:
            self.status.value = "stopping after this iteration..."

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait for the training thread; True if it has finished."""
        if self.thread is not None:
            self.thread.join(timeout)
        return not self.running

    def _run(self, settings: dict) -> None:
        from ..training.session import train_session

        live = LiveFigure(self.image, self.plot_every, f"{settings['algo']} vs {settings['opponent']}",
                          self.references)
        try:
            result = train_session(callbacks=[live] + self.extra_callbacks, stop_flag=self.stop_event, **settings)
            self.result = result
            probe = self._probe(result)
            if probe is not None:
                live.draw(result.history, probe)
            how = "stopped" if result.stopped else "finished"
            last = result.history[-1] if result.history else {}
            shown = ", ".join(f"{k} {last[k]:.3f}" for k in ("reward", "cooperation") if k in last)
            self.status.value = (f"{how} after {result.iterations} iterations in {result.wall_time_s:.1f} s"
                                 + (f" (last iteration: {shown})" if shown else ""))
        except Exception as err:  # shown in the status line; the kernel keeps running
            self.error = err
            self.status.value = f"<b>training failed:</b> {html.escape(type(err).__name__ + ': ' + str(err))}"
        finally:
            self.train_button.disabled, self.stop_button.disabled = False, True

    @staticmethod
    def _references(config) -> Optional[Dict[str, float]]:
        """Per-step returns of mutual cooperation and mutual defection.

        Exact payoffs in iterated 2x2 games; in other two-player games with
        scripted Always Cooperate / Always Defect agents (Coin, Negotiation) the
        mean per-step reward of 256 seeded games of each pairing.
        """
        import torch

        from ..agents.scripted import scripted_agent, scripted_names
        from ..evaluation import play
        from ..games import make_env
        from ..games.iterated import is_iterated_2x2

        env = make_env(config.game, **config.game_options)
        if is_iterated_2x2(env) and hasattr(env, "game"):
            payoffs = env.game.payoffs
            return {"all cooperate": float(payoffs[0, 0, 0]), "all defect": float(payoffs[0, 1, 1])}
        if env.n_players != 2 or not {"AC", "AD"} <= set(scripted_names(env)):
            return None
        generator = torch.Generator(device=env.device).manual_seed(0)
        return {label: float(play(env, [scripted_agent(env, name)] * 2, 256, generator).mean())
                for label, name in (("all cooperate", "AC"), ("all defect", "AD"))}

    def _probe(self, result) -> Optional[Dict[str, float]]:
        """P(C | previous joint action) against a random co-player (iterated 2x2 games only)."""
        import torch

        from ..evaluation import cooperation_probe
        from ..games.iterated import is_iterated_2x2

        env = result.env
        if not result.history or not is_iterated_2x2(env):
            return None
        generator = torch.Generator(device=env.device).manual_seed(0)
        return cooperation_probe(result.policy, env, "random", self.probe_batch_size, generator).probabilities

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def training_dashboard(game: str = "ipd", algo: str = "aa", **options) -> TrainingDashboard:
    """Build the training dashboard for ``game`` (see :class:`TrainingDashboard` for ``options``).

    Display it as the last expression of a cell (or ``display(dashboard)``);
    ``dashboard.result`` holds the last run's
    :class:`~aa_lib.training.session.SessionResult`.
    """
    return TrainingDashboard(game, algo, **options)
