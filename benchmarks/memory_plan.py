"""Accelerator memory plan of one dubbing chunk, per model preset and memory option.

Weights are counted exactly (each model built on the meta device, nothing allocated);
activations are estimates from the shapes (formulas below; the DiT one is checked against a
measured peak on the CPU by `--check`). A run has three phases and the peak is the largest:

    audio   the speech encoders turn the whole track into features (all weights resident)
    sample  the DiT denoises a chunk: 3 guidance streams batched, or one after another
    decode  the VAE decodes the chunk (whole frames, or spatial tiles)

Options: bf16 weights (`--dtype bfloat16`); sequential guidance streams
(`diffusion.guidance_batched: false`); VAE tiling (`codec.wan.tiling`); phase offload (only
the running phase's models on the accelerator; `load_pipeline(offload="cpu")`,
`xdub.generation.offload`).

    python benchmarks/memory_plan.py [--presets wan5b small] [--frames 77] [--check]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math

import torch
from transformers import Wav2Vec2Config, Wav2Vec2Model, WhisperConfig
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from xdub.config.codec import WanVAEConfig
from xdub.config.model import MODEL_PRESETS, DiTConfig
from xdub.models import build_dit, count_parameters
from xdub.models.codec.wan import build_autoencoder

GIB = 2**30
# Whisper large-v2's encoder and wav2vec2-base-960h (facts of the released feature layout).
WHISPER_LARGE_V2 = dict(d_model=1280, encoder_layers=32, encoder_attention_heads=20,
                        encoder_ffn_dim=5120, num_mel_bins=80, max_source_positions=1500)
# Crop side and VAE per preset: wan5b is the release (512² crops, Wan2.2 VAE); `small` is the
# same pipeline with our narrower DiT.
CROP = {"wan5b": 512, "small": 512}
BYTES = {"bf16": 2, "fp32": 4}


@dataclasses.dataclass(frozen=True)
class Options:
    """One memory configuration."""

    name: str
    weights: str = "bf16"  # DiT weight dtype (its activations follow it; xdub keeps the VAE
    #   and the speech encoders in float32, as the release extracts features)
    sequential_streams: bool = False  # 3 guidance streams one after another
    vae_tiling: bool = False  # decode 256-px tiles (stride 192) instead of whole frames
    phase_offload: bool = False  # only the running phase's models on the accelerator
    available: bool = True  # settable in xdub today


OPTIONS = (
    Options("fp32, all resident", weights="fp32"),
    Options("bf16, all resident"),
    Options("bf16 + sequential streams", sequential_streams=True),
    Options("bf16 + sequential + VAE tiling", sequential_streams=True, vae_tiling=True),
    Options("bf16 + sequential + tiling + phase offload", sequential_streams=True,
            vae_tiling=True, phase_offload=True),
)


def meta_parameters(build) -> int:
    """Parameters of the module `build()` makes, built on the meta device."""
    with torch.device("meta"):
        return count_parameters(build())


@functools.cache
def weight_counts(preset: str) -> dict[str, int]:
    """Parameter counts of every model the preset's pipeline holds."""
    return {
        "dit": meta_parameters(lambda: build_dit(preset, device="meta")),
        "vae": meta_parameters(lambda: build_autoencoder(WanVAEConfig())),
        "whisper": meta_parameters(lambda: WhisperEncoder(WhisperConfig(**WHISPER_LARGE_V2))),
        "wav2vec2": meta_parameters(lambda: Wav2Vec2Model(Wav2Vec2Config())),
    }


