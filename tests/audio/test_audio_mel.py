"""Tiny-scale log-mel featurizer: shapes, alignment of a click, chunk invariance."""

import numpy as np
import pytest
import torch

from xdub.audio import MelFeaturizer, build_featurizer, windows
from xdub.config.audio import AUDIO_PRESETS, MelConfig

SR = 16_000


@pytest.mark.parametrize(
    ("fps", "seconds", "num_frames"),
    [(25.0, 1.0, 25), (30000 / 1001, 2.3, 69), (24.0, 0.5, 12), (60.0, 1.7, 102), (25.0, 1.0, 40)],
)
def test_feature_shapes(fps, seconds, num_frames):
    rng = np.random.default_rng(1)
    samples = rng.normal(0, 0.1, int(seconds * SR)).astype(np.float32)
    feat = MelFeaturizer().features(samples, fps, num_frames)
    cfg = MelConfig()
    assert feat.shape == (num_frames, cfg.window, cfg.n_mels)
    assert feat.dtype == torch.float32 and torch.isfinite(feat).all()


@pytest.mark.parametrize("fps", [25.0, 30000 / 1001, 24.0, 60.0])
def test_click_lands_in_window_of_nearest_frame(fps):
    featurizer = MelFeaturizer()
    t = 0.8137
    samples = np.zeros(2 * SR, dtype=np.float32)
    samples[int(t * SR)] = 1.0
    num_frames = int(2 * fps)
    feat = featurizer.features(samples, fps, num_frames)
    energy = feat.mean(dim=-1)  # [T, W]
    k = windows.frame_of_time(t, fps)
    idx = windows.frame_window_indices(num_frames, fps, featurizer.rate, featurizer.window)
    loudest = int(energy[k].argmax())
    assert idx[k, loudest] == windows.feature_of_time(t, featurizer.rate)
    assert energy[k].max() > -0.5  # the click is clearly above silence (-1) ...
    far = windows.frame_of_time(t + 0.3, fps)
    assert energy[far].max() < -0.99  # ... and absent from a frame 0.3 s later


def test_chunk_invariance_away_from_edges():
    # A fixed log floor (not a per-clip max) makes features depend on local audio only.
    rng = np.random.default_rng(2)
    samples = rng.normal(0, 0.1, 3 * SR).astype(np.float32)
    featurizer = MelFeaturizer()
    whole = featurizer.encode(samples).streams[0]
    tail = featurizer.encode(samples[SR:]).streams[0]
    torch.testing.assert_close(whole[110:200], tail[10:100], atol=1e-4, rtol=1e-4)


def test_zero_padding_and_preset():
    cfg = MelConfig(pad_mode="zero")
    feat = MelFeaturizer(cfg).features(np.zeros(SR // 2, np.float32), 25.0, 30)
    assert (feat[-1] == 0).all()  # frame 29 is past the 0.5 s of audio
    featurizer = build_featurizer(AUDIO_PRESETS["tiny"])
    assert isinstance(featurizer, MelFeaturizer) and featurizer.dim == 80


def test_rejects_bad_input():
    featurizer = MelFeaturizer()
    with pytest.raises(ValueError):
        featurizer.features(np.zeros((2, 100), np.float32), 25.0, 4)
    with pytest.raises(ValueError):
        featurizer.features(np.full(1000, np.nan, np.float32), 25.0, 4)
