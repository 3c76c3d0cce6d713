"""No face at the detector's threshold: a second scan at `detect.fallback_min_score` dubs a face
that scores low (stylised and non-human faces) when it covers most of the video, and nothing
else (a faceless video stays faceless)."""

from __future__ import annotations

import pytest
from pipeline_testkit import talking_clip

from xdub.config import replace
from xdub.config.face import AlignConfig, DetectConfig, FaceConfig
from xdub.config.infer import DubberConfig, InferConfig
from xdub.errors import NoFaceError
from xdub.face import detect as detect_mod
from xdub.face.detect import MediaPipeDetector
from xdub.pipeline import DubPipeline, IdentityGenerator
from xdub.types import Video

SCORE = 0.3  # what the fake detector reports for the real face


class LowScoring:
    """MediaPipe's faces reported at SCORE, on every frame or only on the first `until`."""

    until = 10**9

    def __init__(self, cfg: DetectConfig) -> None:
        self.cfg = cfg
        self.inner = MediaPipeDetector(replace(cfg, backend="mediapipe", min_score=0.3))
        self.calls = 0

    def detect(self, frame):
        self.calls += 1
        if self.cfg.min_score > SCORE or self.calls > self.until:
            return []
        return [replace(face, score=SCORE) for face in self.inner.detect(frame)]


def _dub(monkeypatch, fallback: float, until: int = 10**9):
    monkeypatch.setitem(detect_mod.DETECTORS, "low", type("Low", (LowScoring,), {"until": until}))
    detect = DetectConfig(backend="low", fallback_min_score=fallback)
    spec = DubberConfig(name="identity", face=FaceConfig(detect=detect,
                                                         align=AlignConfig(crop_size=64)),
                        chunk_frames=8, overlap=2, motion_frames=0)
    frames, _, other = talking_clip(seconds=1.0)
    pipe = DubPipeline(IdentityGenerator(64), spec)
    return pipe(Video(frames, 30.0), other, InferConfig(no_face="error")), len(frames)


def test_a_low_scoring_face_is_dubbed_after_a_second_scan(monkeypatch, caplog):
    result, frames = _dub(monkeypatch, fallback=0.2)
    assert result.summary.faces_dubbed >= 1 and result.summary.frames_dubbed >= 0.8 * frames
    assert "dubbing the face found at >= 0.2" in caplog.text


def test_no_second_scan_or_too_little_of_the_video_is_no_face(monkeypatch):
    with pytest.raises(NoFaceError):
        _dub(monkeypatch, fallback=0.0)  # off
    with pytest.raises(NoFaceError):
        _dub(monkeypatch, fallback=0.2, until=12)  # found in the first 12 of 30 frames
