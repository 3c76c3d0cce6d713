"""xdub.media video: probe, streaming decode (rotation, VFR grid, codecs), encode round trips."""

from __future__ import annotations

import gc
import tracemalloc
import weakref
from fractions import Fraction

import av
import numpy as np
import pytest
from media_helpers import (
    encode_clip,
    frame_index,
    gradient_frames,
    level_frames,
    psnr,
    sine,
)

from xdub.media import VideoWriter, iter_frames, probe, read_audio, read_video, write_video
from xdub.types import Audio

# ---------------------------------------------------------------- round trips


def test_round_trip_frames_and_audio(tmp_path):
    frames = gradient_frames(40, 96, 64)
    audio = Audio(sine(440, 40 / 25, 16_000))
    out = write_video(tmp_path / "rt.mp4", frames, fps=25, audio=audio)
    video = read_video(out)
    assert video.frames.shape == frames.shape
    assert psnr(video.frames, frames) > 30
    assert video.fps == pytest.approx(25)
    assert video.audio is not None and video.audio.sample_rate == 16_000
    assert abs(video.audio.duration - audio.duration) < 0.03
    n = min(len(audio.samples), len(video.audio.samples))
    assert np.corrcoef(audio.samples[:n], video.audio.samples[:n])[0, 1] > 0.98


@pytest.mark.parametrize("fps", [25, 29.97, 30000 / 1001, 30, 24])
def test_fps_and_duration_preserved(tmp_path, fps):
    frames = gradient_frames(30, 32, 32)
    out = write_video(tmp_path / "f.mp4", frames, fps=fps, preset="ultrafast")
    info = probe(out)
    assert info.fps == pytest.approx(fps, rel=1e-4)
    assert info.num_frames == 30
    assert info.duration == pytest.approx(30 / fps, abs=1 / fps)
    assert not info.variable_frame_rate
    assert sum(1 for _ in iter_frames(out)) == 30


@pytest.mark.parametrize("size", [(96, 48), (48, 80), (65, 33), (513, 301)])
def test_non_square_and_odd_sizes_keep_their_exact_size(tmp_path, size):
    width, height = size
    frames = gradient_frames(6, width, height)
    with VideoWriter(tmp_path / "s.mp4", 25, size, preset="ultrafast") as writer:
        for frame in frames:
            writer.write(frame)
    odd = width % 2 or height % 2
    assert writer.pix_fmt == ("yuv444p" if odd else "yuv420p")
    info = probe(tmp_path / "s.mp4")
    assert (info.width, info.height) == size
    back = read_video(tmp_path / "s.mp4").frames
    assert back.shape == (6, height, width, 3)
    assert psnr(back, frames) > 30


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("a.mov", "libx264"),
        ("a.mkv", "libx264"),
        ("a.webm", "libvpx-vp9"),
        ("a.avi", "mpeg4"),
        ("hevc.mp4", "libx265"),
    ],
)
def test_decodes_common_containers(tmp_path, name, codec):
    frames = gradient_frames(12)
    encode_clip(tmp_path / name, frames, fps=25, codec=codec)
    info = probe(tmp_path / name)
    decoded = np.stack(list(iter_frames(tmp_path / name)))
    assert (info.width, info.height) == (64, 48)
    assert decoded.shape == frames.shape and decoded.dtype == np.uint8
    assert psnr(decoded, frames) > 25  # mpeg4 at its default bitrate is the weakest


def test_still_image_is_one_frame_video(tmp_path):
    frame = gradient_frames(1, 40, 30)[0]
    for name in ("still.png", "still.jpg"):
        av.VideoFrame.from_ndarray(frame, format="rgb24").save(str(tmp_path / name))
        video = read_video(tmp_path / name, fps=25)
        assert video.frames.shape == (1, 30, 40, 3)
        assert psnr(video.frames[0], frame) > 30
        assert probe(tmp_path / name).num_frames == 1


# ---------------------------------------------------------------- rotation


def test_display_matrix_rotation_is_applied(tmp_path):
    frames = gradient_frames(5)
    encode_clip(tmp_path / "r.mp4", frames, rotation=90)  # 90 degrees counter-clockwise
    info = probe(tmp_path / "r.mp4")
    assert (info.width, info.height, info.rotation) == (48, 64, 270)
    decoded = np.stack(list(iter_frames(tmp_path / "r.mp4")))
    assert decoded.shape == (5, 64, 48, 3)
    assert psnr(decoded, np.rot90(frames, 1, axes=(1, 2))) > 30


def test_legacy_rotate_tag_is_applied(tmp_path):
    frames = gradient_frames(5)
    encode_clip(tmp_path / "r.mkv", frames, metadata={"rotate": "90"})  # clockwise tag
    info = probe(tmp_path / "r.mkv")
    assert (info.width, info.height, info.rotation) == (48, 64, 90)
    decoded = np.stack(list(iter_frames(tmp_path / "r.mkv")))
    assert psnr(decoded, np.rot90(frames, -1, axes=(1, 2))) > 30


