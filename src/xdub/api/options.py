"""Run options by name (`steps=4`, `length="video"`, ...) -> one `InferConfig`.

The Python API, the CLI flags and the web form all name the same options; this is the one
place that maps a name to its field of `InferConfig` (timeline, sampling or the run itself).
None means "not given": the base config (or the checkpoint, for sampling) decides.
Imports: xdub.config, xdub.errors.
"""

from __future__ import annotations

from typing import Any

from xdub.config import replace
from xdub.config.infer import InferConfig
from xdub.errors import ConfigError

TIMELINE_OPTIONS = ("length", "extend", "tail", "start", "end")
SAMPLING_OPTIONS = ("steps", "ref_scale", "audio_scale", "denoise_strength", "seed",
                    "chunk_frames", "overlap", "fast", "keep_occluders")
RUN_OPTIONS = ("face", "no_face", "detector", "refine_landmarks", "device", "dtype")
OPTIONS = TIMELINE_OPTIONS + SAMPLING_OPTIONS + RUN_OPTIONS


def infer_config(base: InferConfig | None = None, **options: Any) -> InferConfig:
    """`base` (default `InferConfig()`) with every option that is not None applied on top.

    Values are validated by the config dataclasses (ConfigError, exit 2, on a bad one).
    """
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(OPTIONS)}")
    cfg = base or InferConfig()
    given = {k: v for k, v in options.items() if v is not None}
    timeline = {k: v for k, v in given.items() if k in TIMELINE_OPTIONS}
    sampling = {k: v for k, v in given.items() if k in SAMPLING_OPTIONS}
    run = {k: v for k, v in given.items() if k in RUN_OPTIONS}
    if "face" in run:
        run["face"] = str(run["face"])  # a track index may come as an int
    if timeline:
        cfg = replace(cfg, timeline=replace(cfg.timeline, **timeline))
    if sampling:
        cfg = replace(cfg, sampling=replace(cfg.sampling, **sampling))
    return replace(cfg, **run) if run else cfg
