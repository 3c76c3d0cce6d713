"""Audio lip prior: leaves null streams alone, learns audio -> mouth, round-trips in the wrapper."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from xdub.config import replace
from xdub.config.model import MODEL_PRESETS, LipPriorConfig
from xdub.errors import ConfigError
from xdub.models import DiTConditioning, build_dit
from xdub.models.fusion import SourceFusedDiT, load_dit
from xdub.models.lip_prior import LipPrior

CFG = replace(MODEL_PRESETS["tiny"], latent_channels=4, cond_channels=4, dim=24, num_layers=1,
              num_heads=2, ffn_dim=48, freq_dim=16, audio_dim=8, audio_proj_dim=16,
              audio_proj_heads=2)
PRIOR = LipPriorConfig(enabled=True, context_frames=1, audio_width=16, width=16, layers=2)


def _cond(batch: int = 2, seed: int = 0) -> DiTConditioning:
    g = torch.Generator().manual_seed(seed)
    return DiTConditioning(source_latents=torch.randn(batch, 4, 5, 8, 8, generator=g),
                           audio_features=torch.randn(batch, 5, 4, 8, generator=g))


def test_prior_changes_only_streams_with_audio_and_source():
    prior = LipPrior(PRIOR, 4, 8)
    cond = _cond(3)
    audio = cond.audio_features.clone()
    audio[1] = 0  # the "ref" stream: no audio
    source = cond.source_latents.clone()
    source[2] = 0  # the null stream: no source
    out = prior.condition(DiTConditioning(source_latents=source, audio_features=audio))
    assert not torch.equal(out.source_latents[0], source[0])
    torch.testing.assert_close(out.source_latents[1:], source[1:], rtol=0, atol=0)


@pytest.mark.parametrize("hide_box", [(), (0.625, 0.875, 0.375, 0.625)])
def test_prior_learns_a_mouth_driven_by_the_audio(hide_box):
    """Target mouth (a 2x2 patch) = a function of the audio; the prior must beat the source,
    also when it never sees the source's mouth (the hidden box covers the patch; a gate there
    once shut for good within 90 steps of training)."""
    torch.manual_seed(0)
    prior = LipPrior(replace(PRIOR, hide_box=hide_box), 4, 8)
    opt = torch.optim.Adam(prior.parameters(), 3e-3)
    region = torch.zeros(4, 5, 8, 8)
    region[:, :, 5:7, 3:5] = 1

    def batch(seed: int):
        cond = _cond(4, seed)
        target = cond.source_latents.clone()
        level = cond.audio_features.mean(dim=(2, 3))  # [B, F]: what the audio "says"
        target[:, :, :, 5:7, 3:5] = 3 * level[:, None, :, None, None]
        return cond, target

    losses = []
    for step in range(150):
        cond, target = batch(step)
        loss = prior.loss(cond, target, region)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    cond, target = batch(1000)
    with torch.no_grad():
        guess = prior.condition(cond).source_latents
    mouth = region[:, None].bool().expand_as(target)
    copy_err = ((cond.source_latents - target)[mouth] ** 2).mean()
    prior_err = ((guess - target)[mouth] ** 2).mean()
    assert prior_err < 0.5 * copy_err, (prior_err, copy_err)
    assert sum(losses[-10:]) < 0.7 * sum(losses[:10])  # a dead (saturated) gate stays flat


def test_wrapper_with_prior_round_trips(tmp_path):
    dit = build_dit(CFG, seed=0)
    prior = LipPrior(PRIOR, 4, 8)
    torch.nn.init.normal_(prior.out.weight, std=0.1)  # a non-trivial prior
    fused = SourceFusedDiT(dit, residual=True, lip_prior=prior).eval()
    g = torch.Generator().manual_seed(3)
    x, t, cond = torch.randn(2, 4, 5, 8, 8, generator=g), torch.tensor([300.0, 800.0]), _cond()
    fused.save_pretrained(tmp_path)
    loaded = load_dit(tmp_path).eval()
    assert isinstance(loaded, SourceFusedDiT) and loaded.lip_prior is not None
    assert loaded.lip_prior.cfg == PRIOR
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, t, cond), fused(x, t, cond))
        plain = SourceFusedDiT(dit, residual=True).eval()
        assert not torch.allclose(plain(x, t, cond), fused(x, t, cond))



def test_constant_inputs_compute_the_prior_once_per_condition_with_identical_outputs():
    prior = LipPrior(PRIOR, 4, 8)
    torch.nn.init.normal_(prior.out.weight, std=0.1)
    fused = SourceFusedDiT(build_dit(CFG, seed=0), residual=True, lip_prior=prior).eval()
    calls = []
    prior.register_forward_hook(lambda *_: calls.append(1))
    cond, x = _cond(), torch.randn(2, 4, 5, 8, 8, generator=torch.Generator().manual_seed(4))
    steps = [torch.tensor([t, t]) for t in (900.0, 500.0, 100.0)]
    with torch.no_grad():
        plain = [fused(x, t, cond) for t in steps]
        assert len(calls) == 3
        calls.clear()
        with fused.constant_inputs():
            memo = [fused(x, t, cond) for t in steps]
        assert len(calls) == 1  # once for the condition, not once per step
        fused(x, steps[0], cond)
        assert len(calls) == 2  # outside the context nothing is kept
    for a, b in zip(plain, memo):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_l1_loss_and_start_latents_are_the_prior_rewrite():
    cond, target = _cond(), _cond(seed=9).source_latents
    region = torch.ones(2, 5, 8, 8)
    mse = LipPrior(PRIOR, 4, 8)
    l1 = LipPrior(replace(PRIOR, loss="l1"), 4, 8)
    l1.load_state_dict(mse.state_dict())
    with torch.no_grad():
        guess = mse(cond.source_latents, cond.audio_features)
        weight = PRIOR.mouth_weight
        torch.testing.assert_close(mse.loss(cond, target, region),
                                   ((guess - target) ** 2).mean() * weight)
        torch.testing.assert_close(l1.loss(cond, target, region),
                                   (guess - target).abs().mean() * weight)
        fused = SourceFusedDiT(build_dit(CFG, seed=0), lip_prior=mse).eval()
        torch.testing.assert_close(fused.start_latents(cond), mse.condition(cond).source_latents)


def test_gate_power_below_one_moves_the_prior_toward_its_guess_and_spares_the_loss():
    """Dubbing may open the gate (less of the old lips); training always uses the gate as is."""
    torch.manual_seed(0)
    prior = LipPrior(PRIOR, 4, 8)
    torch.nn.init.normal_(prior.out.weight, std=0.05)  # a non-trivial guess and gate
    cond = _cond()
    source = cond.source_latents
    with torch.no_grad():
        as_trained = prior(source, cond.audio_features)
        guess = prior(source, cond.audio_features, gate_power=1e-6)  # gate ~1: the guess
        prior.gate_power = 0.5
        opened = prior(source, cond.audio_features)
    assert (opened - guess).abs().mean() < (as_trained - guess).abs().mean()
    region = torch.zeros(2, 5, 8, 8)
    trained_loss = prior.loss(cond, source, region)
    prior.gate_power = 1.0
    torch.testing.assert_close(prior.loss(cond, source, region), trained_loss)


def test_dubbing_generator_sets_the_gate_power_of_its_prior():
    from xdub.audio import MelFeaturizer
    from xdub.config.codec import CODEC_PRESETS
    from xdub.config.infer import DubberConfig
    from xdub.generation.generators import editor_generator
    from xdub.models.codec import build_codec

    dit = SourceFusedDiT(build_dit(CFG), residual=True, lip_prior=LipPrior(PRIOR, 4, 8))
    codec = build_codec(CODEC_PRESETS["tiny"])
    editor_generator(DubberConfig(prior_gate_power=0.5, prior_chunk_trim=0.5), dit, codec,
                     MelFeaturizer())
    assert dit.lip_prior.gate_power == 0.5 and dit.lip_prior.chunk_trim == 0.5
    with pytest.raises(ConfigError, match="prior_chunk_trim"):
        DubberConfig(prior_chunk_trim=0.6)


def test_chunk_median_leaves_no_ghost_of_what_crosses_few_frames():
    """An object in 2 of a chunk's 5 frames: with the chunk mean the other frames' prior shows a
    faint copy of it (the guess starts from the mean); with the median it shows none."""
    prior = LipPrior(PRIOR, 4, 8)
    torch.nn.init.normal_(prior.out.weight, std=0.1)
    cond = _cond()
    still = cond.source_latents[:, :, :1].expand_as(cond.source_latents).clone()  # a still face
    crossed = still.clone()
    crossed[:, :, 1:3, :, 2:4] += 5.0  # the object, frames 1 and 2
    with torch.no_grad():
        ghosts = {}
        for average, trim in (("mean", 0.0), ("median", 0.5)):
            prior.chunk_trim = trim
            change = prior(crossed, cond.audio_features) - prior(still, cond.audio_features)
            ghosts[average] = change[:, :, [0, 3, 4]].abs().amax()  # the frames without it
    assert ghosts["mean"] > 0.1
    assert ghosts["median"] < 1e-5


def test_hidden_places_leave_no_ghost_even_in_most_of_the_chunk():
    """An occluder in 3 of 5 frames is more than the median can drop; marked hidden
    (`source_visibility`, as the dubbing generator hands it over from the occluder segmenter),
    the frames without it get the prior of the still face. All-visible changes nothing."""
    prior = LipPrior(PRIOR, 4, 8)
    torch.nn.init.normal_(prior.out.weight, std=0.1)
    prior.chunk_trim = 0.5
    cond = _cond()
    still = cond.source_latents[:, :, :1].expand_as(cond.source_latents).clone()
    crossed = still.clone()
    crossed[:, :, 1:4, :, 2:4] += 5.0  # the object, frames 1-3
    seen = torch.ones(2, 1, 5, 8, 8)
    seen[:, :, 1:4, :, 2:4] = 0.0
    with torch.no_grad():
        base = prior(still, cond.audio_features)
        median = prior(crossed, cond.audio_features)
        masked = prior(crossed, cond.audio_features, visibility=seen)
        same = prior(crossed, cond.audio_features, visibility=torch.ones_like(seen))
    assert (median - base)[:, :, [0, 4]].abs().amax() > 0.1
    assert (masked - base)[:, :, [0, 4]].abs().amax() < 1e-5
    assert torch.equal(same, median)
    out = prior.condition(dataclasses.replace(cond, source_latents=crossed, source_visibility=seen))
    torch.testing.assert_close(out.source_latents, masked)


def test_chunk_start_of_a_place_hidden_everywhere_is_its_plain_average():
    from xdub.models.lip_prior import chunk_start

    frames = torch.tensor([0.0, 1.0, 2.0, 3.0, 100.0]).view(1, 5, 1)
    seen = torch.tensor([1.0, 1.0, 0.0, 0.0, 0.0]).view(1, 5, 1)
    assert chunk_start(frames, 0.0, seen).item() == pytest.approx(0.5)
    assert chunk_start(frames, 0.0, torch.zeros(1, 5, 1)).item() == pytest.approx(21.2)


def test_chunk_start_trims_between_mean_and_median():
    from xdub.models.lip_prior import chunk_start

    frames = torch.tensor([0.0, 1.0, 2.0, 3.0, 100.0]).view(1, 5, 1)
    assert chunk_start(frames, 0.0).item() == pytest.approx(21.2)
    assert chunk_start(frames, 0.2).item() == pytest.approx(2.0)  # 1, 2, 3
    assert chunk_start(frames, 0.5).item() == 2.0


def test_hidden_box_keeps_every_frame_s_own_mouth_out():
    """With `hide_box` the prior's output inside the box depends on the source there only
    through the clip's mean frame: other lips with the same mean give the same output."""
    prior = LipPrior(replace(PRIOR, hide_box=(0.5, 1.0, 0.25, 0.75)), 4, 8)
    torch.nn.init.normal_(prior.out.weight, std=0.1)
    area = prior.hidden_area(8, 8, torch.zeros(1))
    assert area[4:, 2:6].eq(1).all() and area[:4].eq(0).all() and area[:, :2].eq(0).all()
    cond = _cond()
    other = cond.source_latents.clone()
    lips = other[..., 4:, 2:6]
    change = torch.randn(lips.shape, generator=torch.Generator().manual_seed(5))
    other[..., 4:, 2:6] = lips + change - change.mean(dim=2, keepdim=True)  # same clip mean
    with torch.no_grad():
        first = prior(cond.source_latents, cond.audio_features)
        second = prior(other, cond.audio_features)
    torch.testing.assert_close(first, second, rtol=0, atol=1e-5)
    with torch.no_grad():  # without the box the old lips do get through
        plain = LipPrior(PRIOR, 4, 8)
        torch.nn.init.normal_(plain.out.weight, std=0.1)
        assert not torch.allclose(plain(cond.source_latents, cond.audio_features),
                                  plain(other, cond.audio_features), atol=1e-3)


