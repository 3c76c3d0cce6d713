"""Rename Wan2.2 VAE tensors between the original Wan layout and diffusers' `AutoencoderKLWan`.

Original (Wan2.2 release, `Wan2.2_VAE.pth` / DiffSynth's `Wan2.2_VAE.safetensors`) and diffusers
differ only in module paths; shapes are identical (checked against the release's module tree):

  conv1 / conv2                         <-> quant_conv / post_quant_conv
  {enc,dec}.conv1, .head.0, .head.2     <-> .conv_in, .norm_out, .conv_out
  {enc,dec}.middle.0 / .1 / .2          <-> .mid_block.resnets.0 / .attentions.0 / .resnets.1
  encoder.downsamples.I.downsamples.J   <-> encoder.down_blocks.I.resnets.J (residual blocks),
                                            encoder.down_blocks.I.downsampler (J = res blocks)
  decoder.upsamples.I.upsamples.J       <-> decoder.up_blocks.I.resnets.J,
                                            decoder.up_blocks.I.upsampler (J = res blocks + 1)
  residual.0 / .2 / .3 / .6, shortcut   <-> norm1 / conv1 / norm2 / conv2, conv_shortcut

diffusers' own single-file converter (`convert_wan_vae_to_diffusers`) only knows the flat
Wan2.1 layout, hence this module. Imports: stdlib, torch.
"""

from __future__ import annotations

import re

import torch

_RESNET_PARTS = {
    "residual.0": "norm1",
    "residual.2": "conv1",
    "residual.3": "norm2",
    "residual.6": "conv2",
    "shortcut": "conv_shortcut",
}
_RESNET_PARTS_INV = {v: k for k, v in _RESNET_PARTS.items()}
_FIXED = {
    "conv1": "quant_conv",
    "conv2": "post_quant_conv",
    "encoder.conv1": "encoder.conv_in",
    "decoder.conv1": "decoder.conv_in",
    "encoder.head.0": "encoder.norm_out",
    "encoder.head.2": "encoder.conv_out",
    "decoder.head.0": "decoder.norm_out",
    "decoder.head.2": "decoder.conv_out",
    "encoder.middle.1": "encoder.mid_block.attentions.0",
    "decoder.middle.1": "decoder.mid_block.attentions.0",
}
_FIXED_INV = {v: k for k, v in _FIXED.items()}

_ORIG_MIDDLE = re.compile(r"^(encoder|decoder)\.middle\.([02])\.(.+)$")
_ORIG_LEVEL = re.compile(
    r"^(encoder\.downsamples|decoder\.upsamples)\.(\d+)\.\w+samples\.(\d+)\.(.+)$"
)
_DIFF_MIDDLE = re.compile(r"^(encoder|decoder)\.mid_block\.resnets\.([01])\.(.+)$")
_DIFF_RESNET = re.compile(
    r"^(encoder\.down_blocks|decoder\.up_blocks)\.(\d+)\.resnets\.(\d+)\.(.+)$"
)
_DIFF_SAMPLER = re.compile(
    r"^(encoder\.down_blocks|decoder\.up_blocks)\.(\d+)\.(downsampler|upsampler)\.(.+)$"
)


def _split(key: str) -> tuple[str, str]:
    module, _, param = key.rpartition(".")
    return module, param


def _fixed(module: str, table: dict[str, str]) -> str | None:
    """Rename by a fixed module prefix (attention blocks keep their inner names)."""
    for old, new in table.items():
        if module == old or module.startswith(old + "."):
            return new + module[len(old) :]
    return None


def _resnet_part(rest: str, table: dict[str, str], key: str) -> str:
    for old, new in table.items():
        if rest == old:
            return new
    raise KeyError(key)


def original_to_diffusers_key(key: str) -> str:
    """One original Wan2.2 VAE key -> its `AutoencoderKLWan` name (KeyError if unknown)."""
    module, param = _split(key)
    if (renamed := _fixed(module, _FIXED)) is not None:
        return f"{renamed}.{param}"
    if match := _ORIG_MIDDLE.match(module):
        side, index, rest = match.groups()
        part = _resnet_part(rest, _RESNET_PARTS, key)
        return f"{side}.mid_block.resnets.{int(index) // 2}.{part}.{param}"
    if match := _ORIG_LEVEL.match(module):
        stack, level, index, rest = match.groups()
        blocks = "encoder.down_blocks" if stack.startswith("encoder") else "decoder.up_blocks"
        if rest.startswith(("resample", "time_conv")):
            sampler = "downsampler" if stack.startswith("encoder") else "upsampler"
            return f"{blocks}.{level}.{sampler}.{rest}.{param}"
        part = _resnet_part(rest, _RESNET_PARTS, key)
        return f"{blocks}.{level}.resnets.{index}.{part}.{param}"
    raise KeyError(key)


def diffusers_to_original_key(key: str, num_res_blocks: int) -> str:
    """One `AutoencoderKLWan` key -> the original Wan2.2 name (inverse of the above)."""
    module, param = _split(key)
    if (renamed := _fixed(module, _FIXED_INV)) is not None:
        return f"{renamed}.{param}"
    if match := _DIFF_MIDDLE.match(module):
        side, index, rest = match.groups()
        part = _resnet_part(rest, _RESNET_PARTS_INV, key)
        return f"{side}.middle.{int(index) * 2}.{part}.{param}"
    if match := _DIFF_RESNET.match(module):
        blocks, level, index, rest = match.groups()
        stack = "encoder.downsamples" if blocks.startswith("encoder") else "decoder.upsamples"
        inner = stack.split(".")[1]
        part = _resnet_part(rest, _RESNET_PARTS_INV, key)
        return f"{stack}.{level}.{inner}.{index}.{part}.{param}"
    if match := _DIFF_SAMPLER.match(module):
        blocks, level, _, rest = match.groups()
        encoder = blocks.startswith("encoder")
        stack = "encoder.downsamples" if encoder else "decoder.upsamples"
        index = num_res_blocks if encoder else num_res_blocks + 1
        return f"{stack}.{level}.{stack.split('.')[1]}.{index}.{rest}.{param}"
    raise KeyError(key)


def unwrap_original_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip containers seen in the wild: a `model_state` dict or a `model.` key prefix."""
    inner = state.get("model_state")
    if isinstance(inner, dict):
        state = inner
    if state and all(k.startswith("model.") for k in state):
        state = {k[len("model.") :]: v for k, v in state.items()}
    return state


def original_to_diffusers(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Whole state dict, original Wan2.2 layout -> diffusers layout."""
    return {original_to_diffusers_key(k): v for k, v in unwrap_original_state(state).items()}


def diffusers_to_original(
    state: dict[str, torch.Tensor], num_res_blocks: int
) -> dict[str, torch.Tensor]:
    """Whole state dict, diffusers layout -> original Wan2.2 layout."""
    return {diffusers_to_original_key(k, num_res_blocks): v for k, v in state.items()}
