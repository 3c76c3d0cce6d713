"""Procedural speech: phone layout, synthesizer acoustics, determinism and config presets."""

from __future__ import annotations

import time

import numpy as np
import pytest

from xdub import config
from xdub.config.synth_speech import SPEECH_PRESETS, SpeechConfig
from xdub.synth.phonemes import FRICATIVES, VOWELS, is_sung, phone_spec
from xdub.synth.speech import make_speech, random_phones, render_speech
from xdub.synth.tracks import Phone, SpeechTrack

SR = 16000
SPEECH = SPEECH_PRESETS["speech"]
SINGING = SPEECH_PRESETS["singing"]


@pytest.fixture(scope="module")
def spoken() -> list[SpeechTrack]:
    return [make_speech(np.random.default_rng(seed), 10.0, SPEECH) for seed in range(3)]


@pytest.fixture(scope="module")
def sung_tracks() -> list[SpeechTrack]:
    return [make_speech(np.random.default_rng(seed), 10.0, SINGING) for seed in range(3)]


def _segment(track: SpeechTrack, phone: Phone, margin: float) -> np.ndarray:
    s = round((phone.start + margin) * track.sample_rate)
    e = round((phone.start + phone.duration - margin) * track.sample_rate)
    return track.samples[s:max(s, e)].astype(np.float64)


@pytest.mark.parametrize("cfg", [SPEECH, SINGING], ids=["speech", "singing"])
@pytest.mark.parametrize("duration", [0.05, 1.0, 7.3])
def test_phones_tile_duration_exactly(cfg: SpeechConfig, duration: float) -> None:
    phones = random_phones(np.random.default_rng(11), duration, cfg)
    assert phones[0].start == 0.0
    for prev, nxt in zip(phones, phones[1:]):
        assert nxt.start == prev.start + prev.duration  # running sum: exact, not approximate
    assert abs(phones[-1].start + phones[-1].duration - duration) < 1e-12
    assert all(p.duration > 0 for p in phones)
    for p in phones:
        spec = phone_spec(p.symbol)  # every symbol is in the inventory
        assert (p.pitch_hz > 0) == spec.voiced, p


def test_random_phones_rejects_non_positive_duration() -> None:
    with pytest.raises(ValueError, match="duration"):
        random_phones(np.random.default_rng(0), 0.0, SPEECH)


def test_speech_has_syllables_and_pauses(spoken: list[SpeechTrack]) -> None:
    for track in spoken:
        symbols = [p.symbol for p in track.phones]
        assert sum(s in VOWELS for s in symbols) >= 20  # ~4 syllables/s
        assert symbols.count("_") >= 2  # lead silence + phrase pauses
        assert not any(is_sung(s) for s in symbols)


def test_same_seed_is_bit_identical_and_seeds_differ() -> None:
    a = make_speech(np.random.default_rng(5), 3.0, SPEECH)
    b = make_speech(np.random.default_rng(5), 3.0, SPEECH)
    c = make_speech(np.random.default_rng(6), 3.0, SPEECH)
    assert a.phones == b.phones and np.array_equal(a.samples, b.samples)
    assert a.phones != c.phones and not np.array_equal(a.samples, c.samples)


@pytest.mark.parametrize("sample_rate", [16000, 22050])
def test_length_rate_dtype_and_peak(sample_rate: int) -> None:
    cfg = config.replace(SPEECH, sample_rate=sample_rate, amplitude=0.5)
    track = make_speech(np.random.default_rng(2), 2.5, cfg)
    assert track.sample_rate == sample_rate
    assert track.samples.shape == (round(2.5 * sample_rate),)
    assert track.samples.dtype == np.float32
    assert abs(float(np.abs(track.samples).max()) - 0.5) < 0.01  # peak-normalised (+ floor)
    assert np.isfinite(track.samples).all()


def test_all_silence_stays_silent() -> None:
    track = render_speech((Phone("_", 0.0, 1.0, 0.0),), SPEECH, np.random.default_rng(0))
    assert float(np.abs(track.samples).max()) < 0.01  # only the noise floor, not amplified


