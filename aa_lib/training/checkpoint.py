"""Atomic, safe checkpoints, and one reader that says what a file is before loading it.

A checkpoint is written to a temporary file in the same folder and renamed over
the target, so a crash never leaves a half-written file; temporaries that a killed
process left behind (``<name>.<pid>.<random>.tmp``) are removed at the next save.

Loading uses ``torch.load(..., weights_only=True)``: only tensors, dicts, lists,
strings and numbers are accepted, so a shared checkpoint cannot run code when
opened. Before that, :func:`load_checkpoint` looks at the file and refuses, with a
:class:`CheckpointError` naming the file, what it is and what was expected, an
empty file, a truncated one, a text file, a file of another format, a file holding
other Python objects, and a file holding a bare tensor or list instead of a dict.
:func:`load_trainer_checkpoint` also checks that the dict is a training checkpoint
(``format: 'aa_lib.trainer/1'``) of the expected game and architecture
(:func:`checkpoint_record`; checkpoints written before the record existed, such as
the shipped ones in ``assets/``, get it from their config).
"""
from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import List, Optional

import torch

__all__ = ["CheckpointError", "TRAINER_FORMAT", "save_checkpoint", "load_checkpoint", "load_trainer_checkpoint",
           "checkpoint_record", "architecture_of", "architecture_mismatch", "describe_record",
           "remove_stale_temporaries"]

#: The ``format`` entry of every training checkpoint (:meth:`aa_lib.training.Trainer.state_dict`).
TRAINER_FORMAT = "aa_lib.trainer/1"
_ZIP_MAGIC = b"PK\x03\x04"  # torch.save writes a zip archive
_EXPECTED = "a checkpoint dict written by aa_lib (Trainer.save, aa train or save_checkpoint)"


class CheckpointError(ValueError):
    """A file that is not the checkpoint expected; the message names the file, what it holds and
    what was expected."""


# ---------------------------------------------------------------------------- writing
def _temporary_prefix(path: Path) -> str:
    return f"{path.name}.{os.getpid()}."


def _writer_alive(pid: int) -> bool:
    """Whether process ``pid`` (the writer of a temporary) still runs on this machine."""
    if pid == os.getpid():
        return True  # our own temporaries: another thread may be writing one now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # it exists (another user's), or we cannot tell: keep its file
    return True


def remove_stale_temporaries(path) -> List[Path]:
    """Delete the temporaries of ``path`` (``<name>.<pid>.<random>.tmp``) whose writer has died;
    returns the paths removed. Temporaries named without a pid (older versions) count as stale."""
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for tmp in path.parent.glob(f"{path.name}.*.tmp"):
        middle = tmp.name[len(path.name) + 1:-len(".tmp")]
        pid = middle.split(".", 1)[0]
        if "." in middle and pid.isdigit() and _writer_alive(int(pid)):
            continue
        try:
            tmp.unlink()
            removed.append(tmp)
        except FileNotFoundError:  # removed meanwhile by someone else
            pass
    return removed


def save_checkpoint(state: dict, path) -> Path:
    """Write ``state`` (plain tensors/containers/numbers) to ``path`` atomically.

    Stale temporaries of earlier, killed writers of ``path`` are removed first
    (:func:`remove_stale_temporaries`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(path), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


# ---------------------------------------------------------------------------- reading
def _what_file(path: Path) -> Optional[str]:
    """What ``path`` is when it cannot be a torch checkpoint (None: it may be one)."""
    size = path.stat().st_size
    if size == 0:
        return "is empty (0 bytes)"
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith(_ZIP_MAGIC):
        if not zipfile.is_zipfile(path):
            return (f"is truncated or damaged ({size} bytes): it begins like a PyTorch checkpoint but its "
                    f"end is missing (a copy or download cut short?)")
        return None
    if head[:1] == b"\x80":  # a pickle: torch's legacy (pre-1.6) format, which torch.load reads
        return None
    if b"\x00" not in head:
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None:
            first = text.strip().splitlines()[0][:60] if text.strip() else ""
            return f"is a text file (it starts with {first!r}), not a PyTorch checkpoint"
    return f"is not a PyTorch checkpoint (unknown binary format, {size} bytes, starting with {head[:8]!r})"


def _describe_object(obj) -> str:
    if isinstance(obj, torch.Tensor):
        return f"a bare tensor of shape {tuple(obj.shape)}"
    if isinstance(obj, (list, tuple)):
        return f"a {type(obj).__name__} of {len(obj)} items"
    return f"a {type(obj).__name__}"


def _refusal(err: Exception) -> str:
    """The line of torch's weights-only refusal that names what was refused."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    for line in lines:
        if "Unsupported" in line or "unsupported" in line:
            return line.split(". Please", 1)[0].replace("WeightsUnpickler error: ", "")
    return lines[0] if lines else type(err).__name__


