"""Mouth track: shape/range, determinism, phonetic targets, and audio/mouth correlation."""

from __future__ import annotations

import numpy as np
import pytest

from xdub.config.synth_speech import SPEECH_PRESETS
from xdub.synth.mouth import mouth_from_speech, mouth_track, speech_envelope
from xdub.synth.phonemes import BILABIALS
from xdub.synth.speech import make_speech
from xdub.synth.tracks import MOUTH_PARAMS, MouthTrack, Phone, SpeechTrack

FPS = 25.0


@pytest.fixture(scope="module")
def tracks() -> list[SpeechTrack]:
    return [make_speech(np.random.default_rng(seed), 10.0, SPEECH_PRESETS["speech"])
            for seed in range(4)]


def _frame_at(t: float, fps: float = FPS) -> int:
    return int(t * fps)  # frame k shows [k/fps, (k+1)/fps)


def test_shape_range_and_frame_count(tracks: list[SpeechTrack]) -> None:
    mouth = mouth_from_speech(tracks[0], FPS)
    assert isinstance(mouth, MouthTrack) and mouth.fps == FPS
    assert mouth.params.shape == (250, len(MOUTH_PARAMS)) and mouth.params.dtype == np.float32
    assert mouth.params.min() >= 0.0 and mouth.params.max() <= 1.0
    # More frames than audio: the tail relaxes to the silent pose instead of NaN.
    longer = mouth_track(tracks[0].phones, FPS, 300)
    assert np.isfinite(longer.params).all() and longer.column("opening")[-1] < 0.1


def test_deterministic(tracks: list[SpeechTrack]) -> None:
    a = mouth_from_speech(tracks[1], 30.0)
    b = mouth_from_speech(tracks[1], 30.0)
    assert np.array_equal(a.params, b.params)
    assert not np.array_equal(a.params, mouth_from_speech(tracks[2], 30.0).params)


def test_bilabials_close_the_mouth(tracks: list[SpeechTrack]) -> None:
    count = 0
    for track in tracks:
        opening = mouth_track(track.phones, FPS, 250).column("opening")
        for p in track.phones:
            if p.symbol in BILABIALS and p.start + p.duration < 10.0:
                assert opening[_frame_at(p.start + p.duration / 2)] < 0.12, p
                count += 1
    assert count >= 5


def test_phonetic_targets_reach_the_frames() -> None:
    # Long isolated phones between pauses: the frame at each centre shows its target.
    symbols = ["_", "a", "_", "u", "_", "i", "_", "f", "_", "th", "_"]
    phones, t = [], 0.0
    for sym in symbols:
        phones.append(Phone(sym, t, 0.3, 120.0 if sym in "aui" else 0.0))
        t += 0.3
    mouth = mouth_track(tuple(phones), FPS, round(t * FPS))
    at = {p.symbol: mouth.params[_frame_at(p.start + 0.15)] for p in phones}
    col = {name: i for i, name in enumerate(MOUTH_PARAMS)}
    assert at["a"][col["opening"]] > 0.8 and at["_"][col["opening"]] < 0.1
    assert at["u"][col["rounding"]] > 0.9 and at["u"][col["width"]] < 0.25
    assert at["i"][col["width"]] > 0.8 and at["i"][col["teeth"]] > 0.7
    assert at["f"][col["teeth"]] > 0.8 and at["th"][col["tongue"]] > 0.8


def test_smoothing_controls_coarticulation() -> None:
    phones = (Phone("a", 0.0, 0.2, 120.0), Phone("u", 0.2, 0.2, 120.0))
    hard = mouth_track(phones, 100.0, 40, smoothing=0.01).column("rounding")
    soft = mouth_track(phones, 100.0, 40, smoothing=2.0).column("rounding")
    assert np.ptp(np.diff(hard)) > np.ptp(np.diff(soft))  # sharper step when not smoothed
    assert soft[15] > hard[15]  # anticipation: rounding starts before /u/ begins


def test_speech_envelope_rms_per_frame() -> None:
    sr, fps = 16000, 25.0
    samples = np.zeros(sr, dtype=np.float32)
    samples[640:1280] = 0.5  # exactly frame 1
    env = speech_envelope(samples, sr, fps, 27)
    assert env.shape == (27,)
    assert env[1] == pytest.approx(0.5) and env[0] == 0.0 and env[2] == 0.0
    assert env[25:].tolist() == [0.0, 0.0]  # past the audio end


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_mouth_opening_correlates_with_speech_energy(tracks: list[SpeechTrack],
                                                     seed: int) -> None:
    track = tracks[seed]
    env = speech_envelope(track.samples, track.sample_rate, FPS, 250)
    with_env = mouth_from_speech(track, FPS).column("opening")
    phones_only = mouth_track(track.phones, FPS, 250).column("opening")
    assert np.corrcoef(with_env, env)[0, 1] >= 0.6
    assert np.corrcoef(phones_only, env)[0, 1] >= 0.6  # holds without the envelope term too


def test_singing_mouth_correlates_with_energy() -> None:
    track = make_speech(np.random.default_rng(7), 10.0, SPEECH_PRESETS["singing"])
    env = speech_envelope(track.samples, track.sample_rate, FPS, 250)
    assert np.corrcoef(mouth_from_speech(track, FPS).column("opening"), env)[0, 1] >= 0.6
