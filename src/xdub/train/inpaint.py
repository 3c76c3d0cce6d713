"""A trained inpainter as one object: folder I/O, guided sampling, whole-clip inpainting.

Folder layout (written at the end of stage 1, read by `xdub make-pairs` and evaluation):

    inpainter/
        inpainter.json    InpainterSpec: mode, crop/mask geometry, audio features, sampling
        dit/              XDubDiT.save_pretrained (EMA weights)
        codec/            TinyVideoCodec.save_pretrained (tiny codec; wan22 reads spec.wan_weights)

`inpaint_generator` puts the inpainter behind the shared `CropGenerator` interface and
`inpaint_clip` runs it over a whole clip with the shared chunk runner: chunks of
`window_frames` frames overlap by the frames of `motion_frames` latents, whose clean latents
(re-encoded from the previous chunk's output) condition the next chunk, and the shared frames
are cross-faded as in `xdub dub`.
Imports: torch, numpy, xdub.{atomic, models, audio, conditioning, generation, data, config}.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from xdub.atomic import atomic_dir
from xdub.audio import build_featurizer
from xdub.audio.featurizer import AudioFeaturizer
from xdub.conditioning import source_channels
from xdub.config import from_dict, to_dict
from xdub.config.codec import CodecConfig, WanVAEConfig
from xdub.config.train import InpainterSpec
from xdub.data.crops import PreparedClip
from xdub.errors import ConfigError, WeightsError
from xdub.generation import (
    InpaintGenerator,
    SamplerSettings,
    generate_clip,
    template_mask,
)
from xdub.models.codec import TinyVideoCodec, VideoCodec, build_codec
from xdub.models.fusion import load_dit

log = logging.getLogger(__name__)

SPEC_NAME = "inpainter.json"
CODEC_ASSET = "codec_tiny"


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def load_codec(cfg: CodecConfig, weights: str) -> VideoCodec:
    """Frozen codec: tiny from the package asset / a folder / random init, or Wan2.2."""
    if cfg.kind == "wan22":
        codec = build_codec(cfg)
    elif weights == "random":
        log.warning("tiny codec with RANDOM weights (tests only)")
        with torch.random.fork_rng():  # seeded: every process of a run gets the same codec
            torch.manual_seed(0)
            codec = TinyVideoCodec(cfg.tiny)
    elif weights == "package":
        from importlib import resources

        root = resources.files("xdub") / "assets" / CODEC_ASSET
        with resources.as_file(root) as folder:
            if not (Path(folder) / "config.json").is_file():
                raise WeightsError(f"tiny codec weights missing in {folder}: train them with the "
                                   "codec recipe or set codec_weights to a codec folder")
            codec = TinyVideoCodec.from_pretrained(folder)
    else:
        codec = TinyVideoCodec.from_pretrained(weights)
    codec.eval().requires_grad_(False)
    return codec


def check_compatible(model_cfg, codec: VideoCodec, featurizer: AudioFeaturizer, mode: str,
                     window_frames: int) -> None:
    """ConfigError if DiT, codec, audio features and window length do not fit together."""
    want = source_channels(codec, mode)  # type: ignore[arg-type]
    cond = model_cfg.cond_channels or model_cfg.latent_channels
    problems = []
    if model_cfg.latent_channels != codec.latent_channels:
        problems.append(f"model.latent_channels={model_cfg.latent_channels} but the codec has "
                        f"{codec.latent_channels}")
    if cond != want:
        problems.append(f"model.cond_channels={model_cfg.cond_channels} but {mode} needs {want}")
    if model_cfg.audio_dim != featurizer.dim:
        problems.append(f"model.audio_dim={model_cfg.audio_dim} but features have {featurizer.dim}")
    if (window_frames - 1) % codec.temporal_factor:
        problems.append(f"window_frames={window_frames} is not 1 + k * {codec.temporal_factor}")
    if problems:
        raise ConfigError("inpainter config mismatch: " + "; ".join(problems))
    patch_values = int(np.prod(model_cfg.patch_size)) * model_cfg.latent_channels
    if patch_values > model_cfg.dim:
        # Velocity prediction has to carry the full-rank noise through each token.
        log.warning("a patch holds %d latent values but tokens are %d wide: the DiT cannot "
                    "represent the velocity exactly (use smaller patches or a wider model)",
                    patch_values, model_cfg.dim)


@dataclass
class Inpainter:
    """A DiT, its frozen codec and featurizer, and the spec they were trained with."""

    dit: torch.nn.Module  # XDubDiT, or SourceFusedDiT (xdub.models.fusion)
    codec: VideoCodec
    featurizer: AudioFeaturizer
    spec: InpainterSpec
    version: str

    def save(self, folder: str | Path) -> Path:
        """Write the folder layout of the module docstring (atomically: built beside it)."""
        folder = Path(folder)
        with atomic_dir(folder) as tmp:
            self.dit.save_pretrained(tmp / "dit")
            if isinstance(self.codec, TinyVideoCodec):
                self.codec.save_pretrained(tmp / "codec")
            (tmp / SPEC_NAME).write_text(json.dumps(to_dict(self.spec), indent=2))
        return folder


def weights_version(dit_dir: Path) -> str:
    """Short sha256 of the DiT weights file: the `model_version` recorded with each pair."""
    digest = hashlib.sha256()
    with (dit_dir / "model.safetensors").open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def load_inpainter(folder: str | Path, device: torch.device | str = "cpu") -> Inpainter:
    """Rebuild an Inpainter from its folder (WeightsError if incomplete)."""
    folder = Path(folder)
    if not (folder / SPEC_NAME).is_file():
        raise WeightsError(f"{folder} is not an inpainter folder (no {SPEC_NAME})")
    spec = from_dict(InpainterSpec, json.loads((folder / SPEC_NAME).read_text()))
    dit = load_dit(folder / "dit", device=device).eval().requires_grad_(False)
    if spec.codec == "tiny":
        codec = TinyVideoCodec.from_pretrained(folder / "codec")
    else:
        codec = build_codec(CodecConfig(kind="wan22", wan=WanVAEConfig(weights_path=spec.wan_weights)))
    codec = codec.to(device).eval().requires_grad_(False)
    featurizer = build_featurizer(spec.audio, device=device)
    check_compatible(dit.config, codec, featurizer, spec.mode, spec.window_frames)
    return Inpainter(dit, codec, featurizer, spec, weights_version(folder / "dit"))


def with_decoder(inp: Inpainter, codec_dir: str | Path) -> Inpainter:
    """`inp` decoding with the codec in `codec_dir`: a decoder-only fine-tune of its own codec
    (same encoder and latent statistics, so the DiT's latents mean the same); ConfigError for
    any other codec. Its `version` then names the decoder too (it shapes every V')."""
    if not isinstance(inp.codec, TinyVideoCodec):
        raise ConfigError("another decoder needs the tiny codec")
    codec_dir = Path(codec_dir)
    decoder = TinyVideoCodec.from_pretrained(codec_dir).to(
        inp.codec.latents_mean.device).eval().requires_grad_(False)
    if not inp.codec.encodes_like(decoder):
        raise ConfigError(f"{codec_dir} is not a decoder-only fine-tune of the inpainter's codec "
                          "(its encoder or latent statistics differ)")
    return replace(inp, codec=decoder, version=f"{inp.version}+{weights_version(codec_dir)}")


# ---------------------------------------------------------------------------------------------
# Generation (the shared engine: xdub.generation)
# ---------------------------------------------------------------------------------------------


def inpaint_generator(inp: Inpainter, num_steps: int, ref_scale: float | None = None,
                      audio_scale: float | None = None, composited: bool = False,
                      denoise_strength: float | None = None) -> InpaintGenerator:
    """The inpainter behind `CropGenerator`; without chunk masks it inpaints the template face.

    `motion_frames` are the pixel frames of the spec's motion latents. `composited`: return
    the input outside the mask (a dubber) instead of the raw decoded crops.
    """
    spec, codec = inp.spec, inp.codec
    settings = SamplerSettings(spec.diffusion, num_steps).with_overrides(
        ref_scale=ref_scale, audio_scale=audio_scale, denoise_strength=denoise_strength)
    motion = codec.pixel_frames(spec.motion_frames) if spec.motion_frames else 0
    size = spec.face.align.crop_size
    return InpaintGenerator(inp.dit, codec, inp.featurizer, size, settings, motion,
                            spec.ref_frames, template=template_mask(size, spec.face.align,
                                                                    spec.face.mask),
                            composited=composited)


def inpaint_clip(inp: Inpainter, clip: PreparedClip, audio_windows: np.ndarray, num_steps: int,
                 generator: torch.Generator, ref_rng: np.random.Generator | None = None,
                 ref_scale: float | None = None, audio_scale: float | None = None,
                 ref_avoid: np.ndarray | None = None, starts: np.ndarray | None = None,
                 denoise_strength: float | None = None) -> np.ndarray:
    """Regenerate the masked lower face of every frame driven by `audio_windows: [T, W, D]`.

    Chunks of `window_frames` share the motion frames (the runner `xdub dub` uses); their
    references follow `spec.ref_choice` and avoid the frames `ref_avoid: [T]` marks. With
    `starts: [T, S, S, 3]` and `denoise_strength` < 1 sampling starts from those crops noised
    to that level (SDEdit). Returns the raw decoded crops `[T, S, S, 3]` uint8 (not composited
    with the input).
    """
    spec = inp.spec
    gen = inpaint_generator(inp, num_steps, ref_scale, audio_scale,
                            denoise_strength=denoise_strength)
    if 2 * gen.motion_frames > spec.window_frames:  # the chunk plan's rule (overlap <= half)
        raise ConfigError(f"window_frames {spec.window_frames} is less than twice the "
                          f"{gen.motion_frames} motion frames")
    return generate_clip(gen, clip.crops.crops, audio_windows, spec.window_frames,
                         gen.motion_frames, generator, ref_rng, spec.ref_min_gap,
                         masks=clip.crops.masks, ref_nearest=spec.ref_choice == "nearest",
                         ref_avoid=ref_avoid, starts=starts)
