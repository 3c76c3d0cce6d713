"""`xdub.DubbingPipeline`: the one entry point wraps `DubPipeline` and adds inputs by path or in
memory, options by name, progress updates, warnings and the sync score."""

from __future__ import annotations

import numpy as np
import pytest

from xdub.api import DubbingPipeline, infer_config
from xdub.config.face import AlignConfig, FaceConfig
from xdub.config.infer import DubberConfig
from xdub.config.synth import SynthConfig
from xdub.errors import ConfigError, MediaError
from xdub.pipeline import DubPipeline, IdentityGenerator
from xdub.synth.clip import render_pair
from xdub.types import Audio, Video


@pytest.fixture(scope="module")
def clip():
    """1 s at 25 fps, 160x128: a talking character (Video) and other speech (Audio)."""
    a, b = render_pair(7, SynthConfig(size=(160, 128), fps=25.0, duration=1.0))
    return Video(a.frames, 25.0, a.audio), b.audio


@pytest.fixture(scope="module")
def identity_api():
    """The API over an identity generator (exact passthrough) with the shipped sync scorer."""
    from xdub.bench.lipsync import load_sync_scorer

    spec = DubberConfig(name="identity", face=FaceConfig(align=AlignConfig(crop_size=64)),
                        chunk_frames=8, overlap=2, motion_frames=0)
    return DubbingPipeline(DubPipeline(IdentityGenerator(64), spec), "test identity",
                           load_sync_scorer("auto"))


def test_in_memory_run_reports_frames_faces_times_sync_and_progress(clip, identity_api):
    source, other = clip
    updates = []
    result = identity_api(source, other, progress=updates.append, length="video")
    assert result.video is not None and result.output is None
    assert result.video.frames.shape == source.frames.shape
    diff = np.abs(result.video.frames.astype(int) - source.frames.astype(int))
    assert diff.mean() < 2  # identity generator: only the crop round trip's resampling
    assert len(result.faces.tracks) == 1 and result.faces.chosen == (0,)
    assert {"track", "generate", "write"} <= set(result.summary.seconds)
    assert result.summary.weights == "test identity"
    assert result.sync is not None and np.isfinite(result.sync["lse_c"])
    stages = [u.stage for u in updates]
    assert stages[0] == "tracking faces" and stages[-1] == "dubbing"
    assert updates[-1].finished and updates[-1].done == 25 and updates[-1].eta == 0.0


def test_options_by_name_map_onto_the_config():
    cfg = infer_config(steps=3, length="shortest", face=1, start=None)
    assert cfg.sampling.steps == 3 and cfg.timeline.length == "shortest" and cfg.face == "1"
    assert cfg.timeline.start == 0.0  # None: not given
    with pytest.raises(ConfigError, match="unknown option"):
        infer_config(stepz=3)
    with pytest.raises(ConfigError):
        infer_config(steps=0)


def test_silent_audio_is_a_warning_and_sync_can_be_skipped(clip, identity_api):
    source, _ = clip
    silence = Audio(np.zeros(16000, np.float32), 16000)
    result = identity_api(source, silence, score_sync=False)
    assert result.sync is None
    assert any("silent" in w for w in result.warnings)


def test_a_bad_file_fails_before_the_model_runs(tmp_path, identity_api):
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a video")
    with pytest.raises(MediaError) as err:
        identity_api(fake, tmp_path / "missing.wav", output=tmp_path / "o.mp4")
    assert err.value.exit_code == 2
    assert not (tmp_path / "o.mp4").exists()


def test_xdub_exports_the_api_lazily():
    import xdub

    assert xdub.DubbingPipeline is DubbingPipeline


def test_phase_offload_from_the_api_gives_the_same_video(clip):
    """`offload="cpu"` (`xdub dub --offload cpu`) reaches the loader; on a CPU-only run it
    must leave the video unchanged."""
    source, other = clip
    pipes = [DubbingPipeline.from_pretrained(None, offload=offload, sync_scorer="none")
             for offload in (None, "cpu")]
    assert [p.pipeline.generator.offload is not None for p in pipes] == [False, True]
    runs = [p(source, other, length="video", steps=1, score_sync=False).video.frames
            for p in pipes]
    assert runs[0].shape[0] == 25 and np.array_equal(runs[0], runs[1])
