"""Tracking: identity across frames, gap bridging, scene cuts, smoothing, selection."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import skimage.data
from face_testkit import background, face_patch, jittered_detections, place, two_face_sequence

from xdub.config.face import TrackConfig
from xdub.errors import ConfigError, NoFaceError
from xdub.face.scenecut import SceneCutDetector
from xdub.face.smooth import jitter
from xdub.face.track import FaceTracker, select_track, track_faces


@pytest.fixture(scope="module")
def sequence() -> np.ndarray:
    return two_face_sequence(12)


def _centres(track) -> np.ndarray:
    return (track.boxes[:, :2] + track.boxes[:, 2:]) / 2


@pytest.mark.parametrize("detect_every", [1, 4])
def test_face_two_faces_give_two_stable_tracks(detector, sequence, detect_every):
    tracks = track_faces(sequence, detector, TrackConfig(detect_every=detect_every), fps=10)
    assert len(tracks) == 2
    for track in tracks:
        assert (track.first, track.last) == (0, 11) and track.present.all()
        assert track.landmarks is not None and track.landmarks.shape == (12, 68, 2)
        steps = np.linalg.norm(np.diff(_centres(track), axis=0), axis=1)
        assert steps.max() < 8  # no identity swap: the faces are > 150 px apart
    # The detector lists the larger face first and the order flips mid-clip; ids must not.
    left, right = sorted(tracks, key=lambda t: _centres(t)[0, 0])
    assert np.diff(_centres(left)[:, 0]).mean() > 0 > np.diff(_centres(right)[:, 0]).mean()


def test_face_short_gap_is_bridged_long_gap_splits(detector, sequence):
    dets = [detector.detect(frame) for frame in sequence]
    tracker = FaceTracker(TrackConfig(max_gap=3, smooth=False, scene_cut=False), fps=10)
    for i, frame_dets in enumerate(dets):
        tracker.update(i, None, [] if 4 <= i <= 6 else frame_dets)  # 3 missed frames
    tracks = tracker.finalize()
    assert len(tracks) == 2
    track = tracks[0]
    assert not track.present[4:7].any() and track.present[[3, 7]].all()
    # Interpolated boxes lie between the detected neighbours.
    expected = track.boxes[3] + (track.boxes[7] - track.boxes[3]) * 2 / 4
    assert np.allclose(track.boxes[5], expected, atol=1e-3)

    def tracks_with(gap_dets, **cfg):
        tracker = FaceTracker(TrackConfig(max_gap=2, smooth=False, scene_cut=False, min_length=2,
                                          **cfg))
        for i, frame_dets in enumerate(dets):
            tracker.update(i, None, [] if 4 <= i <= 6 else gap_dets(i, frame_dets))
        return tracker.finalize()

    def same(i, frame_dets):
        return frame_dets

    def moved(i, frame_dets):  # after the gap the faces are far from where they were
        return [dataclasses.replace(f, box=f.box + np.float32(500.0)) if i > 6 else f
                for f in frame_dets]

    assert len(tracks_with(same, max_still_gap=0)) == 4  # each face: before and after the gap
    # A longer miss is bridged when the face comes back near where it was...
    assert len(tracks_with(same, max_still_gap=5)) == 2
    # ...but not when something appears far from it (IoU < still_iou with the last box).
    assert len(tracks_with(moved, max_still_gap=5)) == 4


def test_face_scene_cut_closes_tracks(detector):
    patch = face_patch(140)
    shot_a = [place(background(240, 320, seed=1), patch, 90 + t, 50, 140) for t in range(6)]
    shot_b = [place(np.full((240, 320, 3), (30, 160, 40), np.uint8), patch, 96 + t, 50, 140)
              for t in range(6)]
    frames = shot_a + shot_b
    tracks = track_faces(frames, detector, TrackConfig(), fps=10)
    assert [(t.first, t.last) for t in tracks] == [(0, 5), (6, 11)]
    no_cuts = track_faces(frames, detector, TrackConfig(scene_cut=False), fps=10)
    assert len(no_cuts) == 1  # same place, so without cut detection it would be bridged


def test_face_scene_cut_detector_ignores_motion(sequence):
    cuts = SceneCutDetector(0.5)
    assert not any(cuts.is_cut(frame) for frame in sequence)
    assert cuts.is_cut(skimage.data.coffee())


def test_face_smoothing_reduces_landmark_and_box_jitter():
    dets = jittered_detections(60, noise_px=1.5, rng=np.random.default_rng(0))
    results = {}
    for smooth in (False, True):
        tracker = FaceTracker(TrackConfig(smooth=smooth), fps=25)
        for i, det in enumerate(dets):
            tracker.update(i, None, [det])
        (track,) = tracker.finalize()
        results[smooth] = (jitter(_centres(track)), jitter(track.landmarks[:, 30]))
    assert results[True][0] < results[False][0] / 2.5
    assert results[True][1] < results[False][1] / 2.5


def test_face_select_track(detector, sequence):
    tracks = track_faces(sequence[:6], detector, TrackConfig(), fps=10)
    largest = select_track(tracks, "largest")
    assert largest.mean_size == max(t.mean_size for t in tracks)
    assert select_track(tracks, 1) is tracks[1] and select_track(tracks, "0") is tracks[0]
    assert select_track(tracks, "longest").num_present == 6
    with pytest.raises(ConfigError, match="only 2 face track"):
        select_track(tracks, 5)
    with pytest.raises(NoFaceError):
        select_track([], "longest")


def test_face_track_faces_without_faces_is_empty(detector):
    frames = [background(120, 160, seed=s) for s in range(4)]
    assert track_faces(frames, detector, TrackConfig(), fps=10) == []


def test_face_tracker_keeps_only_the_newest_mesh():
    """Refining needs the last mesh of each live track; older meshes are dropped (memory per
    frame of a long video)."""
    from dataclasses import replace

    dets = jittered_detections(6, 0.5, np.random.default_rng(0))
    tracker = FaceTracker(TrackConfig(smooth=False, scene_cut=False), fps=25)
    for i, det in enumerate(dets):
        tracker.update(i, None, [replace(det, mesh=np.zeros((468, 2), np.float32))])
    (live,) = tracker._live
    assert [d.mesh is not None for d in live.detections] == [False] * 5 + [True]
    assert tracker.active()[0].mesh is not None


def test_one_euro_is_the_streaming_filter_run_forward_then_backward():
    from xdub.face.smooth import OneEuroFilter, one_euro

    series = np.random.default_rng(0).normal(0, 3, (40, 5, 2)).astype(np.float32)
    scale = np.linspace(50, 80, 40)
    forward, backward = OneEuroFilter(25.0, 1.0, 0.05), OneEuroFilter(25.0, 1.0, 0.05)
    flat = series.reshape(40, -1)
    once = np.stack([forward.filter(row, s) for row, s in zip(flat, scale)])
    twice = np.stack([backward.filter(row, s) for row, s in zip(once[::-1], scale[::-1])])[::-1]
    out = one_euro(series, 25.0, 1.0, 0.05, scale)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, twice.reshape(series.shape).astype(np.float32))
