"""A clip made model-ready: aligned face crops, masks, per-frame audio windows (+ latents).

`prepare_clip(record, face, featurizer, mask_hold_s)` runs the shared preprocessing of
`xdub.conditioning` (crops/masks) and the audio featurizer over the WHOLE clip once; training
windows are then slices of it, exactly what the dubbing pipeline computes for a chunk.
`attach_latents` adds the clip's latents (per-frame codecs only), encoded once per clip with
the same `xdub.conditioning` functions, so the frozen codec runs once per clip, in the data
workers, instead of once per window in the training step. `cut_window` returns one sample.
Imports: numpy, torch, xdub.{conditioning, audio, config, models}, xdub.data.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from xdub.audio.featurizer import AudioFeaturizer
from xdub.conditioning import (
    FaceCrops,
    encode_condition,
    encode_frames,
    prepare_face_crops,
    select_reference_indices,
)
from xdub.config.face import FaceConfig
from xdub.data.sources import ClipRecord
from xdub.models.codec.base import VideoCodec


@dataclass(frozen=True)
class ClipLatents:
    """Latents of a whole clip for a per-frame codec: `target: [C, T, h, w]` (clean crops) and
    `source: [C + 1, T, h, w]` (the inpaint source stream: masked-crop latents + mask)."""

    target: torch.Tensor
    source: torch.Tensor


@dataclass(frozen=True)
class PreparedClip:
    """`crops` (FaceCrops, leading axis T) + `audio_windows: [T, W, D]` float32 + id/meta."""

    clip_id: str
    fps: float
    crops: FaceCrops
    audio_windows: np.ndarray
    meta: dict[str, Any]
    latents: ClipLatents | None = None

    @property
    def num_frames(self) -> int:
        return len(self.crops)


def audio_windows_for(featurizer: AudioFeaturizer, samples: np.ndarray, fps: float,
                      num_frames: int) -> np.ndarray:
    """Per-video-frame feature windows `[num_frames, W, D]` float32 of a waveform `[N]`."""
    return featurizer.features(samples, fps, num_frames).float().numpy()


def prepare_clip(record: ClipRecord, face: FaceConfig, featurizer: AudioFeaturizer,
                 mask_hold_s: float) -> PreparedClip:
    """Crops/masks from the record's landmarks and audio windows of its own soundtrack."""
    crops = prepare_face_crops(record.frames, record.landmarks, record.fps, face.align,
                               face.mask, mask_hold_s)
    windows = audio_windows_for(featurizer, record.samples, record.fps, record.num_frames)
    return PreparedClip(record.clip_id, record.fps, crops, windows, dict(record.meta))


def attach_latents(clip: PreparedClip, codec: VideoCodec) -> PreparedClip:
    """`clip` with its ClipLatents (CPU float32); only for codecs with temporal factor 1, where
    a window's latents are exactly the slice of the clip's (frames are encoded independently)."""
    if codec.temporal_factor != 1:
        raise ValueError("clip latents can be cached only for per-frame codecs (temporal factor 1)")
    c = clip.crops
    target = encode_frames(codec, c.crops)[0].float().cpu()
    source = encode_condition(codec, c.crops, mode="inpaint", mask=c.masks).source_latents
    return replace(clip, latents=ClipLatents(target, source[0].float().cpu()))


def cut_window(clip: PreparedClip, start: int, window_frames: int, ref_frames: int,
               ref_min_gap: int, rng: np.random.Generator | None) -> dict[str, Any]:
    """One training sample (numpy; batch with `collate_windows`).

    Keys: crops [F, S, S, 3] uint8, mask [F, S, S], mouth_mask [F, S, S], ref_crops
    [R, S, S, 3] uint8, audio [F, W, D] float32, plus clip_id / start / ref_indices; with
    cached latents also target_latents [C, F, h, w], source_latents [C + 1, F, h, w] and
    ref_latents [C, R, h, w]. References are drawn outside the window
    (`select_reference_indices`).
    """
    stop = start + window_frames
    if start < 0 or stop > clip.num_frames:
        raise ValueError(f"window [{start}, {stop}) outside a {clip.num_frames}-frame clip")
    refs = select_reference_indices(clip.num_frames, (start, stop), ref_frames, ref_min_gap, rng)
    c = clip.crops
    sample: dict[str, Any] = {
        "crops": c.crops[start:stop],
        "mask": c.masks[start:stop],
        "mouth_mask": c.mouth_masks[start:stop],
        "ref_crops": c.crops[refs],
        "audio": clip.audio_windows[start:stop],
        "clip_id": clip.clip_id,
        "start": start,
        "ref_indices": refs,
    }
    if clip.latents is not None:
        sample["target_latents"] = clip.latents.target[:, start:stop]
        sample["source_latents"] = clip.latents.source[:, start:stop]
        sample["ref_latents"] = clip.latents.target[:, torch.from_numpy(refs)]
    return sample
