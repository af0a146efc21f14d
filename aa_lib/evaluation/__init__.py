"""Evaluation: head-to-head leagues, cooperation probes, exploitability, and policy summaries with error bars."""
from .league import LeagueResult, run_league
from .match import as_policy, load_policy, play
from .negotiation import bid_profile, bids_by_round, negotiation_transcript
from .commons import classify_behaviour, commons_stats, focal_evaluation, normalised_score, reference_returns
from .summary import Evaluation, evaluate_policy, mean_and_error, play_transcript, ratio_and_error, seed_summary
from .probes import ProbeResult, coin_counterfactual_probe, coin_pickup_rollout, coin_pickups, coin_retaliation, cooperation_probe, exploitability, retaliation_shares

__all__ = ["classify_behaviour", "commons_stats", "focal_evaluation", "normalised_score", "reference_returns",
           "LeagueResult", "ProbeResult", "as_policy", "bid_profile", "bids_by_round", "negotiation_transcript", "coin_counterfactual_probe", "coin_pickup_rollout", "coin_pickups", "coin_retaliation", "cooperation_probe", "exploitability", "load_policy",
           "play", "retaliation_shares", "run_league",
           "Evaluation", "evaluate_policy", "mean_and_error", "play_transcript", "ratio_and_error", "seed_summary"]
