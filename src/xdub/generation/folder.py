"""The dubbing checkpoint folder's names and its `dubber.json` (the one reader and writer).

    dubber.json          DubberConfig (audio features, face crop geometry, sampler, chunking)
    dit/                 XDubDiT.save_pretrained (config.json + model.safetensors)
    codec/               TinyVideoCodec.save_pretrained, or a diffusers AutoencoderKLWan folder
    <expert>.safetensors optional per-phase LoRA adapters named in dubber.json `experts`
    occluders/           optional OccluderNet.save_pretrained, used when dubber.json
                         `occluders.enabled` (input pixels kept under hands and objects)
    landmarks/           optional LandmarkNet.save_pretrained, used when dubber.json
                         `landmarks.enabled` (the detector's landmarks refined)

Written by training's export and `DubPipeline.save_pretrained`, read by the pipeline loader.
Imports: json, xdub.{atomic, config, errors}.
"""

from __future__ import annotations

import json
from pathlib import Path

from xdub.atomic import write_json_atomic
from xdub.config import from_dict, to_dict
from xdub.config.infer import DubberConfig
from xdub.errors import ConfigError, WeightsError

DUBBER_FILE = "dubber.json"
DIT_DIR = "dit"
CODEC_DIR = "codec"
OCCLUDER_DIR = "occluders"
LANDMARK_DIR = "landmarks"


def read_dubber_config(folder: Path) -> DubberConfig:
    """`folder/dubber.json` as a DubberConfig (WeightsError if absent or invalid)."""
    path = folder / DUBBER_FILE
    if not folder.is_dir():
        raise WeightsError(f"checkpoint folder not found: {folder}")
    if not path.is_file():
        raise WeightsError(f"{folder} is not a dubbing checkpoint: {DUBBER_FILE} is missing")
    try:
        return from_dict(DubberConfig, json.loads(path.read_text()), where=str(path))
    except (json.JSONDecodeError, ConfigError, UnicodeDecodeError) as err:
        raise WeightsError(f"bad {path}: {err}") from None


def write_dubber_config(folder: Path, spec: DubberConfig) -> Path:
    """Write `folder/dubber.json` atomically; write it last: a folder with it is complete."""
    return write_json_atomic(folder / DUBBER_FILE, to_dict(spec))
