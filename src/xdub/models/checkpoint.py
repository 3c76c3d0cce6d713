"""Self-describing checkpoints of every saved component (DiT, codec, sync scorer, LoRA, fusion).

A component folder is diffusers-style: `config.json` (its config dataclass) + `model.safetensors`
(+ extra safetensors files a component owns, e.g. the DiT's null text context). Weights are
written first and the config last, each atomically, so a folder with a config always holds
complete weights. Single adapter files (LoRA) use `save_tensors` / `read_tensors`.
Imports: torch, safetensors, xdub.config, xdub.errors, xdub.atomic.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from xdub.atomic import atomic_path, write_json_atomic
from xdub.config import from_dict, to_dict
from xdub.errors import ConfigError, OutputError, WeightsError

T = TypeVar("T")
M = TypeVar("M", bound=torch.nn.Module)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


# ------------------------------------------------------------------------------ one file


def save_tensors(path: str | Path, tensors: Mapping[str, torch.Tensor],
                 metadata: dict[str, str] | None = None) -> Path:
    """Write `tensors` (moved to CPU, made contiguous) to the safetensors file `path`,
    atomically."""
    state = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=metadata)
    return Path(path)


def read_tensors(path: str | Path, what: str, device: torch.device | str = "cpu",
                 ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors on `device`, metadata) of a safetensors file; WeightsError if absent/corrupt."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{what} weights not found: {path}")
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as handle:
            metadata = handle.metadata() or {}
            return {k: handle.get_tensor(k) for k in handle.keys()}, metadata
    except Exception as err:  # safetensors raises several types for truncated/corrupt files
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise WeightsError(f"unreadable {what} weights '{path}': {first}") from None


def load_tensors(path: str | Path, what: str,
                 device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file (see `read_tensors`)."""
    return read_tensors(path, what, device)[0]


# ------------------------------------------------------------------------------ component folder


def save_folder(folder: str | Path, cfg: object, state: Mapping[str, torch.Tensor],
                extra: Mapping[str, Mapping[str, torch.Tensor]] | None = None) -> Path:
    """Write `state` as model.safetensors, each `extra[file name]` beside it, and `cfg`
    (a config dataclass) as config.json, last; returns the folder."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create checkpoint folder '{folder}': {err}") from None
    save_tensors(folder / WEIGHTS_NAME, state, metadata={"format": "pt"})
    for name, tensors in (extra or {}).items():
        save_tensors(folder / name, tensors, metadata={"format": "pt"})
    write_json_atomic(folder / CONFIG_NAME, to_dict(cfg))
    return folder


def read_config(folder: str | Path, cfg_cls: type[T], what: str) -> T:
    """The config dataclass of a component folder; WeightsError if the folder is incomplete."""
    folder = Path(folder)
    config_path, weights_path = folder / CONFIG_NAME, folder / WEIGHTS_NAME
    if not config_path.is_file() or not weights_path.is_file():
        raise WeightsError(
            f"{what} checkpoint incomplete in '{folder}': needs {CONFIG_NAME} + {WEIGHTS_NAME}"
        )
    try:
        return from_dict(cfg_cls, json.loads(config_path.read_text()), where=str(config_path))
    except (json.JSONDecodeError, ConfigError) as err:
        raise WeightsError(f"bad {what} config '{config_path}': {err}") from None


def load_folder(folder: str | Path, cfg_cls: type[T], what: str,
                device: torch.device | str = "cpu") -> tuple[T, dict[str, torch.Tensor]]:
    """(config, state dict on `device`) of a folder written by `save_folder`."""
    cfg = read_config(folder, cfg_cls, what)
    return cfg, load_tensors(Path(folder) / WEIGHTS_NAME, what, device)


def load_module(folder: str | Path, cfg_cls: type[T], build: Callable[[T], M], what: str) -> M:
    """`build(config)` with the folder's weights loaded strictly, in eval mode on CPU;
    WeightsError (one line) when they do not fit the module the config describes."""
    cfg, state = load_folder(folder, cfg_cls, what)
    module = build(cfg)
    try:
        module.load_state_dict(state)
    except (RuntimeError, ValueError) as err:
        first = str(err).strip().splitlines()[0]
        raise WeightsError(f"{Path(folder) / WEIGHTS_NAME} does not match the {what} of its "
                           f"{CONFIG_NAME}: {first}") from None
    return module.eval()
