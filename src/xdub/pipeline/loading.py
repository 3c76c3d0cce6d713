"""Build a `DubPipeline` from weights: a checkpoint folder, the official files, or random init.

The only place that reads checkpoints for inference. A dubbing checkpoint is a folder, laid
out as `xdub.generation.folder` describes (dubber.json, dit/, codec/, <expert>.safetensors).

Every model is rebuilt from the config saved beside its weights. The embedded default is such
a folder shipped in the package (`xdub/assets/default/`, with a `manifest.json`). The official X-Dub release is loaded
from its own files (DiT, Wan2.2 VAE, Whisper and wav2vec2 folders) with the `wan5b` preset.
Imports: torch, xdub.{models, audio, generation, config, errors}, xdub.pipeline.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from importlib import resources
from pathlib import Path

import torch

from xdub.audio import build_featurizer
from xdub.config.audio import AudioConfig
from xdub.config.codec import TinyCodecConfig, WanVAEConfig
from xdub.config.face import FaceConfig
from xdub.config.infer import DUBBER_PRESETS, DubberConfig
from xdub.config.model import MODEL_PRESETS
from xdub.errors import ConfigError, WeightsError
from xdub.generation import ModelGenerator, editor_generator
from xdub.generation.folder import (
    CODEC_DIR,
    DIT_DIR,
    DUBBER_FILE,
    LANDMARK_DIR,
    OCCLUDER_DIR,
    read_dubber_config,
    write_dubber_config,
)
from xdub.models import XDubDiT, build_dit, load_lora, load_official_dit
from xdub.models.codec import TinyVideoCodec, VideoCodec
from xdub.models.fusion import SourceFusedDiT, load_dit
from xdub.models.landmark_net import LandmarkNet
from xdub.models.occluder_net import OccluderNet
from xdub.pipeline.dub import DubPipeline
from xdub.pipeline.finder import FaceFinder

log = logging.getLogger(__name__)

DEFAULT_ASSET = "default"  # folder name of the embedded default under xdub/assets/
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
NO_DEFAULT_HINT = (
    "this install has no embedded default checkpoint yet: pass --checkpoint DIR (a folder with "
    "dubber.json, dit/, codec/), the official files (--dit, --vae, --whisper, --wav2vec2), or "
    "--random-init for an untrained tiny model (smoke test only)"
)


def default_checkpoint() -> Path | None:
    """The embedded default checkpoint folder, or None when this install ships none."""
    folder = resources.files("xdub") / "assets" / DEFAULT_ASSET
    path = Path(str(folder))
    return path if (path / DUBBER_FILE).is_file() else None


def resolve_device(name: str = "auto") -> torch.device:
    """`"auto"`: the current accelerator when there is one, else the CPU; otherwise `name`."""
    accelerator = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else None
    if name == "auto":
        return accelerator if accelerator is not None else torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}: use auto, cpu or a torch device name "
                          "(accelerator type, optionally :index)") from None
    if device.type != "cpu" and (accelerator is None or accelerator.type != device.type):
        available = "cpu" + (f", {accelerator.type}" if accelerator is not None else "")
        raise ConfigError(f"device {name!r} is not available here (available: {available})")
    return device


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """`"auto"`: bfloat16 on an accelerator, float32 on the CPU (bf16 matmuls are slow there)."""
    if name == "auto":
        return torch.float32 if device.type == "cpu" else torch.bfloat16
    if name not in DTYPES:
        raise ConfigError(f"unknown dtype {name!r}; use auto, {', '.join(DTYPES)}")
    return DTYPES[name]


def make_pipeline(spec: DubberConfig, dit: XDubDiT, codec: VideoCodec, device: torch.device,
                  dtype: torch.dtype, experts: tuple[tuple[str, str], ...] = (),
                  occluder_net: OccluderNet | None = None,
                  landmark_net: LandmarkNet | None = None) -> DubPipeline:
    """Wire models into a pipeline: DiT in `dtype`, codec, audio features, the occluder
    segmenter in float32, and the landmark refiner (float32, CPU: it runs on one crop per
    frame beside the detector)."""
    featurizer = build_featurizer(spec.audio, device=device)
    if occluder_net is not None:
        occluder_net = occluder_net.to(device=device)
    generator = editor_generator(spec, dit.to(device=device, dtype=dtype), codec.to(device=device),
                                 featurizer, experts, occluder_net=occluder_net)
    return DubPipeline(generator, spec, landmark_net=landmark_net)


# ---------------------------------------------------------------------------------------------
# Sources of weights
# ---------------------------------------------------------------------------------------------


def random_pipeline(preset: str = "tiny", seed: int = 0, device: str = "auto",
                    dtype: str = "auto", crop_size: int | None = None) -> DubPipeline:
    """An untrained pipeline (tiny DiT + tiny codec, random weights): tests and smoke runs.

    `crop_size` (a multiple of 4) overrides the preset's crop; smaller is faster.
    """
    if preset not in DUBBER_PRESETS or DUBBER_PRESETS[preset].codec != "tiny":
        raise ConfigError(f"random init supports the tiny preset only, got {preset!r}")
    spec = replace(DUBBER_PRESETS[preset], name=f"{preset} (random init, seed {seed})")
    if crop_size is not None:
        spec = replace(spec, face=replace(spec.face, align=replace(spec.face.align,
                                                                   crop_size=crop_size)))
    torch_device = resolve_device(device)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # the codec's init draws from the global RNG; restore it after
    try:
        codec = TinyVideoCodec(TinyCodecConfig(image_size=spec.crop_size))
    finally:
        torch.random.set_rng_state(generator_state)
    featurizer_dim = build_featurizer(spec.audio).dim
    dit_cfg = replace(MODEL_PRESETS["tiny"], latent_channels=codec.latent_channels,
                      audio_dim=featurizer_dim)
    dit = build_dit(dit_cfg, seed=seed)
    return make_pipeline(spec, dit, codec, torch_device, resolve_dtype(dtype, torch_device))


def _load_codec(spec: DubberConfig, folder: Path) -> VideoCodec:
    if spec.codec == "tiny":
        return TinyVideoCodec.from_pretrained(folder)
    from xdub.models.codec.wan import WanVAECodec

    return WanVAECodec.from_diffusers(WanVAEConfig(), folder)


def _optional_part(folder: Path, enabled: bool, name: str, cls, key: str, what: str):
    """`cls.from_pretrained(folder / name)` when `dubber.json` enables `key`, else None; a
    WeightsError naming `what` when it is enabled but missing."""
    if not enabled:
        return None
    if not (folder / name).is_dir():
        raise WeightsError(f"{folder / DUBBER_FILE} enables {key} but {name}/ ({what}) is missing")
    return cls.from_pretrained(folder / name)


def load_checkpoint(folder: str | os.PathLike, device: str = "auto",
                    dtype: str = "auto") -> DubPipeline:
    """A pipeline from a dubbing checkpoint folder (layout in the module docstring)."""
    folder = Path(folder)
    spec = read_dubber_config(folder)
    torch_device = resolve_device(device)
    dit = load_dit(folder / DIT_DIR, device=torch_device)  # plain, or with source fusion
    inner = dit.dit if isinstance(dit, SourceFusedDiT) else dit  # LoRA lives on the XDubDiT
    codec = _load_codec(spec, folder / CODEC_DIR)
    for phase, filename in spec.experts:
        load_lora(inner, phase, folder / filename)
    experts = tuple((phase, phase) for phase, _ in spec.experts)
    occluder_net = _optional_part(folder, spec.occluders.enabled, OCCLUDER_DIR, OccluderNet,
                                  "occluders", "the occluder segmenter, `xdub train occluders`")
    return make_pipeline(spec, dit, codec, torch_device, resolve_dtype(dtype, torch_device),
                         experts, occluder_net, _landmark_net(folder, spec))


def _landmark_net(folder: Path, spec: DubberConfig) -> LandmarkNet | None:
    """The folder's landmark refiner when `dubber.json` enables it (WeightsError if missing)."""
    return _optional_part(folder, spec.landmarks.enabled, LANDMARK_DIR, LandmarkNet,
                          "landmarks", "the landmark refiner, `xdub train landmarks`")


