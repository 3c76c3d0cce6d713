"""Offset / LSE math of xdub.bench.sync_metrics on hand-built distances and embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xdub.bench.sync_metrics import (
    is_in_sync,
    offset_distances,
    resample_frame_indices,
    scores_from_distances,
    shift_audio,
)


def test_sync_clear_minimum_at_plus_three() -> None:
    k = 15
    offsets = np.arange(-k, k + 1)
    # Every frame: distance 10, except 2 at offset +3 (a clear minimum).
    dists = np.full((40, 2 * k + 1), 10.0)
    dists[:, offsets == 3] = 2.0
    scores = scores_from_distances(dists)
    assert scores.offset == 3
    assert scores.distance == pytest.approx(2.0)
    assert scores.confidence == pytest.approx(8.0)
    assert scores.confidence > 0
    assert scores.mean_distances.shape == (2 * k + 1,)


def test_sync_is_in_sync_uses_offset_and_confidence() -> None:
    dists = np.full((5, 7), 4.0)
    dists[:, 3 + 1] = 1.0  # best offset +1
    scores = scores_from_distances(dists)
    assert is_in_sync(scores) and not is_in_sync(scores, tolerance=0)
    assert not is_in_sync(scores, min_confidence=5.0)


def test_sync_flat_distances_have_zero_confidence() -> None:
    scores = scores_from_distances(np.ones((10, 7)))
    assert scores.confidence == pytest.approx(0.0)


def test_sync_nan_entries_are_ignored() -> None:
    dists = np.full((4, 5), 3.0)
    dists[0, 4] = np.nan
    dists[1:, 4] = 1.0
    assert scores_from_distances(dists).offset == 2
    assert scores_from_distances(dists).distance == pytest.approx(1.0)


def _embeddings(num: int, dim: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(num, dim, generator=gen), dim=-1)


@pytest.mark.parametrize("audio_early", [0, 4, -6])
def test_sync_offset_recovered_from_shifted_embeddings(audio_early: int) -> None:
    # Audio window j holds what video window j + audio_early shows: the audio runs early,
    # so video window i matches audio window i - audio_early, i.e. offset = +audio_early.
    base = _embeddings(80, 16, seed=1)
    video = base[20:60]
    audio = base[20 + audio_early : 60 + audio_early]
    for pad in ("zero", "valid"):
        scores = scores_from_distances(offset_distances(video, audio, max_offset=10, pad=pad))
        assert scores.offset == audio_early
        assert scores.confidence > 0.5


def test_sync_offset_distances_layout_and_zero_padding() -> None:
    video = torch.eye(3)
    audio = torch.eye(3)
    dists = offset_distances(video, audio, max_offset=1)
    assert dists.shape == (3, 3)
    # Column 1 is offset 0: identical vectors.
    assert torch.allclose(dists[:, 1], torch.zeros(3), atol=1e-5)
    # Row 0, offset +1 needs audio window -1, which is a zero vector: distance = |e0| = 1.
    assert dists[0, 2].item() == pytest.approx(1.0, abs=1e-5)
    valid = offset_distances(video, audio, max_offset=1, pad="valid")
    assert torch.isnan(valid[0, 2]) and torch.isnan(valid[2, 0])
    assert not torch.isnan(valid[1]).any()


def test_sync_shift_audio_delays_and_advances() -> None:
    samples = np.arange(1, 3201, dtype=np.float32)
    late = shift_audio(samples, 2, fps=25.0, sample_rate=16000)  # 2 frames = 1280 samples
    assert late[:1280].sum() == 0 and late[1280] == samples[0]
    early = shift_audio(samples, -1, fps=25.0, sample_rate=16000)
    assert early[0] == samples[640] and early[-640:].sum() == 0
    assert len(late) == len(early) == len(samples)


def test_sync_resample_frame_indices() -> None:
    assert resample_frame_indices(10, 25.0).tolist() == list(range(10))
    assert resample_frame_indices(6, 50.0).tolist() == [0, 2, 4]
    up = resample_frame_indices(3, 12.5)
    assert up.tolist() == [0, 0, 1, 1, 2, 2]
    assert len(resample_frame_indices(300, 29.97)) == 250
