"""Agents: learned policies and critics, and scripted opponents.

- :mod:`.policies` -- MLP / GRU / CNN policies, the tanh-squashed Gaussian policy, memory-one tables.
- :mod:`.critics` -- value / Q critics with an EMA target network.
- :mod:`.distributions` -- categorical and numerically stable squashed-Gaussian distributions.
- :mod:`.scripted` -- Always Cooperate, Always Defect, Tit-for-Tat, Grim Trigger, greedy harvesters...
"""
from .critics import Critic, EmaTarget, make_critic
from .distributions import CategoricalDist, SquashedGaussian
from .networks import Body
from .policies import Action, ContinuousPolicy, DiscretePolicy, MemoryOnePolicy, ScriptedPolicy, make_policy
from .scripted import (
    SCRIPTED_NAMES,
    scripted_names,
    AlwaysCooperate,
    AlwaysDefect,
    CoinAlwaysCooperate,
    CoinAlwaysDefect,
    GreedyHarvester,
    GrimTrigger,
    MemoryOneAgent,
    NegotiationAlwaysCooperate,
    NegotiationAlwaysDefect,
    RandomAgent,
    RandomProposals,
    ScriptedAgent,
    TitForTat,
    scripted_agent,
)

__all__ = [
    "Action",
    "Body",
    "CategoricalDist",
    "ContinuousPolicy",
    "Critic",
    "DiscretePolicy",
    "EmaTarget",
    "MemoryOnePolicy",
    "ScriptedPolicy",
    "SquashedGaussian",
    "make_critic",
    "make_policy",
    "SCRIPTED_NAMES",
    "scripted_names",
    "AlwaysCooperate",
    "AlwaysDefect",
    "CoinAlwaysCooperate",
    "CoinAlwaysDefect",
    "GreedyHarvester",
    "GrimTrigger",
    "MemoryOneAgent",
    "NegotiationAlwaysCooperate",
    "NegotiationAlwaysDefect",
    "RandomAgent",
    "RandomProposals",
    "ScriptedAgent",
    "TitForTat",
    "scripted_agent",
]
