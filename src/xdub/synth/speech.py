"""Procedural speech: random phone sequences and our own source-filter formant synthesizer.

Design. Speech is modelled the classic source-filter way (Fant 1960; Klatt 1980): a glottal
source is shaped by vocal-tract resonances, plus band-limited noise where air is turbulent.
We chose it over concatenative or neural synthesis because it needs no data or weights, is a few
numpy/scipy calls (10 s renders in well under 0.1 s), and every acoustic event is *known*: phone
timings, pitch and loudness are ground truth that the mouth track and the tests can rely on.

- Source: a Rosenberg glottal-flow pulse driven by a phase accumulator at a smoothly
  interpolated f0 (log-domain knots per phone, slow jitter, vibrato on sung notes); its time
  derivative stands in for lip radiation. A little gated aspiration noise adds breathiness.
- Filter: a cascade of Klatt 2nd-order resonators (F1-F3 per phone, fixed F4) updated every
  5 ms like Klatt's synthesizer; formant targets glide linearly across phone boundaries
  (co-articulation). The cascade runs as one all-pole `lfilter` per run of identical
  coefficients, restarted from the true output history (time-varying LPC style), which keeps
  10 s of audio to ~0.05 s of CPU.
- Levels: each voiced phone is rescaled to its tabulated loudness (open vowels louder: this is
  physical and makes audio energy track mouth opening), flat over the phone and gliding across
  boundaries, so loudness is controlled and clicks are avoided.
- Noise: fricatives, plosive bursts and aspiration are white noise through a Butterworth
  band-pass per phone, under a trapezoid envelope with attack/release ramps.
- Silence stays silent (only a tiny always-on noise floor); the result is peak-normalised.

The DSP lives in `formant.py`; this module lays out random phones and renders them.
Imports: numpy, xdub.config, xdub.synth.{tracks, phonemes, formant}.
"""

from __future__ import annotations

import logging

import numpy as np

from xdub.config.synth_speech import SpeechConfig
from xdub.synth.formant import (
    f0_track,
    formant_filter,
    glottal_source,
    level_gains,
    render_noise,
    step_track,
)
from xdub.synth.phonemes import (
    CODAS,
    CONSONANTS,
    SILENCE,
    VOWELS,
    PhoneSpec,
    is_sung,
    phone_spec,
    sung,
)
from xdub.synth.tracks import Phone, SpeechTrack

log = logging.getLogger(__name__)

_PENTATONIC = (0, 2, 4, 7, 9, 12)  # semitones of a major pentatonic scale over one octave


# ----------------------------------------------------------------------------------------------
# Phone layout
# ----------------------------------------------------------------------------------------------

_Item = tuple[str, float, float]  # (symbol, duration s, pitch Hz)


def _phone_duration(rng: np.random.Generator, symbol: str, cfg: SpeechConfig) -> float:
    """Typical duration / speaking rate with lognormal jitter, floored at cfg.min_phone_s."""
    jitter = float(np.exp(rng.normal(0.0, cfg.duration_jitter)))
    return max(cfg.min_phone_s, phone_spec(symbol).duration * jitter / cfg.speaking_rate)


def _syllable(rng: np.random.Generator, cfg: SpeechConfig, vowel: str) -> list[str]:
    """CV / V / CVC / VC syllable around `vowel`."""
    out = [str(rng.choice(CONSONANTS))] if rng.random() < cfg.onset_prob else []
    out.append(vowel)
    if rng.random() < cfg.coda_prob:
        out.append(str(rng.choice(CODAS)))
    return out


def _spoken_phrase(rng: np.random.Generator, cfg: SpeechConfig, base_f0: float) -> list[_Item]:
    """Words of CV(C) syllables with occasional pauses, on a declining pitch contour."""
    syllables: list[list[str]] = []
    for w in range(int(rng.integers(cfg.words_per_phrase[0], cfg.words_per_phrase[1] + 1))):
        if w > 0 and rng.random() < cfg.pause_prob:
            syllables.append([SILENCE])
        n_syl = int(rng.integers(cfg.syllables_per_word[0], cfg.syllables_per_word[1] + 1))
        syllables += [_syllable(rng, cfg, str(rng.choice(VOWELS))) for _ in range(n_syl)]
    timed: list[tuple[str, float, float]] = []  # (symbol, duration, syllable pitch factor)
    for syl in syllables:
        factor = float(np.exp(rng.normal(0.0, cfg.pitch_jitter)))
        factor *= 1.15 if rng.random() < cfg.accent_prob else 1.0
        for sym in syl:
            if sym == SILENCE:
                timed.append((sym, float(rng.uniform(*cfg.word_pause_s)), 0.0))
            else:
                timed.append((sym, _phone_duration(rng, sym, cfg), factor))
    total = sum(d for _, d, _ in timed)
    items: list[_Item] = []
    t = 0.0
    for sym, dur, factor in timed:
        # Declination: f0 drifts down linearly over the phrase (Pierrehumbert 1979).
        frac = (t + dur / 2) / total
        contour = base_f0 * (1.0 + cfg.declination * (0.5 - frac))
        voiced = sym != SILENCE and phone_spec(sym).voiced
        items.append((sym, dur, contour * factor if voiced else 0.0))
        t += dur
    return items


