"""The import-linter layers contract of pyproject.toml (DESIGN.md: data flows one way) holds, and it can fail."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter")

ROOT = Path(__file__).resolve().parents[1]
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"]


def _lint(cwd: Path, package_parent: Path) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(package_parent), "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(LINT + ["--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_layers_contract_is_kept():
    result = _lint(ROOT, ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    # A copy of the package in which the bottom layer imports from training (upward).
    shutil.copytree(ROOT / "aa_lib", tmp_path / "aa_lib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with open(tmp_path / "aa_lib" / "games" / "base.py", "a") as f:
        f.write("\nfrom ..training import presets as _upward\n")
    result = _lint(tmp_path, tmp_path)
    assert result.returncode != 0
    assert "aa_lib.games is not allowed to import aa_lib.training" in result.stdout
    assert "aa_lib.games.base -> aa_lib.training.presets" in result.stdout