def test_exif_orientation_of_a_photo_is_applied(tmp_path):
    image = pytest.importorskip("PIL.Image")
    pixels = np.zeros((30, 40, 3), np.uint8)
    pixels[:5, :5] = 255  # a white mark in the top-left corner
    photo = image.fromarray(pixels)
    exif = photo.getexif()
    exif[0x0112] = 6  # EXIF orientation 6: display rotated 90 degrees clockwise
    photo.save(tmp_path / "phone.jpg", exif=exif.tobytes())
    frame = read_video(tmp_path / "phone.jpg").frames[0]
    assert frame.shape == (40, 30, 3)
    assert frame[:5, -5:].mean() > 200 and frame[:5, :5].mean() < 50  # mark now top-right


# ---------------------------------------------------------------- timing rules

VFR_PTS_MS = [0, 40, 50, 120, 200, 210, 300, 340, 400, 480]


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_vfr_is_sampled_and_held_on_a_constant_grid(tmp_path, ext):
    path = encode_clip(
        tmp_path / f"vfr.{ext}", level_frames(10), pts=VFR_PTS_MS, time_base=Fraction(1, 1000)
    )
    assert probe(path).variable_frame_rate
    # t_k = k * 40 ms takes the latest frame with pts <= t_k; the last frame lasts 40 ms.
    expected = [0, 1, 2, 3, 3, 4, 5, 5, 6, 7, 8, 8, 9]
    assert [frame_index(f) for f in iter_frames(path, fps=25)] == expected
    assert [frame_index(f) for f in iter_frames(path, fps=10, start=0.1, end=0.45)] == [2, 4, 6, 8]
    # fps=None on a VFR stream: the same rule on the average-rate grid (9 steps in 480 ms).
    held = [frame_index(f) for f in iter_frames(path)]
    assert held == [0, 2, 2, 3, 5, 5, 6, 7, 8, 9]


def test_long_cfr_with_b_frames_and_ms_ticks_is_not_vfr(tmp_path):
    # > SCAN_PACKETS packets, B-frame reordering, and 33/34 ms steps must all read as CFR
    path = encode_clip(tmp_path / "long.mkv", level_frames(1100, 16, 16), fps=30000 / 1001)
    info = probe(path)
    assert not info.variable_frame_rate
    assert info.fps == pytest.approx(30000 / 1001, rel=1e-6)
    assert info.num_frames == 1100


def test_cfr_passthrough_trim_and_resample(tmp_path):
    path = encode_clip(tmp_path / "cfr.mp4", level_frames(25), fps=25)
    assert [frame_index(f) for f in iter_frames(path)] == list(range(25))
    assert [frame_index(f) for f in iter_frames(path, start=0.4, end=0.6)] == [10, 11, 12, 13, 14]
    assert [frame_index(f) for f in iter_frames(path, fps=12.5)] == list(range(0, 25, 2))
    assert [frame_index(f) for f in iter_frames(path, fps=25, start=0.52)] == list(range(13, 25))


def test_read_video_slices_audio_with_frames(clip_25):
    path, frames = clip_25
    video = read_video(path, start=0.4, end=1.2)
    assert video.num_frames == 20
    assert psnr(video.frames, frames[10:30]) > 30
    assert video.audio is not None
    assert len(video.audio.samples) == pytest.approx(0.8 * 16_000, abs=2)


# ---------------------------------------------------------------- streaming + atomic writes


def test_iter_frames_streams_without_holding_frames(tmp_path):
    path = write_video(tmp_path / "long.mp4", level_frames(600, 64, 64), fps=25, preset="ultrafast")
    refs: list[weakref.ref] = []
    tracemalloc.start()
    count = 0
    for frame in iter_frames(path):
        refs.append(weakref.ref(frame))
        count += 1
        del frame
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    gc.collect()
    total_bytes = 600 * 64 * 64 * 3
    assert count == 600
    assert sum(ref() is not None for ref in refs) <= 1  # generator keeps at most the held one
    assert peak < total_bytes / 10, f"peak {peak} bytes: frames are being accumulated"


def test_writer_exception_leaves_nothing_and_keeps_existing_file(tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    with pytest.raises(RuntimeError, match="boom"), VideoWriter(out, 25, (32, 32)) as writer:
        writer.write(gradient_frames(1, 32, 32)[0])
        raise RuntimeError("boom")
    assert out.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]
    fresh = tmp_path / "fresh.mkv"
    with pytest.raises(ValueError):
        write_video(fresh, [gradient_frames(1, 32, 32)[0], np.zeros((8, 8, 3), np.uint8)], 25)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_writer_muxes_long_audio_and_video_from_track(tmp_path):
    audio = Audio(sine(300, 1.0, 22_050), sample_rate=22_050)
    out = write_video(tmp_path / "a.mov", gradient_frames(10, 32, 32), fps=10, audio=audio)
    track = read_audio(out)
    assert track.sample_rate == 16_000
    assert track.duration == pytest.approx(1.0, abs=0.03)
    assert probe(out).has_audio


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_a_file_cut_mid_stream_keeps_its_declared_rate(tmp_path, ext):
    # #15: a 25 fps file cut off mid-stream (B-frames leave one gap at the cut) came out at
    # 24.57 fps because the gap was read as a variable frame rate.
    whole = write_video(tmp_path / f"whole.{ext}", gradient_frames(125, 64, 48), fps=25)
    data = whole.read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    info = probe(cut)
    assert info.fps == 25
    assert not info.variable_frame_rate
