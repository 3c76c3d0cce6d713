"""Streamed audio (#13): a track resampled and featurized block by block gives exactly the
whole-track samples and features, so long videos are dubbed as short ones are."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xdub.audio.mel import MelFeaturizer
from xdub.audio.resample import resample, resample_blocks
from xdub.types import Audio, audio_blocks


def _speechlike(seconds: float, rate: int, seed: int = 0) -> Audio:
    """Noise under a slow envelope (silent stretches included): float32 mono."""
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    envelope = np.clip(np.sin(np.linspace(0, 9 * np.pi, n)), 0, None)
    return Audio((0.3 * envelope * rng.standard_normal(n)).astype(np.float32), rate)


@pytest.mark.parametrize("rate", [48_000, 44_100, 22_050, 16_000])
@pytest.mark.parametrize("block_seconds", [0.37, 1.0])
def test_resample_blocks_equal_the_whole_track(rate, block_seconds):
    audio = _speechlike(3.3, rate)
    whole = resample(audio, 16_000).samples
    blocks = list(resample_blocks(audio, 16_000, block_seconds))
    assert len(blocks) > 2
    np.testing.assert_array_equal(np.concatenate(blocks), whole)


@pytest.mark.parametrize("block", [1, 159, 160, 4_000, 16_000, 100_000])
def test_mel_features_from_blocks_equal_the_whole_track(block):
    audio = _speechlike(2.71, 16_000, seed=1)
    featurizer = MelFeaturizer()
    whole = featurizer.encode(audio.samples).streams[0]
    streamed = featurizer.encode_blocks(audio_blocks(audio, block)).streams[0]
    assert whole.shape == (271, 80)
    assert torch.equal(streamed, whole)


def test_mel_features_of_a_streamed_48k_track_equal_the_whole_track_pipeline():
    """What `ModelGenerator.prepare_audio` did before (resample all, encode all) and does now."""
    audio = _speechlike(4.05, 48_000, seed=2)
    featurizer = MelFeaturizer()
    before = featurizer.encode(resample(audio, 16_000).samples).streams[0]
    now = featurizer.encode_blocks(resample_blocks(audio, 16_000, 1.3)).streams[0]
    assert torch.equal(now, before)


@pytest.mark.parametrize("samples", [0, 100, 160])
def test_streamed_mel_of_tiny_tracks(samples):
    featurizer = MelFeaturizer()
    audio = Audio(np.full(samples, 0.1, np.float32), 16_000)
    whole = featurizer.encode(audio.samples).streams[0]
    assert torch.equal(featurizer.encode_blocks(audio_blocks(audio, 64)).streams[0], whole)
