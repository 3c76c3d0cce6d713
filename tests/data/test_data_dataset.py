"""Stage-1 data: synthetic single clips, masks from landmarks, windows, sampler, latent cache."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch

from xdub.audio import MelFeaturizer
from xdub.conditioning import assemble_condition, encode_condition, encode_frames, hold_masks
from xdub.config.codec import TinyCodecConfig
from xdub.config.face import AlignConfig, FaceConfig
from xdub.config.train import SynthSourceConfig
from xdub.data.crops import attach_latents, cut_window, prepare_clip
from xdub.data.dataset import BlockShuffleSampler, WindowDataset, collate_windows
from xdub.data.sources import SynthClipSource
from xdub.face.landmarks import transform_points
from xdub.models.codec import TinyVideoCodec

FACE = FaceConfig(align=AlignConfig(crop_size=32))


@pytest.fixture(scope="module")
def source() -> SynthClipSource:
    return SynthClipSource(SynthSourceConfig(scenario="standard", size=(96, 96), clip_seconds=1.0,
                                             num_clips=3))


@pytest.fixture(scope="module")
def prepared(source):
    return prepare_clip(source.load(0), FACE, MelFeaturizer(), mask_hold_s=0.2)


@pytest.fixture(scope="module")
def codec() -> TinyVideoCodec:
    torch.manual_seed(0)
    return TinyVideoCodec(TinyCodecConfig(image_size=32, widths=(8, 16), latent_channels=4)).eval()


def test_synthetic_source_renders_single_clips_only(source):
    record = source.load(1)
    assert record.meta["role"] == "single"  # never the engine's A/B pair renders
    assert record.clip_id == "synth:standard:1" and record.frames.shape == (25, 96, 96, 3)
    assert record.landmarks.shape == (25, 68, 2) and record.samples.shape == (16000,)
    np.testing.assert_array_equal(source.load_audio(1), record.samples)


def test_masks_follow_landmarks(source, prepared):
    record = source.load(0)
    c = prepared.crops
    assert c.crops.shape == (25, 32, 32, 3) and c.masks.shape == (25, 32, 32)
    for t in (0, 12, 24):
        lm = c.landmarks[t]
        mouth = np.round(lm[48:60]).astype(int).clip(0, 31)
        eyes = np.round([lm[36:42].mean(0), lm[42:48].mean(0)]).astype(int).clip(0, 31)
        assert c.masks[t][mouth[:, 1], mouth[:, 0]].min() > 0.9  # lower face covers the lips
        assert c.masks[t][eyes[:, 1], eyes[:, 0]].max() < 0.05  # ... and not the eyes
        assert c.mouth_masks[t][mouth[:, 1], mouth[:, 0]].min() > 0.5
        assert c.mouth_masks[t].sum() < c.masks[t].sum()
        # Crop landmarks are the frame landmarks moved by the crop alignment.
        np.testing.assert_allclose(lm, transform_points(record.landmarks[t], c.affines[t]),
                                   atol=1e-3)


def test_held_mask_is_stable_superset():
    rng = np.random.default_rng(0)
    raw = (rng.random((30, 8, 8)) > 0.5).astype(np.float32)
    held = hold_masks(raw, 3)
    assert np.all(held >= raw)
    assert np.abs(np.diff(held, axis=0)).mean() < np.abs(np.diff(raw, axis=0)).mean()


def test_window_dataset_items(source, prepared):
    prepare = partial(prepare_clip, face=FACE, featurizer=MelFeaturizer(), mask_hold_s=0.2)
    data = WindowDataset(source, prepare, window_frames=5, ref_frames=2, ref_min_gap=4,
                         windows_per_clip=4, seed=3, cache_clips=2)
    assert len(data) == 12
    item = data[1]
    start = item["start"]
    assert item["crops"].shape == (5, 32, 32, 3) and item["audio"].shape == (5, 20, 80)
    assert item["ref_crops"].shape == (2, 32, 32, 3)
    assert not np.any((item["ref_indices"] >= start) & (item["ref_indices"] < start + 5))
    np.testing.assert_array_equal(item["crops"], prepared.crops.crops[start:start + 5])
    again = data[1]  # deterministic per index
    assert again["start"] == start and np.array_equal(again["ref_indices"], item["ref_indices"])
    batch = collate_windows([data[0], data[5]])
    assert batch["crops"].shape == (2, 5, 32, 32, 3) and batch["crops"].dtype == torch.uint8
    assert batch["clip_id"] == ["synth:standard:0", "synth:standard:1"]


def test_cached_latents_equal_online_conditioning(prepared, codec):
    cached = attach_latents(prepared, codec)
    sample = cut_window(cached, 7, 5, 2, 4, np.random.default_rng(0))
    batch = collate_windows([sample])
    from_cache = assemble_condition(batch["source_latents"], batch["ref_latents"],
                                    batch["audio"], codec.temporal_factor)
    online = encode_condition(codec, sample["crops"], mode="inpaint", mask=sample["mask"],
                              ref_crops=sample["ref_crops"], audio_windows=sample["audio"])
    for name in ("source_latents", "ref_latents", "audio_features"):
        torch.testing.assert_close(getattr(from_cache, name), getattr(online, name),
                                   atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(batch["target_latents"], encode_frames(codec, sample["crops"]),
                               atol=1e-5, rtol=1e-5)


def test_sampler_resumes_and_partitions():
    full = BlockShuffleSampler(5, 3, block=2, seed=1)
    stream = [i for _, i in zip(range(40), full)]
    assert sorted(stream[:15]) == list(range(15))  # one epoch = every window once
    resumed = BlockShuffleSampler(5, 3, block=2, seed=1, start=11)
    assert [i for _, i in zip(range(29), resumed)] == stream[11:]
    ranks = [BlockShuffleSampler(5, 3, 2, 1, rank=r, world=2) for r in (0, 1)]
    parts = [[i for _, i in zip(range(10), s)] for s in ranks]
    assert parts[0] == stream[0:20:2] and parts[1] == stream[1:20:2]


def test_video_source_reads_the_tracked_span(source, tmp_path):
    from xdub.config.train import VideoSourceConfig
    from xdub.data.sources import VideoClipSource, save_track
    from xdub.media import write_video
    from xdub.types import Audio

    record = source.load(2)
    write_video(tmp_path / "talk.mp4", record.frames, 25.0, audio=Audio(record.samples), crf=12)
    rows = np.arange(3, 20)
    save_track(tmp_path / "talk.track.npz", rows, record.landmarks[rows], record.face_boxes[rows])
    videos = VideoClipSource(VideoSourceConfig(videos=(str(tmp_path / "*.mp4"),)))
    assert len(videos) == 1
    clip = videos.load(0)
    assert clip.frames.shape == (17, 96, 96, 3) and clip.meta["first_frame"] == 3
    assert abs(len(clip.samples) - 17 * 640) <= 640  # the track's span of the soundtrack
    np.testing.assert_allclose(clip.landmarks, record.landmarks[rows])
    assert np.abs(clip.frames.astype(int) - record.frames[rows].astype(int)).mean() < 6  # lossy
