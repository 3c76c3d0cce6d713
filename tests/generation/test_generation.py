"""The shared generation engine: sampler registry, chunk runner, inpainting generator."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from xdub.audio import build_featurizer
from xdub.config.codec import TinyCodecConfig
from xdub.config.diffusion import DIFFUSION_PRESETS
from xdub.config.infer import DUBBER_PRESETS, SamplingConfig
from xdub.config.model import MODEL_PRESETS
from xdub.errors import ConfigError
from xdub.generation import (
    ChunkInput,
    IdentityGenerator,
    InpaintGenerator,
    ModelGenerator,
    SamplerSettings,
    composite,
    generate_clip,
)
from xdub.generation.samplers import SAMPLERS, get_sampler, register_sampler
from xdub.models import build_dit
from xdub.models.codec import TinyVideoCodec


class NoisyGenerator(IdentityGenerator):
    """Crops plus seeded noise, continuing from its motion frames when it has them."""

    def generate(self, chunk, rng):
        self.calls.append(int(chunk.crops.shape[0]))
        noise = torch.randint(-20, 21, chunk.crops.shape, generator=rng).numpy()
        out = np.clip(chunk.crops.astype(int) + noise, 0, 255).astype(np.uint8)
        if chunk.motion_crops is not None:
            out[: len(chunk.motion_crops)] = chunk.motion_crops
        return out


def _crops(num=11, size=16, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (num, size, size, 3), dtype=np.uint8)


def _tiny_models(cond_channels=None):
    codec = TinyVideoCodec(TinyCodecConfig(image_size=32, latent_channels=8, widths=(8, 16)))
    featurizer = build_featurizer(DUBBER_PRESETS["tiny"].audio)
    cfg = replace(MODEL_PRESETS["tiny"], dim=64, num_layers=1, num_heads=2, ffn_dim=64,
                  freq_dim=32, latent_channels=8, cond_channels=cond_channels,
                  audio_dim=featurizer.dim, audio_proj_dim=32, audio_proj_heads=2)
    return build_dit(cfg, seed=0), codec, featurizer


def test_identity_clip_through_chunks_with_padding_is_exact():
    crops = _crops()
    gen = IdentityGenerator(16, temporal_factor=4, motion_frames=1)
    out = generate_clip(gen, crops, None, chunk_frames=6, overlap=2,
                        rng=torch.Generator().manual_seed(0))
    assert np.array_equal(out, crops)
    assert all((n - 1) % 4 == 0 for n in gen.calls), gen.calls  # padded to the codec's rule


def test_single_chunk_clip_equals_one_generator_call():
    crops = _crops(9)
    out = generate_clip(NoisyGenerator(16), crops, None, chunk_frames=16, overlap=0,
                        rng=torch.Generator().manual_seed(3))
    direct = NoisyGenerator(16).generate(ChunkInput(crops), torch.Generator().manual_seed(3))
    assert np.array_equal(out, direct)


class CountingGenerator(IdentityGenerator):
    """Every crop of the k-th call is 100 * k: shows which chunk each output frame came from."""

    def generate(self, chunk, rng):
        self.calls.append(int(chunk.crops.shape[0]))
        return np.full_like(chunk.crops, 100 * len(self.calls))


def test_overlap_is_cross_faded_between_chunks():
    gen = CountingGenerator(16, motion_frames=1)
    out = generate_clip(gen, _crops(10), None, chunk_frames=6, overlap=2,
                        rng=torch.Generator().manual_seed(1))
    assert gen.calls == [6, 6]  # frames 0-5, then 4-9
    # Shared frames 4, 5 ramp from the earlier chunk to the later one: weights 1/3, 2/3.
    assert out[:, 0, 0, 0].tolist() == [100] * 4 + [133, 167] + [200] * 4


def test_unknown_sampler_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown sampler 'nope'"):
        get_sampler("nope")
    with pytest.raises(ConfigError, match="unknown sampler"):
        SamplerSettings(replace(DIFFUSION_PRESETS["tiny"], sampler="nope"), 4)
    assert "euler" in SAMPLERS


def test_guided_sample_uses_the_configured_sampler():
    dit, codec, featurizer = _tiny_models()
    calls = []

    @register_sampler("test-recording")
    def recording(model_fn, noise, sigmas):
        calls.append(len(sigmas))
        return get_sampler("euler")(model_fn, noise, sigmas)

    try:
        diffusion = replace(DIFFUSION_PRESETS["tiny"], sampler="test-recording")
        gen = ModelGenerator(dit, codec, featurizer, 32, SamplerSettings(diffusion, 2))
        crops = _crops(3, 32)
        out = gen.generate(ChunkInput(crops, torch.zeros(3, 20, 80)),
                           torch.Generator().manual_seed(0))
    finally:
        SAMPLERS.pop("test-recording")
    assert calls == [3] and out.shape == crops.shape


def test_inpaint_generator_keeps_the_input_outside_its_mask():
    dit, codec, featurizer = _tiny_models(cond_channels=9)  # latents + 1 mask channel (tf 1)
    template = np.zeros((32, 32), np.float32)
    template[16:, 8:24] = 1.0
    gen = InpaintGenerator(dit, codec, featurizer, 32,
                           SamplerSettings(DIFFUSION_PRESETS["tiny"], 1), template=template)
    crops = _crops(3, 32)
    out = gen.generate(ChunkInput(crops, torch.zeros(3, 20, 80)),
                       torch.Generator().manual_seed(0))
    assert np.array_equal(out[:, template == 0], crops[:, template == 0])
    raw = replace_composited(gen).generate(ChunkInput(crops, torch.zeros(3, 20, 80)),
                                           torch.Generator().manual_seed(0))
    masks = np.repeat(template[None], 3, axis=0)
    assert np.array_equal(composite(raw, crops, masks), out)
    configured = gen.configured(SamplingConfig(steps=3, audio_scale=1.5))
    assert configured.steps == 3 and configured.sampler.diffusion.audio_scale == 1.5
    assert isinstance(configured, InpaintGenerator) and gen.steps == 1


def replace_composited(gen: InpaintGenerator) -> InpaintGenerator:
    """The same generator returning raw decoded crops."""
    return InpaintGenerator(gen.dit, gen.codec, gen.featurizer, gen.crop_size, gen.sampler,
                            template=gen.template, composited=False)


def test_border_latents_end_as_the_source_and_motion_is_kept():
    from xdub.generation.guided import SamplerSettings, guided_sample
    from xdub.model_types import DiTConditioning
    from xdub.models import build_dit

    config = replace(MODEL_PRESETS["tiny"], num_layers=1, audio_dim=None)
    dit = build_dit(config, seed=0).eval()
    gen = torch.Generator().manual_seed(0)
    source = torch.randn(1, config.latent_channels, 3, 6, 6, generator=gen)
    motion = torch.randn(1, config.latent_channels, 1, 6, 6, generator=gen)
    cond = DiTConditioning(source_latents=source, motion_latents=motion)
    diffusion = replace(DIFFUSION_PRESETS["tiny"], border_latents=1)
    with torch.no_grad():
        out = guided_sample(dit, cond, SamplerSettings(diffusion, 2),
                            torch.Generator().manual_seed(1))
    torch.testing.assert_close(out[:, :, :1], motion)
    ring = out[:, :, 1:].clone()
    ring[..., 1:-1, 1:-1] = 0
    expected = source[:, :, 1:].clone()
    expected[..., 1:-1, 1:-1] = 0
    torch.testing.assert_close(ring, expected)
    assert not torch.allclose(out[:, :, 1:, 1:-1, 1:-1], source[:, :, 1:, 1:-1, 1:-1])


def test_keep_unchanged_takes_the_input_where_the_editor_changed_nothing():
    from xdub.config.infer import KeepConfig
    from xdub.generation import keep_unchanged

    original = _crops(2, 16)
    unchanged = np.full_like(original, 120)  # the source as the codec decodes it
    decoded = unchanged.copy()
    decoded[:, 8:, :] = 10  # the editor changed the lower half a lot, left the rest alone
    decoded[:, :8, :8] += 2  # codec-level noise in one quadrant: still "unchanged"
    out = keep_unchanged(decoded, unchanged, original, KeepConfig(low=4.0, high=12.0, blur=0.0))
    assert np.array_equal(out[:, :8], original[:, :8])
    assert np.array_equal(out[:, 8:], decoded[:, 8:])
    with pytest.raises(ConfigError):
        KeepConfig(low=5.0, high=4.0)


def test_model_generator_with_keep_returns_input_pixels_where_unchanged():
    from xdub.config.infer import KeepConfig

    dit, codec, featurizer = _tiny_models()
    sampler = SamplerSettings(DIFFUSION_PRESETS["tiny"], 1)
    crops = _crops(3, 32)
    chunk = ChunkInput(crops, torch.zeros(3, 20, 80))
    plain = ModelGenerator(dit, codec, featurizer, 32, sampler)
    keep = KeepConfig(low=256.0, high=257.0, blur=0.0)  # no change reaches "changed"
    kept = ModelGenerator(dit, codec, featurizer, 32, sampler, keep=keep)
    raw = plain.generate(chunk, torch.Generator().manual_seed(0))
    out = kept.generate(chunk, torch.Generator().manual_seed(0))
    assert not np.array_equal(raw, crops) and np.array_equal(out, crops)


class _StillDiT(torch.nn.Module):
    """Velocity 0 everywhere: the sampler returns its starting point."""

    def __init__(self, channels: int, start: torch.Tensor | None = None) -> None:
        super().__init__()
        self.config = replace(MODEL_PRESETS["tiny"], latent_channels=channels)
        self.weight = torch.nn.Parameter(torch.zeros(1))
        if start is not None:
            self.start_latents = lambda cond: start

    def forward(self, x, timestep, cond):
        return torch.zeros_like(x)


def test_denoise_strength_starts_from_the_noised_start_latents():
    from xdub.generation.guided import guided_sample
    from xdub.model_types import DiTConditioning

    g = torch.Generator().manual_seed(0)
    source, own = torch.randn(2, 1, 4, 3, 5, 5, generator=g)
    cond = DiTConditioning(source_latents=source)
    diffusion = replace(DIFFUSION_PRESETS["tiny"], ref_scale=1.0, audio_scale=1.0,
                        denoise_strength=0.25)
    settings = SamplerSettings(diffusion, 4)
    first = settings.sigmas[0].item()
    assert 0.25 < first < 1.0 and len(settings.sigmas) == 5  # shifted start, same step count
    noise = torch.randn(1, 4, 3, 5, 5, generator=torch.Generator().manual_seed(7))
    for dit, start in ((_StillDiT(4), source), (_StillDiT(4, own), own)):
        out = guided_sample(dit, cond, settings, torch.Generator().manual_seed(7))
        torch.testing.assert_close(out, (1 - first) * start + first * noise)
    given = torch.randn(1, 4, 3, 5, 5, generator=g)  # an explicit start wins over both
    for dit in (_StillDiT(4), _StillDiT(4, own)):
        out = guided_sample(dit, cond, settings, torch.Generator().manual_seed(7), init=given)
        torch.testing.assert_close(out, (1 - first) * given + first * noise)
    full = guided_sample(_StillDiT(4), cond, SamplerSettings(replace(diffusion,
                         denoise_strength=1.0), 4), torch.Generator().manual_seed(7))
    torch.testing.assert_close(full, noise)  # strength 1: pure noise, the source unused
    with pytest.raises(ConfigError):
        SamplingConfig(denoise_strength=0.0)


class _AllCovered(torch.nn.Module):
    """An occluder net that calls every pixel covered."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def probabilities(self, crops: np.ndarray) -> np.ndarray:
        return np.ones(crops.shape[:3], np.float32)


