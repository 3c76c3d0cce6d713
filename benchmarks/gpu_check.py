"""One 77-frame chunk through the whole full-scale pipeline with random weights, per memory option.

Speech encoders -> audio windows -> VAE encode -> guided sampling (3 streams) -> VAE decode,
through xdub's own generator (`ModelGenerator`), the path `xdub dub` runs for each chunk. It
prints seconds per step, seconds per chunk and the peak memory of each memory option, and,
with `--official-repo`, one guided step of the official model beside ours at the same size.

    scripts/gpu_check.sh                         # wan5b, full depth, bf16, the accelerator
    scripts/gpu_check.sh --device cpu --preset reduced --steps 1    # CPU dry run (~30 s)

Peak memory: the allocator's peak on an accelerator; on the CPU the process's peak RSS
(monotonic, so only its growth across options means anything there).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch
from transformers import Wav2Vec2Config, Wav2Vec2Model, WhisperConfig
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from xdub.audio.speech import WhisperWav2VecFeaturizer
from xdub.config.audio import SpeechEncoderConfig
from xdub.config.codec import WanVAEConfig
from xdub.config.diffusion import DIFFUSION_PRESETS
from xdub.config.model import MODEL_PRESETS, DiTConfig
from xdub.generation import ChunkInput
from xdub.generation.generators import ModelGenerator
from xdub.generation.guided import SamplerSettings, guided_sample
from xdub.models import build_dit
from xdub.models.codec.wan import WanVAECodec
from xdub.pipeline.loading import resolve_device, resolve_dtype

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory_plan import WHISPER_LARGE_V2  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Preset:
    """Sizes of one check: the release, or a narrow copy for CPU dry runs."""

    dit: DiTConfig
    vae: WanVAEConfig
    whisper: dict
    wav2vec: dict
    crop: int
    frames: int


PRESETS = {
    "wan5b": Preset(MODEL_PRESETS["wan5b"], WanVAEConfig(slicing=False), WHISPER_LARGE_V2, {},
                    crop=512, frames=77),
    "reduced": Preset(
        dataclasses.replace(MODEL_PRESETS["wan5b"], dim=256, num_layers=2, num_heads=2,
                            ffn_dim=512, text_dim=64, audio_dim=96, audio_proj_dim=128,
                            audio_proj_layers=1, audio_proj_heads=2),
        WanVAEConfig(base_dim=16, decoder_base_dim=16, slicing=False),
        dict(d_model=64, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=128,
             num_mel_bins=80, max_source_positions=1500),
        dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
             conv_dim=(32,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2),
        crop=64, frames=9),
}
# (label, guidance streams batched, VAE tiling, phase offload); offload last: it parks the
# models on the CPU for good
OPTIONS = (("3 streams batched", True, False, False),
           ("3 streams sequential", False, False, False),
           ("sequential + VAE tiling", False, True, False),
           ("sequential + tiling + offload", False, True, True))


def peak_mib(device: torch.device) -> float:
    if device.type == "cpu":
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return torch.accelerator.max_memory_allocated(device) / 2**20


def synchronize(device: torch.device) -> None:
    if device.type != "cpu":
        torch.accelerator.synchronize(device)


def build_models(preset: Preset, device: torch.device, dtype: torch.dtype):
    """Random DiT (in `dtype`, initialised directly in it), VAE and speech encoders (float32)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # no float32 copy of the DiT ever exists
    try:
        dit = build_dit(preset.dit, device=device, seed=0).eval()
    finally:
        torch.set_default_dtype(previous)
    with torch.device(device):
        codec = WanVAECodec(preset.vae).eval()
        whisper = WhisperEncoder(WhisperConfig(**preset.whisper))
        wav2vec = Wav2Vec2Model(Wav2Vec2Config(**preset.wav2vec))
    featurizer = WhisperWav2VecFeaturizer(SpeechEncoderConfig(), device=device, whisper=whisper,
                                          wav2vec=wav2vec)
    return dit, codec, featurizer


def test_clip(preset: Preset) -> tuple[np.ndarray, np.ndarray]:
    """Smooth moving crops `[F, S, S, 3]` uint8 and a 16 kHz speech-like track."""
    s, f = preset.crop, preset.frames
    yy, xx = np.mgrid[0:s, 0:s] / s
    t = np.arange(f)[:, None, None, None]
    crops = 127.5 + 100 * np.sin(6 * xx[None, ..., None] + 0.1 * t + np.arange(3)) * np.cos(
        5 * yy[None, ..., None] - 0.07 * t)
    time_s = np.arange(int((f / 25 + 0.2) * 16000)) / 16000
    audio = np.sin(2 * np.pi * 180 * time_s) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * time_s))
    return crops.astype(np.uint8), (0.3 * audio).astype(np.float32)


