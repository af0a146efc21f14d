"""aa_lib: opponent shaping and Advantage Alignment, as a course and a library.

Subpackages (data flows one way)::

    games/  ->  agents/  ->  rollout  ->  advantages  ->  algos/  ->  training/ & evaluation/  ->  viz/
    exact/      closed-form values and exact learning rules for small games
"""
__version__ = "0.1.0"
