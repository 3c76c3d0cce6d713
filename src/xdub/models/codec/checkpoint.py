"""Self-describing codec checkpoints: a folder with `config.json` + `model.safetensors`.

Both files are written to temporary names and renamed on success, weights first, so a folder
with a config always holds complete weights. Imports: torch, safetensors, xdub.config/errors.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TypeVar

import torch
from safetensors.torch import load_file, save_file

from xdub.config import from_dict, to_dict
from xdub.errors import ConfigError, OutputError, WeightsError

T = TypeVar("T")

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def save_dir(folder: str | Path, cfg: object, state: dict[str, torch.Tensor]) -> Path:
    """Write `cfg` (a config dataclass) and `state` into `folder`; returns the folder."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create checkpoint folder '{folder}': {err}") from None
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    weights_tmp = folder / (WEIGHTS_NAME + ".partial")
    save_file(tensors, str(weights_tmp), metadata={"format": "pt"})
    os.replace(weights_tmp, folder / WEIGHTS_NAME)
    config_tmp = folder / (CONFIG_NAME + ".partial")
    config_tmp.write_text(json.dumps(to_dict(cfg), indent=2))
    os.replace(config_tmp, folder / CONFIG_NAME)
    return folder


def load_dir(folder: str | Path, cfg_cls: type[T], what: str) -> tuple[T, dict[str, torch.Tensor]]:
    """Read a folder written by `save_dir`: (config, CPU state dict)."""
    folder = Path(folder)
    config_path, weights_path = folder / CONFIG_NAME, folder / WEIGHTS_NAME
    if not config_path.is_file() or not weights_path.is_file():
        raise WeightsError(
            f"{what} checkpoint incomplete in '{folder}': needs {CONFIG_NAME} + {WEIGHTS_NAME}"
        )
    try:
        cfg = from_dict(cfg_cls, json.loads(config_path.read_text()), where=str(config_path))
    except (json.JSONDecodeError, ConfigError) as err:
        raise WeightsError(f"bad {what} config '{config_path}': {err}") from None
    try:
        state = load_file(str(weights_path))
    except Exception as err:  # safetensors raises several types for truncated/corrupt files
        raise WeightsError(f"unreadable {what} weights '{weights_path}': {err}") from None
    return cfg, state
