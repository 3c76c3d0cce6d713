"""Region masks cut from ground truth, and the face/mouth crops of the report."""

from __future__ import annotations

import numpy as np

from xdub.bench.regions import build_regions, face_crops, mouth_boxes
from xdub.config.bench import RegionConfig


def _truth(num: int = 3, size: int = 80):
    zone = np.zeros((num, size, size), bool)
    zone[:, 50:60, 30:50] = True
    occluder = np.zeros_like(zone)
    occluder[1, 40:80, 25:55] = True  # covers the whole zone in frame 1
    occluder[2, 0:10, 0:10] = True  # far from the mouth in frame 2
    boxes = np.tile(np.array([20, 20, 60, 60], np.float32), (num, 1))  # face height 40
    return zone, occluder, boxes


def test_regions_are_nested_and_disjoint():
    zone, occluder, boxes = _truth()
    regions = build_regions(
        zone, occluder, boxes, RegionConfig(mouth_dilate=0.1, outside_margin=0.25)
    )
    assert (regions.mouth >= zone).all() and regions.mouth.sum() > zone.sum()
    assert not (regions.mouth & regions.outside).any()
    # dilation 4 px + margin 10 px: the band between mouth and outside is 10 px wide
    assert regions.mouth[0, 50, 26] and not regions.mouth[0, 50, 25]
    assert not regions.outside[0, 50, 16] and regions.outside[0, 50, 15]
    assert regions.mouth_visible.tolist() == [True, False, True]
    assert regions.occluder_mouth[1].any() and not regions.occluder_mouth[2].any()
    assert set(regions.named()) == {"mouth", "outside", "occluder", "occluder_mouth"}


def test_crops_have_fixed_sizes_and_stay_inside_the_frame():
    zone, _, boxes = _truth()
    frames = np.random.default_rng(0).integers(0, 256, (3, 80, 80, 3), dtype=np.uint8)
    boxes[2] = (60, 60, 95, 95)  # partly outside the frame
    assert face_crops(frames, boxes, size=32).shape == (3, 32, 32, 3)
    mb = mouth_boxes(zone)
    assert (mb[:, 0] < 30).all() and (mb[:, 2] > 50).all() and (mb[:, 2] <= 80).all()