def load_official(dit: str | os.PathLike | None, vae: str | os.PathLike | None,
                  whisper: str | os.PathLike | None, wav2vec2: str | os.PathLike | None,
                  null_context: str | os.PathLike | None = None, device: str = "auto",
                  dtype: str = "auto") -> DubPipeline:
    """The official X-Dub release (wan5b preset) from its files; WeightsError names what's missing.
    `null_context`: the umT5 empty-prompt encoding file (`scripts/encode_null_context.py`)."""
    given = {"--dit": dit, "--vae": vae, "--whisper": whisper, "--wav2vec2": wav2vec2}
    missing = [flag for flag, value in given.items() if not value]
    if missing:
        raise WeightsError(
            "the official checkpoint needs all of --dit (X-Dub_model.safetensors), --vae "
            "(Wan2.2_VAE.pth), --whisper (Whisper large-v2 folder), --wav2vec2 "
            f"(wav2vec2-base-960h folder); missing: {', '.join(missing)}"
        )
    from xdub.models.codec.wan import WanVAECodec

    spec = DUBBER_PRESETS["wan5b"]
    speech = replace(spec.audio.speech, whisper_dir=str(whisper), wav2vec_dir=str(wav2vec2))
    spec = replace(spec, audio=AudioConfig(kind="whisper_wav2vec", speech=speech))
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    model = load_official_dit(dit, device=torch_device, dtype=torch_dtype,
                              null_context=null_context)
    codec = WanVAECodec.from_original(WanVAEConfig(weights_path=str(vae)))
    return make_pipeline(spec, model, codec, torch_device, torch_dtype)


