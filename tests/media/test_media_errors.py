"""xdub.media failures: every user-caused problem is a one-line MediaError / OutputError."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import av
import numpy as np
import pytest
from media_helpers import encode_clip, gradient_frames, sine, write_pcm_wav

from xdub.errors import MediaError, OutputError
from xdub.media import (
    VideoWriter,
    check_output_path,
    iter_frames,
    probe,
    read_audio,
    read_video,
    write_video,
    write_wav,
)
from xdub.types import Audio

READERS = {
    "probe": probe,
    "iter_frames": lambda p: list(iter_frames(p)),
    "read_video": read_video,
    "read_audio": read_audio,
}


def _expect_media_error(reader: str, path: Path, match: str) -> None:
    with pytest.raises(MediaError) as info:
        READERS[reader](path)
    message = str(info.value)
    assert "\n" not in message and path.name in message
    assert match in message, message


@pytest.mark.parametrize("reader", list(READERS))
def test_missing_directory_empty_and_non_media(tmp_path, reader):
    _expect_media_error(reader, tmp_path / "nope.mp4", "file not found")
    (tmp_path / "dir.mp4").mkdir()
    _expect_media_error(reader, tmp_path / "dir.mp4", "is a directory")
    (tmp_path / "empty.mp4").touch()
    _expect_media_error(reader, tmp_path / "empty.mp4", "empty")
    (tmp_path / "notes.mp4").write_text("these are meeting notes, not a video\n" * 20)
    _expect_media_error(reader, tmp_path / "notes.mp4", "not a recognised media file")


def test_missing_streams(tmp_path):
    wav = write_pcm_wav(tmp_path / "voice.wav", sine(440, 0.5, 16_000), 16_000)
    for reader in ("probe", "iter_frames", "read_video"):
        _expect_media_error(reader, wav, "no video stream")
    silent = encode_clip(tmp_path / "silent.mp4", gradient_frames(3))
    _expect_media_error("read_audio", silent, "no audio stream")
    assert read_video(silent).audio is None  # optional audio: absent, not an error


def test_zero_length_media(tmp_path):
    for ext in ("mp4", "mkv"):  # a header with a video stream but no frames
        with av.open(str(tmp_path / f"zero.{ext}"), mode="w") as container:
            stream = container.add_stream("libx264", rate=25)
            stream.width = stream.height = 32
            container.start_encoding()
        for reader in ("probe", "iter_frames", "read_video"):
            with pytest.raises(MediaError, match="zero-length"):
                READERS[reader](tmp_path / f"zero.{ext}")
    write_pcm_wav(tmp_path / "zero.wav", np.zeros(0, np.float32), 16_000)
    _expect_media_error("read_audio", tmp_path / "zero.wav", "zero-length")
    clip = encode_clip(tmp_path / "short.mkv", gradient_frames(5))
    with pytest.raises(MediaError, match="no frames of"):
        list(iter_frames(clip, start=3.0))


def test_truncated_and_corrupt_streams(tmp_path, caplog):
    frames = gradient_frames(60)
    mp4 = encode_clip(tmp_path / "full.mp4", frames, audio=sine(440, 2.4, 48_000))
    mkv = encode_clip(tmp_path / "full.mkv", frames, audio=sine(440, 2.4, 48_000))
    # mp4 with its index (moov) cut off: unreadable, a clear error
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(mp4.read_bytes()[: mp4.stat().st_size // 2])
    for reader in READERS:
        _expect_media_error(reader, cut, "not a recognised media file")
    # mkv cut in half: the frames before the cut are returned
    half = tmp_path / "half.mkv"
    half.write_bytes(mkv.read_bytes()[: mkv.stat().st_size // 2])
    assert 0 < len(list(iter_frames(half))) < 60
    # garbage in the middle of the mp4 payload: frames so far, then a warning (damage rule)
    damaged = bytearray(mp4.read_bytes())
    mid = len(damaged) // 3
    damaged[mid : mid + 3000] = np.random.default_rng(0).integers(0, 256, 3000, np.uint8).tobytes()
    (tmp_path / "garbage.mp4").write_bytes(bytes(damaged))
    with caplog.at_level(logging.WARNING, logger="xdub.media"):
        got = list(iter_frames(tmp_path / "garbage.mp4"))
        read_audio(tmp_path / "garbage.mp4")
    assert 0 < len(got) < 60
    assert any("garbage.mp4" in r.getMessage() for r in caplog.records)
    # every payload byte after the first packet header zeroed: nothing decodes at all
    zeroed = bytearray(mkv.read_bytes())
    with av.open(str(mkv)) as container:
        first = next(container.demux(container.streams.video[0]))
    zeroed[first.pos + 16 :] = bytes(len(zeroed) - first.pos - 16)
    (tmp_path / "zeroed.mkv").write_bytes(bytes(zeroed))
    for reader in ("probe", "iter_frames"):
        with pytest.raises(MediaError, match="zeroed.mkv"):
            READERS[reader](tmp_path / "zeroed.mkv")


# ---------------------------------------------------------------- output paths


def test_check_output_path_cases(tmp_path):
    src = encode_clip(tmp_path / "in.mp4", gradient_frames(2))
    assert check_output_path(tmp_path / "out.mov", [src]) == tmp_path / "out.mov"
    cases = {
        tmp_path / "missing" / "out.mp4": "does not exist",
        src / "out.mp4": "not a directory",  # a "folder" that is a file
        tmp_path / "out.avi": "unsupported output extension",
        src: "would overwrite the input",
    }
    (tmp_path / "folder.mp4").mkdir()
    cases[tmp_path / "folder.mp4"] = "is a directory"
    os.symlink(src, tmp_path / "link.mp4")
    cases[tmp_path / "link.mp4"] = "would overwrite the input"
    os.link(src, tmp_path / "hard.mp4")
    cases[tmp_path / "hard.mp4"] = "would overwrite the input"
    cases[tmp_path / "sub" / ".." / "in.mp4"] = "would overwrite the input"
    (tmp_path / "sub").mkdir()
    for out, match in cases.items():
        with pytest.raises(OutputError, match=match):
            check_output_path(out, [src])


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write to read-only folders"
)
def test_read_only_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="not writable"):
            check_output_path(locked / "out.mp4")
    finally:
        locked.chmod(0o700)


def test_writers_refuse_bad_outputs(tmp_path):
    src = encode_clip(tmp_path / "in.mp4", gradient_frames(2))
    before = src.read_bytes()
    with pytest.raises(OutputError, match="overwrite"):
        VideoWriter(src, 25, (64, 48), inputs=[src])
    with pytest.raises(OutputError, match="overwrite"):
        write_video(src, gradient_frames(2), 25, inputs=[str(src)])
    assert src.read_bytes() == before
    with pytest.raises(OutputError, match="no frames"):
        write_video(tmp_path / "none.mp4", [], 25)
    with pytest.raises(OutputError, match="does not exist"):
        write_wav(tmp_path / "nowhere" / "a.wav", Audio(sine(100, 0.1, 16_000)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]
