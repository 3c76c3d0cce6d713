"""`xdub dub` on unusual but valid input: each works (identity generator, exact passthrough)."""

from fractions import Fraction

import cv2
import numpy as np
import pytest
from pipeline_testkit import encode, psnr, run_cli, speech_at, talking_clip, write_wav

from xdub.media import iter_frames, probe, read_audio

FAST = ("--random-init", "-q")


def _dub(capsys, video, audio, out, *extra):
    rc, stdout, err = run_cli(capsys, "dub", video, audio, "-o", out, *FAST, *extra)
    assert rc == 0, err
    assert f"wrote {out}" in stdout
    return probe(out), err


def test_still_image_becomes_a_video_as_long_as_the_audio(capsys, tmp_path, clip_files,
                                                         fast_cli):
    frames, _, _ = talking_clip()
    image = tmp_path / "face.png"
    cv2.imwrite(str(image), cv2.cvtColor(np.array(frames[0]), cv2.COLOR_RGB2BGR))
    info, _ = _dub(capsys, image, clip_files["audio"], tmp_path / "o.mp4")
    assert (info.width, info.height) == (320, 240) and info.num_frames == 25  # 1 s at 25 fps
    out = np.stack(list(iter_frames(tmp_path / "o.mp4")))
    assert psnr(out[0], np.array(frames[0])) > 35 and psnr(out[-1], out[0]) > 40


def test_silent_audio_works_with_a_warning(capsys, tmp_path, clip_files, fast_cli):
    silent = write_wav(tmp_path / "silent.wav", np.zeros(16000, np.float32), 16000)
    info, err = _dub(capsys, clip_files["video"], silent, tmp_path / "o.mp4")
    assert info.num_frames == 30 and "silent" in err


def test_audio_ten_times_longer_than_the_video(capsys, tmp_path, fast_cli):
    frames, own, _ = talking_clip()
    video = encode(tmp_path / "short.mp4", np.array(frames[:9]), 30.0)
    long_audio = write_wav(tmp_path / "long.wav", np.tile(own.samples[:4800], 10), 16000)
    info, _ = _dub(capsys, video, long_audio, tmp_path / "o.mp4")  # default: --length audio
    assert info.num_frames == 90 and info.duration == pytest.approx(3.0, abs=0.05)
    got = np.stack(list(iter_frames(tmp_path / "o.mp4")))
    assert psnr(got[16], got[0]) > 35 > psnr(got[8], got[0])  # pingpong: 16 shows source 0
    info, _ = _dub(capsys, video, long_audio, tmp_path / "v.mp4", "--length", "video")
    assert info.num_frames == 9 and read_audio(tmp_path / "v.mp4").duration == pytest.approx(
        0.3, abs=0.03)


def test_variable_frame_rate(capsys, tmp_path, clip_files, fast_cli):
    frames, _, _ = talking_clip()
    pts = [0, 2, 3, 5, 6, 8, 11, 12, 14, 15, 17, 18]  # 1/60 s ticks, irregular steps
    video = encode(tmp_path / "vfr.mp4", np.array(frames[:12]), 30.0, pts=pts,
                   time_base=Fraction(1, 60))
    assert probe(video).variable_frame_rate
    info, _ = _dub(capsys, video, clip_files["audio"], tmp_path / "o.mp4", "--length", "video")
    assert not info.variable_frame_rate and info.num_frames == len(list(iter_frames(video)))


def test_rotated_phone_video_comes_out_upright(capsys, tmp_path, clip_files, fast_cli):
    frames, _, _ = talking_clip()
    upright = np.ascontiguousarray(np.rot90(np.array(frames[:8]), k=1, axes=(1, 2)))  # portrait
    coded = np.ascontiguousarray(np.rot90(upright, k=3, axes=(1, 2)))  # as a phone stores it
    video = encode(tmp_path / "phone.mp4", coded, 30.0, rotation=90)
    info, err = _dub(capsys, video, clip_files["audio"], tmp_path / "o.mp4", "--length",
                     "video", "--face", "largest")
    assert (info.width, info.height, info.rotation) == (240, 320, 0)
    assert "without the face" not in err  # the upright face was found in every frame
    out = np.stack(list(iter_frames(tmp_path / "o.mp4")))
    assert psnr(out, upright) > 30


def test_4k_input_is_detected_downscaled_and_pasted_at_full_size(capsys, tmp_path, clip_files,
                                                                fast_cli):
    frames, _, _ = talking_clip()
    big = np.stack([cv2.resize(np.array(f), (3840, 2160), interpolation=cv2.INTER_CUBIC)
                    for f in frames[:2]])
    video = encode(tmp_path / "uhd.mp4", big, 30.0)
    info, err = _dub(capsys, video, clip_files["audio"], tmp_path / "o.mp4", "--length", "video")
    assert (info.width, info.height, info.num_frames) == (3840, 2160, 2)
    assert "without the face" not in err  # the face was found in every 4K frame


def test_time_range_leaves_the_rest_untouched(capsys, tmp_path, clip_files, fast_cli):
    frames, own, _ = talking_clip()
    video = encode(tmp_path / "talk.mp4", np.array(frames), 30.0, audio=speech_at(own, 48000))
    tone = write_wav(tmp_path / "tone.wav", 0.5 * np.sin(np.arange(4000) / 3.0), 16000)
    info, _ = _dub(capsys, video, tone, tmp_path / "o.mp4", "--start", "0.4", "--end", "0.9")
    assert info.num_frames == 30  # range mode keeps the video's length
    new = read_audio(tmp_path / "o.mp4")
    original = read_audio(video)
    inside, before = new.samples[6800:9600], new.samples[1000:5600]
    assert np.abs(inside).max() > 0.3  # the tone, placed at --start (0.4 s + 0.25 s long)
    assert np.corrcoef(before, original.samples[1000:5600])[0, 1] > 0.9  # original audio kept
    source = np.stack(list(iter_frames(video)))
    dubbed = np.stack(list(iter_frames(tmp_path / "o.mp4")))
    assert psnr(dubbed[:12], source[:12]) > 40 and psnr(dubbed[20:], source[20:]) > 40
