"""Per-frame mouth shape from phones: a dominance-function co-articulation model.

Each phone pulls every mouth column (`MOUTH_PARAMS`) toward its target with a weight
(dominance, Cohen & Massaro 1993) that is flat over the phone and decays exponentially outside
it, reaching further ahead of the phone than after it (anticipatory co-articulation is the
stronger one). A frame's value is the dominance-weighted mean of all targets, so neighbours
blend smoothly, while highly dominant phones (lip closure in /p b m/, teeth in /f v/, tongue
in /th l/) still reach their targets. Optionally, the speech RMS envelope scales the opening a
little so audio energy and mouth opening correlate frame by frame.

Frame convention: frame k shows the interval [k/fps, (k+1)/fps); the mouth is sampled at its
midpoint and `speech_envelope` averages the audio over the same interval.
Imports: numpy, xdub.synth.{tracks, phonemes}.
"""

from __future__ import annotations

import numpy as np

from xdub.synth.phonemes import SILENCE, phone_spec
from xdub.synth.tracks import MOUTH_PARAMS, MouthTrack, Phone, SpeechTrack

_ANTICIPATION = 1.3  # dominance reaches this much further before a phone than after it
_REACH_CUTOFF = 8.0  # ignore contributions beyond 8 decay constants (weight < 4e-4)
_REST_WEIGHT = 1e-6  # tiny pull to the silence pose so frames beyond all phones stay defined
_ENV_REFERENCE_PERCENTILE = 95.0  # envelope level that counts as "fully loud"


def speech_envelope(
    samples: np.ndarray, sample_rate: int, fps: float, num_frames: int
) -> np.ndarray:
    """RMS of `samples: [N]` over each video frame's interval -> `[num_frames]` float32.

    Frame k averages samples in [k/fps, (k+1)/fps); frames past the audio end are 0.
    """
    assert samples.ndim == 1, f"samples must be [N], got {samples.shape}"
    edges = np.round(np.arange(num_frames + 1) * (sample_rate / fps)).astype(np.int64)
    edges = np.clip(edges, 0, len(samples))
    energy = np.concatenate([[0.0], np.cumsum(samples.astype(np.float64) ** 2)])
    counts = np.diff(edges)
    sums = energy[edges[1:]] - energy[edges[:-1]]
    rms = np.sqrt(np.maximum(sums, 0.0) / np.maximum(counts, 1))
    return np.where(counts > 0, rms, 0.0).astype(np.float32)


def _dominance_blend(
    phones: tuple[Phone, ...], times: np.ndarray, smoothing: float
) -> np.ndarray:
    """Dominance-weighted targets at `times: [T]` -> `[T, 5]`."""
    rest = np.asarray(phone_spec(SILENCE).mouth)
    num = np.tile(rest * _REST_WEIGHT, (len(times), 1))
    den = np.full((len(times), len(MOUTH_PARAMS)), _REST_WEIGHT)
    for p in phones:
        spec = phone_spec(p.symbol)
        reach = max(spec.spread_s * smoothing, 1e-4)
        start, end = p.start, p.start + p.duration
        # Only frames within the phone's reach (a few decay constants) get a contribution.
        lo = np.searchsorted(times, start - _REACH_CUTOFF * _ANTICIPATION * reach)
        hi = np.searchsorted(times, end + _REACH_CUTOFF * reach)
        if hi <= lo:
            continue
        t = times[lo:hi]
        before = np.maximum(start - t, 0.0) / (reach * _ANTICIPATION)
        after = np.maximum(t - end, 0.0) / reach
        weight = np.exp(-(before + after))[:, None] * np.asarray(spec.dominance)[None, :]
        num[lo:hi] += weight * np.asarray(spec.mouth)[None, :]
        den[lo:hi] += weight
    return num / den


def mouth_track(
    phones: tuple[Phone, ...],
    fps: float,
    num_frames: int,
    smoothing: float = 1.0,
    *,
    envelope: np.ndarray | None = None,
    envelope_gain: float = 0.3,
) -> MouthTrack:
    """Mouth parameters `[num_frames, 5]` in [0, 1] for `phones`, deterministic.

    smoothing: scales how far each phone's influence reaches (0 = hard steps, 1 = natural,
        2 = mumbled). envelope: optional per-frame speech RMS `[num_frames]` (see
        `speech_envelope`); when given, opening is scaled by `1 - envelope_gain * (1 - loud)`
        with `loud` the envelope normalised to its 95th percentile, so quiet frames close a bit.
    """
    if fps <= 0 or num_frames < 0:
        raise ValueError(f"need fps > 0 and num_frames >= 0, got {fps}, {num_frames}")
    times = (np.arange(num_frames) + 0.5) / fps
    params = _dominance_blend(tuple(phones), times, smoothing)
    if envelope is not None:
        assert envelope.shape == (num_frames,), (
            f"envelope must be [num_frames]={num_frames}, got {envelope.shape}"
        )
        ref = np.percentile(envelope, _ENV_REFERENCE_PERCENTILE) if num_frames else 0.0
        loud = np.clip(envelope / ref, 0.0, 1.0) if ref > 0 else np.zeros(num_frames)
        params[:, MOUTH_PARAMS.index("opening")] *= 1.0 - envelope_gain * (1.0 - loud)
    return MouthTrack(params=np.clip(params, 0.0, 1.0).astype(np.float32), fps=float(fps))


def mouth_from_speech(
    speech: SpeechTrack,
    fps: float,
    num_frames: int | None = None,
    smoothing: float = 1.0,
    envelope_gain: float = 0.3,
) -> MouthTrack:
    """Mouth track for a rendered utterance, opening modulated by its own RMS envelope.

    num_frames defaults to `round(speech.duration * fps)`.
    """
    if num_frames is None:
        num_frames = int(round(speech.duration * fps))
    env = speech_envelope(speech.samples, speech.sample_rate, fps, num_frames)
    return mouth_track(speech.phones, fps, num_frames, smoothing, envelope=env,
                       envelope_gain=envelope_gain)
