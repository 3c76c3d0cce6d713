"""Ground truth agrees with the pixels: landmarks, face box, mouth opening, masks."""

import numpy as np

from xdub.config import replace
from xdub.config.synth import SCENARIOS
from xdub.synth.clip import render_clip
from xdub.synth.face_parts import MOUTH_INNER, NUM_LANDMARKS
from xdub.synth.tracks import MouthTrack


def _cfg(name: str = "standard", **changes):
    return replace(SCENARIOS[name], **{"size": (128, 128), "duration": 3.0, **changes})


def test_landmarks_lie_in_the_face_box_and_move_with_the_head():
    clip = render_clip(5, _cfg("fast_motion"))
    marks, box = clip.truth.landmarks, clip.truth.face_box
    assert marks.shape[1] == NUM_LANDMARKS
    inside = ((marks[..., 0] >= box[:, None, 0] - 0.5) & (marks[..., 0] <= box[:, None, 2] + 0.5)
              & (marks[..., 1] >= box[:, None, 1] - 0.5) & (marks[..., 1] <= box[:, None, 3] + 0.5))
    assert inside.all()
    # The nose tip follows the head affine's translation frame by frame.
    nose = marks[:, 30]
    shift = clip.truth.head_affine[:, :, 2]
    for axis in (0, 1):
        assert np.corrcoef(np.diff(nose[:, axis]), np.diff(shift[:, axis]))[0, 1] > 0.9
    assert np.ptp(nose[:, 0]) > 3  # it really moved


def test_mouth_opening_in_pixels_follows_the_opening_param():
    clip = render_clip(2, _cfg())
    gap = clip.truth.landmarks[:, 66, 1] - clip.truth.landmarks[:, 62, 1]
    opening = clip.truth.mouth_params[:, 0]
    assert opening.std() > 0.05
    assert np.corrcoef(gap, opening)[0, 1] > 0.9


def test_hand_made_mouth_track_drives_the_mouth():
    cfg = _cfg(duration=2.0)
    t = np.arange(50) / cfg.fps
    params = np.zeros((50, 5), np.float32)
    params[:, 0] = 0.5 + 0.5 * np.sin(2 * np.pi * 1.5 * t)
    params[:, 1], params[:, 3] = 0.5, 0.4
    clip = render_clip(9, cfg, mouth=MouthTrack(params, cfg.fps))
    assert np.array_equal(clip.truth.mouth_params, params)
    inner = clip.truth.landmarks[:, MOUTH_INNER]
    gap = inner[:, 6, 1] - inner[:, 2, 1]  # points 66 and 62
    assert np.corrcoef(gap, params[:, 0])[0, 1] > 0.99
    # Closed mouth: the inner lips meet; open mouth: dark pixels appear inside the zone.
    lum = clip.frames.mean(axis=-1)
    zone = clip.truth.mouth_mask
    dark = [(lum[i][zone[i]] < 70).mean() for i in range(50)]
    assert np.corrcoef(dark, params[:, 0])[0, 1] > 0.7


def test_mouth_region_contains_the_mouth_landmarks():
    clip = render_clip(1, _cfg("nonhuman"))
    mouth = np.round(clip.truth.landmarks[:, 48:68]).astype(int)
    h, w = clip.frames.shape[1:3]
    for i in range(0, len(mouth), 7):
        x = np.clip(mouth[i, :, 0], 0, w - 1)
        y = np.clip(mouth[i, :, 1], 0, h - 1)
        assert clip.truth.mouth_mask[i][y, x].all()
