"""The shipped runs: small trained checkpoints and their recorded evaluations in ``assets/<game>/``.

``assets/make_assets.py`` trains each (game, rule, seed) once and writes two files:
``<run>_s<seed>.pt``, a trainer checkpoint (policies, training history, config), and
``<run>_s<seed>.json``, its record (the command, the wall time and the evaluation
of :func:`~aa_lib.evaluation.summary.evaluate_policy`: ``metrics`` and their
Monte Carlo ``errors``). ``<run>`` is the learning rule's name (``aa``, ``ppo``,
``aa_factored``...) or, for a variant, the name the asset script gave it
(``paa_b2`` in Commons Harvest: PAA with beta 2).

The course notebooks show these runs next to the ones they train live::

    aa = load_shipped("ipd", "aa")           # every shipped seed of AA in the IPD
    aa.summary["reward/self"]["mean"]        # mean and std over seeds (seed_summary)
    aa.policy(seed=0), aa.histories[0]       # a policy to play, a training history to plot

Checkpoints load with ``weights_only=True`` (:func:`~aa_lib.training.checkpoint.load_checkpoint`).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from ..training.checkpoint import load_checkpoint
from .match import load_policy
from .summary import seed_summary

__all__ = ["ASSETS_DIR", "ShippedRuns", "load_shipped", "shipped_seeds"]

#: The repository's ``assets/`` folder (next to the ``aa_lib`` package).
ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets"


@dataclass
class ShippedRuns:
    """Every loaded seed of one shipped run, in increasing seed order.

    Attributes:
        game: the game's registry name (``"ipd"``, ``"coin"``, ``"negotiation"``, ``"commons"``).
        algo: the run's name (file prefix), usually the learning rule's.
        records: the JSON records, one a seed (keys ``seed``, ``checkpoint``, ``iterations``,
            ``wall_time_s``, ``evaluation`` = {``metrics``, ``errors``, ``protocol``}, ...).
        policies: the learner's policy of each checkpoint (eval mode).
        histories: the per-iteration training metrics of each checkpoint (list of dicts).
        checkpoints: the checkpoint files.
    """

    game: str
    algo: str
    records: List[dict]
    policies: list
    histories: List[List[dict]]
    checkpoints: List[Path]

    @property
    def seeds(self) -> List[int]:
        return [int(r["seed"]) for r in self.records]

    @property
    def metrics(self) -> List[Dict[str, float]]:
        """The recorded evaluation metrics of each seed."""
        return [r["evaluation"]["metrics"] for r in self.records]

    @property
    def summary(self) -> Dict[str, Dict[str, float]]:
        """Mean and standard deviation over seeds of every metric (:func:`seed_summary`)."""
        return seed_summary(self.metrics)

    def policy(self, seed: int):
        """The policy of seed ``seed``."""
        if seed not in self.seeds:
            raise ValueError(f"seed {seed!r} of {self.game}/{self.algo} is not loaded; loaded seeds: {self.seeds}")
        return self.policies[self.seeds.index(seed)]


def _game_dir(game: str, assets) -> Path:
    if not isinstance(game, str) or not game:
        raise TypeError(f"game must be a non-empty string, got {game!r}")
    folder = Path(ASSETS_DIR if assets is None else assets) / game
    if not folder.is_dir():
        raise FileNotFoundError(f"no shipped runs for game {game!r}: {folder} is not a folder")
    return folder


def shipped_seeds(game: str, algo: str, assets=None) -> List[int]:
    """The seeds of run ``algo`` of ``game`` in ``assets`` (files ``<algo>_s<seed>.json``), sorted."""
    if not isinstance(algo, str) or not algo:
        raise TypeError(f"algo must be a non-empty string, got {algo!r}")
    pattern = re.compile(re.escape(algo) + r"_s(\d+)\.json")
    matches = (pattern.fullmatch(p.name) for p in _game_dir(game, assets).iterdir())
    return sorted(int(m.group(1)) for m in matches if m)


def load_shipped(game: str, algo: str, seeds: Optional[Sequence[int]] = None, *, assets=None,
                 device: str = "cpu") -> ShippedRuns:
    """Load the shipped checkpoints and records of run ``algo`` of ``game``.

    Args:
        game: the game's folder in ``assets`` (its registry name).
        algo: the run's name: the learning rule (``"aa"``, ``"naive"``, ``"ppo"``...) or a
            variant's name (``"paa_b2"``); files ``<algo>_s<seed>.json`` and ``.pt``.
        seeds: the seeds to load, in this order; ``None``: every shipped seed, sorted.
        assets: the assets folder (default :data:`ASSETS_DIR`).
        device: where the policies are put.

    Raises FileNotFoundError naming the missing file (or the run) when nothing matches,
    and ValueError when a record belongs to another game or seed than its file name says.
    """
    folder = _game_dir(game, assets)
    available = shipped_seeds(game, algo, assets)
    if seeds is None:
        if not available:
            raise FileNotFoundError(f"no shipped run {algo!r} in {folder} (expected files {algo}_s<seed>.json)")
        seeds = available
    elif isinstance(seeds, (str, bytes)) or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise TypeError(f"seeds must be a sequence of ints or None, got {seeds!r}")
    records, policies, histories, checkpoints = [], [], [], []
    for seed in seeds:
        path = folder / f"{algo}_s{seed}.json"
        if not path.is_file():
            raise FileNotFoundError(f"no shipped record {path}; seeds of {algo!r}: {available}")
        record = json.loads(path.read_text())
        if record.get("game") != game or record.get("seed") != seed:
            raise ValueError(f"{path} records game {record.get('game')!r}, seed {record.get('seed')!r}; "
                             f"expected {game!r}, {seed!r}")
        checkpoint = folder / record["checkpoint"]
        records.append(record)
        checkpoints.append(checkpoint)
        histories.append(load_checkpoint(checkpoint)["history"])
        policies.append(load_policy(checkpoint, device=device))
    return ShippedRuns(game, algo, records, policies, histories, checkpoints)
