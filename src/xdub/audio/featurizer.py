"""The one audio-feature interface: per-video-frame windows of features, any fps.

`AudioFeaturizer.features(samples, fps, num_frames) -> [num_frames, window, dim]`. Two steps
under it, usable on their own when one audio track serves many clips (chunked inference):
`encode(samples)` runs the (possibly heavy) encoder once over the whole track and returns a
`FeatureSequence` (`encode_blocks`: the same from a track in pieces); `gather(sequence, spans,
fps, window)` cuts windows for any frame spans (`xdub.audio.windows.frame_spans` /
`wan_token_spans`). Imports: numpy, torch, xdub.audio.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from xdub.audio import windows


@dataclass(frozen=True)
class FeatureSequence:
    """Encoder outputs over a whole track: `streams[i]: [L_i, D_i]` at `rate` features/s.

    Streams (e.g. Whisper and wav2vec2) may differ in length by a frame; each is windowed and
    padded on its own, then the windows are concatenated along the feature axis.
    """

    streams: tuple[torch.Tensor, ...]
    rate: float

    @property
    def dim(self) -> int:
        """Feature width after concatenating the streams."""
        return sum(int(s.shape[1]) for s in self.streams)


def check_samples(samples: np.ndarray) -> np.ndarray:
    """Validate a mono waveform `[N]` and return it as contiguous float32."""
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise ValueError(f"audio samples must be mono [N], got shape {samples.shape}")
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if not np.isfinite(samples).all():
        raise ValueError("audio samples contain NaN or inf")
    return samples


class AudioFeaturizer(ABC):
    """Audio waveform (16 kHz mono float32) -> per-video-frame feature windows."""

    dim: int  # feature width D of every window row
    window: int  # features per video frame W
    rate: float  # feature frames per second
    pad_mode: str  # "edge" or "zero": how windows past the audio ends are filled

    @abstractmethod
    def encode(self, samples: np.ndarray) -> FeatureSequence:
        """Run the encoder(s) over a whole track `samples: [N]` at 16 kHz."""

    def encode_blocks(self, blocks: Iterable[np.ndarray]) -> FeatureSequence:
        """`encode` of a track given as consecutive 16 kHz pieces (`resample_blocks`).

        This default joins them first: an encoder whose features see the whole track
        (wav2vec2's normalisation and attention) has nothing to stream. Featurizers with a
        bounded receptive field override it to hold only a block at a time (`MelFeaturizer`).
        """
        parts = list(blocks)
        return self.encode(np.concatenate(parts) if parts else np.zeros(0, np.float32))

    def gather(
        self, sequence: FeatureSequence, spans: np.ndarray, fps: float, window: int
    ) -> torch.Tensor:
        """Windows of `window` features centred on frame spans `[S, 2]` -> `[S, window, dim]`."""
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        centres = windows.span_centres(spans, fps)
        idx = windows.window_indices(centres, sequence.rate, window)
        parts = [windows.gather_windows(s, idx, self.pad_mode) for s in sequence.streams]
        return torch.cat(parts, dim=-1)

    def features(self, samples: np.ndarray, fps: float, num_frames: int) -> torch.Tensor:
        """Feature windows aligned to the video's own frames: `[num_frames, window, dim]`.

        Frame k's window is centred on `(k + 0.5) / fps` seconds; see `xdub.audio.windows`.
        """
        if num_frames < 0:
            raise ValueError(f"num_frames must be >= 0, got {num_frames}")
        sequence = self.encode(samples)
        return self.gather(sequence, windows.frame_spans(num_frames), fps, self.window)

    def token_features(
        self,
        sequence: FeatureSequence,
        fps: float,
        num_tokens: int,
        window: int,
        frames_per_token: int = 4,
        first_frame: int = 0,
    ) -> torch.Tensor:
        """Windows per Wan-style latent token: `[num_tokens, window, dim]`.

        Token 0 hears the `frames_per_token` frames ending at `first_frame`, token i the frames
        `first_frame + 4(i-1) + 1 .. first_frame + 4i` (see `windows.wan_token_spans`). With 25 fps
        video, 50 Hz features and `window = 8 + 4 * context` this is exactly the released
        model's audio input (its `audio_feat_window_size` = context).
        """
        spans = windows.wan_token_spans(num_tokens, frames_per_token, first_frame)
        return self.gather(sequence, spans, fps, window)
