"""Temporal segments and chunks of the output timeline, and the overlap cross-fade. Pure numpy.

A *segment* is a maximal run of output frames that are dubbed, show the chosen face and are
continuous in the source (a loop wrap or a scene-cut track change starts a new segment, so no
motion state is carried across a visual jump). Each segment is cut into *chunks* of at most
`chunk_frames` frames; consecutive chunks share `overlap` frames. In the shared frames the
later chunk starts from the earlier one's output (its first `motion_frames` are given to the
model as clean motion frames) and the two outputs are cross-faded linearly, so there is no seam.
A chunk shorter than the model's frame rule (`1 + k * temporal_factor`) is padded by repeating
its last frame; the padded outputs are dropped. Imports: numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Chunk:
    """Output frames [start, stop) generated together; `keep_until` is where they become final."""

    segment: int  # index of the segment this chunk belongs to
    index: int  # position inside the segment (0 = first, no motion frames)
    start: int
    stop: int
    keep_until: int  # frames >= this are shared with the next chunk of the segment

    @property
    def length(self) -> int:
        """Real (unpadded) frames in the chunk."""
        return self.stop - self.start


def find_segments(active: np.ndarray, continuous: np.ndarray) -> list[tuple[int, int]]:
    """Runs [start, stop) of `active: [T]` frames, split where `continuous: [T]` is False."""
    active = np.asarray(active, bool)
    continuous = np.asarray(continuous, bool)
    assert active.shape == continuous.shape, "active and continuous must both be [T]"
    segments: list[tuple[int, int]] = []
    start = None
    for k in range(len(active)):
        if start is not None and (not active[k] or not continuous[k]):
            segments.append((start, k))
            start = None
        if active[k] and start is None:
            start = k
    if start is not None:
        segments.append((start, len(active)))
    return segments


def split_segment(start: int, stop: int, chunk_frames: int, overlap: int) -> list[tuple[int, int]]:
    """Chunk bounds covering [start, stop): steps of `chunk_frames - overlap`, last one shorter."""
    if chunk_frames < 1 or overlap < 0 or overlap * 2 > chunk_frames:
        raise ValueError(f"need chunk_frames >= 1 and 0 <= 2 * overlap <= chunk_frames, "
                         f"got {chunk_frames}, {overlap}")
    step = max(chunk_frames - overlap, 1)
    bounds = [(start, min(start + chunk_frames, stop))]
    while bounds[-1][1] < stop:
        first = bounds[-1][0] + step
        bounds.append((first, min(first + chunk_frames, stop)))
    return bounds


def plan_chunks(
    segments: list[tuple[int, int]], chunk_frames: int, overlap: int
) -> list[Chunk]:
    """Every chunk of every segment, in output order."""
    chunks: list[Chunk] = []
    for s, (start, stop) in enumerate(segments):
        bounds = split_segment(start, stop, chunk_frames, overlap)
        for i, (a, b) in enumerate(bounds):
            keep = bounds[i + 1][0] if i + 1 < len(bounds) else b
            chunks.append(Chunk(segment=s, index=i, start=a, stop=b, keep_until=keep))
    return chunks


def valid_length(num_frames: int, temporal_factor: int) -> int:
    """Smallest `1 + k * temporal_factor` >= num_frames (what the codec accepts)."""
    if temporal_factor <= 1:
        return num_frames
    k = -(-(num_frames - 1) // temporal_factor)
    return 1 + k * temporal_factor


def pad_frames(frames: np.ndarray, length: int) -> np.ndarray:
    """`frames: [F, ...]` padded to `[length, ...]` by repeating the last frame."""
    extra = length - frames.shape[0]
    if extra <= 0:
        return frames
    return np.concatenate([frames, np.repeat(frames[-1:], extra, axis=0)], axis=0)


def crossfade_weights(num: int) -> np.ndarray:
    """Weights `[num]` of the LATER chunk over `num` shared frames: (j + 1) / (num + 1)."""
    return (np.arange(num, dtype=np.float32) + 1.0) / (num + 1.0)


def crossfade(earlier: np.ndarray, later: np.ndarray) -> np.ndarray:
    """Blend two outputs `[O, ...]` of the same frames: linear ramp from earlier to later."""
    assert earlier.shape == later.shape, f"{earlier.shape} != {later.shape}"
    w = crossfade_weights(earlier.shape[0]).reshape((-1,) + (1,) * (earlier.ndim - 1))
    return earlier.astype(np.float32) * (1.0 - w) + later.astype(np.float32) * w
