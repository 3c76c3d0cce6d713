"""Shared fixtures for xdub.pipeline tests: a synthetic talking clip on disk, a fast CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pipeline_testkit import encode, identity_pipeline, speech_at, talking_clip, write_wav


@pytest.fixture(scope="session")
def clip_files(tmp_path_factory) -> dict[str, Path]:
    """320x240 @ 30 fps, 1 s: `video` (with its own speech), `audio` (other speech, 16 kHz)."""
    folder = tmp_path_factory.mktemp("clip")
    frames, own, other = talking_clip()
    return {
        "video": encode(folder / "talk.mp4", np.array(frames), 30.0,
                        audio=speech_at(own, 48_000)),
        "audio": write_wav(folder / "speech.wav", other.samples, 16_000),
    }


@pytest.fixture
def fast_cli(monkeypatch):
    """`--random-init` builds an identity pipeline (exact passthrough, no model cost)."""
    def build(*args, **kwargs):
        return identity_pipeline(crop=64, chunk_frames=8, overlap=2)

    monkeypatch.setattr("xdub.pipeline.loading.random_pipeline", build)
    return build

