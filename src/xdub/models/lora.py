"""Low-rank adapters (LoRA) on named Linear layers, several named adapters over one base.

X-Dub trains phase experts (e.g. "structure", "lip", "texture") as LoRAs on a shared frozen
DiT and switches between them by noise level. Here each targeted `nn.Linear` gets a child
`lora_bank` holding one (down, up) pair per adapter name and a forward hook adding
`scale * up(down(x))` of the ACTIVE adapter to the layer's output. The Linear itself is not
replaced, so the base state-dict keys stay the official ones; adapter keys contain `.lora_bank.`
(`XDubDiT.base_state_dict` drops them). Adapters save/load as safetensors and can be merged into
(and unmerged from) the base weights. Imports: torch, safetensors, xdub.errors.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch import nn

from xdub.errors import WeightsError
from xdub.models.checkpoint import read_tensors, save_tensors

LORA_ATTR = "lora_bank"
# Attention projections, MLP and audio attention of every block (module-path glob patterns).
DEFAULT_TARGETS: tuple[str, ...] = (
    "blocks.*.self_attn.[qkvo]",
    "blocks.*.ffn.[02]",
    "blocks.*.audio_attn.[qkvo]",
)


# ------------------------------------------------------------------------------ modules


class LoRAAdapter(nn.Module):
    """One low-rank update `scale * up @ down` for a Linear of shape [out, in]."""

    def __init__(self, in_features: int, out_features: int, rank: int, alpha: float) -> None:
        super().__init__()
        self.rank, self.alpha = rank, alpha
        self.scale = alpha / rank
        self.down = nn.Linear(in_features, rank, bias=False)
        self.up = nn.Linear(rank, out_features, bias=False)
        nn.init.kaiming_uniform_(self.down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.up.weight)  # starts as an exact no-op on the base model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [..., in] -> low-rank update [..., out]."""
        return self.up(self.down(x)) * self.scale

    def delta_weight(self) -> torch.Tensor:
        """The dense update [out, in] in float32."""
        return (self.up.weight.float() @ self.down.weight.float()) * self.scale


class LoRABank(nn.Module):
    """Named adapters of one Linear, which one is active and which one is merged."""

    def __init__(self) -> None:
        super().__init__()
        self.adapters = nn.ModuleDict()
        self.active: str | None = None
        self.merged: str | None = None


def _add_active_update(
    module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor
) -> torch.Tensor:
    """Forward hook: output + active adapter's update (skipped if that adapter is merged)."""
    bank: LoRABank = getattr(module, LORA_ATTR)
    name = bank.active
    if name is None or name == bank.merged:
        return output
    adapter = bank.adapters[name]
    update = adapter(inputs[0].to(adapter.down.weight.dtype))
    return output + update.to(output.dtype)


def _banks(model: nn.Module) -> Iterator[tuple[str, nn.Linear, LoRABank]]:
    for path, module in model.named_modules():
        bank = getattr(module, LORA_ATTR, None)
        if isinstance(module, nn.Linear) and isinstance(bank, LoRABank):
            yield path, module, bank


# ------------------------------------------------------------------------- public API


def attach_lora(
    model: nn.Module,
    names: Sequence[str],
    rank: int = 16,
    alpha: float | None = None,
    targets: Sequence[str] = DEFAULT_TARGETS,
    dtype: torch.dtype | None = None,
) -> list[str]:
    """Add adapters `names` to every Linear whose path matches a glob in `targets`; returns the
    matched paths. `alpha` defaults to `rank` (scale 1); `dtype` defaults to the layer's."""
    alpha = float(rank if alpha is None else alpha)
    paths = []
    for path, module in list(model.named_modules()):
        if not isinstance(module, nn.Linear) or not any(fnmatch.fnmatch(path, t) for t in targets):
            continue
        bank = getattr(module, LORA_ATTR, None)
        if bank is None:
            bank = LoRABank()
            module.add_module(LORA_ATTR, bank)
            module.register_forward_hook(_add_active_update)
        weight = module.weight
        for name in names:
            if name in bank.adapters:
                raise ValueError(f"adapter '{name}' already attached to {path}")
            adapter = LoRAAdapter(module.in_features, module.out_features, rank, alpha)
            bank.adapters[name] = adapter.to(device=weight.device, dtype=dtype or weight.dtype)
        paths.append(path)
    if not paths:
        raise ValueError(f"no Linear layer matches {list(targets)}")
    return paths


