"""Uploads the web app refuses, each with one readable sentence (no browser needed), and the
job folder that disappears after a run."""

from __future__ import annotations

import numpy as np
import pytest

from xdub.config.web import WebConfig
from xdub.errors import ConfigError
from xdub.media import write_video, write_wav
from xdub.types import Audio
from xdub.web.jobs import Job, UploadError, check_audio, check_video, list_faces

CFG = WebConfig(max_seconds=1.0)


def test_text_file_named_mp4(tmp_path):
    fake = tmp_path / "clip.mp4"
    fake.write_text("hello")
    with pytest.raises(UploadError, match="not a video we can read") as err:
        check_video(fake, CFG)
    assert str(tmp_path) not in str(err.value)  # no server paths in the page


def test_corrupt_audio(tmp_path):
    bad = tmp_path / "voice.wav"
    bad.write_bytes(b"RIFF\\x00\\x00garbage" * 10)
    with pytest.raises(UploadError, match="not audio we can read"):
        check_audio(bad, CFG)


def test_too_long_and_missing_uploads(tmp_path):
    long_audio = write_wav(tmp_path / "long.wav", Audio(np.zeros(32000, np.float32), 16000))
    with pytest.raises(UploadError, match="2.0 s long; this server accepts up to 1 s"):
        check_audio(long_audio, CFG)
    with pytest.raises(UploadError, match="upload a video first"):
        check_video(None, CFG)


def test_video_without_a_face(tmp_path):
    from xdub.api import DubbingPipeline
    from xdub.config.infer import DubberConfig
    from xdub.pipeline import DubPipeline, IdentityGenerator

    frames = np.full((5, 96, 128, 3), 90, np.uint8)
    video = write_video(tmp_path / "wall.mp4", frames, 25.0)
    spec = DubberConfig()
    pipe = DubbingPipeline(DubPipeline(IdentityGenerator(spec.crop_size), spec))
    with pytest.raises(UploadError, match="no face was found"):
        list_faces(pipe, video, CFG)


def test_job_folder_is_removed(tmp_path):
    job = Job(tmp_path)
    (job.folder / "dubbed.mp4").write_bytes(b"x")
    job.cleanup()
    assert not list(tmp_path.iterdir())


def test_web_config_checks_its_limits():
    assert WebConfig().host == "127.0.0.1"  # loopback unless asked otherwise
    with pytest.raises(ConfigError, match="--max-seconds"):
        WebConfig(max_seconds=0)
