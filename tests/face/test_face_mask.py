"""Lower-face and mouth masks."""

from __future__ import annotations

import numpy as np

from xdub.config.face import AlignConfig, MaskConfig
from xdub.face.align import estimate_alignment, warp_from_crop
from xdub.face.landmarks import GROUPS, transform_points
from xdub.face.mask import clip_mouth_region, lower_face_mask, lower_face_masks, mouth_mask


def _values(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    xy = np.round(points).astype(int)
    return mask[xy[:, 1], xy[:, 0]]


def test_face_lower_face_mask_covers_mouth_not_eyes(astronaut, astronaut_face):
    lm = astronaut_face.landmarks
    mask = lower_face_mask(lm, astronaut.shape[:2], MaskConfig())
    assert mask.dtype == np.float32 and 0 <= mask.min() and mask.max() <= 1
    assert _values(mask, lm[GROUPS["mouth_outer"]]).min() > 0.95
    assert _values(mask, lm[GROUPS["mouth_inner"]]).min() > 0.95
    assert _values(mask, lm[8:9]).min() > 0.9  # chin
    assert _values(mask, lm[GROUPS["left_eye"]]).max() < 0.05
    assert _values(mask, lm[GROUPS["right_eye"]]).max() < 0.05
    assert mask[:40].max() == 0 and mask[250:].max() == 0  # nothing far above or below


def test_face_mouth_mask_is_smaller_than_lower_face(astronaut, astronaut_face):
    lm = astronaut_face.landmarks
    mouth = mouth_mask(lm, astronaut.shape[:2], MaskConfig())
    lower = lower_face_mask(lm, astronaut.shape[:2], MaskConfig())
    assert _values(mouth, lm[GROUPS["mouth_outer"]]).min() > 0.9
    assert 0 < mouth.sum() < 0.5 * lower.sum()
    assert _values(mouth, lm[[8, 27, 36, 45]]).max() < 0.05  # chin, nose bridge, eyes excluded
    assert _values(mouth, lm[30:31]).max() < 0.5  # the nose tip is only ~0.25 IOD above the lip


def test_face_crop_and_frame_masks_agree(astronaut, astronaut_face):
    lm = astronaut_face.landmarks
    affine = estimate_alignment(lm, 256, AlignConfig(crop_size=256))
    crop_mask = lower_face_mask(transform_points(lm, affine), (256, 256), MaskConfig())
    frame_mask = lower_face_mask(lm, astronaut.shape[:2], MaskConfig())
    back = warp_from_crop(crop_mask, affine, astronaut.shape, interpolation="linear")
    assert np.abs(back - frame_mask).mean() < 0.01
    stack = lower_face_masks(np.stack([lm, lm + 3]), astronaut.shape[:2], MaskConfig())
    assert stack.shape == (2, 512, 512) and np.allclose(stack[0], frame_mask)


def test_face_clip_mouth_region_is_one_grown_union():
    masks = np.zeros((3, 40, 40), np.float32)
    masks[0, 18:22, 10:20] = 1.0  # closed mouth, then opening in different frames
    masks[1, 16:26, 12:18] = 1.0
    region = clip_mouth_region(masks, grow_px=3)
    assert region.shape == masks.shape and np.array_equal(region[0], region[2])  # same every frame
    assert (region[0][masks.max(axis=0) > 0] == 1.0).all()  # covers every frame's mouth
    assert region[0, 16 - 3, 15] == 1.0 and region[0, 16 - 6, 15] < 0.5  # grown by ~3 px only
    assert region[0, 0, 0] == 0.0 and 0.0 <= region.min() and region.max() <= 1.0
