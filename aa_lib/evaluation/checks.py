"""The self-checks of the course notebooks 07-10, as named functions.

A notebook's self-check cells make executing it a regression test: the
*mechanics* checks hold in every mode (the live runs completed with finite
losses, the numbers are in range, a shipped checkpoint loads safely and its
re-evaluation agrees with its record), the *science* checks hold in full mode
(what the shipped and the full-size live runs show: who cooperates, who defects,
who retaliates). Each check raises :class:`AssertionError` with a message saying
which agent failed which condition and returns the line the notebook prints.
The thresholds are the notebooks' (their texts explain each one); a notebook
calls each check in one line.

Arguments, as the notebooks build them:

- ``live``: ``{algo: SessionResult}`` of :func:`~aa_lib.training.session.train_session`;
- ``evaluations``: ``{algo: Evaluation}`` of :func:`~aa_lib.evaluation.summary.evaluate_policy`
  on those live runs;
- ``shipped``: ``{algo: ShippedRuns}`` of :func:`~aa_lib.evaluation.shipped.load_shipped`;
- ``fresh``: a new evaluation (``.metrics``, ``.errors``) of the first shipped seed
  of the notebook's main rule, with another seed than its record's.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence

import torch

from ..exact.memory_one import STATE_NAMES
from .commons import patch_labels
from .match import play

__all__ = ["CHECKPOINT_FORMAT", "COIN_BLIND_REFERENCE", "check_agrees_with_record", "check_live_runs",
           "check_safe_checkpoint", "check_shipped_seeds", "gap_in_standard_errors",
           "check_tit_for_tat_like", "check_defects", "check_ipd_mechanics", "check_ipd_science",
           "check_coin_cooperative", "check_coin_greedy", "check_coin_mechanics", "check_coin_science",
           "check_negotiation_greedy", "check_cooperates_and_is_exploited",
           "check_cooperates_and_is_not_exploited", "check_negotiation_mechanics", "check_negotiation_science",
           "check_commons_mechanics", "check_commons_science"]

#: The ``format`` entry of a trainer checkpoint.
CHECKPOINT_FORMAT = "aa_lib.trainer/1"
#: Notebook 08's name of the history-blind reference row of its retaliation table (Always Defect in self-play).
COIN_BLIND_REFERENCE = "AD (history-blind reference)"


def _require(condition, message: str) -> None:
    """Raise AssertionError(message) unless ``condition`` (works under ``python -O`` too)."""
    if not condition:
        raise AssertionError(message)


# ----------------------------------------------------------------- shared checks
def check_live_runs(live: Mapping, iterations: int) -> None:
    """Every live run trained ``iterations`` iterations, was not stopped, and kept finite losses."""
    for algo, result in live.items():
        _require(len(result.history) == iterations and not result.stopped,
                 f"live {algo}: expected {iterations} completed iterations, got {len(result.history)}"
                 f"{' (stopped)' if result.stopped else ''}")
        _require(all(math.isfinite(m["actor_loss"]) and math.isfinite(m["critic_loss"]) for m in result.history),
                 f"live {algo}: a non-finite actor or critic loss in the training history")


def check_agrees_with_record(recorded: Mapping, fresh, keys: Sequence[str], n_se: float = 5.0) -> None:
    """A re-evaluation agrees with a recorded one within ``n_se`` combined standard errors.

    ``recorded``: ``{"metrics": ..., "errors": ...}`` (a shipped record's ``evaluation``);
    ``fresh``: an object with ``.metrics`` and ``.errors``. For each key,
    ``|fresh - recorded| <= n_se * hypot(se_recorded, se_fresh) + 1e-6``.
    """
    for key in keys:
        se = math.hypot(recorded["errors"][key], fresh.errors[key])
        difference = fresh.metrics[key] - recorded["metrics"][key]
        _require(abs(difference) <= n_se * se + 1e-6,
                 f"{key}: re-evaluated {fresh.metrics[key]:.4f}, recorded {recorded['metrics'][key]:.4f}; "
                 f"the difference {difference:+.4f} exceeds {n_se} combined standard errors ({n_se * se:.4f})")


def check_safe_checkpoint(path, game: Optional[str] = None) -> None:
    """``path`` loads with ``torch.load(weights_only=True)`` as a trainer checkpoint (of ``game`` if given)."""
    state = torch.load(Path(path), weights_only=True)  # safe loading: plain tensors and containers only
    _require(state["format"] == CHECKPOINT_FORMAT,
             f"{path}: format {state['format']!r}, expected {CHECKPOINT_FORMAT!r}")
    if game is not None:
        _require(state["config"]["game"] == game, f"{path}: a {state['config']['game']!r} checkpoint, "
                                                  f"expected {game!r}")


def check_shipped_seeds(shipped: Mapping, algos: Sequence[str], min_seeds: int) -> None:
    """At least ``min_seeds`` shipped seeds of each rule in ``algos``."""
    for algo in algos:
        n = len(shipped[algo].records) if algo in shipped else 0
        _require(n >= min_seeds, f"expected shipped {algo} checkpoints: at least {min_seeds} seeds, found {n}")


def gap_in_standard_errors(a: Mapping, b: Mapping, key: str) -> float:
    """``(a - b) / hypot(se_a, se_b)`` of metric ``key`` of two evaluations ``{"metrics", "errors"}``."""
    return (a["metrics"][key] - b["metrics"][key]) / math.hypot(a["errors"][key], b["errors"][key])


# -------------------------------------------------------------- notebook 07: IPD
def _random_probe(metrics: Mapping) -> Dict[str, float]:
    """P(C | previous joint action) against a random co-player, from recorded metrics."""
    return {s: metrics[f"p_cooperate/random/{s}"] for s in STATE_NAMES}


def check_tit_for_tat_like(p: Mapping, reward_vs_ad: float, who: str, opens: bool = True) -> None:
    """Opens with C (if ``opens``), keeps cooperating after CC, retaliates after CD and DD, not exploited by AD.

    ``p``: P(C | state) for the states of :data:`~aa_lib.exact.memory_one.STATE_NAMES`;
    ``reward_vs_ad``: per-step reward against Always Defect in the 16-step IPD, where being
    exploited once at most gives (-3 - 30) / 16 = -2.06 > -2.15.
    """
    _require(p["CC"] > 0.85 and (p["start"] > 0.85 or not opens),
             f"{who}: expected P(C | CC) > 0.85{' and P(C | start) > 0.85' if opens else ''}, got {dict(p)}")
    _require(p["CD"] < 0.2 and p["DD"] < 0.1,
             f"{who}: expected retaliation, P(C | CD) < 0.2 and P(C | DD) < 0.1, got {dict(p)}")
    _require(p["CC"] - p["CD"] > 0.7, f"{who}: expected P(C | CC) - P(C | CD) > 0.7, got {dict(p)}")
    _require(reward_vs_ad > -2.15, f"{who}: exploited by Always Defect, reward {reward_vs_ad:.3f} <= -2.15")


def check_defects(p: Mapping, reward_self: float, who: str) -> None:
    """P(C | state) below 0.2 in every visited state and a self-play reward near mutual defection (-2)."""
    _require(max(v for v in p.values() if v is not None) < 0.2,  # None: a state it never reached
             f"{who}: expected P(C | state) < 0.2 in every state, got {dict(p)}")
    _require(reward_self < -1.8, f"{who}: expected self-play reward < -1.8 (mutual defection), got {reward_self:.3f}")


def check_ipd_mechanics(live: Mapping, evaluations: Mapping, shipped: Mapping, fresh, iterations: int) -> str:
    """Notebook 07, both modes: live runs, probe ranges, play, shipped checkpoints, re-evaluation of AA seed 0."""
    check_live_runs(live, iterations)
    for algo, result in live.items():
        for key, value in evaluations[algo].metrics.items():
            if key.startswith("p_cooperate/") and not math.isnan(value):
                _require(0.0 <= value <= 1.0 and evaluations[algo].errors[key] >= 0.0,
                         f"live {algo}: {key} = {value} (error {evaluations[algo].errors[key]}) out of range")
        shape = tuple(play(result.env, [result.policy, result.policy], 4).shape)
        _require(shape == (2,), f"live {algo}: play returned shape {shape}, expected (2,)")
    check_shipped_seeds(shipped, ("aa", "naive", "ppo"), 3)
    for algo in ("aa", "naive", "ppo"):
        check_safe_checkpoint(shipped[algo].checkpoints[0])
    check_agrees_with_record(shipped["aa"].records[0]["evaluation"], fresh,
                             ("reward/self", "reward/AD", "p_cooperate/random/CC", "p_cooperate/random/DD"))
    return "mechanics: ok"


def check_ipd_science(shipped: Mapping, evaluations: Mapping) -> str:
    """Notebook 07, full mode: AA is Tit-for-Tat-like (every shipped seed, the live run), naive AC and PPO defect.

    Shipped AA opens with C on at least four seeds of five; the opening is not asserted
    for the live run (its random stream differs on a GPU).
    """
    for r in shipped["aa"].records:
        m = r["evaluation"]["metrics"]
        check_tit_for_tat_like(_random_probe(m), m["reward/AD"], f"shipped aa seed {r['seed']}", opens=False)
    opening = [r["evaluation"]["metrics"]["p_cooperate/random/start"] for r in shipped["aa"].records]
    _require(sum(p > 0.85 for p in opening) >= 4,
             f"shipped aa: expected P(C | start) > 0.85 on at least 4 seeds, got {opening}")
    for algo in ("naive", "ppo"):
        for r in shipped[algo].records:
            m = r["evaluation"]["metrics"]
            check_defects(_random_probe(m), m["reward/self"], f"shipped {algo} seed {r['seed']}")
    aa, naive = shipped["aa"].summary["reward/self"]["mean"], shipped["naive"].summary["reward/self"]["mean"]
    _require(aa > naive + 0.3, f"shipped aa's mean self-play reward {aa:.3f} is not above naive's "
                               f"{naive:.3f} + 0.3")
    if "aa" in evaluations:
        check_tit_for_tat_like(evaluations["aa"].probe("random"), evaluations["aa"].metrics["reward/AD"], "live aa",
                               opens=False)
    for algo in ("naive", "ppo"):
        if algo in evaluations:
            check_defects(evaluations[algo].probe("random"), evaluations[algo].metrics["reward/self"], f"live {algo}")
    return "science: AA is Tit-for-Tat-like, naive AC and PPO defect"


# -------------------------------------------------------- notebook 08: Coin Game
def check_coin_cooperative(m: Mapping, who: str) -> None:
    """Own-coin share > 0.7 and self-play reward > 0.15 (AC-AC: 1.00, 0.33); AD's gain over it < 0.5 (AC's: 0.87)."""
    _require(m["own_coin/self"] > 0.7 and m["reward/self"] > 0.15,
             f"{who}: expected own-coin share > 0.7 and self-play reward > 0.15, "
             f"got {m['own_coin/self']:.3f} and {m['reward/self']:.3f}")
    gain = m["opponent_reward/AD"] - m["reward/AD"]
    _require(gain < 0.5, f"{who}: exploited by AD, AD's per-step gain over it {gain:.3f} >= 0.5")


def check_coin_greedy(m: Mapping, who: str) -> None:
    """Own-coin share within 0.1 of 0.5 and self-play reward < 0.08 (AD-AD: 0.50 and 0.00)."""
    _require(abs(m["own_coin/self"] - 0.5) < 0.1 and m["reward/self"] < 0.08,
             f"{who}: expected own-coin share within 0.1 of 0.5 and self-play reward < 0.08, "
             f"got {m['own_coin/self']:.3f} and {m['reward/self']:.3f}")


def _retaliation_margin(r: Mapping) -> float:
    return r["after_theft"] - r["otherwise"]


def check_coin_mechanics(live: Mapping, evaluations: Mapping, league, retaliation: Mapping, shipped: Mapping,
                         fresh, iterations: int) -> str:
    """Notebook 08, both modes: live runs, own-coin share in range, the league of the shipped rules
    and AC, AD, grim trigger is finite, every retaliation row saw both kinds of steps, shipped seeds,
    re-evaluation of AA seed 0."""
    check_live_runs(live, iterations)
    for algo in live:
        share = evaluations[algo].metrics["own_coin/self"]
        _require(0.0 <= share <= 1.0, f"live {algo}: own-coin share {share} outside [0, 1]")
    size = len(shipped) + 3
    _require(tuple(league.table.shape) == (size, size) and bool(torch.isfinite(league.table).all()),
             f"league table of shape {tuple(league.table.shape)} (expected {(size, size)}) or not finite")
    for name, r in retaliation.items():
        _require(r["steps_after_theft"] > 0 and r["steps_otherwise"] > 0,
                 f"{name}: no steps after a theft or none otherwise ({r})")
    check_shipped_seeds(shipped, ("aa", "ppo"), 2)
    check_agrees_with_record(shipped["aa"].records[0]["evaluation"], fresh,
                             ("reward/self", "reward/AD", "own_coin/self"))
    return "mechanics: ok"


def check_coin_science(shipped: Mapping, evaluations: Mapping, league, retaliation: Mapping,
                       counterfactual: Mapping, paper_fig2: Mapping, live_retaliation: Optional[Mapping] = None) -> str:
    """Notebook 08, full mode: AA cooperates with itself and remembers thefts, PPO is greedy, AD's margin.

    ``retaliation``: ``{row: coin_retaliation result}`` holding :data:`COIN_BLIND_REFERENCE`;
    its self-play AA rows (named ``"AA ..."``, not ending in ``"vs AD"``) must retaliate more
    than the blind reference by 0.25, as must ``live_retaliation`` (the live AA run in self-play).
    ``counterfactual``: ``{name: coin_counterfactual_probe result}``, AA rows named ``"AA ..."``.
    ``paper_fig2``: ``{(row, column): per-step reward of the row agent}`` of the paper's Fig. 2;
    the median shipped AA seed's loss to AD must be below the paper's (and within 0.1 of the
    grim trigger's).
    """
    for r in shipped["aa"].records:
        check_coin_cooperative(r["evaluation"]["metrics"], f"shipped aa seed {r['seed']}")
    for r in shipped["ppo"].records:
        check_coin_greedy(r["evaluation"]["metrics"], f"shipped ppo seed {r['seed']}")
    blind = _retaliation_margin(retaliation[COIN_BLIND_REFERENCE])
    for name, r in retaliation.items():
        if name.startswith("AA") and not name.endswith("vs AD"):  # Tit-for-Tat: far above the blind difference
            _require(_retaliation_margin(r) > 0.25 + blind,
                     f"{name}: takes the other's coin {_retaliation_margin(r):+.3f} more after a theft; "
                     f"expected more than 0.25 + the blind reference's {blind:+.3f}")
    aa, ppo = league.value("AA", "AA"), league.value("PPO", "PPO")
    _require(aa > ppo + 0.1, f"league: AA vs AA {aa:.3f} is not above PPO vs PPO {ppo:.3f} + 0.1")
    if "aa" in evaluations:
        check_coin_cooperative(evaluations["aa"].metrics, "live aa")
        _require(live_retaliation is not None, "live aa: live_retaliation (its coin_retaliation) is missing")
        margin = _retaliation_margin(live_retaliation)
        _require(margin > 0.25 + blind, f"live aa: retaliation margin {margin:+.3f}; expected more than "
                                        f"0.25 + the blind reference's {blind:+.3f}")
    if "ppo" in evaluations:
        check_coin_greedy(evaluations["ppo"].metrics, "live ppo")
    for name, r in counterfactual.items():  # AA remembers a theft and goes for the thief's coin; PPO does not care
        if name.startswith("AA"):
            _require(r["difference"] > 0.05 and r["difference"] > 5 * r["difference_se"],
                     f"{name}: counterfactual difference {r['difference']:+.3f} ± {r['difference_se']:.3f}; "
                     "expected > 0.05 and > 5 standard errors")
        else:
            _require(abs(r["difference"]) < 0.05,
                     f"{name}: counterfactual difference {r['difference']:+.3f}; expected |difference| < 0.05")
    gaps = sorted(r["evaluation"]["metrics"]["opponent_reward/AD"] - r["evaluation"]["metrics"]["reward/AD"]
                  for r in shipped["aa"].records)
    median = gaps[len(gaps) // 2]
    grim_gap = league.value("AD", "GRIM") - league.value("GRIM", "AD")
    _require(median < grim_gap + 0.1,  # the median seed is near the reciprocal optimum
             f"AD's margin over the median AA seed {median:.3f} (all: {gaps}) is not below the grim "
             f"trigger's {grim_gap:.3f} + 0.1")
    paper_gap = paper_fig2[("AD", "AA")] - paper_fig2[("AA", "AD")]  # 0.23
    _require(median < paper_gap, f"AD's margin over the median AA seed {median:.3f} (all: {gaps}) is not "
                                 f"below the paper's {paper_gap:.2f}")  # exploited less than the paper's AA
    return ("science: AA cooperates with itself and remembers thefts (reciprocity), PPO is greedy; "
            f"AD beats AA by {gaps} per step (grim trigger: {grim_gap:.2f})")


# ------------------------------------------------------ notebook 09: Negotiation
def check_negotiation_greedy(m: Mapping, who: str) -> None:
    """PPO, eq. 8 AA: most low-value items claimed (bid > 3), self-play reward < 0.345 (AD-AD: bids 5, 0.30)."""
    _require(m["bid_low/self"] > 3.0 and m["reward/self"] < 0.345,
             f"{who}: expected greedy, bid on low-value items > 3 and self-play reward < 0.345, "
             f"got {m['bid_low/self']:.3f} and {m['reward/self']:.3f}")


def check_cooperates_and_is_exploited(m: Mapping, who: str) -> None:
    """PPO-SR: bid < 2 and self-play reward > 0.42 (AC-AC: bids 0, 0.50), and AD gains > 0.15 over it."""
    _require(m["bid_low/self"] < 2.0 and m["reward/self"] > 0.42,
             f"{who}: expected cooperative, bid on low-value items < 2 and self-play reward > 0.42, "
             f"got {m['bid_low/self']:.3f} and {m['reward/self']:.3f}")
    _require(m["opponent_reward/AD"] > m["reward/AD"] + 0.15,
             f"{who}: expected exploited by AD (AD's reward > its own + 0.15), got AD "
             f"{m['opponent_reward/AD']:.3f} vs {m['reward/AD']:.3f}")


def check_cooperates_and_is_not_exploited(m: Mapping, who: str) -> None:
    """Item-factored AA: self-play reward > 0.355, bid < 3, and AD gains < 0.08 over it (0.2-0.3 from PPO-SR)."""
    _require(m["reward/self"] > 0.355 and m["bid_low/self"] < 3.0,
             f"{who}: expected self-play reward > 0.355 and bid on low-value items < 3, "
             f"got {m['reward/self']:.3f} and {m['bid_low/self']:.3f}")
    _require(m["opponent_reward/AD"] < m["reward/AD"] + 0.08,
             f"{who}: exploited by AD (AD's reward {m['opponent_reward/AD']:.3f} >= its own "
             f"{m['reward/AD']:.3f} + 0.08)")


def _mean_over_seeds(curves: Sequence[Sequence[float]], index: int) -> float:
    return sum(c[index] for c in curves) / len(curves)


def check_negotiation_mechanics(live: Mapping, evaluations: Mapping, diagnostics: Mapping, league,
                                by_round: Mapping, shipped: Mapping, fresh, iterations: int) -> str:
    """Notebook 09, both modes: live runs, bids and rewards in range, AA-term diagnostics, the league of
    the shipped rules and AC, AD is finite, bids by round in [0, 5], re-evaluation of item-factored AA seed 0."""
    check_live_runs(live, iterations)
    for algo in live:
        m = evaluations[algo].metrics
        _require(0.0 <= m["bid_low/self"] <= 5.0 and 0.0 <= m["reward/self"] <= 1.0,
                 f"live {algo}: bid {m['bid_low/self']} or reward {m['reward/self']} out of range")
    for seed, d in diagnostics.items():
        for name in ("gae", "td", "reward"):
            _require(-1.0 <= d[name]["cosine"] <= 1.0 and d[name]["pg_norm"] > 0,
                     f"diagnostic seed {seed}, {name}: cosine {d[name]['cosine']} or norm {d[name]['pg_norm']}")
    size = len(shipped) + 2
    _require(tuple(league.table.shape) == (size, size) and bool(torch.isfinite(league.table).all()),
             f"league table of shape {tuple(league.table.shape)} (expected {(size, size)}) or not finite")
    _require(all(0.0 <= b <= 5.0 for curves in by_round.values() for curve in curves for b in curve),
             "a mean bid by round outside [0, 5]")
    check_agrees_with_record(shipped["aa_factored"].records[0]["evaluation"], fresh,
                             ("reward/self", "reward/AD", "bid_low/self"))
    return "mechanics: ok"


def check_negotiation_science(shipped: Mapping, evaluations: Mapping, aa_bids_by_round: Mapping,
                              diagnostics: Mapping) -> str:
    """Notebook 09, full mode: PPO and eq. 8 AA greedy, PPO-SR exploited, item-factored AA cooperates and
    retaliates; the sampled eq. 8 term pushes greedy.

    ``aa_bids_by_round``: ``{"AD": curves, "AC": curves}``, item-factored AA's mean bid on its
    low-value items per round (one curve per shipped seed) against AD and AC.
    ``diagnostics``: ``{seed: shaping_gradient_alignment result}``.
    """
    checks = (("ppo", check_negotiation_greedy), ("aa", check_negotiation_greedy),
              ("ppo_sr", check_cooperates_and_is_exploited), ("aa_factored", check_cooperates_and_is_not_exploited))
    for algo, check in checks:
        for r in shipped[algo].records:
            check(r["evaluation"]["metrics"], f"shipped {algo} seed {r['seed']}")
        if algo in evaluations:
            check(evaluations[algo].metrics, f"live {algo}")
    factored, ppo = shipped["aa_factored"].summary["reward/self"]["mean"], shipped["ppo"].summary["reward/self"]["mean"]
    _require(factored > ppo + 0.03, f"item-factored AA's mean self-play reward {factored:.3f} is not above "
                                    f"PPO's {ppo:.3f} + 0.03")
    against_ad, against_ac = aa_bids_by_round["AD"], aa_bids_by_round["AC"]
    climb = _mean_over_seeds(against_ad, -1) - _mean_over_seeds(against_ad, 0)
    _require(climb > 1.5, f"item-factored AA's bid against AD climbs by {climb:.3f}; expected > 1.5")  # retaliates
    last_ac, last_ad = _mean_over_seeds(against_ac, -1), _mean_over_seeds(against_ad, -1)
    _require(last_ac < last_ad - 1.0, f"item-factored AA's last-round bid against AC {last_ac:.3f} is not below "
                                      f"the one against AD {last_ad:.3f} - 1")
    for seed, d in diagnostics.items():  # eq. 8's sampled term pushes greedy, measurably
        _require(d["td"]["cosine"] > 0.5 and d["gae"]["cosine"] > 0.3,
                 f"diagnostic seed {seed}: cosine(g_pg, g_sh) td {d['td']['cosine']:+.3f} (expected > 0.5), "
                 f"gae {d['gae']['cosine']:+.3f} (expected > 0.3)")
        _require(d["td"]["split_cosine"] > 0.8,
                 f"diagnostic seed {seed}: td noise-floor cosine {d['td']['split_cosine']:+.3f}; expected > 0.8")
    return ("science: PPO and eq. 8 AA are greedy; PPO-SR cooperates and is exploited; item-factored AA cooperates, "
            "retaliates and is not exploited; the sampled eq. 8 term is greedy")


# ------------------------------------------------- notebook 10: Commons Harvest
def check_commons_mechanics(live: Mapping, live_evaluations: Mapping, records: Mapping, fresh, env,
                            iterations: int, assets) -> str:
    """Notebook 10, both modes: live runs, focal evaluations in range, the shipped PAA, PPO and PPO-SR
    checkpoints load safely, re-evaluation of ``paa_s0``.

    ``live_evaluations`` and ``records``' values are ``{"metrics", "errors"}`` dicts keyed by run
    (``"paa_s0"``...); ``records`` are the shipped records of ``assets`` (the ``assets/commons`` folder);
    ``env`` the classroom environment they were evaluated on.
    """
    check_live_runs(live, iterations)
    n_patches = int(patch_labels(env).max()) + 1
    for name, ev in live_evaluations.items():
        m = ev["metrics"]
        _require(0 <= m["patches_alive/self"] <= n_patches and 0 <= m["apples_left/self"] <= env.n_spots,
                 f"{name}: patches alive {m['patches_alive/self']} or apples left {m['apples_left/self']} "
                 "out of range")
        _require(m["return/self"] >= 0 and 0 <= m["zap_rate/self"] <= 1,
                 f"{name}: return {m['return/self']} or zap rate {m['zap_rate/self']} out of range")
    for name in ("paa_s0", "ppo_s0", "ppo_sr_s0"):
        _require(name in records, f"expected the shipped checkpoint {name}")
        check_safe_checkpoint(Path(assets) / f"{name}.pt", game="commons")
    check_agrees_with_record(records["paa_s0"]["evaluation"], fresh,
                             ("return/self", "return/focal", "patches_alive/self"))
    return "mechanics: ok"


def check_commons_science(records: Mapping, refs: Mapping, live_evaluations: Mapping,
                          deterministic_replay: bool) -> str:
    """Notebook 10, full mode: PAA and PPO greedy with equal focal returns, PPO-SR most prosocial and most exploited.

    Margins of about three standard errors (:func:`gap_in_standard_errors`). ``refs``:
    :func:`~aa_lib.evaluation.commons.reference_returns`. ``deterministic_replay``: the live runs
    repeat the shipped ones (same preset sizes and seed, on the CPU), so their evaluations must
    agree within 5 standard errors.
    """
    paa, ppo, sr = (records[n]["evaluation"] for n in ("paa_s0", "ppo_s0", "ppo_sr_s0"))
    for name, ev in (("paa_s0", paa), ("ppo_s0", ppo)):  # greedy: everything eaten early, no patch survives
        m = ev["metrics"]
        _require(m["patches_alive/self"] < 0.5 and m["first_half_share/self"] > 0.9,
                 f"shipped {name}: expected patches alive < 0.5 and first-half share > 0.9, got "
                 f"{m['patches_alive/self']:.3f} and {m['first_half_share/self']:.3f}")
        _require(m["return/self"] > 0.9 * refs["greedy_self"],
                 f"shipped {name}: self-play return {m['return/self']:.3f} <= 0.9 x greedy {refs['greedy_self']:.3f}")
    gap = gap_in_standard_errors
    _require(abs(gap(paa, ppo, "return/focal")) < 3,
             f"PAA and PPO focal returns differ: {gap(paa, ppo, 'return/focal'):+.2f} standard errors")
    _require(gap(sr, ppo, "return/self") > 3 and gap(sr, paa, "return/self") > 3,  # PPO-SR: most prosocial...
             f"PPO-SR's self-play return is not 3 standard errors above PPO's ({gap(sr, ppo, 'return/self'):+.2f}) "
             f"and PAA's ({gap(sr, paa, 'return/self'):+.2f})")
    _require(gap(ppo, sr, "return/focal") > 3 and sr["metrics"]["return/invader"] > sr["metrics"]["return/focal"],
             f"PPO-SR is not exploited: focal gap to PPO {gap(ppo, sr, 'return/focal'):+.2f} standard errors, "
             f"invaders {sr['metrics']['return/invader']:.3f} vs focal {sr['metrics']['return/focal']:.3f}")
    for name, ev in live_evaluations.items():  # ...and exploited; live runs: every rule learns to harvest
        _require(ev["metrics"]["return/self"] > 0.75 * refs["greedy_self"],
                 f"live {name}: self-play return {ev['metrics']['return/self']:.3f} <= 0.75 x greedy "
                 f"{refs['greedy_self']:.3f}")
    alive = live_evaluations["ppo_s0"]["metrics"]["patches_alive/self"]
    _require(alive < 0.5, f"live ppo_s0: {alive:.3f} patches alive; expected < 0.5")
    if deterministic_replay:
        for name, ev in live_evaluations.items():  # deterministic on the CPU: the live runs are the shipped ones
            for key in ("return/self", "return/focal"):
                g = gap(ev, records[name]["evaluation"], key)
                _require(abs(g) < 5, f"live {name} differs from the shipped run on {key}: {g:+.2f} standard errors")
    return ("science: PAA and PPO are greedy with equal focal returns; "
            "PPO-SR is the most prosocial and the most exploited")
