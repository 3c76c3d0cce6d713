"""Three-stream guidance arithmetic, stacking, batched == sequential, scales, dropout."""

from dataclasses import dataclass

import pytest
import torch

from xdub.config import replace
from xdub.config.diffusion import DIFFUSION_PRESETS
from xdub.diffusion import (
    GuidanceStreams,
    PhaseMap,
    combine_guidance,
    constant_scales,
    drop_conditions,
    dynamic_scales,
    guided_model_fn,
    is_unguided,
    linear_scales,
    lip_only_scales,
    mask_condition,
    scales_from_config,
    stack_conditions,
    zero_fields,
)


@dataclass(frozen=True)
class Cond:
    ref_latents: torch.Tensor  # [B, C, F, H, W]
    audio_tokens: torch.Tensor  # [B, F, D]
    num_frames: int = 2


def _cond(batch: int = 2) -> Cond:
    g = torch.Generator().manual_seed(0)
    return Cond(torch.randn(batch, 4, 2, 4, 4, generator=g), torch.randn(batch, 2, 8, generator=g))


class ToyNet(torch.nn.Module):
    """Per-sample network with real layers, so batch composition must not matter."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.mix = torch.nn.Conv3d(8, 4, 1)
        self.audio = torch.nn.Linear(8, 4)

    def forward(self, x_t: torch.Tensor, sigma: torch.Tensor, cond: Cond) -> torch.Tensor:
        h = self.mix(torch.cat([x_t, cond.ref_latents], dim=1))
        audio = self.audio(cond.audio_tokens).mean(dim=1)  # [B, 4]
        return h * (1 + sigma.view(-1, 1, 1, 1, 1)) + audio[:, :, None, None, None]


def _v(seed: int) -> torch.Tensor:
    return torch.randn(2, 4, 2, 4, 4, generator=torch.Generator().manual_seed(seed))


def test_combine_arithmetic():
    v_null, v_ref, v_ra = _v(1), _v(2), _v(3)
    assert torch.allclose(combine_guidance(v_null, v_ref, v_ra, 1.0, 1.0), v_ra, atol=1e-6)
    assert torch.equal(combine_guidance(v_null, v_ref, v_ra, 0.0, 0.0), v_null)
    assert torch.allclose(combine_guidance(v_null, v_ref, v_ra, 1.0, 0.0), v_ref, atol=1e-6)
    out = combine_guidance(v_null, v_ref, v_ra, 2.5, 10.0)
    assert torch.allclose(out, v_null + 2.5 * (v_ref - v_null) + 10.0 * (v_ra - v_ref), atol=1e-5)
    per_sample = combine_guidance(v_null, v_ref, v_ra, torch.tensor([0.0, 1.0]), 0.0)
    assert torch.equal(per_sample[0], v_null[0])


def test_streams_from_drops_and_stacking():
    cond = _cond()
    streams = GuidanceStreams.from_drops(
        cond, lambda c: zero_fields(c, ["ref_latents"]), lambda c: zero_fields(c, ["audio_tokens"])
    )
    assert streams.null.ref_latents.abs().sum() == 0 and streams.null.audio_tokens.abs().sum() == 0
    assert torch.equal(streams.ref.ref_latents, cond.ref_latents)
    assert streams.ref.audio_tokens.abs().sum() == 0
    assert streams.ref_audio is cond
    stacked = stack_conditions(streams.as_list())
    assert isinstance(stacked, Cond) and stacked.ref_latents.shape[0] == 6
    assert torch.equal(stacked.audio_tokens[4:], cond.audio_tokens)
    assert stacked.num_frames == 2
    as_dict = stack_conditions([{"a": torch.ones(1, 2), "b": None}] * 3)
    assert as_dict["a"].shape == (3, 2) and as_dict["b"] is None
    with pytest.raises(ValueError):
        stack_conditions([Cond(cond.ref_latents, cond.audio_tokens, 1), cond])


def test_batched_equals_sequential_and_unit_scales_equal_full_condition():
    net, cond = ToyNet(), _cond()
    streams = GuidanceStreams.from_drops(
        cond, lambda c: zero_fields(c, ["ref_latents"]), lambda c: zero_fields(c, ["audio_tokens"])
    )
    x_t, sigma = _v(4), torch.tensor([0.7, 0.7])
    with torch.no_grad():
        scales = dynamic_scales(2.5, 10.0)
        batched = guided_model_fn(net, streams, scales, batched=True)(x_t, sigma, 0)
        sequential = guided_model_fn(net, streams, scales, batched=False)(x_t, sigma, 0)
        assert torch.allclose(batched, sequential, atol=1e-5)
        unit = guided_model_fn(net, streams, constant_scales(1.0, 1.0))(x_t, sigma, 0)
        assert torch.allclose(unit, net(x_t, sigma, cond), atol=1e-5)
        zero = guided_model_fn(net, streams, constant_scales(0.0, 0.0))(x_t, sigma, 0)
        assert torch.allclose(zero, net(x_t, sigma, streams.null), atol=1e-5)


def test_dynamic_schedule_levels():
    ref, audio = dynamic_scales(2.5, 10.0)(torch.tensor([1.0, 0.9, 0.6, 0.2, 0.8, 0.4]))
    assert torch.allclose(ref[:4], torch.tensor([2.5, 2.5, 1.5, 0.75]))
    assert torch.allclose(ref[4:], torch.tensor([2.0, 1.125]))  # mid-ramp: halfway between levels
    assert torch.allclose(audio[:4], 10.0 * torch.tensor([1.0, 0.9, 0.6, 0.2]) ** 1.5)
    dense = torch.linspace(0, 1, 2001)
    ref_dense, _ = dynamic_scales(2.5, 10.0)(dense)
    assert ref_dense.diff().abs().max() < 0.02  # continuous ramps, no jumps
    assert bool((ref_dense.diff() >= -1e-6).all())  # non-increasing towards low noise


def test_other_schedules():
    sigma = torch.tensor([1.0, 0.6, 0.0])
    ref, audio = linear_scales(3.0, 9.0)(sigma)
    assert torch.allclose(ref, torch.tensor([3.0, 2.2, 1.0]))
    assert torch.allclose(audio, torch.tensor([9.0, 5.8, 1.0]))
    ref, audio = lip_only_scales(2.0, 7.0, PhaseMap(0.8, 0.4))(sigma)
    assert ref.tolist() == [2.0, 2.0, 2.0] and audio.tolist() == [1.0, 7.0, 1.0]
    wan = DIFFUSION_PRESETS["wan5b"]
    for kind in ("constant", "linear", "lip_only", "dynamic"):
        ref, audio = scales_from_config(replace(wan, guidance_schedule=kind))(torch.tensor([0.6]))
        assert ref.shape == audio.shape == (1,)


def test_drop_conditions_frequencies_and_determinism():
    n = 20_000
    masks = drop_conditions(n, 0.1, 0.2, 0.05, torch.Generator().manual_seed(0))
    both = (~masks.keep_ref & ~masks.keep_audio).float().mean().item()
    audio_only = (masks.keep_ref & ~masks.keep_audio).float().mean().item()
    ref_only = (~masks.keep_ref & masks.keep_audio).float().mean().item()
    assert both == pytest.approx(0.05, abs=0.01)
    assert audio_only == pytest.approx(0.2, abs=0.015)
    assert ref_only == pytest.approx(0.1, abs=0.01)
    again = drop_conditions(n, 0.1, 0.2, 0.05, torch.Generator().manual_seed(0))
    assert torch.equal(masks.keep_ref, again.keep_ref)
    with pytest.raises(ValueError):
        drop_conditions(4, 0.5, 0.5, 0.5, torch.Generator())


def test_mask_condition_zeroes_dropped_samples():
    cond = torch.ones(3, 2, 4)
    out = mask_condition(cond, torch.tensor([True, False, True]))
    assert out[1].abs().sum() == 0 and torch.equal(out[0], cond[0])


def _counted_streams():
    """A toy net, its condition, the three streams and a forward that records batch sizes."""
    net, cond = ToyNet(), _cond()
    streams = GuidanceStreams.from_drops(
        cond, lambda c: zero_fields(c, ["ref_latents"]), lambda c: zero_fields(c, ["audio_tokens"])
    )
    calls: list[int] = []

    def counted(x, sigma, c):
        calls.append(int(x.shape[0]))
        return net(x, sigma, c)

    return net, cond, streams, calls, counted


def test_guidance_reuse_runs_one_stream_on_every_other_late_step():
    net, cond, streams, calls, counted = _counted_streams()

    scales = dynamic_scales(2.5, 10.0)
    full = guided_model_fn(net, streams, scales, batched=False)
    reuse = guided_model_fn(counted, streams, scales, batched=False, reuse_from=2)
    x_t = [_v(4) for _ in range(5)]
    sigmas = [torch.tensor([s, s]) for s in (0.9, 0.7, 0.5, 0.3, 0.1)]
    with torch.no_grad():
        outs = [reuse(x, s, k) for k, (x, s) in enumerate(zip(x_t, sigmas))]
        for k in (0, 1, 2, 4):  # full steps: exactly the three-stream merge
            assert torch.allclose(outs[k], full(x_t[k], sigmas[k], k), atol=1e-6)
        correction = full(x_t[2], sigmas[2], 2) - net(x_t[2], sigmas[2], cond)
        assert torch.allclose(outs[3], net(x_t[3], sigmas[3], cond) + correction, atol=1e-5)
    assert len(calls) == 3 * 4 + 1  # step 3 ran the ref+audio stream only


def test_unit_scales_run_the_ref_audio_stream_alone_with_the_same_result():
    net, cond, streams, calls, counted = _counted_streams()

    unit = guided_model_fn(counted, streams, constant_scales(1.0, 1.0), batched=False)
    x_t, sigma = _v(4), torch.tensor([0.6, 0.6])
    with torch.no_grad():
        torch.testing.assert_close(unit(x_t, sigma, 0), net(x_t, sigma, cond))
    assert calls == [2]  # one stream, batch 2
    assert is_unguided(1.0, torch.ones(2)) and not is_unguided(1.0, torch.tensor([1.0, 2.0]))