def test_model_generator_keeps_the_input_under_occluders():
    from xdub.config.infer import OccluderKeepConfig

    dit, codec, featurizer = _tiny_models()
    sampler = SamplerSettings(DIFFUSION_PRESETS["tiny"], 1)
    crops = _crops(3, 32)
    chunk = ChunkInput(crops, torch.zeros(3, 20, 80))
    raw = ModelGenerator(dit, codec, featurizer, 32, sampler).generate(
        chunk, torch.Generator().manual_seed(0))
    kept = ModelGenerator(dit, codec, featurizer, 32, sampler, occluder_net=_AllCovered(),
                          occluders=OccluderKeepConfig(enabled=True))
    assert not np.array_equal(raw, crops)
    assert np.array_equal(kept.generate(chunk, torch.Generator().manual_seed(0)), crops)


class _LeftHalfCovered(_AllCovered):
    """An occluder over the left half of the second crop only."""

    def probabilities(self, crops: np.ndarray) -> np.ndarray:
        covered = np.zeros(crops.shape[:3], np.float32)
        covered[1, :, : crops.shape[2] // 2] = 1.0
        return covered


class _Spy(torch.nn.Module):
    """Records the conditioning it is called with; velocity 0."""

    def __init__(self, dit: torch.nn.Module) -> None:
        super().__init__()
        self.dit, self.config, self.seen = dit, dit.config, []

    def forward(self, x, timestep, cond):
        self.seen.append(cond.source_visibility)
        return torch.zeros_like(x)


def test_model_generator_tells_the_dit_which_source_latents_occluders_hide():
    """The segmenter's mask reaches the conditioning at latent resolution (a cell is hidden
    when any of its pixels is, after the keep rule's growth): a lip prior's chunk mean then
    leaves a passing hand out of the other frames."""
    from xdub.config.infer import OccluderKeepConfig
    from xdub.generation.generators import latent_visibility

    dit, codec, featurizer = _tiny_models()
    spy = _Spy(dit)
    sampler = SamplerSettings(DIFFUSION_PRESETS["tiny"], 1)
    keep = OccluderKeepConfig(enabled=True, grow=0)
    gen = ModelGenerator(spy, codec, featurizer, 32, sampler, occluder_net=_LeftHalfCovered(),
                         occluders=keep)
    gen.generate(ChunkInput(_crops(3, 32), torch.zeros(3, 20, 80)), torch.Generator())
    seen = spy.seen[0]
    h = 32 // codec.spatial_factor
    assert seen.shape[1:] == (1, 3, h, h)
    assert torch.equal(seen[0, 0, 1, :, : h // 2], torch.zeros(h, h // 2))
    assert torch.equal(seen[0, 0, 1, :, h // 2:], torch.ones(h, h // 2))
    assert torch.equal(seen[0, 0, [0, 2]], torch.ones(2, h, h))
    grown = latent_visibility(_LeftHalfCovered().probabilities(_crops(3, 32)), (h, h),
                              OccluderKeepConfig(enabled=True, grow=2))
    assert grown[0, 0, 1, :, h // 2].max() == 0  # 2 px of growth reach the next cell
    without = _Spy(dit)
    ModelGenerator(without, codec, featurizer, 32, sampler).generate(
        ChunkInput(_crops(3, 32), torch.zeros(3, 20, 80)), torch.Generator())
    assert without.seen[0] is None
