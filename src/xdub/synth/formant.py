"""DSP of the procedural speech synthesizer: glottal source, formant cascade, noise bands.

`speech.render_speech` strings these together (the design is described in `speech.py`). All
functions are pure given their `np.random.Generator`; arrays are per-sample `[n]` unless noted.
Imports: numpy, scipy, xdub.config, xdub.synth.{tracks, phonemes}.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.signal import butter, lfilter, sosfilt

from xdub.config.synth_speech import SpeechConfig
from xdub.synth.phonemes import PhoneSpec, is_sung
from xdub.synth.tracks import Phone

_BLOCK_S = 0.005  # formant update period (Klatt 1980 used 5 ms frames)
_F4_HZ, _B4_HZ = 3500.0, 250.0  # fixed 4th formant: adds natural brightness


# ----------------------------------------------------------------------------------------------
# Source
# ----------------------------------------------------------------------------------------------


def _smooth_noise(rng: np.random.Generator, n: int, sr: int, rate_hz: float) -> np.ndarray:
    """Band-limited random wobble in ~[-1, 1] (`[n]`), knots every 1/rate_hz s."""
    knots = rng.uniform(-1.0, 1.0, size=int(n / sr * rate_hz) + 2)
    return np.interp(np.arange(n) * (rate_hz / sr), np.arange(len(knots)), knots)


def f0_track(
    phones: tuple[Phone, ...], n: int, sr: int, cfg: SpeechConfig, rng: np.random.Generator
) -> np.ndarray:
    """Per-sample f0 in Hz `[n]`: log-interpolated phone pitches + jitter + sung vibrato."""
    times: list[float] = []
    logs: list[float] = []
    for p in phones:
        if p.pitch_hz <= 0:
            continue
        if is_sung(p.symbol):
            # Hold the note flat between a short glide in and out (portamento).
            glide = min(0.05, p.duration / 4)
            times += [p.start + glide, p.start + p.duration - glide]
            logs += [np.log(p.pitch_hz)] * 2
        else:
            times.append(p.start + p.duration / 2)
            logs.append(np.log(p.pitch_hz))
    t = np.arange(n) / sr
    log_f0 = np.interp(t, times, logs) if times else np.full(n, np.log(120.0))
    log_f0 += cfg.jitter * _smooth_noise(rng, n, sr, 8.0)
    for p in phones:
        if is_sung(p.symbol) and cfg.vibrato_cents > 0:
            s, e = round(p.start * sr), round((p.start + p.duration) * sr)
            local = t[s:e] - p.start
            fade = np.clip((local - 0.15) / 0.2, 0.0, 1.0)  # vibrato sets in after the onset
            cents = cfg.vibrato_cents * fade * np.sin(2 * np.pi * cfg.vibrato_hz * local)
            log_f0[s:e] += cents * (np.log(2.0) / 1200)
    return np.exp(log_f0)


def glottal_source(
    f0: np.ndarray, sr: int, breathiness: float, rng: np.random.Generator
) -> np.ndarray:
    """Rosenberg glottal-flow derivative at f0 `[n]` plus gated aspiration, peak ~1 `[n]`."""
    phase = np.cumsum(f0 / sr) % 1.0
    rise, fall = 0.40, 0.16  # opening / closing fractions of the period (Rosenberg 1971)
    flow = np.where(
        phase < rise,
        0.5 * (1.0 - np.cos(np.pi * phase / rise)),
        np.where(phase < rise + fall, np.cos(0.5 * np.pi * (phase - rise) / fall), 0.0),
    )
    # d(flow)/d(sample) grows with f0; dividing by f0/sr makes the peak ~pi/(2*fall) ~ 10.
    deriv = np.diff(flow, prepend=0.0) * (sr / f0) / 10.0
    aspiration = breathiness * rng.standard_normal(len(f0)) * (flow > 0)
    return deriv + aspiration


# ----------------------------------------------------------------------------------------------
# Vocal-tract filter and levels
# ----------------------------------------------------------------------------------------------


def _formant_knots(
    phones: tuple[Phone, ...], specs: list[PhoneSpec], cfg: SpeechConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Knot times `[K]`, formants `[K, 3]`, bandwidths `[K, 3]`: a plateau per non-silent phone."""
    times, freqs, bws = [], [], []
    for p, spec in zip(phones, specs):
        if spec.kind == "silence":
            continue  # formants hold/glide across pauses; nothing is audible there anyway
        glide = min(cfg.transition_s / 2, p.duration / 3)
        times += [p.start + glide, p.start + p.duration - glide]
        freqs += [spec.formants] * 2
        bws += [spec.bandwidths] * 2
    if not times:
        times, freqs, bws = [0.0], [specs[0].formants], [specs[0].bandwidths]
    return np.asarray(times), np.asarray(freqs, float), np.asarray(bws, float)