def _sung_phrase(rng: np.random.Generator, cfg: SpeechConfig, base_f0: float) -> list[_Item]:
    """Sustained vowels on notes of a pentatonic scale, each with an optional short onset."""
    root = base_f0 * 2.0 ** (int(rng.integers(-5, 2)) / 12)  # melody stays near the voice
    degree = int(rng.integers(0, 4))
    items: list[_Item] = []
    for _ in range(int(rng.integers(cfg.notes_per_phrase[0], cfg.notes_per_phrase[1] + 1))):
        # Melodies mostly move by small steps: a random walk over scale degrees.
        degree = int(np.clip(degree + rng.integers(-2, 3), 0, len(_PENTATONIC) - 1))
        note = root * 2.0 ** (_PENTATONIC[degree] / 12)
        for sym in _syllable(rng, cfg, "*"):
            if sym == "*":
                items.append((sung(str(rng.choice(VOWELS))), float(rng.uniform(*cfg.note_s)), note))
            else:
                dur = _phone_duration(rng, sym, cfg)
                items.append((sym, dur, note if phone_spec(sym).voiced else 0.0))
    return items


def _tile(items: list[_Item], duration: float, min_phone_s: float) -> tuple[Phone, ...]:
    """Merge adjacent pauses and cut/stretch the tail so phones tile exactly [0, duration]."""
    merged: list[list] = []
    for sym, dur, pitch in items:
        if merged and sym == SILENCE and merged[-1][0] == SILENCE:
            merged[-1][1] += dur
        else:
            merged.append([sym, dur, pitch])
    phones: list[Phone] = []
    t = 0.0
    for sym, dur, pitch in merged:
        if t + dur >= duration - 1e-9:
            rest = duration - t
            if rest < min_phone_s and phones:
                # Too short to render: the previous phone absorbs the remainder instead.
                last = phones.pop()
                phones.append(Phone(last.symbol, last.start, duration - last.start, last.pitch_hz))
            else:
                phones.append(Phone(sym, t, rest, pitch))
            break
        phones.append(Phone(sym, t, dur, pitch))
        t += dur
    last = phones[-1]
    if last.start + last.duration != duration:  # rounding left a sliver: stretch the last phone
        phones[-1] = Phone(last.symbol, last.start, duration - last.start, last.pitch_hz)
    return tuple(phones)


def random_phones(
    rng: np.random.Generator, duration: float, cfg: SpeechConfig
) -> tuple[Phone, ...]:
    """Random utterance of `duration` s: phrases of CV(C) syllables (or sung notes) and pauses.

    Phones tile [0, duration] exactly (each start is the running sum of earlier durations; the
    last phone ends at `duration`). Voiced phones carry an f0 in Hz, the rest 0.
    """
    if not duration > 0:
        raise ValueError(f"duration must be > 0 s, got {duration}")
    base_f0 = float(rng.uniform(*cfg.pitch_range_hz))
    items: list[_Item] = [(SILENCE, float(rng.uniform(*cfg.lead_silence_s)), 0.0)]
    elapsed = items[0][1]
    while elapsed < duration:
        if rng.random() < cfg.singing_prob:
            phrase = _sung_phrase(rng, cfg, base_f0)
        else:
            phrase = _spoken_phrase(rng, cfg, base_f0)
        phrase.append((SILENCE, float(rng.uniform(*cfg.phrase_pause_s)), 0.0))
        items += phrase
        elapsed += sum(d for _, d, _ in phrase)
    return _tile(items, duration, cfg.min_phone_s)


# ----------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------


def _speaker_scale(
    phones: tuple[Phone, ...], cfg: SpeechConfig, rng: np.random.Generator
) -> float:
    """Formant scale tied to the voice's pitch (higher voices have shorter vocal tracts)."""
    pitches = [p.pitch_hz for p in phones if p.pitch_hz > 0]
    lo, hi = cfg.pitch_range_hz
    pos = float(np.clip((np.median(pitches) - lo) / max(hi - lo, 1e-6), 0, 1)) if pitches else 0.5
    pos = float(np.clip(pos + rng.normal(0.0, 0.15), 0.0, 1.0))
    return cfg.formant_scale[0] + pos * (cfg.formant_scale[1] - cfg.formant_scale[0])


def render_speech(
    phones: tuple[Phone, ...], cfg: SpeechConfig, rng: np.random.Generator
) -> SpeechTrack:
    """Synthesize `phones` (tiling [0, T]) into a float32 waveform `[round(T * sr)]` in [-1, 1]."""
    if not phones:
        raise ValueError("render_speech needs at least one phone")
    sr = cfg.sample_rate
    n = round((phones[-1].start + phones[-1].duration) * sr)
    specs = [phone_spec(p.symbol) for p in phones]
    bounds = np.array([min(n, round(p.start * sr)) for p in phones] + [n])
    # 1. Voiced branch: glottal source, gated per phone, through the formant cascade.
    f0 = f0_track(phones, n, sr, cfg, rng)
    source = glottal_source(f0, sr, cfg.breathiness, rng)
    is_voiced = np.array([float(s.voice_level > 0) for s in specs])
    voicing = step_track(is_voiced, bounds, round(cfg.ramp_s * sr))
    scale = _speaker_scale(phones, cfg, rng)
    voiced = formant_filter(source * voicing, phones, specs, sr, cfg, scale)
    voiced *= level_gains(voiced, bounds, specs, round(cfg.transition_s * sr))
    # 2. Noise branch, then mix and normalise the peak (a silent track stays silent).
    speech = voiced + render_noise(phones, specs, n, sr, cfg, rng)
    peak = float(np.max(np.abs(speech))) if n else 0.0
    if peak > 1e-6:
        speech *= cfg.amplitude / peak
    speech += cfg.noise_floor * rng.standard_normal(n)
    samples = np.clip(speech, -1.0, 1.0).astype(np.float32)
    return SpeechTrack(phones=tuple(phones), samples=samples, sample_rate=sr)


def make_speech(rng: np.random.Generator, duration: float, cfg: SpeechConfig) -> SpeechTrack:
    """Random utterance of `duration` s rendered to audio: `render_speech(random_phones(...))`."""
    return render_speech(random_phones(rng, duration, cfg), cfg, rng)
