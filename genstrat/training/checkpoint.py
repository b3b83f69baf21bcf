"""Checkpoints: a folder with ``config.json`` and ``model.safetensors``.

Training also writes ``train_state.safetensors``: weights, optimizer moments, the
random-number-generator states and (in its metadata) step, elapsed time and learning-rate
groups, all in *one* file so that ``genstrat train --resume`` never sees a model from one
save and an optimizer from another. Every file is written atomically (temporary file,
fsync, rename), so a kill at any moment leaves the previous or the new version, never a
torn one. Every safetensors file carries a SHA-256 of its tensor bytes in its metadata, so
a truncated *or altered* file is refused. Nothing here unpickles.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from genstrat.errors import GenstratError

FORMAT = "genstrat/checkpoint"


def atomic_write(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` via a temporary file in the same folder, fsync, rename."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except OSError as e:
        raise GenstratError(f"cannot write {path} ({e.strerror or e}); check the folder is writable "
                            f"and the disk has space") from None


def ensure_writable(path: Path, what: str, is_file: bool = False) -> Path:
    """Check, before any long work, that ``path`` (a folder, or a file when ``is_file``) can be written: its folder
    is created and a probe file written and removed there. One clear line otherwise."""
    path = Path(path)
    folder = path.parent if is_file else path
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".genstrat-write-check-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise GenstratError(f"cannot write {what} {path} ({e.strerror or e}); choose a writable path") from None
    if is_file and path.is_dir():
        raise GenstratError(f"{what} {path} is a folder; give a file name")
    return path


def write_json(path: Path, obj: dict) -> None:
    atomic_write(path, (json.dumps(obj, indent=2) + "\n").encode())


def read_json(path: Path, what: str) -> dict:
    try:
        obj = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise GenstratError(f"{what} {path} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise GenstratError(f"{what} {path} is not valid JSON ({e.__class__.__name__}); the file is corrupt") from None
    if not isinstance(obj, dict):
        raise GenstratError(f"{what} {path} does not hold a JSON object; the file is corrupt")
    return obj


def data_digest(payload: bytes) -> str:
    """SHA-256 of a safetensors file's tensor bytes (everything after its JSON header)."""
    header_len = struct.unpack("<Q", payload[:8])[0]
    return hashlib.sha256(payload[8 + header_len:]).hexdigest()


def header_metadata(payload: bytes) -> dict:
    header_len = struct.unpack("<Q", payload[:8])[0]
    return json.loads(payload[8:8 + header_len]).get("__metadata__", {}) or {}


def write_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    digest = data_digest(st_save(tensors))  # the tensor bytes do not depend on the metadata
    atomic_write(path, st_save(tensors, metadata={**(metadata or {}), "sha256": digest}))


def read_tensors(path: Path, what: str, with_metadata: bool = False):
    try:
        payload = Path(path).read_bytes()
        tensors = st_load(payload)
        metadata = header_metadata(payload)
    except FileNotFoundError:
        raise GenstratError(f"{what} {path} is missing") from None
    except (SafetensorError, OSError, ValueError, RuntimeError, struct.error) as e:
        raise GenstratError(f"{what} {path} is not a valid safetensors file ({str(e).splitlines()[0][:120]}); "
                            f"it is truncated or corrupt") from None
    if "sha256" in metadata and metadata["sha256"] != data_digest(payload):
        raise GenstratError(f"{what} {path} has been altered (its SHA-256 does not match the one written with it); "
                            f"it is corrupt")
    return (tensors, metadata) if with_metadata else tensors


def save_model(folder: Path, model: torch.nn.Module, config: dict, weights: dict | None = None) -> None:
    """config.json + model.safetensors (the model's own weights, or ``weights`` such as an EMA of them)."""
    folder = Path(folder)
    write_tensors(folder / "model.safetensors", weights if weights is not None else model.state_dict())
    write_json(folder / "config.json", {"format": FORMAT, "version": 1, **config})


