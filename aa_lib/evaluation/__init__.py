"""Evaluation: head-to-head leagues, cooperation probes and exploitability."""
from .league import LeagueResult, run_league
from .match import as_policy, load_policy, play
from .probes import ProbeResult, coin_pickups, cooperation_probe, exploitability

__all__ = ["LeagueResult", "ProbeResult", "as_policy", "coin_pickups", "cooperation_probe", "exploitability", "load_policy",
           "play", "run_league"]