def load_pipeline(
    checkpoint: str | os.PathLike | None = None,
    *,
    dit: str | os.PathLike | None = None,
    vae: str | os.PathLike | None = None,
    whisper: str | os.PathLike | None = None,
    wav2vec2: str | os.PathLike | None = None,
    null_context: str | os.PathLike | None = None,
    random_init: bool = False,
    seed: int = 0,
    device: str = "auto",
    dtype: str = "auto",
    offload: str | None = None,
) -> DubPipeline:
    """The pipeline for a checkpoint folder, the official files, random init, or the default.

    `offload` (e.g. "cpu"): phase offload -- the models wait there and only the running
    phase's models sit on `device` (`xdub.generation.offload`; same outputs, less memory).
    """
    pipeline = _load_pipeline(checkpoint, dit, vae, whisper, wav2vec2, null_context,
                              random_init, seed, device, dtype)
    if offload is not None:
        if not hasattr(pipeline.generator, "enable_offload"):
            raise ConfigError("--offload needs a model-driven pipeline")
        resolve_device(offload)
        pipeline.generator.enable_offload(offload)
    return pipeline


def _load_pipeline(checkpoint, dit, vae, whisper, wav2vec2, null_context, random_init: bool,
                   seed: int, device: str, dtype: str) -> DubPipeline:
    """`load_pipeline` without the offload option."""
    resolve_device(device)  # fail fast (exit 2) on a device this machine does not have
    official = any(v is not None for v in (dit, vae, whisper, wav2vec2))
    if sum([checkpoint is not None, official, random_init]) > 1:
        raise ConfigError("give only one of a checkpoint folder, the official files, random init")
    if null_context is not None and not official:
        raise ConfigError("--null-context is the official model's empty-prompt context: give it "
                          "with the official files (--dit, --vae, --whisper, --wav2vec2)")
    if official:
        return load_official(dit, vae, whisper, wav2vec2, null_context, device, dtype)
    if random_init:
        return random_pipeline("tiny", seed, device, dtype)
    folder = Path(checkpoint) if checkpoint is not None else default_checkpoint()
    if folder is None:
        raise WeightsError(NO_DEFAULT_HINT)
    return load_checkpoint(folder, device, dtype)


def load_face_finder(checkpoint: str | os.PathLike | None = None
                     ) -> tuple[FaceConfig, FaceFinder]:
    """The face settings and `FaceFinder` of a checkpoint folder (default: the embedded
    default) without its DiT or codec: `xdub faces` lists the tracks `xdub dub` would see."""
    folder = Path(checkpoint) if checkpoint is not None else default_checkpoint()
    if folder is None:
        raise WeightsError(NO_DEFAULT_HINT)
    spec = read_dubber_config(folder)
    return spec.face, FaceFinder(_landmark_net(folder, spec), spec.landmarks)


def save_pipeline(pipeline: DubPipeline, folder: str | os.PathLike) -> Path:
    """Write a model-driven pipeline as a checkpoint folder (loadable by `load_checkpoint`)."""
    generator = pipeline.generator
    if not isinstance(generator, ModelGenerator) or not isinstance(generator.codec,
                                                                   TinyVideoCodec):
        raise ConfigError("save_pipeline writes model-driven pipelines with the tiny codec only")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    generator.dit.save_pretrained(folder / DIT_DIR)
    generator.codec.save_pretrained(folder / CODEC_DIR)
    if generator.occluder_net is not None:
        generator.occluder_net.save_pretrained(folder / OCCLUDER_DIR)
    if pipeline.landmark_net is not None:
        pipeline.landmark_net.save_pretrained(folder / LANDMARK_DIR)
    write_dubber_config(folder, replace(pipeline.dubber, experts=()))  # last: marks complete
    return folder