def test_hidden_box_must_be_a_box():
    with pytest.raises(ConfigError, match="hide_box"):
        replace(PRIOR, hide_box=(0.8, 0.2, 0.0, 1.0))


def test_reference_identity_keeps_the_chunk_s_other_frames_out():
    """With `identity: references` a frame's guess depends on the references, not on the other
    frames of its chunk (whose old lips the chunk mean passed on); zero references (a dropped
    stream) fall back to the chunk mean."""
    prior = LipPrior(replace(PRIOR, identity="references"), 4, 8)
    torch.nn.init.normal_(prior.out.weight, std=0.1)
    g = torch.Generator().manual_seed(7)
    cond = _cond()
    refs = torch.randn(2, 4, 2, 8, 8, generator=g)
    other = cond.source_latents.clone()
    other[:, :, 1:] = torch.randn(other[:, :, 1:].shape, generator=g)  # frame 0 unchanged
    with torch.no_grad():
        first = prior.condition(replace(cond, ref_latents=refs)).source_latents
        second = prior.condition(replace(cond, source_latents=other, ref_latents=refs)).source_latents
        moved = prior.condition(replace(cond, ref_latents=refs + 1)).source_latents
        dropped = prior(cond.source_latents, cond.audio_features, reference=refs * 0)
        chunk = prior(cond.source_latents, cond.audio_features)
    torch.testing.assert_close(first[:, :, 0], second[:, :, 0], rtol=0, atol=1e-6)
    assert not torch.allclose(first[:, :, 0], moved[:, :, 0], atol=1e-3)
    torch.testing.assert_close(dropped, chunk, rtol=0, atol=0)
    with pytest.raises(ConfigError, match="identity"):
        replace(PRIOR, identity="clip")


