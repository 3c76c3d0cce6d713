"""The trained editor as a dubbing checkpoint folder, and whole-clip editing of aligned crops.

`export_editor` writes the folder `xdub.pipeline.loading.load_checkpoint` reads:

    dubber.json            DubberConfig: audio features, face crop geometry, noise process
                           (incl. the phase boundaries), chunking, experts
    dit/                   XDubDiT.save_pretrained (the shared base / last SFT weights)
    codec/                 TinyVideoCodec.save_pretrained (Wan VAE: copied in by hand)
    <phase>.safetensors    LoRA experts (save_lora), listed in dubber.json `experts`

`edit_clip` runs a loaded editor over a whole clip of aligned crops chunk by chunk, exactly as
the pipeline's generator is driven (motion crops = the previous chunk's output), so periodic
samples and the evidence script see the product's sampling code; `load_editor` rebuilds the
pipeline from the folder, aligned source fusion included. Imports: numpy, torch,
xdub.{config, conditioning, models, pipeline, train}.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from xdub.conditioning import select_reference_indices
from xdub.config import to_dict
from xdub.config.infer import DubberConfig
from xdub.config.stage2 import Stage2Config
from xdub.models.codec import TinyVideoCodec, VideoCodec
from xdub.pipeline.dub import DubPipeline
from xdub.pipeline.generator import ChunkInput, ModelGenerator
from xdub.pipeline.loading import (
    CODEC_DIR,
    DIT_DIR,
    DUBBER_FILE,
    load_checkpoint,
)

log = logging.getLogger(__name__)


def dubber_config(cfg: Stage2Config, experts: dict[str, str], name: str) -> DubberConfig:
    """What the exported folder declares (chunking follows the training window)."""
    chunk = cfg.chunk_frames or cfg.data.window_frames
    overlap = max(cfg.chunk_overlap, cfg.motion_frames)
    overlap = min(overlap, chunk // 2)
    return DubberConfig(name=name, codec=cfg.codec.kind, audio=cfg.audio, face=cfg.face,
                        diffusion=cfg.diffusion, chunk_frames=chunk, overlap=overlap,
                        motion_frames=min(cfg.motion_frames, overlap),
                        ref_frames=cfg.data.ref_frames, experts=tuple(experts.items()))


def export_editor(out: str | Path, cfg: Stage2Config, dit_dir: Path, adapters: dict[str, Path],
                  codec: VideoCodec, name: str = "xdub-tiny-editor") -> Path:
    """Write the checkpoint folder `out` (atomically: built beside it, then renamed)."""
    out = Path(out)
    tmp = out.with_name(f".{out.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shutil.copytree(dit_dir, tmp / DIT_DIR)
    if isinstance(codec, TinyVideoCodec):
        codec.save_pretrained(tmp / CODEC_DIR)
    else:  # the Wan VAE is not ours to re-save: the loader reads a diffusers folder there
        log.warning("%s: copy the Wan2.2 VAE (diffusers layout) into %s/ before use", out,
                    CODEC_DIR)
    experts = {}
    for phase, path in adapters.items():
        shutil.copy2(path, tmp / f"{phase}.safetensors")
        experts[phase] = f"{phase}.safetensors"
    spec = dubber_config(cfg, experts, name)
    (tmp / DUBBER_FILE).write_text(json.dumps(to_dict(spec), indent=2))
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return out


def load_editor(folder: str | Path, device: str = "cpu") -> DubPipeline:
    """The editor folder as a pipeline, exactly as `xdub dub` loads it (source fusion included)."""
    return load_checkpoint(folder, device=device, dtype="float32")


def edit_clip(generator: ModelGenerator, crops: np.ndarray, audio_windows: np.ndarray,
              window: int, overlap: int, rng: torch.Generator,
              ref_rng: np.random.Generator | None = None, ref_min_gap: int = 8) -> np.ndarray:
    """New crops `[T, S, S, 3]` uint8 for `crops: [T, S, S, 3]` driven by `audio_windows:
    [T, W, D]`; chunks of `window` frames overlap by `overlap` frames, whose already generated
    crops are the next chunk's motion frames. References come from `crops` outside the chunk.
    """
    total = len(crops)
    assert len(audio_windows) == total, "one audio window per frame"
    overlap = min(overlap, generator.motion_frames) if generator.motion_frames else 0
    out = np.empty_like(crops)
    start = 0
    while True:
        stop = min(start + window, total)
        size = _codec_length(stop - start, generator.temporal_factor)
        index = np.minimum(np.arange(start, start + size), total - 1)  # pad by repeating the end
        refs = None
        if generator.ref_frames:
            chosen = select_reference_indices(total, (start, stop), generator.ref_frames,
                                              ref_min_gap, ref_rng)
            refs = crops[chosen]
        motion = out[start:start + overlap] if start > 0 and overlap else None
        chunk = ChunkInput(crops[index], torch.as_tensor(audio_windows[index]), refs, motion)
        frames = generator.generate(chunk, rng)
        first = len(motion) if motion is not None else 0
        out[start + first:stop] = frames[first:stop - start]
        if stop == total:
            return out
        start = stop - overlap if overlap else stop


def _codec_length(frames: int, factor: int) -> int:
    """Smallest `1 + k * factor` >= frames."""
    return 1 + -(-(frames - 1) // factor) * factor if frames > 1 else 1
