"""The occluder segmenter: which pixels of an aligned face crop are covered by something in
front of the face (a hand, a microphone, a cup), as a probability per pixel.

Dubbing keeps the input's pixels there (`xdub.generation.generators.protect_occluders`), so an
editor that cannot tell a hand from lips does not draw a mouth onto the hand. It sees one crop
at a time (no temporal context: a hand held still is as much an occluder as a moving one).

    net = OccluderNet(OccluderNetConfig())
    probs = net.probabilities(crops)        # [T, S, S, 3] uint8 -> [T, S, S] float32 in [0, 1]

Layout: a U-Net with `levels` resolutions (conv-norm-SiLU pairs, stride-2 downsampling,
nearest upsampling + skip concatenation), 1x1 head. Trained by `xdub.train.occluders` on engine
clips with exact masks. Imports: numpy, torch, xdub.{config, models.checkpoint}.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from xdub.config.occluders import OccluderNetConfig
from xdub.models.checkpoint import load_module, save_folder


def _conv_block(c_in: int, c_out: int, groups: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.GroupNorm(groups, c_out), nn.SiLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1), nn.GroupNorm(groups, c_out), nn.SiLU())


class OccluderNet(nn.Module):
    """Aligned face crops `[B, 3, S, S]` in [-1, 1] -> occluder logits `[B, 1, S, S]`."""

    def __init__(self, cfg: OccluderNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        widths = [cfg.width * 2 ** min(i, 2) for i in range(cfg.levels)]
        self.stem = _conv_block(3, widths[0], cfg.groups)
        self.down = nn.ModuleList(_conv_block(widths[i - 1], widths[i], cfg.groups, stride=2)
                                  for i in range(1, cfg.levels))
        self.up = nn.ModuleList(_conv_block(widths[i] + widths[i - 1], widths[i - 1], cfg.groups)
                                for i in range(cfg.levels - 1, 0, -1))
        self.head = nn.Conv2d(widths[0], 1, 1)

    @property
    def min_side(self) -> int:
        """Crop sides must be multiples of this (each level halves the resolution)."""
        return 2 ** (self.cfg.levels - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.stem(x)]
        for block in self.down:
            skips.append(block(skips[-1]))
        h = skips.pop()
        for block in self.up:
            skip = skips.pop()
            h = block(torch.cat([F.interpolate(h, size=skip.shape[-2:], mode="nearest"), skip], 1))
        return self.head(h)

    @staticmethod
    def to_input(crops: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 crops `[T, S, S, 3]` -> float `[T, 3, S, S]` in [-1, 1]."""
        x = torch.as_tensor(crops).permute(0, 3, 1, 2).float()
        return x / 127.5 - 1.0

    @torch.no_grad()
    def probabilities(self, crops: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Occluder probability per pixel `[T, S, S]` float32 of uint8 crops `[T, S, S, 3]`."""
        side = crops.shape[1]
        if side % self.min_side or crops.shape[2] % self.min_side:
            raise ValueError(f"occluder net needs crop sides divisible by {self.min_side}, "
                             f"got {crops.shape[1:3]}")
        device = next(self.parameters()).device
        out = [torch.sigmoid(self(self.to_input(crops[i:i + batch_size]).to(device)))[:, 0]
               for i in range(0, len(crops), batch_size)]
        return torch.cat(out).float().cpu().numpy() if out else np.zeros(crops.shape[:3], np.float32)

    # --- checkpoints ------------------------------------------------------------------------

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write `directory/config.json` + `directory/model.safetensors` (atomic renames)."""
        return save_folder(directory, self.cfg, self.state_dict())

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> OccluderNet:
        """Rebuild from a `save_pretrained` folder, in eval mode on CPU."""
        return load_module(directory, OccluderNetConfig, cls, "occluder net")
