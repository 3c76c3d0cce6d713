"""Whisper's input log-mel spectrogram, computed the way the released X-Dub features were.

Whisper (OpenAI) feature facts: 16 kHz, 400-sample Hann window (periodic), hop 160 (100 frames
per second), Slaney mel filters (80 bands for large-v2), power spectrum with the last STFT frame
dropped (N // 160 frames), `log10(max(mel, 1e-10))` clipped to 8 decades below the maximum,
then `(x + 4) / 4`. The X-Dub release takes that maximum over the WHOLE track (not per 30 s
window) and pads each 30 s window with zeros in this normalised log space; `split_chunks`
reproduces both. Imports: numpy, torch, transformers.audio_utils.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers.audio_utils import mel_filter_bank

SAMPLE_RATE = 16_000
N_FFT = 400
HOP = 160


def whisper_mel_filters(n_mels: int) -> torch.Tensor:
    """Slaney-style mel filters of Whisper's front end: `[n_mels, N_FFT // 2 + 1]` float32."""
    filters = mel_filter_bank(
        num_frequency_bins=N_FFT // 2 + 1,
        num_mel_filters=n_mels,
        min_frequency=0.0,
        max_frequency=SAMPLE_RATE / 2,
        sampling_rate=SAMPLE_RATE,
        norm="slaney",
        mel_scale="slaney",
    )
    return torch.from_numpy(np.ascontiguousarray(filters.T, dtype=np.float32))


def whisper_log_mel(samples: torch.Tensor, filters: torch.Tensor) -> torch.Tensor:
    """Whisper log-mel of a whole track `samples: [N]` -> `[n_mels, N // 160]` float32."""
    assert samples.ndim == 1, f"samples must be [N], got {tuple(samples.shape)}"
    num_frames = samples.shape[0] // HOP
    n_mels = filters.shape[0]
    if num_frames == 0:
        return samples.new_zeros((n_mels, 0))
    wave = samples.float()
    if wave.shape[0] <= N_FFT // 2:
        # Reflect padding needs more samples than half a window; zeros change nothing we keep.
        wave = torch.nn.functional.pad(wave, (0, N_FFT // 2 + 1 - wave.shape[0]))
    hann = torch.hann_window(N_FFT, device=wave.device)
    spec = torch.stft(wave, N_FFT, HOP, window=hann, center=True, return_complex=True)
    power = spec[:, :num_frames].abs().square()
    log_spec = (filters.to(power) @ power).clamp_min(1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
    return (log_spec + 4.0) / 4.0


def split_chunks(log_mel: torch.Tensor, chunk_frames: int) -> list[tuple[torch.Tensor, int]]:
    """Cut `[n_mels, M]` into encoder inputs `[n_mels, chunk_frames]` (zero-padded at the end).

    Returns `(chunk, kept)` pairs: `kept` = encoder outputs of that chunk that stand for real
    audio (half its real mel frames, the encoder's stride-2 convolution).
    """
    total = log_mel.shape[1]
    chunks = []
    for start in range(0, total, chunk_frames):
        piece = log_mel[:, start : start + chunk_frames]
        real = piece.shape[1]
        piece = torch.nn.functional.pad(piece, (0, chunk_frames - real))
        chunks.append((piece, real // 2))
    return chunks
