"""Step 7 (optional): codec latents and audio features of a kept clip, stored beside it.

The encoders are built by the caller (the CLI builds them from `PrepareConfig.cache` with the
trainers' own loaders) and run through the functions training uses: `xdub.conditioning.
encode_frames` for latents and `xdub.data.crops.audio_windows_for` for per-frame audio
windows, so cached values are exactly what a trainer would compute. A codec with a temporal
factor tf encodes the first 1 + tf*k frames (its causal grouping). Stored as float16.
Imports: numpy, xdub.{conditioning, audio, model_types}, xdub.data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from xdub.audio.featurizer import AudioFeaturizer
from xdub.conditioning import encode_frames
from xdub.data.crops import audio_windows_for
from xdub.model_types import VideoCodec


@dataclass(frozen=True)
class ClipEncoders:
    """Frozen encoders whose outputs are cached per clip (either may be None)."""

    codec: VideoCodec | None = None
    featurizer: AudioFeaturizer | None = None


def cached_features(encoders: ClipEncoders, crops: np.ndarray, samples: np.ndarray,
                    fps: float) -> dict[str, Any]:
    """{"latents": [C, F', h, w], "audio_features": [T, W, D]} (float16) of one clip."""
    out: dict[str, Any] = {}
    if encoders.codec is not None:
        tf = encoders.codec.temporal_factor
        usable = 1 + (len(crops) - 1) // tf * tf
        latents = encode_frames(encoders.codec, crops[:usable])[0]
        out["latents"] = latents.float().cpu().numpy().astype(np.float16)
    if encoders.featurizer is not None:
        windows = audio_windows_for(encoders.featurizer, samples, fps, len(crops))
        out["audio_features"] = windows.astype(np.float16)
    return out
