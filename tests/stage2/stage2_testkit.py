"""Helpers for the stage-2 tests: a tiny synthetic pair store and tiny stage-2 configs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from xdub.config.codec import CodecConfig, TinyCodecConfig
from xdub.config.model import MODEL_PRESETS
from xdub.config.stage2 import PhaseScheduleConfig, Stage2Config
from xdub.config.train import DataConfig, LoopConfig
from xdub.data.manifest import PairRecord, pair_id
from xdub.data.pairs import checksum, write_shard

SIZE = 32  # crop side: small enough for sub-second steps
FPS = 25.0


def _clip(rng: np.random.Generator, frames: int) -> np.ndarray:
    """Smooth random crops `[T, S, S, 3]` uint8 with a moving dark 'mouth' blob."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    base = rng.uniform(80, 200, size=3)
    out = np.empty((frames, SIZE, SIZE, 3), np.uint8)
    for t in range(frames):
        opening = 2 + 3 * abs(np.sin(0.7 * t + rng.uniform()))
        mouth = ((xx - SIZE / 2) / 6) ** 2 + ((yy - 0.65 * SIZE) / opening) ** 2 < 1
        frame = np.broadcast_to(base, (SIZE, SIZE, 3)).copy()
        frame[mouth] = 30
        out[t] = frame.astype(np.uint8)
    return out


def make_pair_store(folder: Path, num_pairs: int = 3, frames: int = 12, seed: int = 0,
                    rejected: int = 0, occluders: bool = False) -> Path:
    """A one-shard pair folder in the `xdub make-pairs` layout; the last `rejected` pairs
    failed the filters (stored, not accepted); `occluders`: with an occluder mask array."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows, arrays = [], {}
    samples = int(frames / FPS * 16000)
    for item in range(num_pairs):
        target = _clip(rng, frames)
        inp = _clip(rng, frames)
        mask = np.zeros((frames, SIZE, SIZE), np.uint8)
        mask[:, SIZE // 2:, SIZE // 4: 3 * SIZE // 4] = 255
        named = {"input_crops": inp, "target_crops": target, "mask": mask,
                 "audio": rng.normal(0, 0.1, samples).astype(np.float32),
                 "donor_audio": rng.normal(0, 0.1, samples).astype(np.float32),
                 "affines": np.tile(np.eye(2, 3, dtype=np.float32), (frames, 1, 1))}
        if occluders:
            named["occluders"] = np.where(mask > 0, 0, 255).astype(np.uint8)
        pid = pair_id(item)
        arrays[pid] = named
        rows.append(PairRecord(pid, item, 0, f"src{item}", f"don{item}", "loop", {"noise": item},
                               "test", frames, FPS, SIZE, 16000,
                               {"psnr_outside": 40.0, "occluder_cover": 0.5 if occluders else 0.0},
                               item < num_pairs - rejected,
                               [] if item < num_pairs - rejected else ["sync_margin"],
                               "shard_00000.safetensors", checksum(named)))
    write_shard(folder, 0, rows, arrays)
    return folder


def tiny_stage2_config(pairs: Path, mode: str = "lora", steps: int = 6,
                       window: int = 6, **changes) -> Stage2Config:
    """A CPU-second stage-2 config: random codec/scorer, 2-layer DiT, 32 px crops."""
    from xdub.config.face import AlignConfig, FaceConfig

    model = replace(MODEL_PRESETS["tiny"], dim=64, num_layers=2, num_heads=2, ffn_dim=128,
                    freq_dim=32, audio_dim=80, audio_proj_dim=64, audio_proj_heads=2,
                    latent_channels=8, cond_channels=8)
    codec = CodecConfig(kind="tiny", tiny=TinyCodecConfig(image_size=SIZE, latent_channels=8,
                                                          widths=(8, 16)))
    loop = LoopConfig(steps=steps, batch_size=2, lr=1e-3, warmup=1, ckpt_every=100,
                      log_every=1, sample_every=0, ema_decay=0.9)
    data = DataConfig(window_frames=window, ref_frames=1, ref_min_gap=2)
    cfg = Stage2Config(model=model, codec=codec, codec_weights="random", data=data, loop=loop,
                       face=FaceConfig(align=AlignConfig(crop_size=SIZE)), pairs=str(pairs),
                       scorer_weights="random", sample_clips=0,
                       phases=PhaseScheduleConfig(mode=mode, lora_rank=2))
    return replace(cfg, **changes)
