"""Lazy imports of the optional ``llm`` dependencies (transformers, peft).

``import aa_lib.llm`` works without them; the first function that needs a
language model calls :func:`require` and gets a clear ImportError naming the
extra to install.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager

__all__ = ["require", "quiet_hf"]

_HINT = "aa_lib.llm needs the `llm` extra (transformers and peft): pip install -e .[llm]"


def require():
    """``(transformers, peft)``, imported on first use; ImportError naming the ``llm`` extra if missing."""
    try:
        import peft
        import transformers
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(f"{_HINT} ({error})") from error
    return transformers, peft


@contextmanager
def quiet_hf():
    """Silence the deprecation chatter that peft/transformers print on every adapter operation."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        yield
