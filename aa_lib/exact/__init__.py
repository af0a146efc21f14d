"""Exact solutions of small games: closed-form values and exact learning rules.

- :mod:`aa_lib.exact.memory_one` -- memory-one iterated 2x2 games, infinite horizon
  (``V = p0 (I - gamma P)^-1 r``) and finite horizon (backward induction).
- :mod:`aa_lib.exact.learning` -- naive gradient ascent and LOLA (shaping and
  look-ahead forms) on exact values, vectorised over seeds.
- :mod:`aa_lib.exact.pola` -- proximal LOLA (POLA) on exact values.
"""
from .learning import (
    RULES,
    LearningHistory,
    is_tft_like,
    lola_lookahead_direction,
    lola_shaping_direction,
    naive_direction,
    run_exact_learning,
)
from .memory_one import (
    STATE_NAMES,
    FiniteHorizonSolution,
    cooperation_probabilities,
    finite_horizon_solution,
    finite_horizon_values,
    joint_chain,
    memory_one_values,
    per_step_values,
    policy_logits,
)

# Theory modules (issue 3): exact estimator expectations, the exact opponent-shaping
# term, LOLA's second-order term, Nash checks; imported as submodules.
from . import comparisons, estimators, lola_form, nash, pola, shaping, tabular  # noqa: E402,F401
