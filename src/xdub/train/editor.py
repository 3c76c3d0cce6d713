"""The trained editor as a dubbing checkpoint folder (`xdub.generation.folder` layout).

`export_editor` writes the folder `xdub dub --checkpoint` (`load_pipeline`) reads:

    dubber.json            DubberConfig: audio features, face crop geometry, noise process
                           (incl. the phase boundaries), chunking, experts
    dit/                   XDubDiT.save_pretrained (the shared base / last SFT weights)
    codec/                 TinyVideoCodec.save_pretrained (Wan VAE: copied in by hand)
    <phase>.safetensors    LoRA experts (save_lora), listed in dubber.json `experts`

Whole-clip editing of aligned crops is `xdub.generation.generate_clip` (the chunk runner
`xdub dub` uses). Imports: xdub.{atomic, config, generation, models}.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from xdub.atomic import atomic_dir
from xdub.config.infer import DubberConfig
from xdub.config.stage2 import Stage2Config
from xdub.generation.folder import CODEC_DIR, DIT_DIR, write_dubber_config
from xdub.model_types import VideoCodec
from xdub.models.codec import TinyVideoCodec

log = logging.getLogger(__name__)


def dubber_config(cfg: Stage2Config, experts: dict[str, str], name: str) -> DubberConfig:
    """What the exported folder declares (chunking follows the training window)."""
    chunk = cfg.chunk_frames or cfg.data.window_frames
    overlap = max(cfg.chunk_overlap, cfg.motion_frames)
    overlap = min(overlap, chunk // 2)
    return DubberConfig(name=name, codec=cfg.codec.kind, audio=cfg.audio, face=cfg.face,
                        diffusion=cfg.diffusion, chunk_frames=chunk, overlap=overlap,
                        motion_frames=min(cfg.motion_frames, overlap),
                        ref_frames=cfg.data.ref_frames, experts=tuple(experts.items()),
                        keep=cfg.keep, prior_gate_power=cfg.prior_gate_power,
                        prior_chunk_trim=cfg.prior_chunk_trim)


def export_editor(out: str | Path, cfg: Stage2Config, dit_dir: Path, adapters: dict[str, Path],
                  codec: VideoCodec, name: str = "xdub-tiny-editor") -> Path:
    """Write the checkpoint folder `out` (atomically: built beside it, then renamed)."""
    out = Path(out)
    with atomic_dir(out) as tmp:
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
        write_dubber_config(tmp, dubber_config(cfg, experts, name))
    return out
