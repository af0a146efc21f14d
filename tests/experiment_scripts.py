"""Load a script of ``experiments/`` as a module, for the tests that check it against the library."""
import importlib.util
import sys
from pathlib import Path

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def load_experiment(name: str):
    """Execute ``experiments/<name>.py`` and return it as module ``name``.

    The folder goes on ``sys.path`` (scripts import their neighbours) and the module into
    ``sys.modules`` before it runs (dataclasses look their module up there).
    """
    if str(EXPERIMENTS) not in sys.path:
        sys.path.insert(0, str(EXPERIMENTS))
    spec = importlib.util.spec_from_file_location(name, EXPERIMENTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
