"""TinyVideoCodec: shapes, frame rule, deterministic encode, latent stats, save/load identity."""

import json

import pytest
import torch

from xdub.config.codec import CODEC_PRESETS, TinyCodecConfig
from xdub.errors import WeightsError
from xdub.models.codec import TinyVideoCodec, VideoCodec, build_codec

SMALL = TinyCodecConfig(image_size=32, latent_channels=4, widths=(8, 16))


def test_default_factors():
    codec = build_codec(CODEC_PRESETS["tiny"])
    assert isinstance(codec, VideoCodec)
    cfg = CODEC_PRESETS["tiny"].tiny
    assert (codec.latent_channels, codec.temporal_factor, codec.spatial_factor) == (
        cfg.latent_channels, 1, 4)  # fmt: skip
    assert [codec.latent_frames(f) for f in (1, 2, 7)] == [1, 2, 7]  # any F: factor 1


@torch.no_grad()
def test_shapes_and_determinism():
    torch.manual_seed(0)
    codec = TinyVideoCodec(SMALL).eval()
    frames = torch.rand(2, 3, 3, 32, 48) * 2 - 1
    latents = codec.encode(frames)
    assert latents.shape == (2, 4, 3, 8, 12)
    torch.testing.assert_close(codec.encode(frames), latents)  # no sampling
    video = codec.decode(latents)
    assert video.shape == frames.shape and video.abs().max() <= 1.0
    # Per-frame codec: frame 1 of a clip encodes the same alone.
    torch.testing.assert_close(codec.encode(frames[:, :, 1:2]), latents[:, :, 1:2])
    with pytest.raises(ValueError):
        codec.encode(torch.zeros(1, 3, 1, 30, 32))


@torch.no_grad()
def test_latent_stats_normalise():
    torch.manual_seed(0)
    codec = TinyVideoCodec(SMALL).eval()
    frames = torch.rand(1, 3, 4, 32, 32) * 2 - 1
    raw = codec.encode(frames)  # identity stats so far
    before = codec.decode(raw)
    codec.set_latent_stats(raw.mean(dim=(0, 2, 3, 4)), raw.std(dim=(0, 2, 3, 4)))
    normed = codec.encode(frames)
    assert normed.mean(dim=(0, 2, 3, 4)).abs().max() < 1e-4
    assert (normed.std(dim=(0, 2, 3, 4)) - 1).abs().max() < 1e-3
    torch.testing.assert_close(codec.decode(normed), before, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_save_load_identical_outputs(tmp_path):
    torch.manual_seed(0)
    codec = TinyVideoCodec(SMALL).eval()
    codec.set_latent_stats(torch.linspace(-1, 1, 4), torch.linspace(0.5, 2, 4))
    folder = codec.save_pretrained(tmp_path / "codec")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    assert json.loads((folder / "config.json").read_text())["latent_channels"] == 4
    loaded = TinyVideoCodec.from_pretrained(folder)
    assert loaded.cfg == codec.cfg
    frames = torch.rand(1, 3, 2, 32, 32) * 2 - 1
    assert torch.equal(loaded.encode(frames), codec.encode(frames))
    latents = codec.encode(frames)
    assert torch.equal(loaded.decode(latents), codec.decode(latents))


def test_missing_checkpoint_raises(tmp_path):
    with pytest.raises(WeightsError, match="config.json"):
        TinyVideoCodec.from_pretrained(tmp_path)


@torch.no_grad()
def test_pca_init_reproduces_low_rank_images():
    # Images made of flat 4x4 colour blocks have 3-dim patches: a 4-channel PCA code is exact.
    gen = torch.Generator().manual_seed(0)
    blocks = torch.rand(6, 3, 8, 8, generator=gen) * 2 - 1
    images = torch.nn.functional.interpolate(blocks, scale_factor=4.0, mode="nearest")
    codec = TinyVideoCodec(SMALL).eval()
    codec.init_from_pca(images)
    frames = images.permute(1, 0, 2, 3)[None]
    latents = codec.encode(frames)
    torch.testing.assert_close(codec.decode(latents), frames, atol=1e-4, rtol=0)
    assert (latents.std(dim=(0, 2, 3, 4))[:3] - 1).abs().max() < 0.05  # whitened channels
