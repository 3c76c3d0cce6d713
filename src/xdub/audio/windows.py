"""Audio feature frames <-> video frame times, for any fps. Pure functions (numpy / torch).

Time convention (all featurizers): audio feature `j` stands for `[j / rate, (j + 1) / rate)`;
video frame `k` for `[k / fps, (k + 1) / fps)`, so its centre is `(k + 0.5) / fps`. A *span* is
a run of video frames `(first, last)` (inclusive, may reach before frame 0); its window is the
`window` consecutive features centred on the span's centre. One frame is the span `(k, k)`.

At 25 fps and 50 features/s this gives frame k the features `[2k, 2k + 1]`, and a Wan latent
token over frames `(4i - 3, 4i)` the features `[8i - 6, 8i + 2)` -- exactly the indexing of the
released X-Dub model; other frame rates follow the same rule in seconds. Indices past either
end are clamped ("edge", as the release) or read as zeros ("zero").
Imports: numpy, torch.
"""

from __future__ import annotations

import math

import numpy as np
import torch

# Rounding guard: window starts are round-half-up of exact rationals; float error must not flip
# an exact .5 (only reachable with odd windows) or an exact integer.
_EPS = 1e-9


def frame_spans(num_frames: int, first_frame: int = 0) -> np.ndarray:
    """One span per video frame: `[num_frames, 2]` int64 rows `(k, k)`."""
    frames = np.arange(first_frame, first_frame + num_frames, dtype=np.int64)
    return np.stack([frames, frames], axis=1)


def wan_token_spans(
    num_tokens: int, frames_per_token: int = 4, first_frame: int = 0, context: int = 0
) -> np.ndarray:
    """Video-frame spans of Wan-style latent tokens: `[num_tokens, 2]` int64 `(first, last)`.

    Wan's causal VAE encodes the first frame alone and then groups of `frames_per_token`, so
    token 0 stands for frame `first_frame` and hears the `frames_per_token` frames ending there
    (its span reaches before the clip); token i >= 1 covers frames
    `first_frame + (i-1)*f + 1 .. first_frame + i*f`. `context` widens every span on both sides.
    """
    f = frames_per_token
    last = first_frame + f * np.arange(num_tokens, dtype=np.int64)
    first = last - (f - 1)
    return np.stack([first - context, last + context], axis=1)


def span_centres(spans: np.ndarray, fps: float) -> np.ndarray:
    """Centre time in seconds of each frame span `(first, last)`: `[S]` float64."""
    spans = np.asarray(spans, dtype=np.float64)
    return (spans[:, 0] + spans[:, 1] + 1.0) / (2.0 * fps)


def window_indices(centres_s: np.ndarray, rate: float, window: int) -> np.ndarray:
    """Feature indices of the `window` features centred on each time: `[S, window]` int64.

    May be negative or past the end; `gather_windows` applies the padding rule.
    """
    centres = np.asarray(centres_s, dtype=np.float64)
    starts = np.floor(centres * rate - window / 2.0 + 0.5 + _EPS).astype(np.int64)
    return starts[:, None] + np.arange(window, dtype=np.int64)[None, :]


def frame_window_indices(num_frames: int, fps: float, rate: float, window: int) -> np.ndarray:
    """Feature indices of each video frame's window: `[num_frames, window]` int64."""
    return window_indices(span_centres(frame_spans(num_frames), fps), rate, window)


def span_window(frames_per_span: int, fps: float, rate: float) -> int:
    """Features covering `frames_per_span` video frames (e.g. 4 + 2*context frames at 25 fps and
    50 Hz -> 8 + 4*context, the released model's token window)."""
    return max(1, int(round(frames_per_span * rate / fps)))


def num_features(num_samples: int, sample_rate: int, rate: float) -> int:
    """How many whole feature frames `num_samples` of audio yield at `rate` features/s."""
    return int(math.floor(num_samples * rate / sample_rate + _EPS))


def frame_of_time(t: float, fps: float) -> int:
    """Index of the video frame whose interval contains time `t` (the frame nearest `t`)."""
    return int(math.floor(t * fps + _EPS))


def feature_of_time(t: float, rate: float) -> int:
    """Index of the audio feature whose interval contains time `t`."""
    return int(math.floor(t * rate + _EPS))


def gather_windows(sequence: torch.Tensor, indices: np.ndarray, pad_mode: str) -> torch.Tensor:
    """Cut windows out of a feature sequence.

    sequence: [L, D]; indices: [S, W] (any ints) -> [S, W, D]. `pad_mode` "edge" clamps indices
    to [0, L-1]; "zero" returns zeros for indices outside. An empty sequence gives zeros.
    """
    assert sequence.ndim == 2, f"sequence must be [L, D], got {tuple(sequence.shape)}"
    if pad_mode not in ("edge", "zero"):
        raise ValueError(f"pad_mode must be 'edge' or 'zero', got {pad_mode!r}")
    length, dim = sequence.shape
    idx = torch.as_tensor(np.asarray(indices), dtype=torch.long, device=sequence.device)
    if length == 0:
        return sequence.new_zeros((*idx.shape, dim))
    clamped = idx.clamp(0, length - 1)
    out = sequence[clamped]
    if pad_mode == "zero":
        inside = (idx >= 0) & (idx < length)
        out = out * inside.unsqueeze(-1).to(out.dtype)
    return out