def _resonator_polys(
    freqs: np.ndarray, bws: np.ndarray, sr: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cascade of Klatt resonators (unit DC gain) as one all-pole filter per block.

    freqs, bws: `[B, S]` Hz -> gains `[B]` and denominators `[B, 2S+1]` (a[0] = 1).
    """
    c = -np.exp(-2 * np.pi * bws / sr)
    b = 2 * np.exp(-np.pi * bws / sr) * np.cos(2 * np.pi * freqs / sr)
    gain = np.prod(1.0 - b - c, axis=-1)
    den = np.ones((len(freqs), 1))
    for s in range(freqs.shape[1]):  # batched polynomial product, one section at a time
        sec = np.stack([np.ones_like(b[:, s]), -b[:, s], -c[:, s]], axis=-1)
        nxt = np.zeros((len(den), den.shape[1] + 2))
        for k in range(3):
            nxt[:, k : k + den.shape[1]] += sec[:, k : k + 1] * den
        den = nxt
    return gain, den


def _state_maps(den: np.ndarray) -> np.ndarray:
    """Matrices `[R, N, N]` mapping past outputs (newest first) to the DF2T state of lfilter.

    den: `[R, N+1]`. With numerator [g, 0, ...] the DF2T state is z_k = -sum_{m>k} a_m
    y[n-(m-k-1)], so a coefficient change acts like a time-varying direct-form all-pole filter
    driven by the true output history (as in LPC synthesis), without switching transients.
    """
    order = den.shape[1] - 1
    idx = np.arange(order)[:, None] + np.arange(order)[None, :] + 1  # m = k + 1 + j
    padded = np.concatenate([den, np.zeros((len(den), 1))], axis=1)  # index N+1.. -> 0
    return -padded[:, np.minimum(idx, order + 1)] * (idx <= order)


def formant_filter(
    x: np.ndarray,
    phones: tuple[Phone, ...],
    specs: list[PhoneSpec],
    sr: int,
    cfg: SpeechConfig,
    scale: float,
) -> np.ndarray:
    """Time-varying F1-F4 cascade over `x: [n]`, coefficients updated every 5 ms -> `[n]`."""
    n = len(x)
    block = max(1, round(_BLOCK_S * sr))
    centres = (np.arange(0, n, block) + block / 2) / sr
    times, freqs, bws = _formant_knots(phones, specs, cfg)
    f = np.stack([np.interp(centres, times, freqs[:, i]) for i in range(3)], axis=-1) * scale
    bw = np.stack([np.interp(centres, times, bws[:, i]) for i in range(3)], axis=-1)
    f = np.concatenate([f, np.full((len(centres), 1), _F4_HZ * scale)], axis=-1)
    bw = np.concatenate([bw, np.full((len(centres), 1), _B4_HZ)], axis=-1)
    gain, den = _resonator_polys(np.minimum(f, 0.45 * sr), bw, sr)  # [blocks], [blocks, 9]
    # Filter each run of identical coefficients in one call (steady vowels are long runs).
    changes = np.flatnonzero(np.any(den[1:] != den[:-1], axis=1)) + 1
    starts = np.concatenate([[0], changes])
    ends = np.concatenate([changes, [len(centres)]])
    order = den.shape[1] - 1
    maps = _state_maps(den[starts])
    num = np.zeros(order + 1)
    out = np.zeros(n + order)  # `order` leading zeros = the filter's initial history
    for r, (b0, b1) in enumerate(zip(starts, ends)):
        s, e = b0 * block, min(n, b1 * block)
        num[0] = gain[b0]
        zi = maps[r] @ out[s : s + order][::-1]
        out[s + order : e + order], _ = lfilter(num, den[b0], x[s:e], zi=zi)
    return out[order:]


def step_track(values: np.ndarray, bounds: np.ndarray, ramp: int) -> np.ndarray:
    """Per-phone constants `[P]` over sample bounds `[P+1]`, ramped (box-smoothed) `[n]`."""
    steps = np.repeat(values, np.diff(bounds))
    if ramp < 2:
        return steps
    padded = np.concatenate([np.full(ramp, steps[0]), steps, np.full(ramp, steps[-1])])
    csum = np.cumsum(np.concatenate([[0.0], padded]))
    smooth = (csum[ramp:] - csum[:-ramp]) / ramp
    return smooth[ramp // 2 : ramp // 2 + len(steps)]


def level_gains(
    voiced: np.ndarray, bounds: np.ndarray, specs: list[PhoneSpec], glide: int
) -> np.ndarray:
    """Per-sample gain `[n]` taking each voiced phone's RMS to its `voice_level`.

    The gain is flat over each phone and glides (log-linearly, over `glide` samples) across
    boundaries, so a long note next to a short consonant keeps its own level.
    """
    knots, log_gains = [], []
    for i, spec in enumerate(specs):
        if spec.voice_level <= 0:
            continue
        s, e = int(bounds[i]), int(bounds[i + 1])
        q = min(glide // 2, (e - s) // 4)
        rms = float(np.sqrt(np.mean(voiced[s + q : e - q] ** 2))) if e - s > 2 * q else 0.0
        if rms > 1e-8:
            knots += [s + q, e - q]
            log_gains += [np.log(spec.voice_level / rms)] * 2
    if not knots:
        return np.ones(len(voiced))
    return np.exp(np.interp(np.arange(len(voiced)), knots, log_gains))


# ----------------------------------------------------------------------------------------------
# Noise branch
# ----------------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _bandpass(lo: float, hi: float, sr: int) -> np.ndarray:
    """4th-order Butterworth band-pass SOS, clipped below Nyquist (for low sample rates)."""
    hi = min(hi, 0.45 * sr)
    lo = min(lo, 0.5 * hi)
    return butter(2, (lo, hi), btype="bandpass", fs=sr, output="sos")


_NoiseEvent = tuple[float, float, tuple[float, float], float]  # (start s, end s, band Hz, level)


def _noise_events(p: Phone, spec: PhoneSpec) -> list[_NoiseEvent]:
    """Noise events of one phone: the whole phone, or burst (+ aspiration) for plosives."""
    assert spec.noise_band is not None
    end = p.start + p.duration
    if spec.kind != "plosive":
        return [(p.start, end, spec.noise_band, spec.noise_level)]
    # Plosive = silent (or voice-bar) closure, then a short burst at release, then for
    # voiceless stops some aspiration (voice-onset time) before the next phone.
    aspiration = 0.0 if spec.voiced else min(0.025, 0.3 * p.duration)
    burst = min(0.012, 0.25 * p.duration)
    b1 = end - aspiration
    events = [(b1 - burst, b1, spec.noise_band, spec.noise_level)]
    if aspiration > 0:
        events.append((b1, end, (500.0, 4000.0), 0.4 * spec.noise_level))
    return events


def render_noise(
    phones: tuple[Phone, ...],
    specs: list[PhoneSpec],
    n: int,
    sr: int,
    cfg: SpeechConfig,
    rng: np.random.Generator,
) -> np.ndarray:
    """Band-shaped noise for fricatives, bursts and aspiration `[n]`."""
    out = np.zeros(n)
    pre = 64  # filter warm-up samples, dropped, so every event starts at steady state
    for p, spec in zip(phones, specs):
        if spec.noise_level <= 0 or spec.noise_band is None:
            continue
        for t0, t1, band, level in _noise_events(p, spec):
            s, e = round(t0 * sr), min(n, round(t1 * sr))
            if e - s < 4:
                continue
            noise = sosfilt(_bandpass(band[0], band[1], sr), rng.standard_normal(e - s + pre))
            noise = noise[pre:] / (np.sqrt(np.mean(noise[pre:] ** 2)) + 1e-12)
            ramp = max(1, min(round(cfg.ramp_s * sr), (e - s) // 3))
            ramp_up = np.arange(1, e - s + 1)
            env = np.minimum(1.0, np.minimum(ramp_up, ramp_up[::-1]) / ramp)
            out[s:e] += level * env * noise
    return out
