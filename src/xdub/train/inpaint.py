"""A trained inpainter as one object: folder I/O, guided sampling, whole-clip inpainting.

Folder layout (written at the end of stage 1, read by `xdub make-pairs` and evaluation):

    inpainter/
        inpainter.json    InpainterSpec: mode, crop/mask geometry, audio features, sampling
        dit/              XDubDiT.save_pretrained (EMA weights)
        codec/            TinyVideoCodec.save_pretrained (tiny codec; wan22 reads spec.wan_weights)

`inpaint_clip` generates a whole clip chunk by chunk: chunks of `window_frames` frames overlap
by the frames of `motion_frames` latents, whose clean latents (re-encoded from the previous
chunk's output) condition the next chunk. Imports: torch, numpy, xdub.{models, diffusion,
audio, conditioning, data, config}.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from xdub.audio import build_featurizer
from xdub.audio.featurizer import AudioFeaturizer
from xdub.conditioning import (
    encode_condition,
    encode_frames,
    select_reference_indices,
    source_channels,
    tensor_to_frames,
)
from xdub.config import from_dict, replace, to_dict
from xdub.config.codec import CodecConfig, WanVAEConfig
from xdub.config.diffusion import DiffusionConfig
from xdub.config.train import InpainterSpec
from xdub.data.crops import PreparedClip
from xdub.diffusion import (
    GuidanceStreams,
    guided_model_fn,
    sample,
    scales_from_config,
    sigma_to_timestep,
    sigmas_for_sampling,
    zero_fields,
)
from xdub.errors import ConfigError, WeightsError
from xdub.models import DiTConditioning
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
        """Write the folder layout of the module docstring."""
        folder = Path(folder)
        self.dit.save_pretrained(folder / "dit")
        if isinstance(self.codec, TinyVideoCodec):
            self.codec.save_pretrained(folder / "codec")
        (folder / SPEC_NAME).write_text(json.dumps(to_dict(self.spec), indent=2))
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


# ---------------------------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------------------------


def _drop_ref(cond: DiTConditioning) -> DiTConditioning:
    names = ["source_latents"] + (["ref_latents"] if cond.ref_latents is not None else [])
    return zero_fields(cond, names)


def _drop_audio(cond: DiTConditioning) -> DiTConditioning:
    return zero_fields(cond, ["audio_features"]) if cond.audio_features is not None else cond


@torch.no_grad()
def sample_latents(dit: torch.nn.Module, cond: DiTConditioning, diffusion: DiffusionConfig,
                   num_steps: int, generator: torch.Generator) -> torch.Tensor:
    """Three-stream guided Euler sampling -> clean latents `[B, C, F', h, w]` (motion kept).

    Guidance scales and their schedule come from `diffusion` (as in the dubbing pipeline);
    noise is drawn on the CPU `generator`, so a seed gives the same result on any device.
    """
    src = cond.source_latents
    shape = (src.shape[0], dit.config.latent_channels, *src.shape[2:])
    noise = torch.randn(shape, generator=generator, dtype=torch.float32).to(src.device, src.dtype)
    streams = GuidanceStreams.from_drops(cond, _drop_ref, _drop_audio)
    model_fn = guided_model_fn(
        lambda x, s, c: dit(x, sigma_to_timestep(s, diffusion.num_train_timesteps), c), streams,
        scales_from_config(diffusion), batched=diffusion.guidance_batched,
        stack=DiTConditioning.concat)
    latents = sample(model_fn, noise, sigmas_for_sampling(num_steps, diffusion.shift).to(src.device))
    if cond.motion_latents is not None:  # the network's motion-frame outputs are meaningless
        latents[:, :, : cond.motion_latents.shape[2]] = cond.motion_latents.to(latents)
    return latents


def _pad_to(array: np.ndarray, length: int) -> np.ndarray:
    """Repeat the last entry along axis 0 up to `length`."""
    if len(array) >= length:
        return array[:length]
    return np.concatenate([array, np.repeat(array[-1:], length - len(array), axis=0)])


def inpaint_clip(inp: Inpainter, clip: PreparedClip, audio_windows: np.ndarray, num_steps: int,
                 generator: torch.Generator, ref_rng: np.random.Generator | None = None,
                 ref_scale: float | None = None, audio_scale: float | None = None) -> np.ndarray:
    """Regenerate the masked lower face of every frame driven by `audio_windows: [T, W, D]`.

    Returns the raw decoded crops `[T, S, S, 3]` uint8 (not composited with the input).
    """
    spec, codec, dit = inp.spec, inp.codec, inp.dit
    total, window = clip.num_frames, spec.window_frames
    assert audio_windows.shape[0] == total, "one audio window per video frame"
    overlap = codec.pixel_frames(spec.motion_frames) if spec.motion_frames else 0
    stride = window - overlap
    if stride < 1:
        raise ConfigError(f"window_frames {window} leaves no new frames after {overlap} motion")
    diffusion = replace(spec.diffusion,
                        ref_scale=spec.diffusion.ref_scale if ref_scale is None else ref_scale,
                        audio_scale=spec.diffusion.audio_scale if audio_scale is None else audio_scale)
    out = np.empty_like(clip.crops.crops)
    start = 0
    while True:
        stop = min(start + window, total)
        refs = select_reference_indices(total, (start, stop), spec.ref_frames, spec.ref_min_gap,
                                        ref_rng) if spec.ref_frames else None
        motion = None
        if start > 0 and overlap:
            motion = encode_frames(codec, out[start:start + overlap])[:, :, :spec.motion_frames]
        c = clip.crops
        cond = encode_condition(
            codec, _pad_to(c.crops[start:stop], window), mode=spec.mode,
            mask=_pad_to(c.masks[start:stop], window),
            ref_crops=c.crops[refs] if refs is not None else None,
            audio_windows=_pad_to(audio_windows[start:stop], window), motion_latents=motion)
        latents = sample_latents(dit, cond, diffusion, num_steps, generator)
        frames = tensor_to_frames(codec.decode(latents))[0]
        first = overlap if motion is not None else 0  # motion frames keep the earlier output
        out[start + first:stop] = frames[first:stop - start]
        if stop == total:
            return out
        start += stride


def composite(generated: np.ndarray, original: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`original` outside the feathered `mask: [T, S, S]`, `generated` inside: uint8 [T, S, S, 3]."""
    alpha = np.clip(mask.astype(np.float32), 0.0, 1.0)[..., None]
    mixed = original.astype(np.float32) * (1.0 - alpha) + generated.astype(np.float32) * alpha
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
