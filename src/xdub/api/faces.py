"""The face tracks of a video, each with a thumbnail to pick it by (`xdub faces`, the web app).

`find_faces` tracks every face in one pass (as a checkpoint's `FaceFinder` finds them, like
`xdub dub`) and cuts an aligned thumbnail of each track at its best-scoring frame in a second
pass. The track index is what `face=N` (`--face N`) takes.
`write_track_preview` draws every track (box, landmarks, index) over the video: a look at
what will be dubbed before any model runs. Imports: numpy, cv2, xdub.{face, media, pipeline,
config, errors}.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from xdub.config.face import AlignConfig, FaceConfig
from xdub.config.infer import InferConfig
from xdub.face.align import estimate_alignment, warp_to_crop
from xdub.face.track import FaceTrack, track_faces
from xdub.media import VideoWriter, iter_frames, probe
from xdub.pipeline.finder import FaceFinder
from xdub.pipeline.progress import CallbackProgress, NullProgress, Progress, ProgressUpdate

THUMB_SIZE = 160  # px, aligned face crop per track
PREVIEW_HEIGHT = 360  # px, the track preview is downscaled to this height (quick to write)
TRACK_COLOURS = ((0, 255, 0), (255, 160, 0), (0, 160, 255), (255, 0, 255))  # by track index


@dataclass(frozen=True)
class FaceThumbnail:
    """Face track `index` (the `face=` option), its track and a `[S, S, 3]` uint8 picture."""

    index: int
    track: FaceTrack
    frame: int  # source frame the thumbnail was cut from
    image: np.ndarray

    def label(self, fps: float) -> str:
        """`face 0: frames 0-74 (3.0 s), 96 px`."""
        t = self.track
        return (f"face {self.index}: frames {t.first}-{t.last} ({t.num_present / fps:.1f} s), "
                f"{t.mean_size:.0f} px")


def find_faces(video: str | os.PathLike, cfg: FaceConfig | None = None,
               progress: Progress | Callable[[ProgressUpdate], None] | None = None,
               size: int = THUMB_SIZE, finder: FaceFinder | None = None,
               refine_landmarks: bool = True) -> list[FaceThumbnail]:
    """Every face track of `video` with its thumbnail (an empty list when there is none).

    `finder`: a checkpoint's `FaceFinder` (`DubPipeline.finder`, `load_face_finder`), so the
    tracks and their indices are those `xdub dub` with that checkpoint sees (its landmark
    refiner, and its second look when the detector finds no face); None = the plain detector.
    """
    cfg = cfg or FaceConfig()
    finder = finder or FaceFinder()
    if progress is None:
        progress = NullProgress()
    elif callable(progress) and not hasattr(progress, "advance"):
        progress = CallbackProgress(progress)
    info = probe(video)

    seen = 0

    def frames():
        nonlocal seen
        for frame in iter_frames(video):
            seen += 1
            yield frame
            progress.advance()

    def one_pass(detector, title: str) -> tuple[list[FaceTrack], int]:
        nonlocal seen
        seen = 0
        progress.start(title, info.num_frames)
        found = track_faces(frames(), detector, cfg.track, fps=info.fps)
        progress.finish()
        return found, seen

    # as `xdub dub`: its detector on frames downscaled as there, and its second look
    tracks, _ = finder.find_tracks(one_pass, cfg.detect, (info.width, info.height),
                                   InferConfig().detect_max_side, refine_landmarks)
    return _thumbnails(video, tracks, size)


def _thumbnails(video: str | os.PathLike, tracks: list[FaceTrack],
                size: int) -> list[FaceThumbnail]:
    """Second pass: an aligned crop of each track at its best-scoring frame."""
    wanted: dict[int, list[int]] = {}
    for k, track in enumerate(tracks):
        row = int(np.argmax(np.where(track.present, track.scores, -1.0)))
        wanted.setdefault(track.first + row, []).append(k)
    align = AlignConfig(crop_size=size)
    found: dict[int, FaceThumbnail] = {}
    for i, frame in enumerate(iter_frames(video)):
        for k in wanted.get(i, []):
            track = tracks[k]
            row = track.index_of(i)
            if track.landmarks is not None:
                thumb = warp_to_crop(frame, estimate_alignment(track.landmarks[row], size, align),
                                     size)
            else:
                x0, y0, x1, y1 = np.round(track.boxes[row]).astype(int)
                thumb = frame[max(y0, 0):y1, max(x0, 0):x1]
            found[k] = FaceThumbnail(k, track, i, thumb)
        if i >= max(wanted, default=-1):
            break
    return [found[k] for k in sorted(found)]


def write_track_preview(video: str | os.PathLike, faces: list[FaceThumbnail],
                        out: str | os.PathLike) -> Path:
    """`out`: the video (no audio, at most PREVIEW_HEIGHT px high) with each face track's box,
    landmarks and index drawn where it is tracked."""
    info = probe(video)
    scale = min(1.0, PREVIEW_HEIGHT / info.height)
    size = (max(2, round(info.width * scale)), max(2, round(info.height * scale)))
    with VideoWriter(out, info.fps, size, inputs=[video]) as writer:
        for i, frame in enumerate(iter_frames(video)):
            picture = cv2.resize(frame, size, interpolation=cv2.INTER_AREA) if scale < 1 else (
                frame.copy())
            for face in faces:
                _draw_track(picture, face, i, scale)
            writer.write(picture)
    return writer.path


def _draw_track(picture: np.ndarray, face: FaceThumbnail, frame: int, scale: float) -> None:
    """Box, landmarks and index of `face` at source frame `frame` (if tracked there)."""
    row = face.track.index_of(frame)
    if row is None:
        return
    colour = TRACK_COLOURS[face.index % len(TRACK_COLOURS)]
    x0, y0, x1, y1 = np.round(face.track.boxes[row] * scale).astype(int)
    cv2.rectangle(picture, (x0, y0), (x1, y1), colour, 2, cv2.LINE_AA)
    cv2.putText(picture, f"face {face.index}", (x0, max(12, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                0.5, colour, 1, cv2.LINE_AA)
    if face.track.landmarks is not None:
        for x, y in face.track.landmarks[row] * scale:
            cv2.circle(picture, (round(x), round(y)), 1, colour, -1, cv2.LINE_AA)
