"""A clip made model-ready: aligned face crops, masks and per-frame audio windows.

`prepare_clip(record, face, featurizer, mask_hold_s)` runs the shared preprocessing of
`xdub.conditioning` (crops/masks) and the audio featurizer over the WHOLE clip once; training
windows are then slices of it, exactly what the dubbing pipeline computes for a chunk.
`cut_window` returns one training sample. Imports: numpy, torch, xdub.{conditioning, audio,
config}, xdub.data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from xdub.audio.featurizer import AudioFeaturizer
from xdub.conditioning import FaceCrops, prepare_face_crops, select_reference_indices
from xdub.config.face import FaceConfig
from xdub.data.sources import ClipRecord


@dataclass(frozen=True)
class PreparedClip:
    """`crops` (FaceCrops, leading axis T) + `audio_windows: [T, W, D]` float32 + id/meta."""

    clip_id: str
    fps: float
    crops: FaceCrops
    audio_windows: np.ndarray
    meta: dict[str, Any]

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


def cut_window(clip: PreparedClip, start: int, window_frames: int, ref_frames: int,
               ref_min_gap: int, rng: np.random.Generator | None) -> dict[str, Any]:
    """One training sample (numpy; batch with `collate_windows`).

    Keys: crops [F, S, S, 3] uint8, mask [F, S, S], mouth_mask [F, S, S], ref_crops
    [R, S, S, 3] uint8, audio [F, W, D] float32, plus clip_id / start / ref_indices.
    References are drawn outside the window (`select_reference_indices`).
    """
    stop = start + window_frames
    if start < 0 or stop > clip.num_frames:
        raise ValueError(f"window [{start}, {stop}) outside a {clip.num_frames}-frame clip")
    refs = select_reference_indices(clip.num_frames, (start, stop), ref_frames, ref_min_gap, rng)
    c = clip.crops
    return {
        "crops": c.crops[start:stop],
        "mask": c.masks[start:stop],
        "mouth_mask": c.mouth_masks[start:stop],
        "ref_crops": c.crops[refs],
        "audio": clip.audio_windows[start:stop],
        "clip_id": clip.clip_id,
        "start": start,
        "ref_indices": refs,
    }