def test_silence_segments_are_near_silent(spoken: list[SpeechTrack]) -> None:
    for track in spoken:
        overall = float(np.sqrt(np.mean(track.samples.astype(np.float64) ** 2)))
        pauses = [p for p in track.phones if p.symbol == "_" and p.duration > 0.1]
        assert pauses
        for p in pauses:
            # 40 ms margins leave room for the release ramp and resonator ring-down.
            seg = _segment(track, p, 0.04)
            assert np.sqrt(np.mean(seg**2)) < 0.02 * overall, p


def _centroid(seg: np.ndarray, sr: int) -> float:
    power = np.abs(np.fft.rfft(seg * np.hanning(len(seg)))) ** 2
    return float((power * np.fft.rfftfreq(len(seg), 1 / sr)).sum() / power.sum())


def test_fricatives_are_brighter_than_vowels(spoken: list[SpeechTrack]) -> None:
    vowel_c, fric_c = [], []
    for track in spoken:
        for p in track.phones:
            seg = _segment(track, p, 0.02)
            if len(seg) < 256:
                continue
            if p.symbol in VOWELS:
                vowel_c.append(_centroid(seg, track.sample_rate))
            elif p.symbol in ("s", "sh", "f", "th"):
                fric_c.append(_centroid(seg, track.sample_rate))
    assert len(vowel_c) > 20 and len(fric_c) > 5
    assert min(fric_c) > max(vowel_c) + 1000.0, (min(fric_c), max(vowel_c))
    assert set(("s", "sh", "f", "th", "h")) <= set(FRICATIVES)


def _estimate_f0(seg: np.ndarray, sr: int, lo: float = 60.0, hi: float = 700.0) -> float:
    """Autocorrelation pitch of a short voiced window."""
    seg = seg - seg.mean()
    ac = np.fft.irfft(np.abs(np.fft.rfft(seg, 2 * len(seg))) ** 2)[: len(seg)]
    lag_lo, lag_hi = int(sr / hi), int(sr / lo)
    return sr / (lag_lo + int(np.argmax(ac[lag_lo:lag_hi])))


def test_singing_holds_long_stable_notes(sung_tracks: list[SpeechTrack]) -> None:
    for track in sung_tracks:
        notes = [p for p in track.phones if is_sung(p.symbol)]
        assert sum(p.duration for p in notes) > 4.0  # most of the 10 s is sung
        inner = [p for p in notes if p is not track.phones[-1]]  # the last may be cut short
        assert all(0.4 <= p.duration <= 1.5 for p in inner)
        for p in inner:
            starts = np.arange(p.start + 0.1, p.start + p.duration - 0.15, 0.1)
            f0s = [_estimate_f0(_segment(track, Phone("", t, 0.05, 0), 0.0), SR) for t in starts]
            f0s = np.asarray(f0s)
            # Held on the note within vibrato depth (25 cents ~ 1.5 %) plus estimator error.
            assert np.all(np.abs(f0s / p.pitch_hz - 1.0) < 0.04), (p, f0s)


def test_phone_inventory_is_complete() -> None:
    for sym in ("a", "e", "i", "o", "u", "s", "sh", "f", "th", "h", "p", "b", "t", "d", "k",
                "g", "m", "n", "v", "z", "l", "r", "w", "y", "_"):
        phone_spec(sym)
    assert phone_spec("~a") == phone_spec("a")
    with pytest.raises(KeyError, match="unknown phone"):
        phone_spec("qq")


def test_config_yaml_round_trip(tmp_path) -> None:  # noqa: ANN001
    config.save(SINGING, tmp_path / "singing.yaml")
    assert config.load(SpeechConfig, tmp_path / "singing.yaml") == SINGING


def test_synthesis_is_much_faster_than_real_time() -> None:
    # Sanity only (shared CI machines are noisy): 10 s of audio must not take seconds.
    t0 = time.process_time()
    make_speech(np.random.default_rng(0), 10.0, SPEECH)
    assert time.process_time() - t0 < 5.0
