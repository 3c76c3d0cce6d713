"""Tiny-scale audio features: a log-mel spectrogram (torch.stft + `xdub.mel_scale` filters).

Parameter-free, deterministic, chunk-invariant (a fixed log floor instead of a per-clip
maximum), so features of a window never depend on audio far away. Frame `m` of the
spectrogram is centred on sample `(m + 0.5) * hop`, i.e. it stands for `[m/rate, (m+1)/rate)`
like every xdub featurizer. Imports: numpy, torch, xdub.config, xdub.mel_scale, xdub.audio.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from xdub import mel_scale
from xdub.audio import windows
from xdub.audio.featurizer import AudioFeaturizer, FeatureSequence, check_samples
from xdub.config.audio import MelConfig

MIN_BATCH = 100  # frames per streamed batch (1 s at 100 Hz): never 1, see `encode_blocks`


def mel_filterbank(
    n_mels: int, n_fft: int, sample_rate: int, f_min: float, f_max: float
) -> torch.Tensor:
    """Unit-area triangular mel filters (`xdub.mel_scale`): `[n_mels, n_fft // 2 + 1]` float32."""
    filters = mel_scale.mel_filterbank(n_mels, n_fft, sample_rate, f_min, f_max, unit_area=True)
    return torch.from_numpy(filters.astype(np.float32))


def log_mel(samples: torch.Tensor, cfg: MelConfig, filters: torch.Tensor) -> torch.Tensor:
    """Scaled log-mel power spectrogram of a waveform `[N]` -> `[floor(N / hop), n_mels]`.

    Output is `(log10(max(power, floor)) + 4) / 4`: silence sits at -1, speech near 0 .. 1.
    """
    assert samples.ndim == 1, f"samples must be [N], got {tuple(samples.shape)}"
    num_frames = samples.shape[0] // cfg.hop
    if num_frames == 0:
        return samples.new_zeros((0, cfg.n_mels))
    # Pad so frame m's analysis window is centred on sample (m + 0.5) * hop.
    left, right = _padding(cfg)
    padded = torch.nn.functional.pad(samples[None, None], (left, right))[0, 0]
    return log_mel_frames(padded, cfg, filters)[:num_frames]


def _padding(cfg: MelConfig) -> tuple[int, int]:
    """Zeros before and after a track so frame m is centred on sample (m + 0.5) * hop."""
    left = (cfg.n_fft - cfg.hop) // 2
    return left, cfg.n_fft - cfg.hop - left


def log_mel_frames(padded: torch.Tensor, cfg: MelConfig, filters: torch.Tensor) -> torch.Tensor:
    """Scaled log-mel of every whole `n_fft` frame of an already padded waveform, frame m
    starting at sample m * hop: `[(len - n_fft) // hop + 1, n_mels]`. Each frame depends
    only on its own samples, so pieces with their context give the whole track's frames."""
    hann = torch.hann_window(cfg.n_fft, dtype=padded.dtype, device=padded.device)
    spec = torch.stft(padded, cfg.n_fft, cfg.hop, window=hann, center=False,
                      return_complex=True)
    power = spec.real.square() + spec.imag.square()  # [F, T]
    # BLAS picks its kernel, and so its rounding, by matrix shape: in float32 a frame projected
    # among 2 frames differs from the same frame among 271 (seen on some CPUs). Projected in
    # float64 and rounded to float32, every frame is the same however many come with it.
    mel = (filters.to(torch.float64) @ power.to(torch.float64)).to(power.dtype)  # [n_mels, T]
    return ((torch.log10(mel.clamp_min(cfg.log_floor)) + 4.0) / 4.0).T.contiguous()


class MelFeaturizer(AudioFeaturizer):
    """Log-mel windows per video frame: `features(...) -> [T, cfg.window, cfg.n_mels]`."""

    def __init__(self, cfg: MelConfig | None = None) -> None:
        self.cfg = cfg or MelConfig()
        self.dim = self.cfg.n_mels
        self.window = self.cfg.window
        self.rate = self.cfg.rate
        self.pad_mode = self.cfg.pad_mode
        self._filters = mel_filterbank(
            self.cfg.n_mels, self.cfg.n_fft, self.cfg.sample_rate, self.cfg.f_min, self.cfg.f_max
        )

    def encode(self, samples: np.ndarray) -> FeatureSequence:
        """Log-mel of the whole track: one stream `[floor(N / hop), n_mels]`."""
        wave = torch.from_numpy(check_samples(samples))
        spectrogram = log_mel(wave, self.cfg, self._filters)
        expected = windows.num_features(len(wave), self.cfg.sample_rate, self.rate)
        assert spectrogram.shape[0] == expected, (spectrogram.shape, expected)
        return FeatureSequence(streams=(spectrogram,), rate=self.rate)

    def encode_blocks(self, blocks: Iterable[np.ndarray]) -> FeatureSequence:
        """`encode` of the concatenated blocks, holding only the features and a block.

        Frames are computed in batches of at least `MIN_BATCH` once their samples are in;
        a batch never has a single frame (torch takes a matrix-vector path for one column,
        whose rounding differs), so the features equal the whole track's bit for bit.
        """
        cfg, filters = self.cfg, self._filters
        left, right = _padding(cfg)
        pending = torch.zeros(left)  # padded samples from frame `first`'s window start on
        pieces, first, done, total = [], 0, 0, 0  # frames [0, done) are in `pieces`
        for block in blocks:
            samples = torch.from_numpy(check_samples(block))
            total += len(samples)
            pending = torch.cat([pending, samples])
            ready = first + (len(pending) - cfg.n_fft) // cfg.hop + 1  # frames with all samples
            if ready - done >= MIN_BATCH:
                pieces.append(log_mel_frames(pending, cfg, filters)[done - first:])
                done, keep_from = ready, ready - 1  # keep one computed frame for the next batch
                pending = pending[(keep_from - first) * cfg.hop:]
                first = keep_from
        num_frames = total // cfg.hop
        if num_frames > done:  # the last frames reach into the right padding
            tail = torch.cat([pending, torch.zeros(right)])
            pieces.append(log_mel_frames(tail, cfg, filters)[done - first: num_frames - first])
        spectrogram = torch.cat(pieces) if pieces else torch.zeros((0, cfg.n_mels))
        return FeatureSequence(streams=(spectrogram,), rate=self.rate)
