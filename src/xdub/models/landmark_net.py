"""The landmark refiner: the 68 face landmarks (xdub-68 layout) in a face crop that was placed
by rough landmarks, as the engine would place them (see `xdub.config.landmarks` for why).

    net = LandmarkNet(LandmarkNetConfig())
    points, presence = net.predict(crops, template)  # [N, S, S, 3] uint8 -> [N, 68, 2], [N]

`template` `[68, 2]` is where the mean face sits in such a crop: the net predicts offsets from
it, so an untrained net (zero head) returns the template. `presence` is the probability that
the crop holds a face placed as such crops place faces: dubbing uses it to accept faces the
detector scored too low (`xdub.face.refine`). Cutting the crop from a frame and mapping the
points back is `xdub.face.refine`'s job. Layout: `levels` stride-2 conv blocks
(conv-norm-SiLU), one hidden linear layer, 136 outputs in units of a quarter crop side + one
presence logit.
Trained by `xdub.train.landmarks` on engine frames with exact landmarks.
Imports: numpy, torch, xdub.{config, models.checkpoint}.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from xdub.config.landmarks import LandmarkNetConfig
from xdub.models.checkpoint import load_module, save_folder

NUM_POINTS = 68


def offsets_to_pixels(offsets: torch.Tensor, template: torch.Tensor, side: int) -> torch.Tensor:
    """Net outputs `[N, 68, 2]` (quarter crop sides) -> crop pixels of an `side`-px crop, given
    the mean face `template` `[68, 2]` in it."""
    return template + offsets * (side / 4)


class LandmarkNet(nn.Module):
    """Face crops `[B, 3, S, S]` in [-1, 1] -> landmark offsets `[B, 68, 2]` (quarter sides)
    and face-presence logits `[B]`."""

    def __init__(self, cfg: LandmarkNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        channels = 3
        for i in range(cfg.levels):
            width = cfg.width * 2 ** min(i, 2)
            layers += [nn.Conv2d(channels, width, 3, stride=2, padding=1),
                       nn.GroupNorm(8 if width % 8 == 0 else 1, width), nn.SiLU(),
                       nn.Conv2d(width, width, 3, padding=1), nn.SiLU()]
            channels = width
        self.features = nn.Sequential(*layers)
        side = cfg.crop.crop_size // 2 ** cfg.levels
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(channels * side * side, cfg.hidden),
                                  nn.SiLU(), nn.Linear(cfg.hidden, NUM_POINTS * 2 + 1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.head(self.features(x))
        return out[:, :-1].view(-1, NUM_POINTS, 2), out[:, -1]

    @staticmethod
    def to_input(crops: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 crops `[N, S, S, 3]` -> float `[N, 3, S, S]` in [-1, 1]."""
        x = torch.as_tensor(crops).permute(0, 3, 1, 2).float()
        return x / 127.5 - 1.0

    @torch.no_grad()
    def predict(self, crops: np.ndarray, template: np.ndarray,
                batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks `[N, 68, 2]` float32 in crop pixels of uint8 crops `[N, S, S, 3]`, and the
        face-presence probability of each crop `[N]` float32."""
        device = next(self.parameters()).device
        base = torch.as_tensor(template, dtype=torch.float32, device=device)
        points, presence = [], []
        for i in range(0, len(crops), batch_size):
            offsets, logits = self(self.to_input(crops[i:i + batch_size]).to(device))
            points.append(offsets_to_pixels(offsets, base, self.cfg.crop.crop_size))
            presence.append(torch.sigmoid(logits))
        if not points:
            return np.zeros((0, NUM_POINTS, 2), np.float32), np.zeros(0, np.float32)
        return torch.cat(points).cpu().numpy(), torch.cat(presence).cpu().numpy()

    # --- checkpoints ------------------------------------------------------------------------

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write `directory/config.json` + `directory/model.safetensors` (atomic renames)."""
        return save_folder(directory, self.cfg, self.state_dict())

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> LandmarkNet:
        """Rebuild from a `save_pretrained` folder, in eval mode on CPU."""
        return load_module(directory, LandmarkNetConfig, cls, "landmark refiner")
