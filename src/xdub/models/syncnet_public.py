"""The public SyncNet (Chung & Zisserman 2016) used by the LSE-C / LSE-D lip-sync protocol.

Same architecture and state-dict key names as the `syncnet_v2.model` file distributed with
joonson/syncnet_python (`netcnnaud.*`, `netfcaud.*`, `netcnnlip.*`, `netfclip.*`), written
here from the published layer list so those weights load unchanged. Inputs, as the protocol
feeds them:

- lip window: `[B, 3, 5, 224, 224]` float, BGR channel order, raw 0..255 values (no scaling);
- audio window: `[B, 1, 13, 20]` protocol MFCC (`protocol_mfcc`), 20 frames = 0.2 s.

Outputs are raw (not normalised) 1024-d embeddings compared with Euclidean distance.
Imports: torch, numpy, xdub.errors, xdub.models.syncnet_features.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
from torch import nn

from xdub.errors import WeightsError
from xdub.models.syncnet_features import PROTOCOL_FPS

WEIGHTS_FILENAME = "syncnet_v2.model"
WEIGHTS_SOURCE = (
    "http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model "
    "(see download_model.sh in github.com/joonson/syncnet_python)"
)
LIP_FRAMES = 5  # frames per lip window
MFCC_PER_FRAME = 4  # 100 Hz MFCC / 25 fps video
MFCC_WINDOW = 20  # MFCC frames per audio window (0.2 s)


def _block(conv: nn.Module, norm: nn.Module, pool: nn.Module | None = None) -> list[nn.Module]:
    """conv -> norm -> ReLU (-> pool): four or three Sequential slots, which fixes key indices."""
    return [conv, norm, nn.ReLU(inplace=True)] + ([pool] if pool is not None else [])


def _audio_cnn() -> nn.Sequential:
    """MFCC `[B, 1, 13, 20]` -> `[B, 512, 1, 1]`."""
    return nn.Sequential(
        *_block(nn.Conv2d(1, 64, 3, padding=1), nn.BatchNorm2d(64), nn.MaxPool2d(1, 1)),
        *_block(nn.Conv2d(64, 192, 3, padding=1), nn.BatchNorm2d(192), nn.MaxPool2d(3, (1, 2))),
        *_block(nn.Conv2d(192, 384, 3, padding=1), nn.BatchNorm2d(384)),
        *_block(nn.Conv2d(384, 256, 3, padding=1), nn.BatchNorm2d(256)),
        *_block(nn.Conv2d(256, 256, 3, padding=1), nn.BatchNorm2d(256), nn.MaxPool2d(3, 2)),
        *_block(nn.Conv2d(256, 512, (5, 4)), nn.BatchNorm2d(512)),
    )


def _lip_cnn() -> nn.Sequential:
    """Five stacked frames `[B, 3, 5, 224, 224]` -> `[B, 512, 1, 1, 1]` (first conv spans time)."""
    pool = nn.MaxPool3d((1, 3, 3), (1, 2, 2))
    return nn.Sequential(
        *_block(nn.Conv3d(3, 96, (5, 7, 7), (1, 2, 2)), nn.BatchNorm3d(96), pool),
        *_block(
            nn.Conv3d(96, 256, (1, 5, 5), (1, 2, 2), (0, 1, 1)),
            nn.BatchNorm3d(256),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
        ),
        *_block(nn.Conv3d(256, 256, (1, 3, 3), padding=(0, 1, 1)), nn.BatchNorm3d(256)),
        *_block(nn.Conv3d(256, 256, (1, 3, 3), padding=(0, 1, 1)), nn.BatchNorm3d(256)),
        *_block(
            nn.Conv3d(256, 256, (1, 3, 3), padding=(0, 1, 1)),
            nn.BatchNorm3d(256),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2)),
        ),
        *_block(nn.Conv3d(256, 512, (1, 6, 6)), nn.BatchNorm3d(512)),
    )


def _fc_head(embed_dim: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(inplace=True), nn.Linear(512, embed_dim)
    )


class PublicSyncNet(nn.Module):
    """SyncNet v2 of the LSE protocol: lip and MFCC branches with 1024-d embeddings."""

    def __init__(self, embed_dim: int = 1024) -> None:
        super().__init__()
        self.netcnnaud = _audio_cnn()
        self.netfcaud = _fc_head(embed_dim)
        self.netfclip = _fc_head(embed_dim)
        self.netcnnlip = _lip_cnn()

    def forward_aud(self, mfcc: torch.Tensor) -> torch.Tensor:
        """`mfcc: [B, 1, 13, 20]` -> `[B, 1024]`."""
        assert mfcc.ndim == 4 and tuple(mfcc.shape[1:]) == (1, 13, MFCC_WINDOW), (
            f"audio input must be [B, 1, 13, 20], got {tuple(mfcc.shape)}"
        )
        return self.netfcaud(self.netcnnaud(mfcc).flatten(1))

    def forward_lip(self, frames: torch.Tensor) -> torch.Tensor:
        """`frames: [B, 3, 5, 224, 224]` BGR 0..255 -> `[B, 1024]`."""
        assert frames.ndim == 5 and tuple(frames.shape[1:]) == (3, LIP_FRAMES, 224, 224), (
            f"lip input must be [B, 3, 5, 224, 224], got {tuple(frames.shape)}"
        )
        return self.netfclip(self.netcnnlip(frames).flatten(1))

    def clip_embeddings(
        self,
        face_crops: np.ndarray | torch.Tensor,
        mfcc: np.ndarray | torch.Tensor,
        fps: float = PROTOCOL_FPS,
        num_windows: int | None = None,
        batch_size: int = 20,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Protocol embeddings of a clip at zero offset.

        face_crops: [T, 224, 224, 3] uint8 RGB (`syncnet_face_crops`); mfcc: [M, 13]
        (`protocol_mfcc`). Window i = frames i..i+4 and MFCC 4i..4i+19. `num_windows` defaults
        to every fully covered window; the exact protocol count is `protocol_num_windows`.
        Returns (video_emb, audio_emb), each `[num_windows, 1024]`.
        """
        if abs(fps - PROTOCOL_FPS) > 1e-3:
            raise ValueError(f"public SyncNet expects 25 fps video, got {fps}; resample first")
        crops = torch.as_tensor(face_crops)
        cepstra = torch.as_tensor(mfcc, dtype=torch.float32)
        assert crops.ndim == 4 and crops.shape[-1] == 3, "face_crops must be [T, 224, 224, 3]"
        most = min(len(crops) - LIP_FRAMES + 1, (len(cepstra) - MFCC_WINDOW) // MFCC_PER_FRAME + 1)
        num = most if num_windows is None else min(num_windows, most)
        if num <= 0:
            raise ValueError(
                f"clip too short for SyncNet: {len(crops)} frames, {len(cepstra)} MFCC"
            )
        device = next(self.parameters()).device
        video_emb, audio_emb = [], []
        with torch.no_grad():
            for start in range(0, num, batch_size):
                idx = range(start, min(num, start + batch_size))
                lips = torch.stack([crops[i : i + LIP_FRAMES] for i in idx])  # [B, 5, H, W, 3]
                lips = lips.flip(-1).permute(0, 4, 1, 2, 3).float()  # RGB->BGR, [B, 3, 5, H, W]
                auds = torch.stack(
                    [cepstra[MFCC_PER_FRAME * i : MFCC_PER_FRAME * i + MFCC_WINDOW].T for i in idx]
                ).unsqueeze(1)  # [B, 1, 13, 20]
                video_emb.append(self.forward_lip(lips.to(device)).cpu())
                audio_emb.append(self.forward_aud(auds.to(device)).cpu())
        return torch.cat(video_emb), torch.cat(audio_emb)


def protocol_num_windows(num_frames: int, num_samples: int, sample_rate: int = 16000) -> int:
    """Windows the reference implementation scores: min(frames, audio frames at 25 fps) - 5."""
    return min(num_frames, num_samples * int(PROTOCOL_FPS) // sample_rate) - LIP_FRAMES


def _strip_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Accept files saved from a wrapper (`__S__.` or DataParallel's `module.`)."""
    for prefix in ("__S__.", "module."):
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    return state


def load_public_syncnet(path: str | Path) -> PublicSyncNet:
    """Load `syncnet_v2.model` (a pickled state dict) from a local path; eval mode, CPU."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(
            f"public SyncNet weights not found at {path}: download {WEIGHTS_FILENAME} "
            f"from {WEIGHTS_SOURCE} and pass its path"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, TypeError) as err:
        raise WeightsError(
            f"{path} is not a readable {WEIGHTS_FILENAME} state dict: {err}"
        ) from None
    if not isinstance(state, dict):
        raise WeightsError(f"{path} does not hold a state dict (got {type(state).__name__})")
    model = PublicSyncNet()
    try:
        result = model.load_state_dict(_strip_prefix(state), strict=False)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[-1].strip()
        raise WeightsError(f"{path} does not match the SyncNet v2 architecture: {first}") from None
    # Files saved by old torch versions lack BatchNorm's num_batches_tracked; nothing else may miss.
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise WeightsError(
            f"{path} does not match the SyncNet v2 architecture: "
            f"missing {missing[:3]}, unexpected {result.unexpected_keys[:3]}"
        )
    return model.eval()
