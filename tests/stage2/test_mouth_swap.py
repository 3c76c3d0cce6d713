"""Mouth swap: the source mouth becomes the real clip's mouth from far-away frames, crops and
cached latents alike; outside the mouth region the source is untouched."""

from __future__ import annotations

import numpy as np

from xdub.train.pair_windows import PairClip, swap_mouths


def _clip(frames: int = 20, size: int = 8, channels: int = 2) -> PairClip:
    rng = np.random.default_rng(0)
    region = np.zeros((frames, size, size), np.uint8)
    region[:, 4:8, 2:6] = 255  # the mouth: two latent blocks wide at spatial factor 2
    crops = rng.integers(0, 256, (2, frames, size, size, 3), dtype=np.uint8)
    index = np.arange(frames, dtype=np.float32)[None, :, None, None]
    latents = np.stack([np.broadcast_to(index + 100 * k, (channels, frames, 4, 4))
                        for k in (0, 1)]).astype(np.float32)  # value = frame (+100 in V)
    return PairClip("p", 25.0, crops[0], crops[1], region, np.zeros((frames, 2, 3), np.float32),
                    None, latents[0], latents[1])


def test_swapped_mouth_comes_from_distant_real_frames():
    clip = _clip()
    start, frames, gap = 3, 5, 6
    for seed in range(20):
        sample = {"input_crops": clip.input_crops[start:start + frames].copy(),
                  "input_latents": clip.input_latents[:, start:start + frames].copy()}
        swap_mouths(sample, clip, start, frames, gap, np.random.default_rng(seed))
        inside = sample["input_latents"][:, :, 2:4, 1:3]
        assert (inside >= 100).all()  # taken from V
        donors = inside[0, :, 0, 0] - 100
        distance = np.abs(donors - np.arange(start, start + frames))
        assert (np.minimum(distance, 20 - distance) >= gap).all(), donors
        outside = sample["input_latents"][:, :, :2]
        assert np.array_equal(outside, clip.input_latents[:, start:start + frames, :2])
        crops = sample["input_crops"]
        assert np.array_equal(crops[:, :4], clip.input_crops[start:start + frames, :4])
        j = int(donors[0])
        assert np.array_equal(crops[0, 4:8, 2:6], clip.target_crops[j, 4:8, 2:6])


def test_short_clips_are_left_alone():
    clip = _clip(frames=8)
    sample = {"input_crops": clip.input_crops[:5].copy()}
    swap_mouths(sample, clip, 0, 5, 4, np.random.default_rng(0))
    assert np.array_equal(sample["input_crops"], clip.input_crops[:5])


def test_pasted_occluder_is_the_same_in_source_and_target_and_covers_the_mouth():
    from xdub.train.pair_windows import paste_occluder

    clip, donor = _clip(size=32), _clip(size=32)
    donor = PairClip("d", 25.0, donor.input_crops, 255 - donor.target_crops, donor.region,
                     donor.audio_windows, None, donor.input_latents,
                     np.full_like(donor.target_latents, -7.0))
    region = np.zeros((20, 32, 32), np.uint8)
    region[:, 18:26, 10:22] = 255
    start, frames = 2, 5
    for seed in range(10):
        sample = {k: getattr(clip, k)[start:start + frames].copy()
                  for k in ("input_crops", "target_crops")}
        sample["region"] = region[start:start + frames]
        sample.update({k: getattr(clip, k)[:, start:start + frames].copy()
                       for k in ("input_latents", "target_latents")})
        paste_occluder(sample, donor, np.random.default_rng(seed))
        moved = sample["target_latents"] == -7.0
        assert moved.any() and np.array_equal(moved, sample["input_latents"] == -7.0)
        assert moved[:, :, 18 // 8:26 // 8 + 1].any()  # over the mouth rows (latent grid 8 px)
        pasted = (sample["target_crops"] != clip.target_crops[start:start + frames]).any(-1)
        same = (sample["input_crops"] == sample["target_crops"]).all(-1)
        assert pasted.any() and same[pasted].all()  # one occluder in both clips


def test_pasted_occluder_is_never_the_donors_mouth():
    """Another face's lips pasted over both clips would reward copying input lips."""
    from xdub.train.pair_windows import paste_occluder

    clip = _clip(size=32)
    region = np.zeros((20, 32, 32), np.uint8)
    region[:, 16:32, 0:32] = 255  # the donor's mouth region: its whole lower half
    crops = np.full((20, 32, 32, 3), 100, np.uint8)
    crops[:, 16:] = 200
    donor = PairClip("d", 25.0, crops, crops, region, clip.audio_windows, None,
                     clip.input_latents, clip.target_latents)
    for seed in range(20):
        sample = {k: getattr(clip, k)[:5].copy() for k in ("input_crops", "target_crops")}
        sample["region"] = region[:5]
        paste_occluder(sample, donor, np.random.default_rng(seed))
        pasted = (sample["target_crops"] == 100).all(-1)
        assert pasted.any() and not (sample["target_crops"] == 200).all(-1).any()


def test_real_occluder_moves_with_its_mask_in_source_and_target_and_reencodes_latents():
    from xdub.train.pair_windows import paste_real_occluder

    clip = _clip(size=32)
    occluders = np.zeros((20, 32, 32), np.uint8)
    for t in range(20):  # a "hand" sliding right one pixel per frame
        occluders[t, 16:30, t:t + 6] = 255
    hand = np.full((20, 32, 32, 3), 7, np.uint8)
    donor = PairClip("d", 25.0, hand, hand, clip.region, clip.audio_windows, None,
                     occluders=occluders)
    encoded = []

    def encoder(crops):
        encoded.append(crops.copy())
        return np.full((2, len(crops), 4, 4), -1.0, np.float32)

    sample = {k: getattr(clip, k)[2:7].copy() for k in ("input_crops", "target_crops")}
    sample.update({k: getattr(clip, k)[:, 2:7].copy() for k in ("input_latents", "target_latents")})
    paste_real_occluder(sample, donor, np.random.default_rng(0), encoder)
    covered = (sample["target_crops"] == 7).all(-1)
    assert np.array_equal(covered, (sample["input_crops"] == 7).all(-1))  # same in both
    start = int(np.argmax(covered[0, 20]))  # the hand's left edge on row 20 in frame 0
    assert covered[1, 20, start + 1] and not covered[1, 20, start]  # it moved one pixel
    assert np.array_equal(covered[0], occluders[start] > 0)  # frame `start` of the donor
    outside = ~covered
    assert np.array_equal(sample["input_crops"][outside], clip.input_crops[2:7][outside])
    assert len(encoded) == 2 and (sample["input_latents"] == -1).all()  # latents follow crops


def test_real_occluder_needs_a_stored_mask():
    from xdub.train.pair_windows import paste_real_occluder

    clip = _clip(size=32)
    sample = {k: getattr(clip, k)[:5].copy() for k in ("input_crops", "target_crops")}
    paste_real_occluder(sample, clip, np.random.default_rng(0), None)
    assert np.array_equal(sample["input_crops"], clip.input_crops[:5])
