"""The API's lip-sync probe keeps mouth crops, not frames, and they are the benchmark's crops
bit for bit: same crops and same score as `lip_sync_metrics` over the whole run."""

from __future__ import annotations

import numpy as np
import pytest

from xdub.api import sync
from xdub.api.sync import SyncProbe
from xdub.bench.lipsync import lip_sync_metrics, mouth_crop_affines
from xdub.config.sync import SCORER_PRESETS
from xdub.models.syncnet_features import warp_mouth_crops
from xdub.types import Audio

IDENTITY = np.array([[1.0, 0, 0], [0, 1.0, 0]])


def _face_clip(num: int, seed: int = 0, scale: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Frames `[T, 96 * scale, 128 * scale, 3]` and wandering 68-point landmarks `[T, 68, 2]` float32 (as the probe maps them)."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (num, 96 * scale, 128 * scale, 3), dtype=np.uint8)
    base = np.concatenate([rng.uniform([30, 20], [98, 80], (48, 2)),  # jaw, brows, nose, eyes
                           rng.uniform([50, 55], [78, 75], (20, 2))])  # mouth 48..67
    drift = np.cumsum(rng.normal(0, 0.7, (num, 1, 2)), axis=0)
    marks = (base[None] + drift + rng.normal(0, 0.3, (num, 68, 2))).astype(np.float32)
    return frames, marks * scale


class _Scorer:
    """The probe needs only the scorer's config to crop (scoring is tested separately)."""

    cfg = SCORER_PRESETS["tiny"]


def _expected_crops(frames: np.ndarray, marks: np.ndarray, cfg) -> np.ndarray:
    boxes = np.concatenate([marks.min(axis=1), marks.max(axis=1)], axis=1)
    return warp_mouth_crops(frames, mouth_crop_affines(cfg, marks, boxes), cfg)


# (40, 29): the face is lost at frame 29; scale 6: faces wide enough for the INTER_AREA path.
@pytest.mark.parametrize("num, face_until, scale", [(37, 37, 1), (40, 29, 1), (9, 9, 1),
                                                    (13, 13, 6)])
def test_probe_crops_equal_whole_run_crops_and_drop_frames(num, face_until, scale) -> None:
    frames, marks = _face_clip(num, scale=scale)
    probe = SyncProbe(_Scorer())
    probe.start(25.0, (128, 96), None)
    held = []
    for t in range(num):
        face = t < face_until
        probe.observe(t, frames[t], frames[t], None, None, IDENTITY if face else None,
                      marks[t] if face else None)
        held.append(len(probe.pending))
    probe.score()  # no audio: None, but the run is closed and its tail cropped
    assert max(held) <= sync.SETTLE_FRAMES + sync.CROP_BATCH
    assert probe.pending == []
    expected = _expected_crops(frames[:face_until], marks[:face_until], _Scorer.cfg)
    np.testing.assert_array_equal(np.stack(probe.crops), expected)


def test_probe_stops_at_max_frames(monkeypatch) -> None:
    monkeypatch.setattr(sync, "MAX_FRAMES", 20)
    frames, marks = _face_clip(30)
    probe = SyncProbe(_Scorer())
    for t in range(30):
        probe.observe(t, frames[t], frames[t], None, None, IDENTITY, marks[t])
    assert probe.closed_run and probe.pending == []
    np.testing.assert_array_equal(np.stack(probe.crops),
                                  _expected_crops(frames[:20], marks[:20], _Scorer.cfg))


def test_probe_score_equals_benchmark_score() -> None:
    from xdub.bench.lipsync import load_sync_scorer

    scorer = load_sync_scorer("auto")
    if scorer is None:
        pytest.skip("no shipped sync scorer")
    frames, marks = _face_clip(30, seed=1)
    rate = 16000
    speech = Audio(np.random.default_rng(2).normal(0, 0.1, 40 * rate // 25).astype(np.float32),
                   rate)
    probe = SyncProbe(scorer)
    probe.start(25.0, (128, 96), speech)
    probe.observe(0, frames[0], frames[0], None, None, None, None)  # before the face: skipped
    for t in range(1, 30):
        probe.observe(t, frames[t], frames[t], None, None, IDENTITY, marks[t])
    boxes = np.concatenate([marks[1:].min(axis=1), marks[1:].max(axis=1)], axis=1)
    samples = speech.samples[round(rate / 25):round(30 * rate / 25)]
    assert probe.score() == lip_sync_metrics(scorer, frames[1:], marks[1:], boxes, samples, 25.0)