def run_option(gen: ModelGenerator, codec: WanVAECodec, crops, prepared, device, steps: int,
               batched: bool, tiling: bool, offload: bool) -> dict:
    """One chunk: condition (VAE encode), sample, decode; seconds and peak memory (with
    `offload`, each phase's models move to the accelerator for that phase: copies count)."""
    diffusion = dataclasses.replace(DIFFUSION_PRESETS["wan5b"], guidance_batched=batched)
    gen.sampler = SamplerSettings(diffusion, steps)
    if tiling:
        codec.vae.enable_tiling(tile_sample_min_height=256, tile_sample_min_width=256,
                                tile_sample_stride_height=192, tile_sample_stride_width=192)
    else:
        codec.vae.disable_tiling()
    if offload:
        gen.enable_offload("cpu")
    if device.type != "cpu":
        torch.accelerator.empty_cache()
        torch.accelerator.reset_peak_memory_stats(device)
    times = {}
    with torch.inference_mode():
        start = time.perf_counter()
        windows = gen.audio_windows(prepared, 0, len(crops), 25.0)
        with gen.phase(codec):
            cond = gen.condition(ChunkInput(crops, windows), None)
        synchronize(device)
        times["encode_s"] = time.perf_counter() - start
        start = time.perf_counter()
        with gen.phase(gen.dit):
            latents = guided_sample(gen.dit, cond, gen.sampler, torch.Generator().manual_seed(0))
        synchronize(device)
        times["sample_s"] = time.perf_counter() - start
        start = time.perf_counter()
        with gen.phase(codec):
            video = codec.decode(latents.float())
        synchronize(device)
        times["decode_s"] = time.perf_counter() - start
    assert torch.isfinite(video).all(), "decoded frames are not finite"
    return {**times, "s_per_step": times["sample_s"] / steps,
            "s_per_chunk": sum(times.values()), "peak_mib": peak_mib(device)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="wan5b", choices=sorted(PRESETS))
    parser.add_argument("--device", default="auto", help="auto, cpu or a torch device name")
    parser.add_argument("--dtype", default="auto", help="auto, float32, float16 or bfloat16")
    parser.add_argument("--steps", type=int, default=4, help="denoising steps timed per option")
    parser.add_argument("--official-repo", help="also time one guided step of the official model")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    device = resolve_device(args.device)
    dtype = resolve_dtype(args.dtype, device)
    preset = PRESETS[args.preset]
    print(f"preset {args.preset}: {preset.frames} frames of {preset.crop}², device {device}, "
          f"{dtype}, {args.steps} steps", flush=True)
    start = time.perf_counter()
    dit, codec, featurizer = build_models(preset, device, dtype)
    gen = ModelGenerator(dit, codec, featurizer, preset.crop, SamplerSettings(
        DIFFUSION_PRESETS["wan5b"], args.steps), motion_frames=5)
    crops, audio = test_clip(preset)
    prepared = featurizer.encode(audio)
    print(f"models built, audio encoded: {time.perf_counter() - start:.1f} s", flush=True)
    rows = []
    for label, batched, tiling, offload in OPTIONS:
        row = {"option": label, **run_option(gen, codec, crops, prepared, device, args.steps,
                                             batched, tiling, offload)}
        rows.append(row)
        print(f"{label:30} {row['s_per_step']:7.2f} s/step {row['s_per_chunk']:7.1f} s/chunk "
              f"(encode {row['encode_s']:.1f}, decode {row['decode_s']:.1f}) "
              f"peak {row['peak_mib'] / 1024:6.2f} GiB", flush=True)
    result = {"preset": args.preset, "device": str(device), "dtype": str(dtype), "rows": rows}
    if args.official_repo:
        from dit_step import vs_official

        del gen, dit, codec
        latent = (1 + (preset.frames - 1) // 4, preset.crop // 16, preset.crop // 16)
        result["official"] = vs_official(args.official_repo, preset.dit.num_layers, 3,
                                         torch.get_num_threads(), device, dtype, latent,
                                         base=preset.dit)
        print(f"official step {result['official']['official_s']:.2f} s, xdub "
              f"{result['official']['xdub_s']:.2f} s: ratio {result['official']['ratio']:.2f}, "
              f"max rel. diff {result['official']['max_rel_diff']:.1e}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
