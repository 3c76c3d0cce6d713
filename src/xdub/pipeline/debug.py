"""`--save-debug DIR`: videos that show what the pipeline saw and did, frame by frame.

    crops.mp4          source crop | generated crop (what the model saw and made), S x 2S
    track.mp4          the source with the dubbed face's crop outline and landmarks drawn
    side_by_side.mp4   source | output, with the output audio (judging lip sync by eye)
Frames that were not dubbed show a black crop and no overlay. All three files are written
atomically like the main output. Imports: numpy, cv2, xdub.face, xdub.media, xdub.types.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from xdub.errors import OutputError
from xdub.face.align import invert
from xdub.face.landmarks import transform_points
from xdub.media import VideoWriter
from xdub.types import AudioTrack

MAX_PREVIEW_HEIGHT = 540  # side-by-side and overlay videos are downscaled to this height
BOX_COLOUR = (0, 255, 0)
LANDMARK_COLOUR = (255, 64, 64)


class DebugVideos:
    """A `FrameObserver` writing the three debug videos into `folder`."""

    def __init__(self, folder: str | os.PathLike, crop_size: int,
                 inputs: tuple[str | os.PathLike, ...] = ()) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise OutputError(f"cannot create debug folder {self.folder}: "
                              f"{err.strerror or err}") from None
        self.crop_size, self.inputs = crop_size, inputs
        self.writers: dict[str, VideoWriter] = {}
        self.scale = 1.0

    def start(self, fps: float, size: tuple[int, int], audio: AudioTrack | None) -> None:
        """Open the three writers for frames of `size` (w, h) at `fps`."""
        width, height = size
        self.scale = min(1.0, MAX_PREVIEW_HEIGHT / height)
        preview = (max(2, round(width * self.scale)), max(2, round(height * self.scale)))
        s = self.crop_size
        specs = {
            "crops": ((2 * s, s), None),
            "track": (preview, None),
            "side_by_side": ((2 * preview[0], preview[1]), audio),
        }
        for name, (frame_size, sound) in specs.items():
            self.writers[name] = VideoWriter(self.folder / f"{name}.mp4", fps, frame_size,
                                             audio=sound, inputs=self.inputs)

    def _preview(self, frame: np.ndarray) -> np.ndarray:
        if self.scale >= 1.0:
            return frame
        size = (self.writers["track"].size[0], self.writers["track"].size[1])
        return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)

    def observe(self, index: int, source: np.ndarray, output: np.ndarray,
                crop_in: np.ndarray | None, crop_out: np.ndarray | None,
                affine: np.ndarray | None, crop_landmarks: np.ndarray | None) -> None:
        """Write one frame of each debug video."""
        s = self.crop_size
        black = np.zeros((s, s, 3), np.uint8)
        crops = np.hstack([black if crop_in is None else crop_in,
                           black if crop_out is None else crop_out])
        self.writers["crops"].write(np.ascontiguousarray(crops))
        overlay = self._preview(source).copy()
        if affine is not None and crop_landmarks is not None:
            self._draw(overlay, affine, crop_landmarks)
        cv2.putText(overlay, str(index), (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (255, 255, 255), 1, cv2.LINE_AA)
        self.writers["track"].write(overlay)
        both = np.hstack([self._preview(source), self._preview(output)])
        self.writers["side_by_side"].write(np.ascontiguousarray(both))

    def _draw(self, image: np.ndarray, affine: np.ndarray, crop_landmarks: np.ndarray) -> None:
        """Crop outline and landmarks, mapped from crop space to the preview frame."""
        back = invert(affine)
        s = self.crop_size
        corners = np.array([[0, 0], [s, 0], [s, s], [0, s]], np.float64)
        outline = transform_points(corners, back) * self.scale
        cv2.polylines(image, [np.round(outline).astype(np.int32)], True, BOX_COLOUR, 1,
                      cv2.LINE_AA)
        for x, y in transform_points(crop_landmarks.astype(np.float64), back) * self.scale:
            cv2.circle(image, (round(x), round(y)), 1, LANDMARK_COLOUR, -1, cv2.LINE_AA)

    def close(self) -> None:
        """Finish every debug video."""
        for writer in self.writers.values():
            writer.close()

    def abort(self) -> None:
        """Discard every debug video."""
        for writer in self.writers.values():
            writer.abort()
