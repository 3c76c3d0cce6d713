"""Config of the procedural speech synthesizer (`xdub.synth.speech`). Imports: stdlib only.

One frozen dataclass, `SpeechConfig`, and named presets in `SPEECH_PRESETS`. Durations are in
seconds, pitches in Hz; every `(lo, hi)` pair is a uniform range drawn per utterance/phrase.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SpeechConfig:
    """How random utterances are laid out (phones, pauses, pitch) and rendered (levels, noise)."""

    sample_rate: int = 16000  # every audio model in xdub consumes 16 kHz mono
    # --- timing -------------------------------------------------------------------------------
    speaking_rate: float = 1.0  # divides typical phone durations; 0.7 slow .. 1.5 fast
    duration_jitter: float = 0.25  # lognormal sigma of per-phone duration; 0 = robotic
    min_phone_s: float = 0.035  # floor on any phone so plosive bursts/closures fit
    syllables_per_word: tuple[int, int] = (1, 3)  # inclusive range
    words_per_phrase: tuple[int, int] = (2, 6)  # inclusive range; a phrase ends with a pause
    onset_prob: float = 0.85  # chance a syllable starts with a consonant (CV vs V)
    coda_prob: float = 0.3  # chance a syllable ends with a consonant (CVC)
    pause_prob: float = 0.15  # chance of a short pause at a word boundary inside a phrase
    word_pause_s: tuple[float, float] = (0.08, 0.25)  # short in-phrase pause
    phrase_pause_s: tuple[float, float] = (0.25, 0.8)  # breath between phrases
    lead_silence_s: tuple[float, float] = (0.05, 0.3)  # silence before the first phrase
    # --- pitch --------------------------------------------------------------------------------
    pitch_range_hz: tuple[float, float] = (85.0, 250.0)  # speaker's base f0 (male .. female)
    declination: float = 0.25  # relative f0 fall over a spoken phrase; 0.1 .. 0.4
    pitch_jitter: float = 0.05  # relative per-syllable f0 jitter (lognormal sigma)
    accent_prob: float = 0.2  # chance a syllable carries a pitch accent (+15 %)
    # --- singing ------------------------------------------------------------------------------
    singing_prob: float = 0.0  # chance a phrase is sung (sustained vowels on scale notes)
    note_s: tuple[float, float] = (0.4, 1.5)  # sung vowel length
    notes_per_phrase: tuple[int, int] = (3, 7)  # inclusive range
    vibrato_hz: float = 5.5  # classical vibrato rate 5-7 Hz
    vibrato_cents: float = 25.0  # vibrato depth (+-); 0 = flat note
    # --- rendering ----------------------------------------------------------------------------
    formant_scale: tuple[float, float] = (0.92, 1.18)  # vocal-tract length: low voice .. high voice
    transition_s: float = 0.035  # formant glide across a phone boundary (co-articulation)
    ramp_s: float = 0.012  # attack/release of voicing and noise, avoids clicks
    breathiness: float = 0.04  # aspiration noise mixed into the glottal source, 0 .. 0.2
    jitter: float = 0.01  # slow random f0 wobble (relative), keeps the voice from sounding buzzy
    amplitude: float = 0.8  # output peak after normalisation, (0, 1]
    noise_floor: float = 2e-4  # RMS of an always-on floor so silence is not digital zero


SPEECH_PRESETS: dict[str, SpeechConfig] = {
    "speech": SpeechConfig(),
    "singing": SpeechConfig(
        singing_prob=0.85,
        pause_prob=0.05,
        pitch_jitter=0.02,
        declination=0.1,
        coda_prob=0.15,
    ),
}
