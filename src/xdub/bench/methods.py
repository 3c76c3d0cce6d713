"""Dubbing methods as black boxes: one interface, a registry, and the built-in baselines.

A `DubMethod` is a name plus `fn(video: Video, audio: Audio) -> Video` (same frame count and
size). The runner hands it the clip to dub (video A) and the new audio (audio B). Reference
methods declare `source="answer"` and receive the exact answer (video B) instead: that is how
the oracle and the codec ceiling are written without widening the interface.

Built-ins (`METHODS`, extend with `register_method` or a "pkg.module:factory" spec):
- `copy_input`: video A untouched (with the new audio attached) - the do-nothing floor;
- `oracle`: the answer itself - every fidelity metric at its best (sanity check);
- `codec_ceiling`: the answer through a video codec's encode -> decode (`MethodContext.codec`);
  the best a latent-space method using that codec can score;
- `pipeline`: a `xdub.pipeline.DubPipeline` from `load_pipeline(checkpoint)`. Any checkpoint
  the pipeline loads (stage-1 inpainter, stage-2 editor) plugs in this way; other generators
  register a factory (`register_method("stage1-raw", factory)`) or are named on the command
  line as "pkg.module:factory": a callable `MethodContext -> DubMethod | DubPipeline` (a
  pipeline is wrapped by `pipeline_method`; see `as_method`).
Imports: numpy, xdub.{types, errors, config}; torch, xdub.models.codec, xdub.pipeline lazily.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from xdub.errors import ConfigError
from xdub.types import Audio, Video

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DubMethod:
    """A named black-box dubber `fn(video, audio) -> Video`."""

    name: str
    fn: Callable[..., Video | tuple[Video, dict[str, float]]]
    source: Literal["input", "answer"] = "input"  # "answer": a reference method (oracle-like)
    description: str = ""
    seeded: bool = False  # fn takes `seed=` (an int from the manifest) for reproducibility
    chunk_starts: Callable[[int], Sequence[int]] | None = None  # frames where chunks begin

    def run(
        self, source_video: Video, audio: Audio, answer: Video, seed: int
    ) -> tuple[Video, dict[str, float]]:
        """Dub `source_video` with `audio` (reference methods get `answer` instead).

        Returns the result and the method's own numbers (`fn` may return `(Video, {name:
        float})` to report e.g. frames without a face); those join the clip's metrics.
        """
        video = answer if self.source == "answer" else source_video
        result = self.fn(video, audio, seed=seed) if self.seeded else self.fn(video, audio)
        info: dict[str, float] = {}
        if isinstance(result, tuple):
            result, info = result
        if not isinstance(result, Video):
            raise ConfigError(f"method '{self.name}' returned {type(result).__name__}, not a Video")
        if result.frames.shape != source_video.frames.shape or result.frames.dtype != np.uint8:
            raise ConfigError(
                f"method '{self.name}' returned frames {tuple(result.frames.shape)} "
                f"{result.frames.dtype}; expected {tuple(source_video.frames.shape)} uint8"
            )
        return result, {k: float(v) for k, v in info.items()}


@dataclass(frozen=True)
class MethodContext:
    """What a method factory may need: checkpoint/codec locations and the compute device."""

    checkpoint: str = ""  # DubPipeline folder (pipeline methods)
    codec: str = ""  # codec checkpoint folder or CodecConfig YAML (codec_ceiling)
    device: str = "cpu"  # torch device string for methods with networks
    name: str = ""  # name to give the method ("" = the factory's default)
    extra: dict[str, Any] = field(default_factory=dict)


MethodFactory = Callable[[MethodContext], DubMethod]
METHODS: dict[str, MethodFactory] = {}


def register_method(name: str, factory: MethodFactory) -> None:
    """Add (or replace) a method factory under `name`."""
    METHODS[name] = factory


# ---------------------------------------------------------------------------------------------
# Built-in baselines
# ---------------------------------------------------------------------------------------------


def _keep_frames(video: Video, audio: Audio) -> Video:
    return Video(video.frames, video.fps, audio)


def copy_input(ctx: MethodContext) -> DubMethod:
    """The input video unchanged: lower bound on lip sync, upper bound outside the mouth."""
    return DubMethod(
        ctx.name or "copy_input",
        _keep_frames,
        description="input video A returned unchanged (new audio attached)",
    )


def oracle(ctx: MethodContext) -> DubMethod:
    """The exact answer: every fidelity metric at its maximum (a sanity check)."""
    return DubMethod(
        ctx.name or "oracle",
        _keep_frames,
        source="answer",
        description="the exact answer video B (sanity check)",
    )


def _load_codec(spec: str, device: str) -> Any:
    """A `VideoCodec` from a checkpoint folder (tiny) or a CodecConfig YAML/JSON file."""
    from xdub.models.codec import TinyVideoCodec, build_codec

    path = Path(spec)
    if path.is_dir():
        codec = TinyVideoCodec.from_pretrained(path)
    elif path.is_file():
        from xdub.config import load
        from xdub.config.codec import CodecConfig

        codec = build_codec(load(CodecConfig, path))
    else:
        raise ConfigError(
            f"codec '{spec}' not found: give a codec checkpoint folder or a CodecConfig YAML"
        )
    return codec.to(device).eval()


def codec_roundtrip(codec: Any, frames: np.ndarray, chunk: int = 16) -> np.ndarray:
    """Encode then decode `frames: [T, H, W, 3]` uint8 through `codec` -> same shape uint8.

    Frames are edge-padded to multiples of the codec's spatial factor and, for temporal codecs,
    to `1 + k * temporal_factor` frames (then cropped back). Per-frame codecs run in chunks.
    """
    import torch

    t, h, w, _ = frames.shape
    s, tf = codec.spatial_factor, codec.temporal_factor
    pad_h, pad_w = -h % s, -w % s
    pad_t = -(t - 1) % tf
    padded = np.pad(frames, ((0, pad_t), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    device = next(codec.parameters()).device
    step = chunk if tf == 1 else len(padded)  # temporal codecs see the whole clip at once
    out = []
    with torch.no_grad():
        for start in range(0, len(padded), step):
            part = torch.from_numpy(padded[start : start + step]).to(device)
            x = part.permute(3, 0, 1, 2)[None].float() / 127.5 - 1.0  # [1, 3, F, H, W]
            y = codec.decode(codec.encode(x))[0].permute(1, 2, 3, 0)  # [F, H, W, 3]
            out.append(((y.clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8).cpu().numpy())
    return np.concatenate(out)[:t, :h, :w]


def codec_ceiling(ctx: MethodContext) -> DubMethod:
    """The answer through the codec: the ceiling of any method that edits in its latent space."""
    if not ctx.codec:
        raise ConfigError("method 'codec_ceiling' needs a codec: pass --codec DIR_OR_YAML")
    codec = _load_codec(ctx.codec, ctx.device)

    def roundtrip(video: Video, audio: Audio) -> Video:
        return Video(codec_roundtrip(codec, video.frames), video.fps, audio)

    return DubMethod(
        ctx.name or "codec_ceiling",
        roundtrip,
        source="answer",
        description=f"answer encoded + decoded by codec '{ctx.codec}'",
    )


PIPELINE_SPECIALS = ("default", "random")  # checkpoint names that are not folders


def pipeline(ctx: MethodContext) -> DubMethod:
    """A `DubPipeline` from `ctx.checkpoint` (a folder, "default" = the embedded checkpoint,
    "random" = untrained tiny model for smoke tests), called as a black box.

    Frames where the pipeline finds no face come back unchanged and are counted in the
    `no_face_frac` metric instead of aborting the benchmark (see `pipeline_method`).
    """
    if not ctx.checkpoint:
        raise ConfigError("method 'pipeline' needs a checkpoint: pass --checkpoint DIR")
    if ctx.checkpoint not in PIPELINE_SPECIALS and not Path(ctx.checkpoint).is_dir():
        raise ConfigError(f"pipeline checkpoint folder not found: {ctx.checkpoint}")
    from xdub.pipeline import load_pipeline

    if ctx.checkpoint == "random":
        pipe = load_pipeline(random_init=True, device=ctx.device)
    else:
        folder = None if ctx.checkpoint == "default" else ctx.checkpoint
        pipe = load_pipeline(folder, device=ctx.device)

    name = ctx.name or f"pipeline:{Path(ctx.checkpoint).name}"
    return pipeline_method(pipe, name, f"DubPipeline '{ctx.checkpoint}'")


def pipeline_method(
    pipe: Any, name: str, description: str = "", source: Literal["input", "answer"] = "input"
) -> DubMethod:
    """Wrap an in-memory `DubPipeline` (any generator behind it) as a black-box method.

    Each clip runs with `InferConfig(sampling.seed = manifest seed, no_face="passthrough")`;
    `no_face_frac` and `chunks` from the run's summary join the clip's metrics.
    """
    from xdub.config.infer import InferConfig, SamplingConfig

    def dub(video: Video, audio: Audio, seed: int = 0) -> tuple[Video, dict[str, float]]:
        cfg = InferConfig(sampling=SamplingConfig(seed=seed), no_face="passthrough")
        result = pipe(video, audio, cfg)
        summary = result.summary
        info = {
            "no_face_frac": summary.frames_without_face / max(1, video.num_frames),
            "chunks": float(summary.chunks),
        }
        return result.video, info

    def starts(num_frames: int) -> list[int]:
        return pipeline_chunk_starts(pipe, num_frames)

    return DubMethod(
        name,
        dub,
        source=source,
        description=description or f"DubPipeline {name}",
        seeded=True,
        chunk_starts=starts,
    )


def pipeline_chunk_starts(pipe: Any, num_frames: int) -> list[int]:
    """Frames where a face-continuous clip's chunk content changes: each later chunk's start
    and the end of the cross-faded overlap before it (the pipeline's own chunk planner)."""
    from xdub.generation.chunking import split_segment

    bounds = split_segment(0, num_frames, pipe.dubber.chunk_frames, pipe.dubber.overlap)
    cuts = {b[0] for b in bounds[1:]} | {b[1] for b in bounds[:-1]}
    return sorted(c for c in cuts if 0 < c < num_frames)


for _name, _factory in (
    ("copy_input", copy_input),
    ("oracle", oracle),
    ("codec_ceiling", codec_ceiling),
    ("pipeline", pipeline),
):
    register_method(_name, _factory)


# ---------------------------------------------------------------------------------------------
# Building the list of methods to run
# ---------------------------------------------------------------------------------------------


def resolve_factory(spec: str) -> MethodFactory:
    """A registry name, or "pkg.module:factory" (imported) -> its factory."""
    if spec in METHODS:
        return METHODS[spec]
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as err:
            raise ConfigError(f"cannot import method factory '{spec}': {err}") from None
        return factory
    raise ConfigError(
        f"unknown method '{spec}'; choose from {', '.join(METHODS)} or give pkg.module:factory"
    )


def as_method(made: Any, spec: str) -> DubMethod:
    """A factory's product as a `DubMethod`: itself, or a DubPipeline-like object (callable,
    with `.dubber`) wrapped by `pipeline_method`, named after its generator (or `spec`) and
    fed the answer when it sets `bench_source = "answer"` (e.g. a crop-level codec ceiling).

    This lets layers that may not import `xdub.bench` (train) return plain pipelines.
    """
    if isinstance(made, DubMethod):
        return made
    if callable(made) and hasattr(made, "dubber"):
        name = getattr(getattr(made, "generator", None), "name", "") or spec.rpartition(":")[2]
        return pipeline_method(made, name, source=getattr(made, "bench_source", "input"))
    raise ConfigError(f"method factory '{spec}' returned {type(made).__name__}, not a method")


def build_methods(
    specs: Sequence[str], checkpoints: Sequence[str] = (), codec: str = "", device: str = "cpu"
) -> list[DubMethod]:
    """Instantiate methods: each spec, then one `pipeline` per checkpoint ("NAME=DIR" names it)."""
    methods = [
        as_method(resolve_factory(spec)(MethodContext(codec=codec, device=device)), spec)
        for spec in specs
    ]
    for entry in checkpoints:
        name, sep, folder = entry.partition("=")
        if not sep:
            name, folder = "", entry
        methods.append(
            pipeline(MethodContext(checkpoint=folder, codec=codec, device=device, name=name))
        )
    names = [m.name for m in methods]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"duplicate method names {duplicates}; name checkpoints with NAME=DIR")
    return methods