def test_match_light_moves_a_far_reference_to_the_chunk_s_light():
    """A reference lit 0.7 brighter (every latent channel) than the chunk: with `match_light`
    the guess starts from it at the chunk's light, measured only where the chunk is seen (an
    inpainter's mask channels say where it is not)."""
    from xdub.models.lip_prior import light_shift

    g = torch.Generator().manual_seed(0)
    face = torch.randn(2, 1, 4, 8, 8, generator=g)
    frames = face.expand(2, 3, 4, 8, 8).clone()
    masked = frames.clone()
    masked[:, :, :, 4:] = 0.0  # the inpainter's grey lower half
    seen = torch.ones(2, 3, 1, 8, 8)
    seen[:, :, :, 4:] = 0.0
    shift = light_shift(masked, face + 0.7, seen)
    torch.testing.assert_close(shift, torch.full((2, 1, 4, 1, 1), -0.7))
    assert light_shift(masked, face + 0.7, None).abs().max() > 0.1  # the grey counts otherwise
    prior = LipPrior(dataclasses.replace(PRIOR, identity="references", match_light=True), 4, 8)
    torch.nn.init.normal_(prior.out.weight, std=0.1)
    mask = torch.zeros(2, 1, 3, 8, 8)
    mask[..., 4:, :] = 1.0
    audio = torch.randn(2, 3, 4, 8, generator=g)

    def rewrite(reference):
        source = torch.cat([masked.permute(0, 2, 1, 3, 4), mask], 1)
        cond = DiTConditioning(source_latents=source, ref_latents=reference.permute(0, 2, 1, 3, 4),
                               audio_features=audio)
        return prior.condition(cond).source_latents[:, :4]

    torch.testing.assert_close(rewrite(face + 0.7), rewrite(face))
    prior.cfg = dataclasses.replace(prior.cfg, match_light=False)
    assert not torch.allclose(rewrite(face + 0.7), rewrite(face))


def test_light_ring_measures_the_shift_next_to_the_mask_only():
    """The top rows (far from the masked lower half) are lit differently from the rest, as a
    background that moves with the head: `ring` = 1 reads only the row next to the mask."""
    from xdub.models.lip_prior import light_shift

    frames = torch.zeros(1, 2, 3, 8, 8)
    frames[..., :2, :] = 5.0  # far from the mask: not the mouth's light
    identity = torch.full((1, 1, 3, 8, 8), -0.5)
    seen = torch.ones(1, 2, 1, 8, 8)
    seen[..., 4:, :] = 0.0
    torch.testing.assert_close(light_shift(frames, identity, seen, ring=1),
                               torch.full((1, 1, 3, 1, 1), 0.5))
    assert light_shift(frames, identity, seen).min() > 2.0  # everywhere seen: 0.5 + 5 / 2
    # nothing unseen: every seen place counts, as without a ring
    torch.testing.assert_close(light_shift(frames, identity, None, ring=1),
                               light_shift(frames, identity, None))
    with pytest.raises(ConfigError, match="light_ring"):
        replace(PRIOR, light_ring=-1)
