"""xdub.models: the dubbing DiT and its parts (nn.Modules only, no I/O beyond checkpoints).

Public API: `XDubDiT`, `DiTConditioning`, `build_dit`, `load_official_dit`, LoRA helpers,
`FirstBlockCache` (skipping blocks on steps that barely change).
Imports: torch, einops, safetensors, xdub.config, xdub.errors (never diffusion/media).
"""

from xdub.models.dit import XDubDiT
from xdub.models.layout import DiTConditioning
from xdub.models.lora import (
    attach_lora,
    load_lora,
    lora_parameters,
    merge_lora,
    save_lora,
    set_active_adapter,
    unmerge_lora,
)
from xdub.models.official import load_official_dit
from xdub.models.presets import build_dit, count_parameters, dit_config
from xdub.models.step_cache import FirstBlockCache, StepCaches

__all__ = [
    "DiTConditioning",
    "FirstBlockCache",
    "StepCaches",
    "XDubDiT",
    "attach_lora",
    "build_dit",
    "count_parameters",
    "dit_config",
    "load_lora",
    "load_official_dit",
    "lora_parameters",
    "merge_lora",
    "save_lora",
    "set_active_adapter",
    "unmerge_lora",
]
