"""``key=value`` overrides of a :class:`~aa_lib.training.config.TrainConfig`: one parser for every user.

The ``aa train --set`` option (:mod:`aa_lib.cli`), the experiment drivers
(``experiments/commons.py --set``) and :func:`aa_lib.training.session.session_config`
(``overrides=``) all turn a preset into the config they run with this module::

    overrides = parse_overrides(["horizon=250", "game_options.layout=open", "algo_options.beta=2"])
    # {"horizon": 250, "game_options.layout": "open", "algo_options.beta": 2}
    config = apply_overrides(preset("commons", "paa"), overrides)

Rules:

- a key is a :class:`TrainConfig` field (``batch_size``), or ``game_options.<name>`` /
  ``algo_options.<name>`` for one entry of those dicts (a dotted key);
- a value is read as a Python literal (``ast.literal_eval``: ``3``, ``1e-3``, ``True``, ``None``,
  ``{'episode_length': 4}``), else as JSON (``true``, ``null``), else kept as the plain string
  (``open``, ``cuda``);
- the value must have the field's type (an int where an ``int`` is declared, a number where a
  ``float`` is; ints given for floats become floats); dotted entries are not checked here (the
  game's constructor and the learning rule check their own options);
- a whole ``algo_options`` dict is merged into the config's, and a whole ``game_options`` dict
  replaces it, as :func:`aa_lib.training.presets.preset` does; dotted entries are then set one by
  one, so ``game_options.layout=open`` keeps the preset's other game options.

Every mistake raises a ``ValueError`` naming the key and the value.
"""
from __future__ import annotations

import ast
import json
from dataclasses import fields, replace
from typing import Any, Dict, Iterable, Mapping, Optional, Union, get_args, get_origin, get_type_hints

from .config import TrainConfig

__all__ = ["DICT_FIELDS", "apply_overrides", "parse_override_value", "parse_overrides"]

#: TrainConfig fields that are dicts of options and accept dotted keys (``game_options.layout``).
DICT_FIELDS = ("game_options", "algo_options")

_MISSING = object()


def parse_override_value(text: str) -> Any:
    """The value of ``key=<text>``: a Python literal, else JSON, else the string itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def _field_types() -> Dict[str, Any]:
    """Field name -> resolved type annotation of :class:`TrainConfig`."""
    hints = get_type_hints(TrainConfig)
    return {f.name: hints[f.name] for f in fields(TrainConfig)}


def _matches(hint, value) -> bool:
    """Whether ``value`` has type ``hint`` (plain types and ``Optional``/``Union`` of them)."""
    if get_origin(hint) is Union:
        return any(_matches(arg, value) for arg in get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True  # an annotation this module does not know: TrainConfig checks the value itself


def _type_name(hint) -> str:
    """``int``, ``Optional[float]``... as a reader writes it."""
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def _typed(key: str, hint, value):
    """``value`` checked against the field type ``hint`` (ints become floats for float fields)."""
    if not _matches(hint, value):
        raise ValueError(f"override {key}={value!r}: {key} must be of type {_type_name(hint)}, "
                         f"got {type(value).__name__}")
    float_field = hint is float or (get_origin(hint) is Union and float in get_args(hint))
    if float_field and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _check_key(key: str, types: Mapping[str, Any]) -> None:
    """Refuse a key that is not a TrainConfig field or a ``<dict field>.<name>`` entry."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"override key must be a non-empty string, got {key!r}")
    field_name, dot, option = key.partition(".")
    if field_name not in types:
        raise ValueError(f"override key {key!r}: unknown config field {field_name!r}; known: {sorted(types)}")
    if dot and field_name not in DICT_FIELDS:
        raise ValueError(f"override key {key!r}: only {', '.join(DICT_FIELDS)} take dotted keys "
                         f"(<field>.<option>), {field_name!r} is not a dict")
    if dot and (not option or "." in option):
        raise ValueError(f"override key {key!r}: expected <field>.<option> with one option name")


def _checked(overrides: Mapping[str, Any]) -> Dict[str, Any]:
    """The overrides with every key checked and every whole-field value type-checked."""
    types = _field_types()
    out = {}
    for key, value in overrides.items():
        _check_key(key, types)
        out[key] = value if "." in key else _typed(key, types[key], value)
    return out


def parse_overrides(pairs: Optional[Iterable[str]]) -> Dict[str, Any]:
    """``["batch_size=64", "game_options.layout=open"]`` -> ``{"batch_size": 64, "game_options.layout": "open"}``.

    Keys are checked against the :class:`TrainConfig` fields (dotted keys address one entry of
    ``game_options`` / ``algo_options``) and whole-field values against the field's type; a key
    given twice keeps its last value. None or an empty list gives ``{}``.

    Raises:
        ValueError: a pair without ``=``, an unknown field, a dotted key on a non-dict field, or a
            value of the wrong type; the message names the pair or the key and the value.
    """
    if pairs is None:
        return {}
    if isinstance(pairs, str):
        raise ValueError(f"overrides must be a list of 'key=value' strings, got the single string {pairs!r}")
    parsed = {}
    for pair in pairs:
        if not isinstance(pair, str) or "=" not in pair:
            raise ValueError(f"override {pair!r}: expected key=value")
        key, value = pair.split("=", 1)
        parsed[key.strip()] = parse_override_value(value.strip())
    return _checked(parsed)


def apply_overrides(config: TrainConfig, overrides: Union[Mapping[str, Any], Iterable[str], None]) -> TrainConfig:
    """A copy of ``config`` with ``overrides`` applied (the rules in the module docstring).

    Args:
        config: the config to start from (usually a preset).
        overrides: ``{key: value}`` with keys as :func:`parse_overrides` returns them (values
            already parsed), or a list of ``"key=value"`` strings, or None (no change).

    Returns:
        a new :class:`TrainConfig`; ``config`` is not modified. TrainConfig's own checks run on it
        (e.g. ``batch_size=0`` raises a ValueError naming ``batch_size``).
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if overrides is None:
        return config
    if isinstance(overrides, Mapping):
        overrides = _checked(overrides)
    else:
        overrides = parse_overrides(overrides)
    changes: Dict[str, Any] = {}
    for key, value in overrides.items():  # whole fields first
        if "." in key:
            continue
        if key == "algo_options":
            value = {**config.algo_options, **value}
        changes[key] = dict(value) if key in DICT_FIELDS else value
    for key, value in overrides.items():  # then single entries of the option dicts
        if "." not in key:
            continue
        field_name, _, option = key.partition(".")
        current = changes.get(field_name, _MISSING)
        options = dict(getattr(config, field_name) if current is _MISSING else current)
        options[option] = value
        changes[field_name] = options
    return replace(config, **changes) if changes else config
