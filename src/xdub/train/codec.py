"""Train the tiny video codec on face crops, on the one training loop (`xdub.train.loop`).

    codec = train_codec(CodecConfig().tiny, CodecTrainConfig(), run_dir, crop_source)

`crop_source(first_crop)` returns an iterable of uint8 crops `[S, S, 3]`; `synth_crop_source`
cuts them around the ground-truth face boxes of the procedural engine. The run directory is the
loop's (`config.yaml` = codec + recipe, `metrics.jsonl` with held-out PSNR rows, `loss.png`,
`checkpoints/step_*`); calling again with the same run_dir resumes from the newest checkpoint.
Imports: numpy, torch, cv2, xdub.{atomic, config, models, data, train}.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from xdub.atomic import write_json_atomic
from xdub.config.codec import CodecTrainConfig, TinyCodecConfig
from xdub.models.codec import TinyVideoCodec
from xdub.train import loop
from xdub.train.checkpointing import latest_checkpoint
from xdub.train.losses import reconstruction_losses
from xdub.train.report import Panel, append_metrics

log = logging.getLogger(__name__)

CropSource = Callable[[int], Iterable[np.ndarray]]  # crops already used -> uint8 crops [S, S, 3]

# ---------------------------------------------------------------------------------------------
# Data: face crops from the procedural engine
# ---------------------------------------------------------------------------------------------


def crop_face(frame: np.ndarray, box: np.ndarray, size: int, rng: np.random.Generator | None,
              margin: float = 1.3, jitter: float = 0.08) -> np.ndarray:
    """Square crop around a face box `(x0, y0, x1, y1)`, resized to `size`: `[size, size, 3]`.

    Side = `margin` x the box's longer side; with `rng`, centre and side are jittered by up to
    `jitter` (relative) so the codec sees the spread of crops a tracker produces. Pixels outside
    the frame repeat the border.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    side = margin * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if rng is not None:
        side *= 1 + rng.uniform(-jitter, jitter)
        cx, cy = cx + side * rng.uniform(-jitter, jitter), cy + side * rng.uniform(-jitter, jitter)
    scale = size / side
    affine = np.array([[scale, 0, size / 2 - scale * cx], [0, scale, size / 2 - scale * cy]])
    # Faces span ~100-150 px and shrink to 64: a box blur of the scale step before bilinear
    # sampling keeps aliasing (which no codec reproduces well) out of the training crops.
    k = max(1, int(round(1 / scale)))
    src = cv2.blur(frame, (k, k)) if k > 1 else frame
    return cv2.warpAffine(src, affine, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def synth_crop_source(size: int, scenario: str = "mixed", frames_per_clip: int = 8,
                      seed_offset: int = 0, clip_seconds: float = 1.0) -> CropSource:
    """Endless crops from engine clips `seed_offset + k, k + 1, ...`, where clip k is the one
    that holds crop `first_crop` (a resumed run continues with new clips)."""
    from xdub.config.synth import SCENARIOS
    from xdub.synth.clip import render_clip

    cfg = replace(SCENARIOS[scenario], duration=clip_seconds)

    def source(first_crop: int) -> Iterator[np.ndarray]:
        seed = seed_offset + first_crop // frames_per_clip
        while True:
            clip = render_clip(seed, cfg)
            rng = np.random.default_rng(seed)
            picks = rng.choice(len(clip.frames), min(frames_per_clip, len(clip.frames)), False)
            for i in picks:
                yield crop_face(clip.frames[i], clip.truth.face_box[i], size, rng)
            seed += 1

    return source


def held_out_crops(source: Iterable[np.ndarray], count: int) -> np.ndarray:
    """First `count` crops of a source as one array `[count, S, S, 3]` uint8."""
    crops = [c for _, c in zip(range(count), source)]
    return np.stack(crops)


def to_tensor(crops: np.ndarray) -> torch.Tensor:
    """uint8 `[N, S, S, 3]` -> float `[N, 3, S, S]` in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float() / 127.5 - 1


def _shuffled_batches(crops: Iterable[np.ndarray], batch_size: int, rng: np.random.Generator,
                      pool_size: int = 512) -> Iterator[torch.Tensor]:
    """Batches drawn at random from a rolling pool, so one clip's frames spread over steps."""
    pool: list[np.ndarray] = []
    for crop in crops:
        pool.append(crop)
        if len(pool) < pool_size:
            continue
        picks = sorted(rng.choice(len(pool), batch_size, replace=False), reverse=True)
        yield to_tensor(np.stack([pool.pop(i) for i in picks]))


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------


def psnr(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB of `[N, 3, H, W]` images in [-1, 1] (peak = full range)."""
    mse = ((recon.clamp(-1, 1) - target) / 2).square().flatten(1).mean(1)
    return -10 * torch.log10(mse.clamp_min(1e-10))


@torch.no_grad()
def evaluate_psnr(codec: TinyVideoCodec, crops: np.ndarray, batch_size: int = 32) -> float:
    """Mean PSNR of deterministic encode -> decode over held-out crops `[N, S, S, 3]` uint8."""
    was_training = codec.training
    codec.eval()
    values = []
    for start in range(0, len(crops), batch_size):
        images = to_tensor(crops[start : start + batch_size])
        frames = images.permute(1, 0, 2, 3)[None]  # [1, 3, N, S, S]: one clip of N frames
        recon = codec.decode(codec.encode(frames))[0].permute(1, 0, 2, 3)
        values.append(psnr(recon, images))
    codec.train(was_training)
    return float(torch.cat(values).mean())


@torch.no_grad()
def measure_latent_stats(
    codec: TinyVideoCodec, crops: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std `[C]` of raw latents over crops `[N, S, S, 3]`."""
    raw = codec.encode_images(to_tensor(crops))
    return raw.mean(dim=(0, 2, 3)), raw.std(dim=(0, 2, 3))


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodecRunConfig:
    """`config.yaml` of a codec run: the codec and its recipe."""

    codec: TinyCodecConfig
    train: CodecTrainConfig


# Training loss and held-out PSNR over steps (loss.png).
LOSS_PANELS = (
    Panel(("loss", "l1", "mse"), log_y=True),
    Panel(("psnr", "eval_psnr"), ("train batch", "held-out"), ylabel="PSNR dB",
          dotted=("eval_psnr",)),
)


class CodecObjective(nn.Module):
    """The codec with its training loss as `forward`: the module the loop trains and saves.

    A batch `[N, 3, S, S]` is encoded, its raw latents get N(0, latent_noise) (so the decoder
    tolerates imperfect latents), and the decoded images are scored against the input.
    """

    def __init__(self, codec: TinyVideoCodec, cfg: CodecTrainConfig) -> None:
        super().__init__()
        self.codec, self.cfg = codec, cfg

    def forward(self, images: torch.Tensor,
                gen: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        codec, cfg = self.codec, self.cfg
        with torch.set_grad_enabled(not cfg.decoder_only and torch.is_grad_enabled()):
            raw = codec.encode_images(images)
        noisy = raw + codec.cfg.latent_noise * torch.randn(raw.shape, generator=gen)
        if cfg.decoder_noise > 0:
            noisy = noisy + latent_error(raw.shape, cfg.decoder_noise, cfg.noise_block,
                                         gen) * codec.latents_std
        recon = codec.decode_images(noisy)
        parts = reconstruction_losses(recon, images)
        latent_l2 = raw.square().mean()
        loss = (cfg.l1_weight * parts["l1"] + cfg.mse_weight * parts["mse"]
                + cfg.grad_weight * parts["grad"] + codec.cfg.latent_l2 * latent_l2)
        logs = {k: float(v.detach()) for k, v in parts.items()}
        logs |= {"latent_rms": float(latent_l2.detach().sqrt()),
                 "psnr": float(psnr(recon.detach(), images).mean())}
        return loss, logs


def latent_error(shape: torch.Size, max_std: float, block: int,
                 gen: torch.Generator) -> torch.Tensor:
    """Noise like a DiT's x0 error, in normalised latent units `[N, C, h, w]`: per image a std
    drawn from U(0, max_std), half i.i.d. per latent pixel, half constant over `block` x `block`
    blocks (one token's error)."""
    n, c, h, w = shape
    sigma = torch.rand((n, 1, 1, 1), generator=gen) * max_std
    fine = torch.randn(shape, generator=gen)
    coarse = torch.randn((n, c, -(-h // block), -(-w // block)), generator=gen)
    coarse = coarse.repeat_interleave(block, 2).repeat_interleave(block, 3)[:, :, :h, :w]
    return sigma * (fine + coarse) / 2**0.5


def _fresh_codec(codec_cfg: TinyCodecConfig, cfg: CodecTrainConfig, run_dir: Path,
                 crop_source: CropSource) -> TinyVideoCodec:
    """A seeded codec; a new run starts from a PCA codec fitted on the first crops, or from
    `cfg.init_from` (a resumed run gets its weights from the checkpoint instead)."""
    torch.manual_seed(cfg.loop.seed)
    if cfg.init_from:
        from xdub.config.codec import CodecConfig
        from xdub.train.inpaint import load_codec

        codec = load_codec(CodecConfig(kind="tiny", tiny=codec_cfg), cfg.init_from)
        assert isinstance(codec, TinyVideoCodec)
        codec.train().decoder.requires_grad_(True)
        codec.encoder.requires_grad_(not cfg.decoder_only)
        return codec
    codec = TinyVideoCodec(codec_cfg).train()
    if latest_checkpoint(run_dir / "checkpoints") is None:
        codec.init_from_pca(to_tensor(held_out_crops(crop_source(0), cfg.pca_crops)))
    return codec


def train_codec(codec_cfg: TinyCodecConfig, cfg: CodecTrainConfig, run_dir: str | Path,
                crop_source: CropSource, eval_crops: np.ndarray | None = None) -> TinyVideoCodec:
    """Train (or resume from `run_dir/checkpoints`) and return the codec in eval mode.

    When training ends, per-channel latent stats are measured on fresh crops and stored in the
    codec's config, so `encode` returns roughly unit-variance latents.
    """
    run_dir, lc = Path(run_dir), cfg.loop
    torch.set_num_threads(lc.num_threads)
    # 1. Model (PCA-initialised when new) wrapped with its objective; the noise generator is
    #    checkpointed with the run.
    objective = CodecObjective(_fresh_codec(codec_cfg, cfg, run_dir, crop_source), cfg)
    gen = torch.Generator().manual_seed(lc.seed)

    # 2. Data continues after the crops already used (new clips after a resume).
    def batches(consumed: int) -> Iterator[torch.Tensor]:
        first = consumed * lc.batch_size
        rng = np.random.default_rng(lc.seed + consumed)
        return _shuffled_batches(crop_source(first), lc.batch_size, rng,
                                 pool_size=max(4 * lc.batch_size, 64))

    # 3. Held-out PSNR of the EMA weights at every `sample_every` and at the end.
    def sample_fn(ema_objective: nn.Module, step: int, folder: Path) -> None:
        if eval_crops is not None:
            row = {"step": step, "eval_psnr": evaluate_psnr(ema_objective.codec, eval_crops)}
            append_metrics(run_dir / "metrics.jsonl", row)
            write_json_atomic(folder / "eval.json", row)

    loop.run(lc, run_dir, objective, lambda model, images: model(images, gen), batches,
             run_config=CodecRunConfig(codec_cfg, cfg), sample_fn=sample_fn,
             generators={"noise": gen}, title="xdub tiny codec", panels=LOSS_PANELS)
    # 4. Final weights, then latent statistics for normalised latents.
    codec = loop.load_final_weights(objective, run_dir).codec.eval()
    if not cfg.decoder_only:  # a frozen encoder keeps its stats (and its DiTs stay valid)
        fresh = held_out_crops(crop_source((lc.steps + 1) * lc.batch_size), cfg.stats_crops)
        codec.set_latent_stats(*measure_latent_stats(codec, fresh))
    return codec


EVAL_SEED_OFFSET = 10_000_000  # held-out clips use seeds from here (training uses 0, 1, ...)


def train_tiny_codec_on_synth(run_dir: str | Path, out_dir: str | Path,
                              codec_cfg: TinyCodecConfig | None = None,
                              cfg: CodecTrainConfig | None = None,
                              scenario: str = "mixed") -> float:
    """Train on engine crops, save the codec folder to `out_dir`, return held-out PSNR (dB)."""
    codec_cfg = codec_cfg or TinyCodecConfig()
    cfg = cfg or CodecTrainConfig()
    size = codec_cfg.image_size
    # 1. Held-out crops from clips the training stream never renders.
    held_out = synth_crop_source(size, scenario, frames_per_clip=2, seed_offset=EVAL_SEED_OFFSET)
    eval_crops = held_out_crops(held_out(0), cfg.eval_crops)
    # 2. Train (resumes if run_dir has a checkpoint).
    codec = train_codec(codec_cfg, cfg, run_dir, synth_crop_source(size, scenario), eval_crops)
    # 3. Score and save.
    value = evaluate_psnr(codec, eval_crops)
    codec.save_pretrained(out_dir)
    result = {"eval_psnr": value, "eval_crops": len(eval_crops), "scenario": scenario}
    write_json_atomic(Path(run_dir) / "result.json", result)
    return value
