"""Clip sources: indexable collections of talking-face clips with landmarks and audio.

Two kinds behind one small interface (`len`, `clip_id(i)`, `load(i) -> ClipRecord`):
- `SynthClipSource`: single clips rendered in memory by the procedural engine from seeds.
  It calls `render_clip` only, never `render_pair`: stage 1 and pair generation must not see
  the engine's paired renders (they exist for evaluation only).
- `VideoClipSource`: real videos plus precomputed face tracks (`<stem>.track.npz`, written by
  `save_track`), one face per video.
Imports: numpy, xdub.{config, media, types, errors}, xdub.synth.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from xdub.atomic import atomic_path
from xdub.config.synth import SynthConfig
from xdub.config.train import SynthSourceConfig, VideoSourceConfig
from xdub.errors import MediaError, NoFaceError

TRACK_SUFFIX = ".track.npz"


@dataclass(frozen=True)
class ClipRecord:
    """One clip: `frames: [T, H, W, 3]` uint8, `samples: [N]` float32 16 kHz, face geometry
    `landmarks: [T, 68, 2]` / `face_boxes: [T, 4]` in frame pixels."""

    clip_id: str
    frames: np.ndarray
    fps: float
    samples: np.ndarray
    landmarks: np.ndarray
    face_boxes: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    occluders: np.ndarray | None = None  # [T, H, W] bool: what stands in front of the face,
    #   when known (the synthetic engine's truth); pairs keep V's own pixels there

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])


class ClipSource(Protocol):
    """An indexable, deterministic collection of clips."""

    def __len__(self) -> int: ...

    def clip_id(self, index: int) -> str: ...

    def load(self, index: int) -> ClipRecord: ...

    def load_audio(self, index: int) -> np.ndarray:
        """Only the clip's 16 kHz soundtrack `[N]` float32 (cheaper than `load`)."""
        ...


# ---------------------------------------------------------------------------------------------
# Synthetic clips
# ---------------------------------------------------------------------------------------------


def synth_config(cfg: SynthSourceConfig) -> SynthConfig:
    """The engine config for a source config (scenario preset at the requested size/length)."""
    from xdub.synth.scenarios import get_scenario

    return replace(get_scenario(cfg.scenario), size=tuple(cfg.size), duration=cfg.clip_seconds)


class SynthClipSource:
    """Clips `render_clip(seed)` for `seeds` (default: cfg.first_seed .. + cfg.num_clips)."""

    def __init__(self, cfg: SynthSourceConfig, seeds: list[int] | None = None) -> None:
        self.cfg = cfg
        self.engine_cfg = synth_config(cfg)
        self.seeds = list(seeds) if seeds is not None else None

    def __len__(self) -> int:
        return len(self.seeds) if self.seeds is not None else self.cfg.num_clips

    def seed(self, index: int) -> int:
        """Engine seed of clip `index`."""
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self.seeds[index] if self.seeds is not None else self.cfg.first_seed + index

    def clip_id(self, index: int) -> str:
        return f"synth:{self.cfg.scenario}:{self.seed(index)}"

    def load(self, index: int) -> ClipRecord:
        from xdub.synth.clip import render_clip

        seed = self.seed(index)
        clip = render_clip(seed, self.engine_cfg)
        return ClipRecord(self.clip_id(index), clip.frames, clip.fps, clip.audio.samples,
                          clip.truth.landmarks, clip.truth.face_box,
                          {"seed": seed, "scenario": clip.meta["scenario"],
                           "role": clip.meta["role"], "engine": clip.meta["engine_version"]},
                          occluders=clip.truth.occluder_mask)

    def load_audio(self, index: int) -> np.ndarray:
        from xdub.synth.clip import plan_clips

        return plan_clips(self.seed(index), self.engine_cfg)[0].audio.samples  # no frames drawn


# ---------------------------------------------------------------------------------------------
# Real videos with face tracks
# ---------------------------------------------------------------------------------------------


def save_track(path: str | Path, frame_indices: np.ndarray, landmarks: np.ndarray,
               boxes: np.ndarray) -> Path:
    """Write a face track file: `frame_indices [N]`, `landmarks [N, 68, 2]`, `boxes [N, 4]`."""
    path = Path(path)
    with atomic_path(path) as tmp, tmp.open("wb") as handle:  # a handle: no ".npz" appended
        np.savez(handle, frame_indices=np.asarray(frame_indices, np.int64),
                 landmarks=np.asarray(landmarks, np.float32), boxes=np.asarray(boxes, np.float32))
    return path


def expand_videos(patterns: tuple[str, ...] | list[str]) -> list[Path]:
    """Files named or matched by glob patterns, sorted and de-duplicated."""
    found: set[Path] = set()
    for pattern in patterns:
        matches = glob.glob(pattern, recursive=True) if glob.has_magic(pattern) else [pattern]
        found.update(Path(m) for m in matches if not Path(m).name.endswith(TRACK_SUFFIX))
    return sorted(found)


class VideoClipSource:
    """Real videos with precomputed tracks; the clip spans the track's frames."""

    def __init__(self, cfg: VideoSourceConfig) -> None:
        self.cfg = cfg
        self.videos = expand_videos(cfg.videos)

    def __len__(self) -> int:
        return len(self.videos)

    def clip_id(self, index: int) -> str:
        return f"video:{self.videos[index]}"

    def track_path(self, video: Path) -> Path:
        """Where the track of `video` is expected."""
        folder = Path(self.cfg.tracks_dir) if self.cfg.tracks_dir else video.parent
        return folder / f"{video.stem}{TRACK_SUFFIX}"

    def load(self, index: int) -> ClipRecord:
        from xdub.media import read_video

        video_path = self.videos[index]
        track_path = self.track_path(video_path)
        if not track_path.is_file():
            raise NoFaceError(f"no face track for {video_path}: expected {track_path}")
        track = np.load(track_path)
        rows = track["frame_indices"]
        video = read_video(video_path, fps=self.cfg.fps)
        if video.audio is None:
            raise MediaError(f"{video_path} has no audio track")
        if rows.max() >= video.num_frames:
            raise MediaError(f"track {track_path} reaches past the end of {video_path}")
        first, last = int(rows[0]), int(rows[-1])
        sr = video.audio.sample_rate
        samples = video.audio.samples[round(first / video.fps * sr): round((last + 1) / video.fps * sr)]
        return ClipRecord(self.clip_id(index), video.frames[first:last + 1], video.fps,
                          np.ascontiguousarray(samples, np.float32), track["landmarks"],
                          track["boxes"], {"path": str(video_path), "first_frame": first})

    def load_audio(self, index: int) -> np.ndarray:
        return self.load(index).samples
