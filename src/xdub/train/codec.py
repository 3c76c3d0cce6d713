"""Train the tiny video codec on face crops: a small explicit loop (nanoGPT style).

    codec = train_codec(CodecConfig().tiny, CodecTrainConfig(), run_dir, crop_source)

`crop_source(first_step)` returns an iterable of uint8 crops `[S, S, 3]`; `synth_crop_source`
cuts them around the ground-truth face boxes of the procedural engine. The run directory gets
`config.yaml`, `git_sha.txt`, `metrics.jsonl`, `loss.png` and `checkpoints/last/` (codec folder +
`optimizer.pt` + `state.json`); calling again with the same run_dir resumes from the saved step.
Imports: numpy, torch, cv2, xdub.{config, models, data, train}.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from xdub.config import to_dict
from xdub.config.codec import CodecTrainConfig, TinyCodecConfig
from xdub.models.codec import TinyVideoCodec
from xdub.train.checkpointing import save_last
from xdub.train.loop import warmup_cosine, write_run_files
from xdub.train.report import Panel, append_metrics, plot_panels, read_metrics

log = logging.getLogger(__name__)

CropSource = Callable[[int], Iterable[np.ndarray]]  # first step -> uint8 crops [S, S, 3]

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
    """Endless crops from engine clips `seed_offset + first_step, +1, ...` (new clips on resume)."""
    from xdub.config.synth import SCENARIOS
    from xdub.synth.clip import render_clip

    cfg = replace(SCENARIOS[scenario], duration=clip_seconds)

    def source(first_step: int) -> Iterator[np.ndarray]:
        seed = seed_offset + first_step
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
# Losses and metrics
# ---------------------------------------------------------------------------------------------


def reconstruction_losses(recon: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """L1, MSE and image-gradient L1 between `[N, 3, H, W]` images."""
    def grads(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x[..., 1:, :] - x[..., :-1, :], x[..., :, 1:] - x[..., :, :-1]

    (ry, rx), (ty, tx) = grads(recon), grads(target)
    return {
        "l1": (recon - target).abs().mean(),
        "mse": F.mse_loss(recon, target),
        "grad": (ry - ty).abs().mean() + (rx - tx).abs().mean(),
    }


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
# Run files and checkpoints
# ---------------------------------------------------------------------------------------------


def lr_at(step: int, cfg: CodecTrainConfig) -> float:
    """Linear warmup, then cosine decay to 5% of the peak."""
    return cfg.lr * warmup_cosine(step, cfg.steps, cfg.warmup, 0.05)


def _write_run_files(run_dir: Path, codec_cfg: TinyCodecConfig, cfg: CodecTrainConfig) -> None:
    write_run_files(run_dir)
    import yaml

    text = yaml.safe_dump({"codec": to_dict(codec_cfg), "train": to_dict(cfg)}, sort_keys=False)
    (run_dir / "config.yaml").write_text(text)


# Training loss and held-out PSNR over steps (loss.png).
LOSS_PANELS = (
    Panel(("loss", "l1", "mse"), log_y=True),
    Panel(("psnr", "eval_psnr"), ("train batch", "held-out"), ylabel="PSNR dB",
          dotted=("eval_psnr",)),
)


# ---------------------------------------------------------------------------------------------
# Loop
# ---------------------------------------------------------------------------------------------


def _step_losses(codec: TinyVideoCodec, images: torch.Tensor, cfg: CodecTrainConfig,
                 gen: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
    """One batch `[N, 3, S, S]`: noisy-latent reconstruction loss and its parts."""
    raw = codec.encode_images(images)
    noisy = raw + codec.cfg.latent_noise * torch.randn(raw.shape, generator=gen)
    recon = codec.decode_images(noisy)
    parts = reconstruction_losses(recon, images)
    latent_l2 = raw.square().mean()
    loss = (cfg.l1_weight * parts["l1"] + cfg.mse_weight * parts["mse"]
            + cfg.grad_weight * parts["grad"] + codec.cfg.latent_l2 * latent_l2)
    logs = {k: float(v.detach()) for k, v in parts.items()}
    logs |= {"loss": float(loss.detach()), "latent_rms": float(latent_l2.detach().sqrt()),
             "psnr": float(psnr(recon.detach(), images).mean())}
    return loss, logs


def _start(codec_cfg: TinyCodecConfig, cfg: CodecTrainConfig, run_dir: Path,
           crop_source: CropSource) -> tuple[TinyVideoCodec, torch.optim.Optimizer, dict]:
    """Resume from `run_dir/checkpoints/last`, or start from a PCA codec fitted on first crops."""
    last = run_dir / "checkpoints" / "last"
    torch.manual_seed(cfg.seed)
    if (last / "state.json").is_file():
        codec = TinyVideoCodec.from_pretrained(last).train()
        state = json.loads((last / "state.json").read_text())
    else:
        codec = TinyVideoCodec(codec_cfg).train()
        first = np.stack([c for _, c in zip(range(cfg.pca_crops), crop_source(0))])
        codec.init_from_pca(to_tensor(first))
        state = {"step": 0, "elapsed_s": 0.0}
    optim = torch.optim.AdamW(codec.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if (last / "optimizer.pt").is_file():
        optim.load_state_dict(torch.load(last / "optimizer.pt", weights_only=True))
        log.info("resumed codec training at step %d", state["step"])
    return codec, optim, state


def train_codec(codec_cfg: TinyCodecConfig, cfg: CodecTrainConfig, run_dir: str | Path,
                crop_source: CropSource, eval_crops: np.ndarray | None = None) -> TinyVideoCodec:
    """Train (or resume from `run_dir/checkpoints/last`) and return the codec in eval mode.

    When training ends, per-channel latent stats are measured on fresh crops and stored in the
    codec's config, so `encode` returns roughly unit-variance latents.
    """
    run_dir = Path(run_dir)
    torch.set_num_threads(cfg.threads)
    # 1. Run files; model + optimiser (fresh or resumed).
    _write_run_files(run_dir, codec_cfg, cfg)
    codec, optim, state = _start(codec_cfg, cfg, run_dir, crop_source)
    # 2. Data and noise streams continue from the saved step (new clips after a resume).
    gen = torch.Generator().manual_seed(cfg.seed + state["step"])
    rng = np.random.default_rng(cfg.seed + state["step"])
    batches = _shuffled_batches(crop_source(state["step"]), cfg.batch_size, rng,
                                pool_size=max(4 * cfg.batch_size, 64))
    metrics, tic = run_dir / "metrics.jsonl", time.time()
    # 3. Optimise; log every `log_every`, evaluate + checkpoint every `ckpt_every` and at the end.
    while state["step"] < cfg.steps:
        step = state["step"]
        for group in optim.param_groups:
            group["lr"] = lr_at(step, cfg)
        loss, logs = _step_losses(codec, next(batches), cfg, gen)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(codec.parameters(), cfg.grad_clip)
        optim.step()
        state["step"] = step + 1
        done = state["step"] == cfg.steps
        if state["step"] % cfg.log_every == 0 or done:
            sec = round(state["elapsed_s"] + time.time() - tic, 1)
            row = {"step": state["step"], "lr": lr_at(step, cfg), **logs, "sec": sec}
            append_metrics(metrics, row)
            log.info("step %d loss %.4f psnr %.2f", state["step"], logs["loss"], logs["psnr"])
        if state["step"] % cfg.ckpt_every == 0 or done:
            if eval_crops is not None:
                value = evaluate_psnr(codec, eval_crops)
                append_metrics(metrics, {"step": state["step"], "eval_psnr": value})
            state["elapsed_s"] = round(state["elapsed_s"] + time.time() - tic, 1)
            tic = time.time()
            save_last(run_dir / "checkpoints", codec, optim, state)
    # 4. Loss curve (once: matplotlib text layout costs seconds per figure).
    plot_panels(read_metrics(metrics), run_dir / "loss.png", LOSS_PANELS)
    # 5. Latent statistics for normalised latents.
    fresh = np.stack([c for _, c in zip(range(256), crop_source(cfg.steps + 1))])
    codec.eval()
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
    (Path(run_dir) / "result.json").write_text(json.dumps(result, indent=2))
    return value
