"""Stage-1 recipe end to end at micro scale: run dir, inpainter folder, config checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xdub.config import load, replace
from xdub.config.codec import CodecConfig, TinyCodecConfig
from xdub.config.face import AlignConfig, FaceConfig
from xdub.config.model import MODEL_PRESETS
from xdub.config.train import DataConfig, LoopConfig, Stage1Config, SynthSourceConfig
from xdub.errors import ConfigError
from xdub.models.fusion import SourceFusedDiT
from xdub.train.inpaint import load_inpainter
from xdub.train.stage1 import train_stage1

MICRO_DIT = replace(MODEL_PRESETS["tiny"], latent_channels=4, cond_channels=5, dim=24,
                    num_layers=1, num_heads=2, ffn_dim=48, freq_dim=16, audio_dim=80,
                    audio_proj_dim=16, audio_proj_heads=2, patch_size=(1, 4, 4))


def _config(**changes) -> Stage1Config:
    cfg = Stage1Config(
        model=MICRO_DIT, codec_weights="random", source_fusion="aligned_add",
        codec=CodecConfig(tiny=TinyCodecConfig(image_size=32, widths=(8, 16), latent_channels=4)),
        face=FaceConfig(align=AlignConfig(crop_size=32)),
        data=DataConfig(synth=SynthSourceConfig(scenario="standard", size=(64, 64),
                                                clip_seconds=0.6, num_clips=3),
                        window_frames=5, ref_min_gap=2, windows_per_clip=2, shuffle_block=2),
        loop=LoopConfig(steps=2, batch_size=2, ckpt_every=1, log_every=1, sample_every=0),
        sample_clips=1, sample_steps=1)
    return replace(cfg, **changes)


def test_stage1_trains_resumes_and_exports(tmp_path):
    torch.set_num_threads(1)
    result = train_stage1(_config(), tmp_path)
    assert result.step == 2 and result.stopped == "done"
    for name in ("config.yaml", "git_sha.txt", "metrics.jsonl", "loss.png", "index.html",
                 "samples/step_00000002/grid.png", "inpainter/inpainter.json"):
        assert (tmp_path / name).is_file(), name
    saved = load(Stage1Config, tmp_path / "config.yaml")
    assert saved == _config()  # the run's config round-trips through YAML
    more = train_stage1(_config(loop=replace(_config().loop, steps=3)), tmp_path)
    assert more.resumed_from == 2 and more.step == 3
    inp = load_inpainter(tmp_path / "inpainter")
    assert inp.spec.mode == "inpaint" and inp.spec.window_frames == 5
    assert isinstance(inp.dit, SourceFusedDiT)  # fusion weights travel with the folder
    # The export carries the EMA weights of the last checkpoint.
    from safetensors.torch import load_file
    ema = load_file(str(tmp_path / "checkpoints" / "step_00000003" / "ema.safetensors"))
    for name, value in inp.dit.state_dict().items():
        if name in ema:
            np.testing.assert_allclose(value.numpy(), ema[name].numpy(), atol=1e-6)


def test_mismatched_channels_are_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cond_channels"):
        train_stage1(_config(model=replace(MICRO_DIT, cond_channels=4)), tmp_path)


def test_stage1_with_a_lip_prior_trains_it_first_then_the_dit_around_it(tmp_path):
    """`lip_prior.enabled`: a prior-only run (`lip_prior/final/`), then the DiT whose source the
    frozen prior rewrites; the exported inpainter carries the prior (its weights unchanged by
    the DiT's run) and the reference choice, and samples from its rewrite."""
    from xdub.config.model import LipPriorConfig
    from xdub.models.checkpoint import read_tensors
    from xdub.train.inpaint import inpaint_generator

    torch.set_num_threads(1)
    prior = LipPriorConfig(enabled=True, identity="references", context_frames=1,
                           audio_width=8, width=8, layers=2, pretrain_steps=2)
    cfg = _config(lip_prior=prior, ref_choice="nearest",
                  diffusion=replace(_config().diffusion, denoise_strength=0.5))
    result = train_stage1(cfg, tmp_path)
    assert result.stopped == "done" and result.step == 2
    pretrained = read_tensors(tmp_path / "lip_prior" / "final" / "lip_prior.safetensors",
                              "prior")[0]
    inp = load_inpainter(tmp_path / "inpainter")
    assert isinstance(inp.dit, SourceFusedDiT) and inp.dit.lip_prior is not None
    for name, value in inp.dit.lip_prior.state_dict().items():
        torch.testing.assert_close(value, pretrained[name])  # frozen through the DiT's run
    assert inp.spec.ref_choice == "nearest" and inp.spec.diffusion.denoise_strength == 0.5
    assert inpaint_generator(inp, 1).dit is inp.dit
    again = train_stage1(cfg, tmp_path)  # finished: nothing reruns
    assert again.stopped == "done" and again.resumed_from == 2


def test_stage1_lip_prior_needs_references():
    from xdub.config.model import LipPriorConfig

    chunk = LipPriorConfig(enabled=True, identity="chunk", pretrain_steps=2)
    with pytest.raises(ConfigError, match="identity: references"):
        _config(lip_prior=chunk)
    with pytest.raises(ConfigError, match="ref_frames"):
        _config(lip_prior=replace(chunk, identity="references"),
                data=replace(_config().data, ref_frames=0))