def read_config(folder: Path) -> dict:
    folder = Path(folder)
    if not folder.is_dir():
        raise GenstratError(f"checkpoint {folder} does not exist; give the folder that `genstrat train --out` wrote")
    config = read_json(folder / "config.json", "checkpoint config")
    if config.get("format") != FORMAT:
        raise GenstratError(f"{folder / 'config.json'} is not a genstrat checkpoint config "
                            f"(format is {config.get('format')!r})")
    for key in ("strategy", "backbone", "data", "units", "class_names"):
        if key not in config:
            raise GenstratError(f"checkpoint config {folder / 'config.json'} lacks '{key}'; the file is corrupt "
                                f"or from another tool")
    expected = {"strategy": str, "backbone": dict, "data": dict, "units": dict, "class_names": list, "sampling": dict,
                "training": dict, "distillation": dict}
    wrong = [k for k, kind in expected.items() if k in config and not isinstance(config[k], kind)]
    if wrong:
        raise GenstratError(f"checkpoint config {folder / 'config.json'} has a malformed '{wrong[0]}' (expected a "
                            f"{expected[wrong[0]].__name__}); the file is corrupt or from another tool")
    return config


def load_weights(folder: Path, model: torch.nn.Module) -> None:
    assign_weights(model, read_tensors(Path(folder) / "model.safetensors", "checkpoint weights"), Path(folder))


def assign_weights(model: torch.nn.Module, state: dict[str, torch.Tensor], where: Path) -> None:
    """Load ``state`` into ``model`` after checking every name and shape against the model."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        detail = (f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}" if unexpected
                  else f"shape of {wrong[0]} is {tuple(state[wrong[0]].shape)}, "
                       f"the model's is {tuple(expected[wrong[0]].shape)}")
        raise GenstratError(f"weights in {where} do not match the model's config ({detail}); "
                            f"the checkpoint is corrupt or mixed up")
    model.load_state_dict(state)


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Flatten an optimizer's state dict into tensors (safetensors) plus JSON-able groups."""
    sd = optimizer.state_dict()
    tensors = {}
    for index, state in sd["state"].items():
        for key, value in state.items():
            tensors[f"{index}.{key}"] = value if isinstance(value, torch.Tensor) else torch.tensor(value)
    return tensors, {"param_groups": sd["param_groups"]}


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], groups: dict) -> None:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": groups["param_groups"]})


def optimizers_tensors(optimizers: dict[str, torch.optim.Optimizer]) -> tuple[dict[str, torch.Tensor], dict]:
    """Every optimizer of a strategy, flattened: one optimizer keeps the single-optimizer layout (``<index>.<key>``
    tensors, ``param_groups`` metadata) so its files read as before; several are keyed by name
    (``<name>.<index>.<key>``, metadata ``optimizers: {name: param_groups}``)."""
    if len(optimizers) == 1:
        return optimizer_tensors(next(iter(optimizers.values())))
    tensors, groups = {}, {}
    for name, optimizer in optimizers.items():
        flat, meta = optimizer_tensors(optimizer)
        tensors.update({f"{name}.{k}": v for k, v in flat.items()})
        groups[name] = meta["param_groups"]
    return tensors, {"optimizers": groups}


def restore_optimizers(optimizers: dict[str, torch.optim.Optimizer], tensors: dict[str, torch.Tensor],
                       meta: dict) -> None:
    """The inverse of :func:`optimizers_tensors`; a KeyError when the state holds other optimizers."""
    if len(optimizers) == 1:
        return restore_optimizer(next(iter(optimizers.values())), tensors, meta)
    saved = meta["optimizers"]
    if set(saved) != set(optimizers):
        raise KeyError(f"optimizers {sorted(saved)} in the state, {sorted(optimizers)} in the strategy")
    for name, optimizer in optimizers.items():
        prefix = name + "."
        restore_optimizer(optimizer, {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)},
                          {"param_groups": saved[name]})
