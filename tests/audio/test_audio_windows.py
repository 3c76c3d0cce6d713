"""Audio-feature <-> video-frame alignment (`xdub.audio.windows`) at several frame rates."""

import numpy as np
import pytest
import torch

from xdub.audio import windows

FPS_VALUES = [25.0, 30000 / 1001, 24.0, 60.0]


def test_25fps_50hz_matches_release_indexing():
    idx = windows.frame_window_indices(num_frames=6, fps=25.0, rate=50.0, window=2)
    assert idx.tolist() == [[2 * k, 2 * k + 1] for k in range(6)]


@pytest.mark.parametrize("context", [0, 1, 2])
def test_wan_token_windows_match_release(context):
    spans = windows.wan_token_spans(num_tokens=4, frames_per_token=4, context=context)
    window = windows.span_window(4 + 2 * context, fps=25.0, rate=50.0)
    assert window == 8 + 4 * context
    idx = windows.window_indices(windows.span_centres(spans, 25.0), 50.0, window)
    # Token 0 hears the 4 frames ending at frame 0; token i frames 4i-3 .. 4i (+ context).
    assert idx[0].tolist() == list(range(-6 - 2 * context, 2 + 2 * context))
    for i in range(1, 4):
        start = 2 * (4 * (i - 1) + 1 - context)
        assert idx[i].tolist() == list(range(start, start + window))


@pytest.mark.parametrize("fps", FPS_VALUES)
def test_windows_are_centred_on_frame_centres(fps):
    rate, window = 50.0, 6
    idx = windows.frame_window_indices(num_frames=200, fps=fps, rate=rate, window=window)
    assert idx.shape == (200, window)
    centres = (np.arange(200) + 0.5) / fps * rate  # in feature units
    window_centres = idx[:, 0] + window / 2.0  # feature j spans [j, j + 1)
    assert np.abs(window_centres - centres).max() <= 0.5 + 1e-9
    assert (np.diff(idx[:, 0]) >= 0).all()


@pytest.mark.parametrize("fps", FPS_VALUES)
def test_time_lands_in_window_of_its_frame(fps):
    rng = np.random.default_rng(0)
    rate = 100.0
    window = windows.span_window(1, fps, rate) + 2  # at least one frame's worth of features
    idx = windows.frame_window_indices(num_frames=300, fps=fps, rate=rate, window=window)
    for t in rng.uniform(0.0, 299 / fps, size=200):
        k = windows.frame_of_time(t, fps)
        assert windows.feature_of_time(t, rate) in idx[k]


def test_num_features_and_frame_of_time():
    assert windows.num_features(16_000 * 3, 16_000, 50.0) == 150
    assert windows.num_features(16_000 * 3 - 1, 16_000, 50.0) == 149
    assert windows.frame_of_time(0.0399, 25.0) == 0
    assert windows.frame_of_time(0.04, 25.0) == 1


def test_gather_windows_edge_and_zero_padding():
    seq = torch.arange(1.0, 6.0).reshape(5, 1)  # values 1..5
    idx = np.array([[-2, -1, 0], [3, 4, 5]])
    edge = windows.gather_windows(seq, idx, "edge")[..., 0]
    zero = windows.gather_windows(seq, idx, "zero")[..., 0]
    assert edge.tolist() == [[1, 1, 1], [4, 5, 5]]
    assert zero.tolist() == [[0, 0, 1], [4, 5, 0]]
    empty = windows.gather_windows(torch.zeros(0, 3), idx, "edge")
    assert empty.shape == (2, 3, 3) and not empty.any()
    with pytest.raises(ValueError):
        windows.gather_windows(seq, idx, "reflect")
