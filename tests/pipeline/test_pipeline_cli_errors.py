"""`xdub dub` on bad input: one-line message, documented exit code, no output, inputs untouched.

The model is replaced by the identity generator (`fast_cli`): these tests are about inputs,
outputs and exit codes, not about the network.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from pipeline_testkit import digest, encode, leftovers, run_cli, write_wav
from safetensors.torch import save_file

from xdub.media import probe, read_audio

FAST = ("--random-init", "-q")


def _check_failure(capsys, tmp_path, args, code, message, inputs):
    before = {p: digest(p) for p in inputs}
    out = tmp_path / "out.mp4"
    rc, _, err = run_cli(capsys, "dub", *args, "-o", out, *FAST)
    assert rc == code, err
    lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err
    assert not out.exists() and not leftovers(tmp_path)
    assert {p: digest(p) for p in inputs} == before


def test_missing_corrupt_and_non_video_inputs(capsys, tmp_path, clip_files, fast_cli):
    video, audio = clip_files["video"], clip_files["audio"]
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(video.read_bytes()[: video.stat().st_size // 3])
    cases = [
        ((tmp_path / "missing.mp4", audio), "file not found", [audio]),
        ((tmp_path, audio), "is a directory", [audio]),
        ((text, audio), "not a recognised media file", [text, audio]),
        ((corrupt, audio), "cannot read", [corrupt, audio]),
        ((truncated, audio), "truncated.mp4", [truncated, audio]),
        ((audio, audio), "no video stream", [audio]),  # audio-only file given as VIDEO
        ((video, tmp_path / "missing.wav"), "file not found", [video]),
        ((video, text), "not a recognised media file", [video, text]),
    ]
    if os.geteuid() != 0:  # root reads anything: the permission case only exists for users
        locked = tmp_path / "locked.mp4"
        locked.write_bytes(video.read_bytes())
        locked.chmod(0o000)
        cases.append(((locked, audio), "cannot read", [audio]))
    for args, message, inputs in cases:
        _check_failure(capsys, tmp_path, args, 2, message, inputs)


def test_video_without_frames(capsys, tmp_path, clip_files, fast_cli):
    import av

    empty = tmp_path / "empty.mp4"
    with av.open(str(empty), mode="w") as container:  # a header and a video stream, no frames
        stream = container.add_stream("libx264", rate=25)
        stream.width = stream.height = 32
        container.start_encoding()
    _check_failure(capsys, tmp_path, (empty, clip_files["audio"]), 2, "zero-length",
                   [empty, clip_files["audio"]])


def test_bad_output_paths(capsys, tmp_path, clip_files, fast_cli, monkeypatch):
    video, audio = clip_files["video"], clip_files["audio"]
    before = digest(video)
    rc, _, err = run_cli(capsys, "dub", video, audio, "-o", video, *FAST)
    assert rc == 3 and "would overwrite the input" in err and digest(video) == before
    rc, _, err = run_cli(capsys, "dub", video, audio, "-o", tmp_path / "nope" / "o.mp4", *FAST)
    assert rc == 3 and "does not exist" in err
    rc, _, err = run_cli(capsys, "dub", video, audio, "-o", tmp_path / "o.avi", *FAST)
    assert rc == 3 and "unsupported output extension" in err
    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: emulate what a read-only folder reports
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, m: False if Path(p) == locked else real(p, m))
    else:
        locked.chmod(0o500)
    rc, _, err = run_cli(capsys, "dub", video, audio, "-o", locked / "o.mp4", *FAST)
    locked.chmod(0o700)
    assert rc == 3 and "not writable" in err and not list(locked.iterdir())


def test_no_face_is_exit_4_or_a_documented_passthrough(capsys, tmp_path, clip_files, fast_cli):
    frames = np.full((12, 96, 128, 3), 90, np.uint8)
    frames[:, 40:60, 50:80] = 200  # a box, not a face
    faceless = encode(tmp_path / "faceless.mp4", frames, 30.0)
    audio = clip_files["audio"]
    _check_failure(capsys, tmp_path, (faceless, audio), 4, "no face found", [faceless, audio])
    out = tmp_path / "copy.mp4"
    rc, _, err = run_cli(capsys, "dub", faceless, audio, "-o", out, "--no-face", "passthrough",
                         *FAST)
    assert rc == 0, err
    assert probe(out).num_frames == 30  # extended to the 1 s audio, frames copied


def test_weights_errors_are_exit_5(capsys, tmp_path, clip_files):
    from xdub.pipeline.loading import default_checkpoint

    video, audio = clip_files["video"], clip_files["audio"]
    out = tmp_path / "o.mp4"
    rc, _, err = run_cli(capsys, "dub", video, audio, "-o", out, "--checkpoint", tmp_path / "x")
    assert rc == 5 and "checkpoint folder not found" in err and not out.exists()
    rc, _, err = run_cli(capsys, "dub", video, audio, "-o", out, "--dit", tmp_path / "m.st")
    assert rc == 5 and "missing: --vae, --whisper, --wav2vec2" in err
    official = ("--dit", tmp_path / "m.st", "--vae", tmp_path / "v.pth", "--whisper", tmp_path,
                "--wav2vec2", tmp_path)
    rc, _, err = run_cli(capsys, "dub", video, audio, "-o", out, *official)
    assert rc == 5 and "X-Dub_model.safetensors" in err  # says what to download, and where
    # the empty-prompt context is checked before the 12.6 GB DiT is read
    rc, _, err = run_cli(capsys, "dub", video, audio, "-o", out, *official, "--null-context",
                         tmp_path / "none.safetensors")
    assert rc == 5 and "null context file not found" in err and "encode_null_context" in err
    save_file({"context": torch.zeros(4, 8)}, str(tmp_path / "small.safetensors"))
    rc, _, err = run_cli(capsys, "dub", video, audio, "-o", out, *official, "--null-context",
                         tmp_path / "small.safetensors")
    assert rc == 5 and "expected [512, 4096]" in err and "Traceback" not in err
    (tmp_path / "junk.safetensors").write_bytes(b"not safetensors at all")
    rc, _, err = run_cli(capsys, "dub", video, audio, "-o", out, *official, "--null-context",
                         tmp_path / "junk.safetensors")
    assert rc == 5 and "cannot read safetensors" in err
    rc, _, err = run_cli(capsys, "dub", video, audio, "-o", out, "--random-init",
                         "--null-context", tmp_path / "small.safetensors")
    assert rc == 2 and "with the official files" in err and not out.exists()
    if default_checkpoint() is None:
        rc, _, err = run_cli(capsys, "dub", video, audio, "-o", out)
        assert rc == 5 and "no embedded default" in err


def test_bad_options_are_exit_2(capsys, tmp_path, clip_files, fast_cli):
    video, audio = clip_files["video"], clip_files["audio"]
    out = tmp_path / "o.mp4"
    rc, _, err = run_cli(capsys, "dub", video, audio, "-o", out, "--start", "9", *FAST)
    assert rc == 2 and "past the end of the video" in err
    rc, _, err = run_cli(capsys, "dub", video, audio, "-o", out, "--face", "7", *FAST)
    assert rc == 2 and "only 1 face track" in err
    rc, _, err = run_cli(capsys, "dub", video, audio, "-o", out, "--overlap", "6",
                         "--chunk-frames", "8", *FAST)
    assert rc == 2 and "half of" in err
    rc, _, err = run_cli(capsys, "dub", video, audio, "-o", out, "--device", "nodevice", *FAST)
    assert rc == 2 and "unknown device" in err
    assert not out.exists() and not leftovers(tmp_path)


@pytest.mark.parametrize("rate,channels", [(8000, 1), (22050, 2), (44100, 1), (48000, 2)])
def test_audio_rates_and_stereo_work(capsys, tmp_path, clip_files, fast_cli, rate, channels):
    t = np.arange(int(0.8 * rate)) / rate
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    samples = np.stack([tone] * channels, axis=1) if channels == 2 else tone
    audio = write_wav(tmp_path / f"a{rate}.wav", samples, rate)
    out = tmp_path / "o.mp4"
    rc, _, err = run_cli(capsys, "dub", clip_files["video"], audio, "-o", out, *FAST)
    assert rc == 0, err
    info = probe(out)
    assert (info.width, info.height, info.fps) == (320, 240, 30.0)
    assert info.num_frames == 24 and read_audio(out).duration == pytest.approx(0.8, abs=0.03)
