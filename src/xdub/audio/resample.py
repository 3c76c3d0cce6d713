"""Sample-rate conversion of a mono track (the dubbing audio to the featurizer's 16 kHz).

`resample` converts a whole `Audio`; `resample_blocks` yields the same samples piece by piece
from any `AudioTrack`, so a long track is never held whole (#13). Both are scipy's polyphase
filter (`resample_poly`, zero padding past the ends): a block is filtered with `margin`
input samples of real context on each side, enough for the filter's reach, so every output
sample is computed from the same inputs in the same order as in the whole-track call -- the
blocks concatenate to exactly `resample`'s output (tests/audio/test_audio_streaming.py).
Imports: math, numpy, scipy (lazily), xdub.types.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from xdub.types import AUDIO_BLOCK_SECONDS, Audio, AudioTrack, audio_blocks

FILTER_HALF_WIDTH = 10  # resample_poly's default: half length = 10 * max(up, down) taps


def _ratio(source_rate: int, target_rate: int) -> tuple[int, int]:
    """(up, down), the reduced ratio target / source."""
    g = math.gcd(int(source_rate), int(target_rate))
    return int(target_rate) // g, int(source_rate) // g


def resample(audio: Audio, sample_rate: int) -> Audio:
    """`audio` at `sample_rate` (polyphase filter; identity when the rate already matches)."""
    if int(audio.sample_rate) == int(sample_rate):
        return audio
    from scipy.signal import resample_poly

    up, down = _ratio(audio.sample_rate, sample_rate)
    samples = resample_poly(audio.samples.astype(np.float64), up, down).astype(np.float32)
    return Audio(samples=np.ascontiguousarray(samples), sample_rate=int(sample_rate))


def resample_blocks(track: AudioTrack, sample_rate: int,
                    block_seconds: float = AUDIO_BLOCK_SECONDS) -> Iterator[np.ndarray]:
    """`resample(whole track, sample_rate).samples` in consecutive pieces of about
    `block_seconds`, reading only a block and its filter margins at a time."""
    if int(track.sample_rate) == int(sample_rate):
        yield from audio_blocks(track, max(1, round(block_seconds * track.sample_rate)))
        return
    from scipy.signal import resample_poly

    up, down = _ratio(track.sample_rate, sample_rate)
    # Blocks start on multiples of `down` input samples, where an output sample falls exactly
    # (output j sits at input j * down / up); the margin is whole `down` units too.
    reach = math.ceil(FILTER_HALF_WIDTH * max(up, down) / up) + 1  # input samples each side
    margin = math.ceil(reach / down) * down
    block = max(1, round(block_seconds * track.sample_rate / down)) * down
    total, out_total = track.num_samples, math.ceil(track.num_samples * up / down)
    for start in range(0, total, block):
        stop = min(start + block, total)
        lo, hi = start - margin, stop + margin
        window = np.zeros(hi - lo, np.float64)  # zeros past either end, as resample_poly pads
        piece = track.read(max(lo, 0), min(hi, total))
        window[max(lo, 0) - lo: max(lo, 0) - lo + len(piece)] = piece
        first = start // down * up  # output index of the block's first input sample
        last = out_total if stop == total else stop // down * up
        skip = margin // down * up
        yield resample_poly(window, up, down)[skip: skip + last - first].astype(np.float32)