def set_active_adapter(model: nn.Module, name: str | None) -> None:
    """Make `name` the adapter applied in forward (None = base model only)."""
    for path, _, bank in _banks(model):
        if name is not None and name not in bank.adapters:
            raise ValueError(f"adapter '{name}' is not attached to {path}")
        bank.active = name


def lora_parameters(model: nn.Module, name: str) -> list[nn.Parameter]:
    """Trainable parameters of adapter `name` (give these to the optimizer)."""
    return [p for _, _, bank in _banks(model) for p in bank.adapters[name].parameters()]


def lora_state_dict(model: nn.Module, name: str) -> dict[str, torch.Tensor]:
    """Weights of adapter `name`, keyed `<layer path>.down.weight` / `.up.weight`."""
    out = {}
    for path, _, bank in _banks(model):
        adapter = bank.adapters[name]
        out[f"{path}.down.weight"] = adapter.down.weight.detach()
        out[f"{path}.up.weight"] = adapter.up.weight.detach()
    return out


def save_lora(model: nn.Module, name: str, path: str | Path) -> None:
    """Write adapter `name` to a safetensors file (rank/alpha in its metadata)."""
    state = lora_state_dict(model, name)
    if not state:
        raise ValueError("no LoRA attached")
    first = next(bank.adapters[name] for _, _, bank in _banks(model))
    save_tensors(path, state, metadata={"rank": str(first.rank), "alpha": str(first.alpha)})


def load_lora(model: nn.Module, name: str, path: str | Path) -> None:
    """Load an adapter file into slot `name`, attaching it (with the file's rank) if needed."""
    state, meta = read_tensors(path, "LoRA")
    layers = sorted({k.rsplit(".", 2)[0] for k in state})
    attached = {p for p, _, bank in _banks(model) if name in bank.adapters}
    if not attached:
        rank = int(meta.get("rank", next(iter(state.values())).shape[0]))
        attach_lora(model, [name], rank, float(meta.get("alpha", rank)), targets=layers)
        attached = set(layers)
    if attached != set(layers):
        raise WeightsError(f"{path}: adapter layers do not match the model's '{name}' layers")
    expected = lora_state_dict(model, name)
    bad = [k for k, v in expected.items() if state[k].shape != v.shape]
    if bad:
        raise WeightsError(f"{path}: LoRA shape mismatch at {bad[:2]} (different rank or model?)")
    with torch.no_grad():
        for key, target in expected.items():
            target.copy_(state[key])


def merge_lora(model: nn.Module, name: str) -> None:
    """Add adapter `name` into the base weights (faster inference); undo with `unmerge_lora`."""
    with torch.no_grad():
        for path, module, bank in _banks(model):
            if bank.merged is not None:
                raise ValueError(f"{path}: adapter '{bank.merged}' is already merged")
            _add_to_weight(module, bank.adapters[name].delta_weight())
            bank.merged = name


def unmerge_lora(model: nn.Module) -> None:
    """Subtract the merged adapter from the base weights again (exact up to rounding)."""
    with torch.no_grad():
        for _, module, bank in _banks(model):
            if bank.merged is None:
                continue
            _add_to_weight(module, -bank.adapters[bank.merged].delta_weight())
            bank.merged = None


def _add_to_weight(module: nn.Linear, delta: torch.Tensor) -> None:
    """weight += delta, summed in float32 so bf16 bases lose as little as possible."""
    weight = module.weight
    weight.copy_((weight.float() + delta.to(weight.device)).to(weight.dtype))
