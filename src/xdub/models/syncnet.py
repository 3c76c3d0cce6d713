"""Tiny SyncNet-style lip-sync scorer: mouth-crop windows and log-mel windows -> joint embedding.

Used three ways: to filter pseudo-pairs (`sync_probability`), as a training loss for the dubbing
model (`sync_loss`, Wav2Lip's "expert" idea), and as a benchmark metric through
`xdub.bench.sync_metrics`. Inputs (see `xdub.models.syncnet_features` for how to make them):

- video window: `[B, W*C, H, Wd]` float in [-1, 1], W = cfg.window_frames consecutive lower-face
  crops (cfg.crop_height x cfg.crop_width, C = cfg.channels) stacked along channels;
- audio window: `[B, L, n_mels]` standardised log-mel, L = cfg.audio_window_frames (0.2 s),
  centred on the centre of the video window.

Both branches end in an L2-normalised `cfg.embed_dim` vector; in-sync pairs have high cosine.
Checkpoints are directories: config.json (SyncScorerConfig) + model.safetensors.
Imports: torch, safetensors, xdub.config, xdub.errors, xdub.models.syncnet_features.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from xdub.config.sync import SyncScorerConfig
from xdub.models.checkpoint import load_module, save_folder
from xdub.models.syncnet_features import audio_window_starts, audio_windows, video_windows


def _conv_bn_relu(c_in: int, c_out: int, stride: int | tuple[int, int]) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


def _encoder(
    c_in: int, widths: tuple[int, ...], embed_dim: int, stem_stride: tuple[int, int]
) -> nn.Sequential:
    """VGG-style conv stack: strided stem, then per width two convs (the first strided after
    stage 0), pooled to 2x2 and projected to `embed_dim`."""
    layers: list[nn.Module] = _conv_bn_relu(c_in, widths[0], stem_stride)
    c_prev = widths[0]
    for i, width in enumerate(widths):
        layers += _conv_bn_relu(c_prev, width, 1 if i == 0 else 2)
        layers += _conv_bn_relu(width, width, 1)
        c_prev = width
    # A 2x2 pool keeps coarse layout (upper vs lower lip, early vs late audio) that a global
    # average would throw away, at a fraction of a full flatten's parameters.
    layers += [nn.AdaptiveAvgPool2d((2, 2)), nn.Flatten(), nn.Linear(4 * c_prev, embed_dim)]
    return nn.Sequential(*layers)


class SyncScorer(nn.Module):
    """Two-branch audio-visual sync scorer producing L2-normalised embeddings."""

    def __init__(self, cfg: SyncScorerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.video_encoder = _encoder(
            cfg.window_frames * cfg.channels, cfg.video_widths, cfg.embed_dim, (2, 2)
        )
        # Audio map is [n_mels, L] = [40, 20]: halve only the mel axis first so time keeps detail.
        self.audio_encoder = _encoder(1, cfg.audio_widths, cfg.embed_dim, (2, 1))
        # InfoNCE temperature, and the sigmoid head P(sync) = sigmoid(scale * cos + bias) with
        # SigLIP's initial scale 10; bias -5 starts P(sync) low for random pairs.
        self.log_temperature = nn.Parameter(torch.tensor(np.log(10.0), dtype=torch.float32))
        self.prob_scale = nn.Parameter(torch.tensor(10.0))
        self.prob_bias = nn.Parameter(torch.tensor(-5.0))

    # --- embeddings -------------------------------------------------------------------------

    def embed_video(self, windows: torch.Tensor) -> torch.Tensor:
        """`windows: [B, W*C, H, Wd]` in [-1, 1] -> `[B, D]` unit vectors."""
        cfg = self.cfg
        expected = (cfg.window_frames * cfg.channels, cfg.crop_height, cfg.crop_width)
        assert windows.ndim == 4 and tuple(windows.shape[1:]) == expected, (
            f"video windows must be [B, {expected[0]}, {expected[1]}, {expected[2]}], "
            f"got {tuple(windows.shape)}"
        )
        return F.normalize(self.video_encoder(windows), dim=-1)

    def embed_audio(self, windows: torch.Tensor) -> torch.Tensor:
        """`windows: [B, L, n_mels]` log-mel -> `[B, D]` unit vectors."""
        cfg = self.cfg
        assert windows.ndim == 3 and tuple(windows.shape[1:]) == (
            cfg.audio_window_frames,
            cfg.n_mels,
        ), (
            f"audio windows must be [B, {cfg.audio_window_frames}, {cfg.n_mels}], got {tuple(windows.shape)}"
        )
        spectro = windows.transpose(1, 2).unsqueeze(1)  # [B, 1, n_mels, L]
        return F.normalize(self.audio_encoder(spectro), dim=-1)

    def sync_logit(self, video_emb: torch.Tensor, audio_emb: torch.Tensor) -> torch.Tensor:
        """Logit of "in sync" from paired unit embeddings `[..., D]` -> `[...]`."""
        return self.prob_scale * (video_emb * audio_emb).sum(-1) + self.prob_bias

    def sync_probability(self, video_win: torch.Tensor, audio_win: torch.Tensor) -> torch.Tensor:
        """P(in sync) per window pair: `[B, W*C, H, Wd]`, `[B, L, n_mels]` -> `[B]`."""
        return torch.sigmoid(
            self.sync_logit(self.embed_video(video_win), self.embed_audio(audio_win))
        )

    def sync_loss(self, video_win: torch.Tensor, audio_win: torch.Tensor) -> torch.Tensor:
        """Mean -log P(in sync): the expert loss for a generator whose frames are `video_win`."""
        logit = self.sync_logit(self.embed_video(video_win), self.embed_audio(audio_win))
        return F.softplus(-logit).mean()

    def clip_sync_loss(self, crops: torch.Tensor, mel: torch.Tensor, fps: float) -> torch.Tensor:
        """`sync_loss` over every window of a clip, differentiable w.r.t. `crops`.

        crops: [T, C, h, w] in [-1, 1] (e.g. `crop_mouths_torch` of generated frames);
        mel: [M, n_mels] (`log_mel` of the target audio). Use a frozen scorer in eval mode.
        """
        vid = video_windows(crops, self.cfg.window_frames)
        starts = audio_window_starts(len(vid), fps, self.cfg)
        aud = audio_windows(mel, starts, self.cfg.audio_window_frames).to(crops.device)
        return self.sync_loss(vid, aud)

    # --- whole clips ------------------------------------------------------------------------

    @staticmethod
    def normalize_crops(crops: np.ndarray | torch.Tensor) -> torch.Tensor:
        """`crops: [T, h, w, C]` uint8 (from `crop_mouths`) -> `[T, C, h, w]` float in [-1, 1]."""
        tensor = torch.as_tensor(crops)
        assert tensor.ndim == 4, f"crops must be [T, h, w, C], got {tuple(tensor.shape)}"
        return tensor.permute(0, 3, 1, 2).float() / 127.5 - 1.0

    def clip_embeddings(
        self, crops: torch.Tensor, mel: torch.Tensor, fps: float, batch_size: int = 64
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-window embeddings of a clip at zero offset.

        crops: [T, C, h, w] in [-1, 1] (`normalize_crops`); mel: [M, n_mels] (`log_mel`).
        Returns (video_emb, audio_emb), each `[T - W + 1, D]`; row i is video frames i..i+W-1
        and the audio window centred on them. Shifting rows of audio_emb by k = shifting the
        audio by k frames, which is what the offset search in bench.sync_metrics relies on.
        """
        device = next(self.parameters()).device
        vid = video_windows(crops, self.cfg.window_frames)
        starts = audio_window_starts(len(vid), fps, self.cfg)
        aud = audio_windows(mel, starts, self.cfg.audio_window_frames)
        video_emb, audio_emb = [], []
        with torch.no_grad():
            for i in range(0, len(vid), batch_size):
                video_emb.append(self.embed_video(vid[i : i + batch_size].to(device)).cpu())
                audio_emb.append(self.embed_audio(aud[i : i + batch_size].to(device)).cpu())
        return torch.cat(video_emb), torch.cat(audio_emb)

    # --- checkpoints ------------------------------------------------------------------------

    def save_pretrained(self, directory: str | Path) -> None:
        """Write `directory/config.json` + `directory/model.safetensors` (atomic renames)."""
        save_folder(directory, self.cfg, self.state_dict())

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> SyncScorer:
        """Rebuild a scorer from a `save_pretrained` directory, in eval mode on CPU."""
        return load_module(directory, SyncScorerConfig, cls, "sync scorer")


def load_shipped_scorer() -> SyncScorer:
    """The tiny scorer trained on synthetic clips, shipped in `xdub/assets/syncnet_tiny/`."""
    from importlib import resources

    root = resources.files("xdub") / "assets" / "syncnet_tiny"
    with resources.as_file(root) as directory:
        return SyncScorer.from_pretrained(directory)