def load_checkpoint(path, map_location="cpu") -> dict:
    """Load a checkpoint dict written by :func:`save_checkpoint` (``weights_only=True``).

    Raises:
        FileNotFoundError: no file at ``path``; IsADirectoryError: ``path`` is a folder.
        CheckpointError (a ValueError): the file is empty, truncated, text, of another format,
            holds objects other than tensors/containers/numbers/strings (refused without running
            anything), or holds something other than a dict. The message names the file.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a checkpoint file")
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    problem = _what_file(path)
    if problem is not None:
        raise CheckpointError(f"{path} {problem}; expected {_EXPECTED}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{path} holds Python objects other than tensors, numbers, strings, lists and dicts, which "
            f"checkpoints never contain; refused without running them ({_refusal(err)})") from None
    except (RuntimeError, EOFError, ValueError, OSError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"{path} is damaged or not a PyTorch checkpoint ({type(err).__name__}: "
                              f"{_refusal(err)}); expected {_EXPECTED}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds {_describe_object(state)}, not a checkpoint; expected {_EXPECTED}")
    return state


# ------------------------------------------------------------- training checkpoints
def architecture_of(config: dict, env=None) -> dict:
    """The networks whose parameters a training checkpoint holds, from its ``config`` (a dict)
    and, when given, the environment (observation shape and actions).

    ``{"policy": "neural" | "memory_one", "hidden", "recurrent", "critic_recurrent"}`` plus
    ``"observation_shape"`` and ``"actions"`` (``n_actions`` or ``action_dim``) with ``env``.
    """
    recurrent = config.get("recurrent", True)
    critic_recurrent = config.get("critic_recurrent")
    out = {"policy": config.get("policy", "neural"), "hidden": config.get("hidden"), "recurrent": recurrent,
           "critic_recurrent": recurrent if critic_recurrent is None else critic_recurrent}
    if env is not None:
        out["observation_shape"] = list(env.observation_shape)
        out["actions"] = env.n_actions if env.action_kind == "discrete" else env.action_dim
    return out


def checkpoint_record(state: dict) -> dict:
    """``{"game": ..., "architecture": {...}}`` of a training checkpoint: as recorded in it, or, for
    checkpoints written before the record existed (the shipped ones), derived from its config."""
    config = state.get("config") if isinstance(state.get("config"), dict) else {}
    game = state.get("game", config.get("game"))
    architecture = state.get("architecture")
    if not isinstance(architecture, dict):
        architecture = architecture_of(config)
    return {"game": game, "architecture": dict(architecture)}


def describe_record(record: dict) -> str:
    """``game 'ipd', neural policy (GRU, hidden 32), feed-forward critic`` for messages."""
    arch = record["architecture"]
    if arch.get("policy") == "memory_one":
        nets = "memory-one policy"
    else:
        nets = (f"neural policy ({'GRU' if arch.get('recurrent') else 'feed-forward'}, hidden {arch.get('hidden')}), "
                f"{'GRU' if arch.get('critic_recurrent') else 'feed-forward'} critic")
    if "observation_shape" in arch:
        nets += f", observations {tuple(arch['observation_shape'])}"
    return f"game {record['game']!r}, {nets}"


def architecture_mismatch(found: dict, expected: dict) -> List[str]:
    """The entries (``name: found vs expected``) in which two architectures differ, on the keys both have."""
    return [f"{k} {found[k]!r} (expected {expected[k]!r})" for k in found
            if k in expected and found[k] != expected[k]]


def load_trainer_checkpoint(path, map_location="cpu", game: Optional[str] = None) -> dict:
    """Load a training checkpoint (:meth:`aa_lib.training.Trainer.save`) and check what it holds.

    Args:
        path: the file.
        map_location: device of the loaded tensors.
        game: the game it must be a checkpoint of (None: any).

    Raises:
        CheckpointError: everything :func:`load_checkpoint` refuses, a dict that is not a training
            checkpoint (a bare model state dict, another program's file), one without learners, or
            a checkpoint of another game than ``game`` (the message gives its game and architecture).
    """
    state = load_checkpoint(path, map_location)
    fmt = state.get("format")
    if fmt != TRAINER_FORMAT:
        keys = sorted(map(str, state))[:8]
        if state and all(isinstance(v, torch.Tensor) for v in state.values()):
            what = f"a bare model state dict ({len(state)} tensors: {keys}...)"
        elif fmt is None:
            what = f"a dict with keys {keys} and no 'format' entry"
        else:
            what = f"a checkpoint of format {fmt!r}"
        raise CheckpointError(f"{path} holds {what}, not an aa_lib training checkpoint "
                              f"(format {TRAINER_FORMAT!r}, written by Trainer.save or aa train)")
    config, learners = state.get("config"), state.get("learners")
    if not isinstance(config, dict) or "game" not in config:
        raise CheckpointError(f"{path} is a training checkpoint without its config (damaged?)")
    if not isinstance(learners, list) or not learners or not all(
            isinstance(l, dict) and "policy" in l for l in learners):
        raise CheckpointError(f"{path} is a training checkpoint without learners' policies (damaged?)")
    if game is not None:
        record = checkpoint_record(state)
        if record["game"] != game:
            raise CheckpointError(f"{path} is a checkpoint of {describe_record(record)}; expected a checkpoint "
                                  f"of game {game!r}")
    return state
