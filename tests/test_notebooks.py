"""Every course notebook runs end to end in smoke mode (papermill, SMOKE=True).

A notebook's self-check cells (``assert`` statements) make this a regression
test of the science it shows, not only of the code running. The full-size runs
are marked ``slow`` and excluded from CI (``pytest -m slow`` runs them).
"""
import json
from pathlib import Path

import pytest

COURSE = Path(__file__).resolve().parents[1] / "course"
NOTEBOOKS = sorted(COURSE.glob("[0-9][0-9]_*.ipynb"))
CELL_TIMEOUT_S = 300
#: Full-size runs: a live-training cell trains several agents (notebook 09: two runs of 3-4 minutes).
FULL_CELL_TIMEOUT_S = 1200


def _ids(paths):
    return [p.stem for p in paths]


def test_course_has_notebooks():
    assert NOTEBOOKS, "course/ holds no notebooks"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_conventions(notebook):
    nb = json.loads(notebook.read_text())
    cells = nb["cells"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell must be tagged 'parameters'"
    assert tagged[0]["cell_type"] == "code"
    assert "SMOKE" in "".join(tagged[0]["source"]), "the parameters cell must define SMOKE"
    assert cells[0]["cell_type"] == "markdown", "a notebook opens with its objectives"
    first = "".join(cells[0]["source"]).lower()
    assert "objective" in first or "you will" in first, "the first cell states learning objectives"
    text = " ".join("".join(c["source"]).lower() for c in cells if c["cell_type"] == "markdown")
    assert "exercise" in text and "summary" in text, "a notebook closes with a summary and exercises"


def _execute(notebook, tmp_path, smoke, timeout=CELL_TIMEOUT_S):
    papermill = pytest.importorskip("papermill")
    out = tmp_path / notebook.name
    papermill.execute_notebook(
        str(notebook),
        str(out),
        parameters={"SMOKE": smoke},
        kernel_name="python3",
        cwd=str(COURSE),
        execution_timeout=timeout,
        progress_bar=False,
    )
    return json.loads(out.read_text())


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs_in_smoke_mode(notebook, tmp_path):
    result = _execute(notebook, tmp_path, smoke=True)
    errors = [o for c in result["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs_full_size(notebook, tmp_path):
    _execute(notebook, tmp_path, smoke=False, timeout=FULL_CELL_TIMEOUT_S)
