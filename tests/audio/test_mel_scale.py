"""The one mel filterbank (xdub.mel_scale): triangle shape, unit-area option, binned variant."""

import numpy as np

from xdub.mel_scale import binned_mel_filterbank, hz_to_mel, mel_filterbank, mel_to_hz


def test_mel_scale_round_trip():
    hz = np.array([0.0, 440.0, 1000.0, 8000.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(hz)), hz, atol=1e-9)
    assert hz_to_mel(0.0) == 0.0


def test_triangles_peak_at_one_and_unit_area_scales_them():
    plain = mel_filterbank(40, 512, 16_000)
    scaled = mel_filterbank(40, 512, 16_000, unit_area=True)
    assert plain.shape == scaled.shape == (40, 257)
    assert (plain >= 0).all() and plain.max() <= 1.0 and plain.max(axis=1).min() > 0.5
    edges = mel_to_hz(np.linspace(0.0, hz_to_mel(8000.0), 42))
    np.testing.assert_allclose(scaled, plain * (2.0 / (edges[2:] - edges[:-2]))[:, None])


def test_binned_filters_follow_the_continuous_ones():
    """python_speech_features' floored bins approximate the continuous triangles."""
    binned = binned_mel_filterbank(26, 512, 16_000)
    plain = mel_filterbank(26, 512, 16_000)
    assert binned.shape == plain.shape
    centres = plain.argmax(axis=1)
    assert np.abs(binned.argmax(axis=1) - centres).max() <= 1
