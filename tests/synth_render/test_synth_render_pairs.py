"""Determinism and the pair property: A and B differ only in the mouth region."""

import cv2
import numpy as np
import pytest

from xdub.config import replace
from xdub.config.synth import SCENARIOS
from xdub.synth.clip import ENGINE_VERSION, render_clip, render_pair


def _cfg(name: str = "standard", **changes):
    return replace(SCENARIOS[name], **{"size": (128, 128), "duration": 1.6, **changes})


def _morph(masks: np.ndarray, op, k: int) -> np.ndarray:
    kernel = np.ones((k, k), np.uint8)
    return np.stack([op(m.astype(np.uint8), kernel) for m in masks]).astype(bool)


def test_same_seed_is_bit_identical_and_seeds_differ():
    cfg = _cfg("mixed")
    a, b = render_clip(7, cfg), render_clip(7, cfg)
    assert np.array_equal(a.frames, b.frames)
    assert np.array_equal(a.audio.samples, b.audio.samples)
    assert np.array_equal(a.truth.landmarks, b.truth.landmarks)
    assert np.array_equal(a.truth.occluder_mask, b.truth.occluder_mask)
    assert a.meta == b.meta and a.meta["engine_version"] == ENGINE_VERSION
    c = render_clip(8, cfg)
    assert not np.array_equal(a.frames, c.frames)
    assert not np.array_equal(a.audio.samples, c.audio.samples)


def test_pair_first_clip_is_the_single_clip():
    cfg = _cfg()
    a, _ = render_pair(3, cfg)
    single = render_clip(3, cfg)
    assert np.array_equal(a.frames, single.frames)
    assert np.array_equal(a.audio.samples, single.audio.samples)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pair_differs_only_in_mouth_region_and_never_under_occluders(seed):
    a, b = render_pair(seed, _cfg("occlusion", duration=2.0))
    assert a.frames.shape == b.frames.shape and len(a.audio.samples) == len(b.audio.samples)
    assert not np.array_equal(a.audio.samples, b.audio.samples)
    diff = np.any(a.frames != b.frames, axis=-1)
    assert diff.sum() > 100  # different speech -> different mouths
    # Everything speech-independent is shared exactly, including the masks.
    assert np.array_equal(a.truth.mouth_mask, b.truth.mouth_mask)
    assert np.array_equal(a.truth.occluder_mask, b.truth.occluder_mask)
    assert np.array_equal(a.truth.head_affine, b.truth.head_affine)
    assert np.array_equal(a.truth.lighting, b.truth.lighting)
    assert np.array_equal(a.truth.landmarks[:, :48], b.truth.landmarks[:, :48])
    # Pixels differ only inside the (slightly dilated) mouth region ...
    region = _morph(a.truth.mouth_mask, cv2.dilate, 5)
    assert not np.any(diff & ~region)
    # ... and never where an occluder fully covers them (5x5 erosion drops the AA rim).
    covered = _morph(a.truth.occluder_mask, cv2.erode, 5)
    assert np.any(covered & a.truth.mouth_mask)  # the occluder did cover the mouth
    assert not np.any(diff & covered)


def test_rendering_a_seed_with_b_speech_reproduces_b():
    """The answer key: clip A's scene driven by B's speech is exactly clip B."""
    from xdub.synth.clip import plan_clips
    from xdub.synth.tracks import SpeechTrack

    cfg = _cfg("lighting", duration=1.0)
    _, plan_b = plan_clips(6, cfg, pair=True)
    speech_b = SpeechTrack(plan_b.phones, plan_b.audio.samples, plan_b.audio.sample_rate)
    dubbed = render_clip(6, cfg, speech=speech_b)
    _, b = render_pair(6, cfg)
    assert np.array_equal(dubbed.frames, b.frames)
    assert np.array_equal(dubbed.audio.samples, b.audio.samples)


def test_iter_clips_and_tensor_view():
    from xdub.synth.clip import clip_to_tensors, iter_clips

    cfg = _cfg(duration=0.2, size=(64, 48))
    pairs = list(iter_clips(cfg, num=2, start_seed=10, pairs=True))
    assert len(pairs) == 2 and pairs[1][0].meta["seed"] == 11 and pairs[1][1].meta["role"] == "b"
    tensors = clip_to_tensors(pairs[0][0])
    assert tuple(tensors["frames"].shape) == (5, 3, 48, 64)
    assert float(tensors["frames"].max()) <= 1.0 and tuple(tensors["landmarks"].shape) == (5, 68, 2)
