"""Wan2.2 VAE codec on a tiny random config: shapes, F' rule, key conversion, weight loading."""

import pytest
import torch
from safetensors.torch import save_file

from xdub.config.codec import WanVAEConfig
from xdub.errors import WeightsError
from xdub.models.codec import wan_keys
from xdub.models.codec.wan import WanVAECodec, build_autoencoder

TINY = WanVAEConfig(base_dim=8, decoder_base_dim=12, z_dim=4, latents_mean=(0.1, -0.2, 0.3, 0.0),
                    latents_std=(0.5, 1.0, 2.0, 1.5))  # fmt: skip

# Names of the original Wan2.2 release layout (facts; one per kind of module).
ORIGINAL_KEYS = [
    "conv1.weight", "conv2.bias", "encoder.conv1.weight", "decoder.conv1.bias",
    "encoder.downsamples.0.downsamples.0.residual.0.gamma",
    "encoder.downsamples.1.downsamples.0.shortcut.weight",
    "encoder.downsamples.1.downsamples.2.time_conv.weight",
    "encoder.downsamples.0.downsamples.2.resample.1.weight",
    "encoder.middle.1.to_qkv.weight", "encoder.middle.2.residual.6.bias", "encoder.head.2.weight",
    "decoder.upsamples.0.upsamples.3.time_conv.weight",
    "decoder.upsamples.2.upsamples.0.shortcut.weight",
    "decoder.upsamples.3.upsamples.2.residual.3.gamma", "decoder.head.0.gamma",
]  # fmt: skip


@pytest.fixture(scope="module")
def codec():
    torch.manual_seed(0)
    return WanVAECodec(TINY).eval()


def test_factors_and_frame_rule(codec):
    assert (codec.latent_channels, codec.temporal_factor, codec.spatial_factor) == (4, 4, 16)
    assert [codec.latent_frames(f) for f in (1, 5, 9, 77)] == [1, 2, 3, 20]
    assert codec.pixel_frames(20) == 77
    with pytest.raises(ValueError):
        codec.latent_frames(8)


@torch.no_grad()
def test_encode_decode_shapes(codec):
    frames = torch.rand(1, 3, 5, 32, 48) * 2 - 1
    latents = codec.encode(frames)
    assert latents.shape == (1, 4, 2, 2, 3)
    video = codec.decode(latents)
    assert video.shape == (1, 3, 5, 32, 48)
    assert video.abs().max() <= 1.0
    with pytest.raises(ValueError):
        codec.encode(torch.zeros(1, 3, 5, 24, 32))


@torch.no_grad()
def test_latent_normalisation(codec):
    frames = torch.rand(1, 3, 1, 32, 32) * 2 - 1
    mu = codec.vae.encode(frames).latent_dist.mode()
    mean = torch.tensor(TINY.latents_mean).view(1, 4, 1, 1, 1)
    std = torch.tensor(TINY.latents_std).view(1, 4, 1, 1, 1)
    torch.testing.assert_close(codec.encode(frames), (mu - mean) / std)


def test_key_conversion_round_trip(codec):
    state = codec.vae.state_dict()
    original = wan_keys.diffusers_to_original(state, TINY.num_res_blocks)
    assert set(ORIGINAL_KEYS) <= set(original)
    back = wan_keys.original_to_diffusers(original)
    assert back.keys() == state.keys()
    assert all(back[k] is state[k] for k in state)
    # DiffSynth-style containers load too.
    wrapped = {"model." + k: v for k, v in original.items()}
    assert wan_keys.original_to_diffusers(wrapped).keys() == state.keys()


@torch.no_grad()
def test_from_original_file_reproduces_outputs(codec, tmp_path):
    original = wan_keys.diffusers_to_original(codec.vae.state_dict(), TINY.num_res_blocks)
    path = tmp_path / "Wan2.2_VAE.safetensors"
    save_file({k: v.contiguous() for k, v in original.items()}, str(path))
    loaded = WanVAECodec.from_original(TINY, path).eval()
    assert not any(p.is_meta for p in loaded.parameters())
    frames = torch.rand(1, 3, 1, 32, 32) * 2 - 1
    torch.testing.assert_close(loaded.encode(frames), codec.encode(frames))


def test_tiling_keeps_shapes():
    torch.manual_seed(0)
    tiled = WanVAECodec(WanVAEConfig(**{**_fields(TINY), "tiling": True, "tile_size": 32,
                                        "tile_stride": 16}))  # fmt: skip
    frames = torch.rand(1, 3, 1, 32, 48) * 2 - 1  # wider than a 32 px tile: 2 tiles across
    with torch.no_grad():
        latents = tiled.encode(frames)
        assert latents.shape == (1, 4, 1, 2, 3)
        assert tiled.decode(latents).shape == (1, 3, 1, 32, 48)


def test_missing_or_wrong_weights(tmp_path):
    with pytest.raises(WeightsError, match="Wan2.2_VAE"):
        WanVAECodec.from_original(TINY, tmp_path / "Wan2.2_VAE.safetensors")
    with pytest.raises(WeightsError, match="weights path"):
        WanVAECodec.from_original(TINY)
    wider = WanVAEConfig(base_dim=16, decoder_base_dim=12, z_dim=4, latents_mean=(0,) * 4,
                         latents_std=(1,) * 4)  # fmt: skip
    other = build_autoencoder(wider)
    original = wan_keys.diffusers_to_original(other.state_dict(), 2)
    save_file({k: v.contiguous() for k, v in original.items()}, str(tmp_path / "w.safetensors"))
    with pytest.raises(WeightsError, match="does not match"):
        WanVAECodec.from_original(TINY, tmp_path / "w.safetensors")


def _fields(cfg):
    from xdub.config import to_dict

    return {k: tuple(v) if isinstance(v, list) else v for k, v in to_dict(cfg).items()}
