"""xdub.audio: parameter-free audio feature extraction aligned to video frames.

One interface, `AudioFeaturizer.features(samples [N] 16 kHz, fps, num_frames) -> [T, W, D]`,
at two scales: `MelFeaturizer` (tiny, log-mel) and `WhisperWav2VecFeaturizer` (full, the
released X-Dub features). Takes arrays, never paths to media. Imports: numpy, torch,
transformers, xdub.config, xdub.errors.
"""

from __future__ import annotations

import torch

from xdub.audio.featurizer import AudioFeaturizer, FeatureSequence
from xdub.audio.mel import MelFeaturizer
from xdub.config.audio import AudioConfig

__all__ = [
    "AudioFeaturizer",
    "FeatureSequence",
    "MelFeaturizer",
    "WhisperWav2VecFeaturizer",
    "build_featurizer",
    "convert_openai_whisper",
]


def build_featurizer(cfg: AudioConfig, device: torch.device | str = "cpu") -> AudioFeaturizer:
    """The featurizer named by `cfg.kind` (loads local weights for the full scale)."""
    if cfg.kind == "mel":
        return MelFeaturizer(cfg.mel)
    from xdub.audio.speech import WhisperWav2VecFeaturizer

    return WhisperWav2VecFeaturizer(cfg.speech, device=device)


def __getattr__(name: str):
    # transformers-backed pieces load lazily so the tiny scale does not pay their import time.
    if name == "WhisperWav2VecFeaturizer":
        from xdub.audio.speech import WhisperWav2VecFeaturizer

        return WhisperWav2VecFeaturizer
    if name == "convert_openai_whisper":
        from xdub.audio.whisper_convert import convert_openai_whisper

        return convert_openai_whisper
    raise AttributeError(f"module 'xdub.audio' has no attribute {name!r}")
