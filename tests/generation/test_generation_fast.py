"""`--fast` (`SamplingConfig.fast`): three quarters of the checkpoint's steps, guidance reuse as the
preset says, and `evaluations_per_chunk` equal to the rows the DiT really runs."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from xdub.config.diffusion import DIFFUSION_PRESETS
from xdub.config.infer import FAST_GUIDANCE_REUSE_FROM, SamplingConfig
from xdub.config.model import MODEL_PRESETS
from xdub.errors import ConfigError
from xdub.generation.guided import SamplerSettings, guided_sample
from xdub.model_types import DiTConditioning
from xdub.models import build_dit


@pytest.mark.parametrize(("steps", "fast_steps"), [(8, 6), (50, 38), (7, 6), (1, 1)])
def test_fast_takes_three_quarters_of_the_checkpoint_steps(steps, fast_steps):
    base = SamplerSettings(DIFFUSION_PRESETS["tiny"], steps)
    fast = base.with_overrides(fast=True)
    assert fast.steps == fast_steps
    assert fast.diffusion.guidance_reuse_from == FAST_GUIDANCE_REUSE_FROM
    assert fast.evaluations_per_chunk < base.evaluations_per_chunk or steps == 1


@pytest.mark.parametrize(("steps", "reuse", "scales"),
                         [(8, 1.0, None), (4, 1.0, None), (8, 0.5, None), (6, 0.5, None),
                          (5, 0.0, None), (4, 1.0, (1.0, 1.0)), (6, 0.5, (1.0, 1.0))])
def test_evaluations_per_chunk_counts_the_dit_rows(steps, reuse, scales):
    config = replace(MODEL_PRESETS["tiny"], num_layers=1, audio_dim=None)
    dit = build_dit(config, seed=0).eval()
    rows = [0]
    dit.register_forward_pre_hook(lambda _m, inputs: rows.__setitem__(0, rows[0] + len(inputs[0])))
    source = torch.randn(1, config.latent_channels, 2, 4, 4, generator=torch.Generator())
    diffusion = replace(DIFFUSION_PRESETS["tiny"], guidance_reuse_from=reuse)
    if scales is not None:  # both 1: one stream per step (xdub.diffusion.is_unguided)
        diffusion = replace(diffusion, ref_scale=scales[0], audio_scale=scales[1],
                            guidance_schedule="constant")
    settings = SamplerSettings(diffusion, steps)
    with torch.no_grad():
        guided_sample(dit, DiTConditioning(source_latents=source), settings,
                      torch.Generator().manual_seed(0))
    assert rows[0] == settings.evaluations_per_chunk
    if scales is not None:
        assert rows[0] == steps


def test_fast_with_explicit_steps_or_reuse_is_a_config_error():
    for given in ({"steps": 4}, {"guidance_reuse_from": 0.5}):
        with pytest.raises(ConfigError, match="fast"):
            SamplingConfig(fast=True, **given)
    with pytest.raises(ConfigError, match="guidance_reuse_from"):
        SamplingConfig(guidance_reuse_from=1.5)
