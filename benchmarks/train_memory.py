"""Training memory per GPU of each stage config: weights, gradients, optimizer state, EMA and
activations (with and without gradient checkpointing), under DDP, ZeRO-2 and FSDP full-shard.

Nothing is allocated: the DiT is built on the meta device, so parameters are counted exactly,
and one training forward of the config's micro-batch (its window, crop, references, motion
frames and audio windows) runs on meta tensors in bf16 while `saved_tensors_hooks` add up the
bytes autograd keeps for backward. Attention saves only its output and log-sum-exp (flash /
memory-efficient kernels on GPU); the [L, L] score matrices of the CPU fallback are left out.
With gradient checkpointing (`XDubDiT.enable_gradient_checkpointing`) a block keeps only its
input, and one block's activations exist again while it is recomputed.

Per parameter (the loop's mixed precision: fp32 master weights, bf16 autocast): weights 4 B,
gradients 4 B, AdamW moments 8 B, EMA 4 B. DDP keeps all of it on every GPU; ZeRO-2 splits
gradients and optimizer state over the N GPUs; FSDP full-shard splits all four (the EMA
follows its weights' shards). Frozen parts (VAE, speech encoders) and allocator overhead are
not counted: add the codec and featurizer weights (Wan2.2 VAE ~1.4 GB, Whisper large-v2
encoder ~1.3 GB, wav2vec2-base ~0.4 GB in fp32) unless their features are cached.
Usage: python benchmarks/train_memory.py [--gpus 8] [configs/train/stage1_wan5b.yaml ...]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import torch

from xdub.config import load
from xdub.config.stage2 import load_stage2
from xdub.config.train import Stage1Config
from xdub.models import DiTConditioning, build_dit

DEFAULT_CONFIGS = ("configs/train/stage1_tiny.yaml", "configs/train/stage2_tiny.yaml",
                   "configs/train/stage1_small.yaml", "configs/train/stage2_small.yaml",
                   "configs/train/stage1_wan5b.yaml", "configs/train/stage2_wan5b.yaml")
BYTES_PER_PARAM = {"weights": 4, "gradients": 4, "optimizer": 8, "ema": 4}
AUDIO_WINDOW = 8  # audio feature vectors per latent frame (official P)
GIB = 2**30


@dataclass(frozen=True)
class Estimate:
    """Bytes per GPU of one config's training state and activations."""

    name: str
    params: int
    tokens: int
    batch: int
    activations: int  # per micro-batch, no checkpointing
    activations_ckpt: int  # with per-block gradient checkpointing

    def state(self, part: str, strategy: str, gpus: int) -> float:
        """Bytes per GPU of `part` (weights, gradients, optimizer, ema) under `strategy`."""
        full = self.params * BYTES_PER_PARAM[part]
        sharded = {"ddp": (), "zero2": ("gradients", "optimizer"),
                   "fsdp": ("weights", "gradients", "optimizer", "ema")}[strategy]
        return full / gpus if part in sharded else full


def _factors(cfg) -> tuple[int, int]:
    """(temporal, spatial) factor of the config's codec, without building it."""
    if cfg.codec.kind == "wan22":
        return cfg.codec.wan.temporal_factor, cfg.codec.wan.spatial_factor
    return 1, cfg.codec.tiny.spatial_factor


def _one_value_unique(values: torch.Tensor, return_inverse: bool = False, **_: object):
    """`torch.unique` for meta tensors (no meta kernel): one timestep value per batch, as in
    training without motion frames; only the timestep embedding's size depends on it."""
    first, index = values.flatten()[:1], torch.zeros_like(values, dtype=torch.long)
    return (first, index) if return_inverse else first


def _saved_bytes(fn) -> int:
    """Bytes autograd saves for backward while `fn()` runs (attention scores excluded)."""
    total = 0
    unique, torch.unique = torch.unique, _one_value_unique

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal total
        square = tensor.dim() >= 2 and tensor.shape[-1] == tensor.shape[-2] > 64
        if not square:  # [.., L, L] scores: not saved by flash / memory-efficient attention
            total += tensor.numel() * tensor.element_size()
        return tensor

    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            fn()
    finally:
        torch.unique = unique
    return total


def estimate(path: str) -> Estimate:
    """Count parameters and measure activation bytes of one stage config (meta device)."""
    cfg = load_stage2(path) if "stage2" in path else load(Stage1Config, path)
    model = build_dit(cfg.model, device="meta", dtype=torch.bfloat16).train()
    c = model.config
    tf, sf = _factors(cfg)
    frames = 1 + (cfg.data.window_frames - 1) // tf
    side = cfg.face.align.crop_size // sf
    batch = cfg.loop.batch_size
    refs = -(-cfg.data.ref_frames // tf) if cfg.data.ref_frames else 0

    def meta(*shape: int) -> torch.Tensor:
        return torch.empty(*shape, device="meta", dtype=torch.bfloat16, requires_grad=False)

    cond = DiTConditioning(
        source_latents=meta(batch, c.cond_channels or c.latent_channels, frames, side, side),
        ref_latents=meta(batch, c.latent_channels, refs, side, side) if refs else None,
        audio_features=meta(batch, frames, AUDIO_WINDOW, c.audio_dim) if c.audio_dim else None)
    noisy = meta(batch, c.latent_channels, frames, side, side)
    timestep = torch.full((batch,), 500.0, device="meta")
    full = _saved_bytes(lambda: model(noisy, timestep, cond))
    model.enable_gradient_checkpointing(True)
    outside = _saved_bytes(lambda: model(noisy, timestep, cond))  # block inputs + the rest
    per_block = (full - outside) / max(1, c.num_layers)  # what one recomputed block holds
    patch = c.patch_size[1] * c.patch_size[2]
    tokens = (2 * frames + refs) * side * side // patch  # source + target (+ refs) streams
    params = sum(p.numel() for p in model.parameters())
    name = path.rsplit("/", 1)[-1].removesuffix(".yaml")
    return Estimate(name, params, tokens, batch, full, int(outside + per_block))


def table(estimates: list[Estimate], gpus: int) -> str:
    """Markdown table: GiB per GPU for each config and strategy."""
    lines = [f"GiB per GPU with {gpus} GPUs (micro-batch = the config's `loop.batch_size`):", "",
             "| config | params | tokens | batch | strategy | weights | grads | optimizer | EMA "
             "| act. | act. ckpt | total | total ckpt |", "|" + "---|" * 13]
    for e in estimates:
        for strategy in ("ddp", "zero2", "fsdp"):
            parts = [e.state(p, strategy, gpus) / GIB for p in BYTES_PER_PARAM]
            act, ckpt = e.activations / GIB, e.activations_ckpt / GIB
            lines.append(f"| {e.name} | {e.params / 1e6:.1f}M | {e.tokens} | {e.batch} | "
                         f"{strategy} | " + " | ".join(f"{v:.2f}" for v in parts)
                         + f" | {act:.2f} | {ckpt:.2f} | {sum(parts) + act:.2f} | "
                         f"{sum(parts) + ckpt:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", default=list(DEFAULT_CONFIGS))
    parser.add_argument("--gpus", type=int, default=8)
    args = parser.parse_args(argv)
    print(table([estimate(path) for path in args.configs], args.gpus))


if __name__ == "__main__":
    main(sys.argv[1:])
