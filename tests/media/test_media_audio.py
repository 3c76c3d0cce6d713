"""xdub.media audio: read/resample/downmix from files and video tracks, WAV and codec writes."""

from __future__ import annotations

import numpy as np
import pytest
from media_helpers import sine, write_pcm_wav

from xdub.errors import MediaError
from xdub.media import FileAudio, iter_audio, read_audio, write_audio, write_wav
from xdub.types import Audio


def _peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


@pytest.mark.parametrize("rate", [8_000, 22_050, 44_100, 48_000])
@pytest.mark.parametrize("channels", [1, 2])
def test_wav_resampled_to_16k_mono(tmp_path, rate, channels):
    tone = sine(440, 1.5, rate)
    data = tone if channels == 1 else np.stack([tone, tone], axis=1)
    path = write_pcm_wav(tmp_path / "in.wav", data, rate)
    audio = read_audio(path)
    assert audio.sample_rate == 16_000 and audio.samples.dtype == np.float32
    assert audio.samples.ndim == 1
    assert abs(len(audio.samples) - 24_000) <= 2  # 1.5 s, give or take resampler rounding
    assert _peak_hz(audio.samples, 16_000) == pytest.approx(440, abs=2)
    # (L + R) / 2 keeps a centred tone at its level (no +3 dB downmix gain)
    assert _rms(audio.samples[1000:-1000]) == pytest.approx(_rms(tone), rel=0.03)


def test_stereo_downmix_averages_channels(tmp_path):
    left, right = sine(300, 1.0, 16_000, amp=0.4), sine(700, 1.0, 16_000, amp=0.2)
    path = write_pcm_wav(tmp_path / "lr.wav", np.stack([left, right], axis=1), 16_000)
    audio = read_audio(path)
    np.testing.assert_allclose(audio.samples, (left + right) / 2, atol=2e-4)


def test_other_rates_and_ranges(tmp_path):
    tone = sine(1000, 2.0, 16_000)
    path = write_pcm_wav(tmp_path / "t.wav", tone, 16_000)
    full = read_audio(path)
    part = read_audio(path, start=0.5, end=1.25)
    assert len(part.samples) == 12_000
    np.testing.assert_allclose(part.samples, full.samples[8_000:20_000], atol=1e-6)
    assert len(read_audio(path, sample_rate=8_000).samples) == 16_000


def test_write_wav_round_trip_and_atomic(tmp_path):
    audio = Audio(sine(220, 0.5, 16_000))
    out = write_wav(tmp_path / "o.wav", audio)
    back = read_audio(out)
    np.testing.assert_allclose(back.samples, audio.samples, atol=1 / 16_000)
    assert [p.name for p in tmp_path.iterdir()] == ["o.wav"]  # no temp file left over


@pytest.mark.parametrize("ext", [".flac", ".mp3", ".m4a", ".ogg"])
def test_write_audio_codecs(tmp_path, ext):
    audio = Audio(sine(440, 1.0, 16_000))
    back = read_audio(write_audio(tmp_path / f"o{ext}", audio))
    assert back.duration == pytest.approx(1.0, abs=0.06)  # lossy codecs pad a few ms
    assert _peak_hz(back.samples, 16_000) == pytest.approx(440, abs=2)


def test_audio_from_video_track(clip_25):
    path, _ = clip_25
    audio = read_audio(path)
    assert audio.duration == pytest.approx(2.0, abs=0.03)
    assert _peak_hz(audio.samples, 16_000) == pytest.approx(440, abs=2)
    tail = read_audio(path, start=1.5)
    assert tail.duration == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize("start, end", [(0.0, None), (0.3, 1.7)])
def test_file_audio_reads_the_samples_of_read_audio(clip_25, start, end):
    """`FileAudio` (#13) decodes on demand: in order, a reader slightly behind, backwards."""
    path, _ = clip_25
    whole = read_audio(path, 48_000, start, end).samples
    track = FileAudio(path, 48_000, start, end)
    assert track.num_samples == len(whole) and track.duration == pytest.approx(
        len(whole) / 48_000)
    ahead = [track.read(i, i + 4096) for i in range(0, len(whole), 4096)]
    np.testing.assert_array_equal(np.concatenate(ahead), whole)
    np.testing.assert_array_equal(track.read(len(whole) - 3000, len(whole) + 10), whole[-3000:])
    np.testing.assert_array_equal(track.read(10, 9000), whole[10:9000])  # back: a new decode
    assert np.array_equal(np.concatenate(list(iter_audio(path, 48_000, start, end))), whole)
    assert len(track._kept) < 200  # only recent pieces are held, not the track


def test_file_audio_rejects_bad_media_at_once(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(MediaError):
        FileAudio(bad)
