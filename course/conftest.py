"""Which course notebooks nbval checks.

The test command runs ``pytest --nbval-lax`` over ``tests/`` and ``course/``.
nbval executes a notebook with its stored parameters (the full, non-smoke
run) and compares the outputs of cells marked ``# NBVAL_CHECK_OUTPUT``; so
only notebooks whose full run is fast and whose checked outputs are
deterministic are listed here. Every notebook, listed or not, is also executed
with ``SMOKE=True`` by ``tests/test_notebooks.py`` (papermill).
"""
from pathlib import Path

NBVAL_NOTEBOOKS = {
    "00_welcome.ipynb",
    "01_social_dilemmas.ipynb",
    "04_deriving_advantage_alignment.ipynb",
    "06_nash_preservation.ipynb",
}


def pytest_ignore_collect(collection_path: Path, config):
    """Collect only the nbval notebooks listed above from course/."""
    if collection_path.suffix == ".ipynb":
        return collection_path.name not in NBVAL_NOTEBOOKS or None
    return None