def dit_tokens(frames: int, crop: int) -> int:
    """Tokens of one guidance stream: source + target, 1 + (F-1)/4 latent frames, 16x VAE,
    2x2 patches."""
    latent_frames = 1 + (frames - 1) // 4
    return 2 * latent_frames * (crop // 32) ** 2


def dit_activation_bytes(cfg: DiTConfig, tokens: int, streams: int, nbytes: int) -> int:
    """Peak activations inside one block (no grad): the residual stream and its modulated copy,
    the per-token modulation (t_mod and the block's sum with its own table, 6 vectors each),
    plus the larger of attention (q, k, v, output and RoPE's float32 copies of q and k) and
    the MLP (hidden and its GELU)."""
    width = streams * tokens
    resident = width * cfg.dim * (2 + 2 * 6)
    attention = width * cfg.dim * 4 + width * cfg.dim * 2 * 4 // nbytes
    mlp = width * cfg.ffn_dim * 2
    return (resident + max(attention, mlp)) * nbytes


def vae_decode_bytes(frames: int, crop: int, tiling: bool, nbytes: int) -> int:
    """The Wan2.2 decoder's top level (256 channels at half the crop side after the 2x2
    unpatchify, 4 output frames per latent frame) holds about 6 such tensors (input, two
    convolutions, residual, causal caches); plus the decoded chunk in float32."""
    side = min(crop, 256) if tiling else crop
    top = 256 * 4 * (side // 2) ** 2
    return 6 * top * nbytes + 3 * frames * crop * crop * 4


def audio_activation_bytes() -> int:
    """One 30-s Whisper window: 1500 tokens, attention scores of 20 heads, float32."""
    return 1500 * 1280 * 4 * 8 + 20 * 1500**2 * 4


def plan(preset: str, frames: int, options: Options) -> dict[str, float]:
    """GiB per phase and the peak for one preset and option set."""
    counts = weight_counts(preset)
    cfg = MODEL_PRESETS[preset]
    nbytes = BYTES[options.weights]
    dit_w, vae_w = counts["dit"] * nbytes, counts["vae"] * 4
    audio_w = (counts["whisper"] + counts["wav2vec2"]) * 4  # the release extracts in float32
    streams = 1 if options.sequential_streams else 3
    acts = dit_activation_bytes(cfg, dit_tokens(frames, CROP[preset]), streams, nbytes)
    decode = vae_decode_bytes(frames, CROP[preset], options.vae_tiling, 4)
    audio_act = audio_activation_bytes()
    if options.phase_offload:  # encoders, then the DiT, then the VAE (each chunk moves the
        # DiT out and back: ~25 GB over PCIe, about a second against minutes of sampling)
        phases = {"audio": audio_w + audio_act, "sample": dit_w + acts, "decode": vae_w + decode}
    else:
        resident = dit_w + vae_w + audio_w
        phases = {"audio": resident + audio_act, "sample": resident + acts,
                  "decode": resident + decode}
    row = {"weights dit": dit_w, "weights vae": vae_w, "weights audio": audio_w,
           "dit activations": acts, "vae decode": decode, **phases,
           "peak": max(phases.values())}
    return {k: v / GIB for k, v in row.items()}


def check_dit_estimate(preset: str = "small") -> dict[str, float]:
    """The activation formula against the peak measured by benchmarks/dit_step.py (CPU)."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).with_name("dit_step.py")
    out = {}
    for mode, streams in (("1-stream", 1), ("3-batched", 3)):
        text = subprocess.run([sys.executable, str(script), "--case", f"{preset}:{mode}",
                               "--repeats", "1"], check=True, capture_output=True,
                              text=True).stdout
        measured = json.loads(text.strip().splitlines()[-1])
        estimate = dit_activation_bytes(MODEL_PRESETS[preset], measured["tokens"], streams, 4)
        out[mode] = {"measured_mib": measured["peak_mib"], "estimate_mib": estimate / 2**20}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["wan5b"], choices=sorted(CROP))
    parser.add_argument("--frames", type=int, default=77, help="video frames per chunk")
    parser.add_argument("--check", action="store_true",
                        help="compare the DiT activation estimate with a CPU measurement")
    parser.add_argument("--json", help="also write the plan here")
    args = parser.parse_args()
    rows = []
    for preset in args.presets:
        counts = weight_counts(preset)
        print(f"{preset}: " + ", ".join(f"{k} {v / 1e9:.2f}B params" for k, v in counts.items())
              + f"; {dit_tokens(args.frames, CROP[preset])} tokens per stream")
        # GiB; "fits" = the peak is at most 93% of the card
        print("| options | DiT w | VAE w | audio w | DiT act. | decode | peak GiB | 24 GB | 16 GB |"
              "\n|---|---|---|---|---|---|---|---|---|")
        for options in OPTIONS:
            row = plan(preset, args.frames, options)
            fits = ["yes" if row["peak"] * GIB <= limit * 1e9 * 0.93 else "no"
                    for limit in (24, 16)]  # ~7% of a card goes to the CUDA context/allocator
            label = options.name + ("" if options.available else " (planned)")
            print(f"| {label} | {row['weights dit']:.1f} | {row['weights vae']:.2f} | "
                  f"{row['weights audio']:.1f} | {row['dit activations']:.1f} | "
                  f"{row['vae decode']:.1f} | {row['peak']:.1f} | {fits[0]} | {fits[1]} |")
            rows.append({"preset": preset, "options": options.name, **row})
    if args.check:
        print(json.dumps(check_dit_estimate(), indent=1))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1)
    assert all(math.isfinite(r["peak"]) for r in rows)


if __name__ == "__main__":
    main()
