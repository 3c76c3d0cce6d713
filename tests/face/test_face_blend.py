"""Paste-back: identity-edit equivalence, colour matching, untouched surroundings."""

from __future__ import annotations

import numpy as np
import pytest

from xdub.config.face import AlignConfig, BlendConfig, MaskConfig
from xdub.face.align import crop_footprint, estimate_alignment, warp_from_crop, warp_to_crop
from xdub.face.blend import changed_pixels, paste_back
from xdub.face.landmarks import transform_points
from xdub.face.mask import lower_face_mask, mouth_mask

SIZE = 512  # the wan5b crop: the face is upsampled ~3.3x into it


def _psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64))[where] ** 2)
    return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-12)))


@pytest.fixture(scope="module")
def setup(astronaut, astronaut_face):
    affine = estimate_alignment(astronaut_face.landmarks, SIZE, AlignConfig(crop_size=SIZE))
    crop = warp_to_crop(astronaut, affine, SIZE)
    mask = lower_face_mask(transform_points(astronaut_face.landmarks, affine), (SIZE, SIZE),
                           MaskConfig())
    return affine, crop, mask


@pytest.mark.parametrize("region", ["lower_face", "crop"])
@pytest.mark.parametrize("color_match", ["none", "mean_std", "gain_map"])
def test_face_identity_edit_pastes_back_the_original(astronaut, setup, region, color_match):
    affine, crop, mask = setup
    out = paste_back(astronaut, crop, affine, BlendConfig(region=region, color_match=color_match),
                     mask)
    x0, y0, x1, y1 = crop_footprint(affine, SIZE, astronaut.shape)
    pasted = np.zeros(astronaut.shape[:2], bool)
    pasted[y0:y1, x0:x1] = True
    # Measured ~66 dB (lower_face) / ~58 dB (whole crop) with cubic warps; require > 40 dB.
    assert _psnr(out, astronaut, pasted) > 40
    assert np.array_equal(out[~pasted], astronaut[~pasted])  # outside the footprint: untouched


@pytest.mark.parametrize("color_match", ["mean_std", "gain_map"])
def test_face_colour_matching_hides_a_tone_shift(astronaut, setup, color_match):
    affine, crop, mask = setup
    darker = (crop.astype(np.float32) * 0.8).astype(np.uint8)
    inside = warp_from_crop(mask, affine, astronaut.shape, interpolation="linear") > 0.5
    plain = paste_back(astronaut, darker, affine, BlendConfig(color_match="none"), mask)
    matched = paste_back(astronaut, darker, affine, BlendConfig(color_match=color_match), mask)
    assert _psnr(matched, astronaut, inside) > _psnr(plain, astronaut, inside) + 15


def test_face_lower_face_edit_stays_in_the_mask(astronaut, setup):
    affine, crop, mask = setup
    edited = crop.copy()
    edited[:] = (255, 0, 255)  # the "model" paints everything magenta
    out = paste_back(astronaut, edited, affine, BlendConfig(color_match="none"), mask)
    changed = np.abs(out.astype(int) - astronaut).sum(-1) > 30
    alpha = warp_from_crop(mask, affine, astronaut.shape, interpolation="linear")
    assert changed[alpha > 0.9].all() and not changed[alpha < 0.02].any()
    with pytest.raises(ValueError, match="needs a mask"):
        paste_back(astronaut, crop, affine, BlendConfig(region="lower_face"), None)


def test_face_mouth_region_paste_changes_less_than_lower_face(astronaut, astronaut_face, setup):
    affine, crop, lower = setup
    mouth = mouth_mask(transform_points(astronaut_face.landmarks, affine), (SIZE, SIZE),
                       MaskConfig(mouth_dilate=0.3))
    edited = np.full_like(crop, (255, 0, 255))
    changed = {}
    for region, mask in (("mouth", mouth), ("lower_face", lower)):
        out = paste_back(astronaut, edited, affine, BlendConfig(region=region, color_match="none"),
                         mask)
        changed[region] = np.abs(out.astype(int) - astronaut).sum(-1) > 30
    assert 0 < changed["mouth"].sum() < 0.5 * changed["lower_face"].sum()
    assert not (changed["mouth"] & ~changed["lower_face"]).any()  # inside the lower face
    with pytest.raises(ValueError, match="needs a mask"):
        paste_back(astronaut, crop, affine, BlendConfig(region="mouth"), None)


def test_face_unchanged_crop_pixels_keep_the_frame_bit_exact(astronaut, setup):
    """Where the editor returned the source crop's pixel (kept skin, an occluder), the frame keeps
    its own pixel exactly, not the source resampled twice; the edit itself is pasted as before."""
    affine, crop, mask = setup
    edited = crop.copy()
    edited[300:340, 200:300] = (255, 0, 255)  # a small edit inside the lower face
    changed = changed_pixels(edited, crop, radius=1)
    assert changed[300:340, 200:300].all() and changed[299, 250] == 1 and changed[100, 100] == 0
    cfg = BlendConfig(color_match="none")
    exact = paste_back(astronaut, edited, affine, cfg, mask, changed)
    plain = paste_back(astronaut, edited, affine, cfg, mask)
    far = warp_from_crop(changed, affine, astronaut.shape, interpolation="linear") == 0
    assert np.array_equal(exact[far], astronaut[far])
    assert not np.array_equal(plain[far], astronaut[far])  # twice-resampled without `changed`
    edit = warp_from_crop(mask * changed, affine, astronaut.shape, interpolation="linear") > 0.99
    assert np.array_equal(exact[edit], plain[edit])
