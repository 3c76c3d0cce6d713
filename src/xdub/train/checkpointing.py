"""Training checkpoints: one folder per saved step, written atomically, newest one resumed.

    checkpoints/step_00000500/
        model.safetensors   trainable model state (unwrapped)
        ema.safetensors     EMA shadow weights
        optimizer.pt        optimiser + LR-scheduler state (torch.save, weights-only loadable)
        rng.pt              torch RNG state + named torch.Generator states
        state.json          step, python/numpy RNG, user extras
A checkpoint is built in a hidden `.partial` folder beside `step_XXXXXXXX/` and renamed into
place (`xdub.atomic.atomic_dir`), so an interrupted save never leaves a folder that looks
complete. Imports: torch, numpy, safetensors, stdlib, xdub.{atomic, errors}.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from xdub.atomic import atomic_dir
from xdub.errors import WeightsError

_STEP_DIR = re.compile(r"^step_(\d{8})$")


@dataclass
class Checkpoint:
    """What a checkpoint folder holds, loaded into memory."""

    step: int
    model: dict[str, torch.Tensor]
    ema: dict[str, torch.Tensor] | None
    optimizer: dict[str, Any] | None
    rng: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def step_dir(root: str | Path, step: int) -> Path:
    """Folder of the checkpoint at `step`."""
    return Path(root) / f"step_{step:08d}"


def list_checkpoints(root: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints under `root`, oldest first: [(step, folder)]."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        match = _STEP_DIR.match(child.name)
        if match and (child / "state.json").is_file():
            found.append((int(match.group(1)), child))
    return sorted(found)


def latest_checkpoint(root: str | Path) -> Path | None:
    """The newest complete checkpoint folder, or None."""
    found = list_checkpoints(root)
    return found[-1][1] if found else None


def capture_rng(generators: dict[str, torch.Generator] | None = None) -> dict[str, Any]:
    """Global torch/numpy/python RNG states plus named generators'."""
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
        "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
        "generators": {k: g.get_state() for k, g in (generators or {}).items()},
    }


def restore_rng(state: dict[str, Any], generators: dict[str, torch.Generator] | None = None) -> None:
    """Inverse of `capture_rng`."""
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    if "numpy" in state:
        kind, keys, *rest = state["numpy"]
        np.random.set_state((kind, np.asarray(keys, np.uint32), *rest))
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    for name, gen in (generators or {}).items():
        if name in state.get("generators", {}):
            gen.set_state(state["generators"][name])


def save_checkpoint(root: str | Path, ckpt: Checkpoint, keep: int | None = None) -> Path:
    """Write `ckpt` under `root` atomically; prune to the newest `keep`. Returns its folder."""
    root = Path(root)
    final = step_dir(root, ckpt.step)
    with atomic_dir(final) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in ckpt.model.items()},
                  str(tmp / "model.safetensors"))
        if ckpt.ema is not None:
            save_file({k: v.detach().cpu().contiguous() for k, v in ckpt.ema.items()},
                      str(tmp / "ema.safetensors"))
        if ckpt.optimizer is not None:
            torch.save(ckpt.optimizer, tmp / "optimizer.pt")
        torch_rng = {"torch": ckpt.rng.get("torch"), "generators": ckpt.rng.get("generators", {})}
        torch.save(torch_rng, tmp / "rng.pt")
        plain_rng = {k: ckpt.rng[k] for k in ("numpy", "python") if k in ckpt.rng}
        state = {"step": ckpt.step, "rng": plain_rng, "extra": ckpt.extra}
        (tmp / "state.json").write_text(json.dumps(state))
    if keep is not None:
        for _, old in list_checkpoints(root)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(folder: str | Path) -> Checkpoint:
    """Read a checkpoint folder written by `save_checkpoint`."""
    folder = Path(folder)
    try:
        state = json.loads((folder / "state.json").read_text())
        model = load_file(str(folder / "model.safetensors"))
        ema_path, opt_path = folder / "ema.safetensors", folder / "optimizer.pt"
        ema = load_file(str(ema_path)) if ema_path.is_file() else None
        optimizer = torch.load(opt_path, weights_only=True) if opt_path.is_file() else None
        torch_rng = torch.load(folder / "rng.pt", weights_only=True)
    except (OSError, ValueError, RuntimeError, json.JSONDecodeError) as err:
        raise WeightsError(f"unreadable checkpoint {folder}: {err}") from None
    rng = {**state.get("rng", {}), "torch": torch_rng.get("torch"),
           "generators": torch_rng.get("generators", {})}
    rng = {k: v for k, v in rng.items() if v is not None}
    return Checkpoint(int(state["step"]), model, ema, optimizer, rng, state.get("extra", {}))
