"""Tiny-codec training loop on random smooth images: loss goes down, resume continues."""

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from xdub.config.codec import CODEC_LOOP, CodecTrainConfig, TinyCodecConfig
from xdub.models.codec import TinyVideoCodec
from xdub.train import codec as train
from xdub.train.checkpointing import latest_checkpoint, load_checkpoint

SMALL = TinyCodecConfig(image_size=16, latent_channels=4, widths=(8, 16), latent_noise=0.0)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)  # train_codec sets its own thread count


def smooth_source(first_step: int):
    """Endless smooth random RGB images 16x16 (upsampled 4x4 noise)."""
    rng = np.random.default_rng(first_step)
    while True:
        small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        yield cv2.resize(small, (16, 16), interpolation=cv2.INTER_CUBIC)


def fixed_source(first_step: int):
    """The same 8 smooth images over and over (a set the codec can overfit in a few steps)."""
    images = train.held_out_crops(smooth_source(0), 8)
    while True:
        yield from images


def _cfg(**loop) -> CodecTrainConfig:
    return CodecTrainConfig(loop=replace(CODEC_LOOP, **loop), pca_crops=16)


def _rows(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_training_reduces_loss(tmp_path):
    cfg = _cfg(steps=30, batch_size=8, lr=1e-2, warmup=3, log_every=3, ckpt_every=30,
               sample_every=30)
    eval_crops = train.held_out_crops(fixed_source(0), 8)
    codec = train.train_codec(SMALL, cfg, tmp_path, fixed_source, eval_crops=eval_crops)
    losses = [r["loss"] for r in _rows(tmp_path) if "loss" in r]
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:2])
    assert (tmp_path / "loss.png").stat().st_size > 0
    assert (tmp_path / "checkpoints" / "step_00000030" / "model.safetensors").is_file()
    assert [r["eval_psnr"] for r in _rows(tmp_path) if "eval_psnr" in r]  # held-out PSNR logged
    assert len(codec.cfg.latents_mean) == 4  # stats measured at the end
    assert train.evaluate_psnr(codec, eval_crops) > 12.0


def test_resume_continues_from_saved_step(tmp_path):
    train.train_codec(SMALL, _cfg(steps=4, batch_size=4, log_every=1, ckpt_every=4), tmp_path,
                      smooth_source)
    saved = load_checkpoint(latest_checkpoint(tmp_path / "checkpoints"))
    assert saved.step == 4 and saved.optimizer is not None and "noise" in saved.rng["generators"]
    longer = _cfg(steps=7, batch_size=4, log_every=1, ckpt_every=4)
    resumed = train.train_codec(SMALL, longer, tmp_path, smooth_source)
    steps = [r["step"] for r in _rows(tmp_path) if "loss" in r]
    assert steps == [1, 2, 3, 4, 5, 6, 7]  # 5.. continue after the saved 4, nothing repeated
    weights_moved = any(not torch.equal(saved.model[f"codec.{k}"], v)
                        for k, v in resumed.state_dict().items() if f"codec.{k}" in saved.model)
    assert weights_moved


def test_crop_face_is_centred_on_box():
    frame = np.zeros((100, 120, 3), np.uint8)
    frame[40:60, 50:70] = 255  # a white "face"
    crop = train.crop_face(frame, np.array([50, 40, 70, 60]), size=32, rng=None, margin=2.0)
    assert crop.shape == (32, 32, 3)
    assert crop[16, 16].min() == 255 and crop[1, 1].max() == 0  # centre white, border black


def test_packaged_codec_reconstructs_engine_crops():
    from importlib.resources import files

    torch.set_num_threads(1)
    codec = TinyVideoCodec.from_pretrained(files("xdub") / "assets" / "codec_tiny")
    assert (codec.latent_channels, codec.spatial_factor, codec.cfg.image_size) == (16, 4, 64)
    source = train.synth_crop_source(64, "mixed", frames_per_clip=4,
                                     seed_offset=train.EVAL_SEED_OFFSET + 7_000)
    crops = train.held_out_crops(source(0), 8)
    assert train.evaluate_psnr(codec, crops) > 32.0


def test_latent_error_scale_and_blocks():
    gen = torch.Generator().manual_seed(0)
    noise = train.latent_error(torch.Size((256, 4, 8, 8)), 0.4, 2, gen)
    std = noise.std(dim=(1, 2, 3))
    assert 0.0 <= float(std.min()) and float(std.max()) < 0.45  # per-image sigma <= 0.4
    assert 0.18 < float(noise.std()) < 0.28  # E[sigma^2] = 0.4^2 / 3
    blocks = noise.unfold(2, 2, 2).unfold(3, 2, 2)  # [N, C, 4, 4, 2, 2]
    spread = blocks.flatten(-2).std(-1).mean() / noise.std()
    assert float(spread) < 0.9  # half of the noise is shared inside each 2x2 block


def test_decoder_only_finetune_keeps_encoder_and_stats(tmp_path):
    base = train.train_codec(SMALL, _cfg(steps=6, batch_size=4, warmup=1, ckpt_every=6,
                                         sample_every=6), tmp_path / "base", smooth_source)
    base.save_pretrained(tmp_path / "codec")
    cfg = replace(_cfg(steps=6, batch_size=4, warmup=1, ckpt_every=6, sample_every=6),
                  init_from=str(tmp_path / "codec"), decoder_only=True, decoder_noise=0.4)
    tuned = train.train_codec(SMALL, cfg, tmp_path / "tuned", smooth_source)
    before, after = base.state_dict(), tuned.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("encoder."))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("decoder."))
    assert tuned.cfg.latents_mean == base.cfg.latents_mean
    assert tuned.cfg.latents_std == base.cfg.latents_std
    with pytest.raises(Exception, match="decoder_only needs init_from"):
        replace(cfg, init_from="")


def test_with_decoder_takes_only_a_decoder_only_finetune_of_the_inpainters_codec(tmp_path):
    """Pair generation may decode stage 1's latents with a fine-tuned decoder (chain
    `robust_decoder_train`), never with a codec whose encoder or latent statistics differ."""
    from xdub.errors import ConfigError
    from xdub.train.inpaint import Inpainter, with_decoder

    short = dict(steps=6, batch_size=4, warmup=1, ckpt_every=6, sample_every=6)
    base = train.train_codec(SMALL, _cfg(**short), tmp_path / "base", smooth_source)
    base.save_pretrained(tmp_path / "codec")
    tuned = train.train_codec(SMALL, replace(_cfg(**short), init_from=str(tmp_path / "codec"),
                                             decoder_only=True, decoder_noise=0.4),
                              tmp_path / "tuned", smooth_source)
    tuned.save_pretrained(tmp_path / "tuned_codec")
    first = _cfg(**short)
    other = train.train_codec(SMALL, replace(first, loop=replace(first.loop, seed=1)),
                              tmp_path / "other", smooth_source)
    other.save_pretrained(tmp_path / "other_codec")
    inp = Inpainter(dit=None, codec=base, featurizer=None, spec=None, version="abc")
    swapped = with_decoder(inp, tmp_path / "tuned_codec")
    assert swapped.codec is not base and swapped.version.startswith("abc+")
    latents = torch.randn(1, SMALL.latent_channels, 1, 4, 4)
    assert not torch.equal(swapped.codec.decode(latents), base.decode(latents))
    with pytest.raises(ConfigError, match="not a decoder-only fine-tune"):
        with_decoder(inp, tmp_path / "other_codec")
