"""First-block step cache (`SamplingConfig.step_cache_threshold`, `xdub.models.step_cache`):
off or never reusing changes nothing, a loose threshold skips the later blocks, every row
(guidance stream) decides alone, and nothing carries over between sampling calls."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from xdub.config.diffusion import DIFFUSION_PRESETS
from xdub.config.infer import SamplingConfig
from xdub.config.model import MODEL_PRESETS
from xdub.errors import ConfigError
from xdub.generation.guided import SamplerSettings, guided_sample
from xdub.model_types import DiTConditioning
from xdub.models import FirstBlockCache, StepCaches, build_dit

CONFIG = replace(MODEL_PRESETS["tiny"], num_layers=3, audio_dim=None)


def _dit_and_rows():
    """A 3-block tiny DiT and a counter of the batch rows its LAST block ran."""
    dit = build_dit(CONFIG, seed=0).eval()
    rows = [0]
    dit.blocks[-1].register_forward_pre_hook(
        lambda _m, inputs: rows.__setitem__(0, rows[0] + len(inputs[0])))
    return dit, rows


def _cond(seed: int) -> DiTConditioning:
    gen = torch.Generator().manual_seed(seed)
    return DiTConditioning(source_latents=torch.randn(1, CONFIG.latent_channels, 2, 4, 4,
                                                      generator=gen))


def _sample(dit, cond, threshold: float, steps: int = 6, batched: bool = True) -> torch.Tensor:
    diffusion = replace(DIFFUSION_PRESETS["tiny"], guidance_batched=batched)
    settings = SamplerSettings(diffusion, steps, step_cache_threshold=threshold)
    with torch.no_grad():
        return guided_sample(dit, cond, settings, torch.Generator().manual_seed(3))


def test_off_or_never_reusing_gives_the_same_bits():
    dit, rows = _dit_and_rows()
    plain = _sample(dit, _cond(0), 0.0)
    assert rows[0] == 3 * 6
    # A cache that never finds a step close enough runs the same kernels on the same rows.
    assert torch.equal(_sample(dit, _cond(0), 1e-12), plain)
    assert rows[0] == 2 * 3 * 6


@pytest.mark.parametrize("batched", [True, False])
def test_a_loose_threshold_skips_the_later_blocks(batched):
    dit, rows = _dit_and_rows()
    plain = _sample(dit, _cond(0), 0.0, batched=batched)
    rows[0] = 0
    cached = _sample(dit, _cond(0), 1e9, batched=batched)
    assert rows[0] == 3  # the first step's three streams; every later step reused them
    assert cached.shape == plain.shape and torch.isfinite(cached).all()
    assert not torch.equal(cached, plain)


def test_batched_and_sequential_streams_skip_alike():
    dit, rows = _dit_and_rows()
    counts = []
    outputs = []
    for batched in (True, False):
        rows[0] = 0
        outputs.append(_sample(dit, _cond(0), 0.2, steps=8, batched=batched))
        counts.append(rows[0])
    assert counts[0] == counts[1] and 3 < counts[0] < 3 * 8
    torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-4, atol=1e-4)


def test_nothing_carries_over_to_the_next_chunk():
    dit, _ = _dit_and_rows()
    alone = _sample(dit, _cond(1), 1e9)
    _sample(dit, _cond(0), 1e9)  # a chunk (or video) before it
    assert torch.equal(_sample(dit, _cond(1), 1e9), alone)


def test_each_row_decides_alone():
    cache = FirstBlockCache(threshold=0.1)
    shift = torch.tensor([0.0, 0.0]).view(2, 1, 1)

    def first(x, rows):
        return x + 1.0 + shift

    def others(x, rows):
        return x * 2.0

    tokens = torch.ones(2, 3, 4)
    cache.run(tokens, first, others)
    shift = torch.tensor([0.0, 5.0]).view(2, 1, 1)  # row 1's first block changes a lot
    out = cache.run(tokens, first, others)
    assert (cache.full_rows, cache.cached_rows) == (3, 1)
    assert torch.equal(out[0], torch.full((3, 4), 4.0))  # reused: 2 + (4 - 2)
    assert torch.equal(out[1], torch.full((3, 4), 14.0))  # ran: (1 + 1 + 5) * 2


def test_step_caches_one_per_condition_counted_across_clears():
    assert StepCaches(0.0).for_condition("stream") is None  # off: the DiT gets no cache
    caches = StepCaches(0.5)
    null, ref = object(), object()
    first = caches.for_condition(null)
    assert caches.for_condition(null) is first and caches.for_condition(ref) is not first
    first.full_rows, first.cached_rows = 3, 2
    caches.clear()  # an expert switch
    assert caches.for_condition(null) is not first and caches.counts == (3, 2)


def test_negative_threshold_is_a_config_error():
    with pytest.raises(ConfigError, match="step_cache_threshold"):
        SamplingConfig(step_cache_threshold=-0.1)
