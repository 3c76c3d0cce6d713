"""Input preprocessing of the sync scorers: audio features, face/mouth crops, window slicing.

Pure functions (numpy / torch / cv2, no I/O) shared by training (`xdub.train.syncnet`) and the
benchmark (`xdub.bench.sync_metrics`) so the two can never drift apart:

- `protocol_mfcc`: the 13-coefficient MFCC of the public SyncNet LSE-C/LSE-D protocol
  (python_speech_features defaults, computed on int16-scaled samples), 100 frames/s.
- `log_mel`: the log-mel spectrogram our tiny `SyncScorer` consumes, 100 frames/s.
- `crop_mouths` / `crop_mouths_68`: lower-face crops for `SyncScorer` from landmarks
  (`crop_affines` then `warp_mouth_crops`, which a stream can call frame by frame);
  `crop_mouths_torch`: the same crops, differentiable, for sync losses on generated frames.
- `syncnet_face_crops`: the protocol's 224x224 face crops from face boxes.
- `video_windows` / `audio_windows`: per-window model inputs.
Imports: numpy, torch, cv2, xdub.config, xdub.mel_scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from xdub.config.sync import SyncScorerConfig
from xdub.mel_scale import binned_mel_filterbank, mel_filterbank

# ---------------------------------------------------------------------------------------------
# DCT and framing (written out: no scipy/librosa dependency)
# ---------------------------------------------------------------------------------------------


def _dct2_ortho_matrix(n_in: int, n_out: int) -> np.ndarray:
    """`[n_in, n_out]` matrix of the orthonormal DCT-II (first n_out coefficients)."""
    k = np.arange(n_out)[None, :]
    n = np.arange(n_in)[:, None]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * math.sqrt(2.0 / n_in)
    basis[:, 0] /= math.sqrt(2.0)
    return basis


def _frames(signal: np.ndarray, frame_len: int, hop: int, num_frames: int) -> np.ndarray:
    """`[num_frames, frame_len]` frames starting every `hop` samples, zero-padded at the end."""
    need = (num_frames - 1) * hop + frame_len
    padded = np.concatenate([signal, np.zeros(max(0, need - len(signal)), signal.dtype)])
    return np.lib.stride_tricks.sliding_window_view(padded, frame_len)[::hop][:num_frames]


# ---------------------------------------------------------------------------------------------
# Audio features
# ---------------------------------------------------------------------------------------------

PROTOCOL_SAMPLE_RATE = 16000  # the public SyncNet was trained on 16 kHz audio
PROTOCOL_FPS = 25.0  # ... and 25 fps video: 4 MFCC frames per video frame


def protocol_mfcc(samples: np.ndarray, sample_rate: int = PROTOCOL_SAMPLE_RATE) -> np.ndarray:
    """MFCC of the SyncNet LSE protocol: `samples: [N]` float in [-1, 1] -> `[M, 13]` at 100 Hz.

    Matches python_speech_features.mfcc defaults (25 ms rectangular window, 10 ms step,
    pre-emphasis 0.97, 26 filters, nfft 512, lifter 22, c0 replaced by log frame energy)
    applied to int16-valued samples, as the protocol reads them from a 16-bit wav.
    M = 1 + ceil((N - 400) / 160).
    """
    if sample_rate != PROTOCOL_SAMPLE_RATE:
        raise ValueError(f"protocol MFCC needs 16 kHz audio, got {sample_rate} Hz; resample first")
    signal = np.asarray(samples, dtype=np.float64) * 32768.0
    signal = np.append(signal[:1], signal[1:] - 0.97 * signal[:-1])
    frame_len, hop, n_fft = 400, 160, 512
    num_frames = 1 if len(signal) <= frame_len else 1 + math.ceil((len(signal) - frame_len) / hop)
    power = np.abs(np.fft.rfft(_frames(signal, frame_len, hop, num_frames), n_fft)) ** 2 / n_fft
    eps = np.finfo(float).eps
    energy = power.sum(axis=1)
    energy = np.where(energy == 0, eps, energy)
    bands = power @ binned_mel_filterbank(26, n_fft, sample_rate).T
    bands = np.where(bands == 0, eps, bands)
    cepstra = np.log(bands) @ _dct2_ortho_matrix(26, 13)
    cepstra *= 1.0 + 11.0 * np.sin(np.pi * np.arange(13) / 22.0)  # lifter L=22
    cepstra[:, 0] = np.log(energy)
    return cepstra.astype(np.float32)


def log_mel(samples: np.ndarray, cfg: SyncScorerConfig) -> torch.Tensor:
    """Scorer log-mel: `samples: [N]` float at cfg.sample_rate -> `[ceil(N/hop), n_mels]`.

    Frame k covers samples [k*hop, k*hop + win) (Hann window), so at 25 fps mel frame 4*i
    starts with video frame i. Values: log10 power with an 80 dB floor below the clip peak,
    then standardised per clip, which makes the features invariant to the recording gain.
    """
    signal = np.asarray(samples, dtype=np.float64)
    num_frames = max(1, math.ceil(len(signal) / cfg.hop_length))
    window = np.hanning(cfg.win_length + 1)[:-1]  # periodic Hann
    frames = _frames(signal, cfg.win_length, cfg.hop_length, num_frames) * window
    power = np.abs(np.fft.rfft(frames, cfg.n_fft)) ** 2
    mel = power @ mel_filterbank(cfg.n_mels, cfg.n_fft, cfg.sample_rate).T
    logmel = np.log10(np.maximum(mel, 1e-10))
    logmel = np.maximum(logmel, logmel.max() - 8.0)
    logmel = (logmel - logmel.mean()) / (logmel.std() + 1e-5)
    return torch.from_numpy(logmel.astype(np.float32))


# ---------------------------------------------------------------------------------------------
# Crops
# ---------------------------------------------------------------------------------------------


def _moving_average(values: np.ndarray, radius: int) -> np.ndarray:
    """Centred moving average along axis 0 with edge replication; `[T, ...]` -> `[T, ...]`."""
    if radius <= 0 or len(values) < 2:
        return values
    padded = np.concatenate([values[:1].repeat(radius, 0), values, values[-1:].repeat(radius, 0)])
    kernel_sum = np.cumsum(np.concatenate([np.zeros_like(values[:1]), padded]), axis=0)
    return (kernel_sum[2 * radius + 1 :] - kernel_sum[: -2 * radius - 1]) / (2 * radius + 1)


def mouth_crop_boxes(
    mouth_points: np.ndarray, face_boxes: np.ndarray, cfg: SyncScorerConfig, smooth_radius: int = 1
) -> np.ndarray:
    """Crop rectangles `[T, 4]` (cx, cy, w, h) around the mouth.

    mouth_points: [T, K, 2] (x, y) pixels of the mouth contour; face_boxes: [T, 4] (x1, y1, x2,
    y2). The centre is the mean mouth point; the size comes from the face width, never from the
    mouth itself, so an opening mouth changes the crop content rather than its scale.
    """
    assert mouth_points.ndim == 3 and mouth_points.shape[-1] == 2, "mouth_points: [T, K, 2]"
    assert face_boxes.shape == (len(mouth_points), 4), "face_boxes: [T, 4]"
    centre = _moving_average(mouth_points.mean(axis=1).astype(np.float64), smooth_radius)
    face_w = _moving_average((face_boxes[:, 2] - face_boxes[:, 0]).astype(np.float64), 2)
    width = cfg.crop_scale * face_w
    height = width * cfg.crop_height / cfg.crop_width
    return np.stack([centre[:, 0], centre[:, 1], width, height], axis=1)


def eye_roll(left_eye: np.ndarray, right_eye: np.ndarray) -> np.ndarray:
    """Head roll in radians `[T]` from eye centres/corners `[T, 2]` (image coords, y down).

    `left_eye` is the eye on the image's left. 0 = level eyes; positive = right eye lower.
    """
    delta = right_eye.astype(np.float64) - left_eye.astype(np.float64)
    return np.arctan2(delta[:, 1], delta[:, 0])


def crop_affines(
    mouth_points: np.ndarray,
    face_boxes: np.ndarray,
    cfg: SyncScorerConfig,
    roll: np.ndarray | None = None,
) -> np.ndarray:
    """Crop-pixel -> frame-pixel affines `[T, 2, 3]` (integer coordinates at pixel centres).

    frame = centre + R(roll) @ diag(w / crop_w, h / crop_h) @ (crop - crop_centre), with the
    boxes of `mouth_crop_boxes` and `roll: [T]` radians (`eye_roll`, smoothed over 5 frames).
    """
    boxes = mouth_crop_boxes(mouth_points, face_boxes, cfg)
    angles = np.zeros(len(boxes)) if roll is None else _moving_average(roll.astype(np.float64), 2)
    half = np.array([(cfg.crop_width - 1) / 2, (cfg.crop_height - 1) / 2])
    affines = np.empty((len(boxes), 2, 3))
    for t, ((cx, cy, w, h), angle) in enumerate(zip(boxes, angles)):
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        linear = rotation @ np.diag([w / cfg.crop_width, h / cfg.crop_height])
        affines[t, :, :2] = linear
        affines[t, :, 2] = np.array([cx, cy]) - linear @ half
    return affines


def crop_mouths(
    frames: np.ndarray,
    mouth_points: np.ndarray,
    face_boxes: np.ndarray,
    cfg: SyncScorerConfig,
    roll: np.ndarray | None = None,
) -> np.ndarray:
    """Lower-face crops for `SyncScorer`: `frames: [T, H, W, 3]` uint8 RGB -> `[T, h, w, C]` uint8.

    (h, w) = (cfg.crop_height, cfg.crop_width); C = cfg.channels (1 = grayscale).
    mouth_points: [T, K, 2] pixels; face_boxes: [T, 4] (x1, y1, x2, y2); `roll: [T]` radians
    (`eye_roll`) rotates the crop with the head so the lips stay horizontal.
    """
    return warp_mouth_crops(frames, crop_affines(mouth_points, face_boxes, cfg, roll), cfg)


def warp_mouth_crops(
    frames: np.ndarray | Sequence[np.ndarray], affines: np.ndarray, cfg: SyncScorerConfig
) -> np.ndarray:
    """The crops of `crop_mouths` at given `crop_affines`: frames `[T, H, W, 3]` uint8 RGB (or a
    sequence of `[H, W, 3]`) and affines `[T, 2, 3]` -> `[T, h, w, C]` uint8.

    Each frame is cropped alone, so a stream can crop frames as their affines settle
    (`xdub.api.sync.SyncProbe`) and drop them.
    """
    out = np.empty((len(frames), cfg.crop_height, cfg.crop_width, cfg.channels), np.uint8)
    for t, (frame, matrix) in enumerate(zip(frames, affines)):
        # Strong downscaling would alias with bilinear sampling: pre-blur via INTER_AREA resize.
        src, shrink = frame, min(1.0, 0.5 / float(np.hypot(*matrix[:, 0])))
        if shrink < 1.0:
            src = cv2.resize(frame, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
            matrix = matrix * shrink
            matrix[:, 2] += 0.5 * shrink - 0.5  # pixel centres of the resized frame
        crop = cv2.warpAffine(
            src,
            matrix,
            (cfg.crop_width, cfg.crop_height),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        if cfg.channels == 1:
            crop = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)[..., None]
        out[t] = crop
    return out


def crop_mouths_68(
    frames: np.ndarray, landmarks: np.ndarray, cfg: SyncScorerConfig, scale: float = 1.0
) -> np.ndarray:
    """`crop_mouths` from 68-point landmarks `[T, 68, 2]` (xdub-68 / iBUG order) alone.

    Mouth = points 48..67, roll from the eye centres (36..41, 42..47), face width = x-extent
    of the jaw (0..16), which is also the width of the synthetic engine's face box, so
    training and inference crops agree. `scale` multiplies the crop size (train-time jitter).
    """
    assert landmarks.ndim == 3 and landmarks.shape[1:] == (68, 2), "landmarks: [T, 68, 2]"
    jaw = landmarks[:, :17].astype(np.float64)
    centre = (jaw.min(axis=1) + jaw.max(axis=1)) / 2
    half = (jaw.max(axis=1) - jaw.min(axis=1)) / 2 * scale
    roll = eye_roll(landmarks[:, 36:42].mean(axis=1), landmarks[:, 42:48].mean(axis=1))
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    return crop_mouths(frames, landmarks[:, 48:68], boxes, cfg, roll)


def crop_mouths_torch(
    frames: torch.Tensor,
    mouth_points: np.ndarray,
    face_boxes: np.ndarray,
    cfg: SyncScorerConfig,
    roll: np.ndarray | None = None,
) -> torch.Tensor:
    """Differentiable `crop_mouths` for sync losses on generated frames.

    frames: [T, 3, H, W] float RGB in [-1, 1] (gradients flow through bilinear sampling);
    geometry as in `crop_mouths` (landmarks are constants). Returns `[T, C, h, w]` in [-1, 1],
    ready for `video_windows`. Matches `crop_mouths(...)/127.5 - 1` up to uint8 rounding when
    the crop is not downscaled more than 2x (the numpy path pre-blurs beyond that).
    """
    assert frames.ndim == 4 and frames.shape[1] == 3, "frames must be [T, 3, H, W]"
    height, width = frames.shape[2:]
    affines = crop_affines(mouth_points, face_boxes, cfg, roll)  # [T, 2, 3]
    v, u = np.meshgrid(np.arange(cfg.crop_height), np.arange(cfg.crop_width), indexing="ij")
    crop_pixels = np.stack([u, v, np.ones_like(u)], axis=-1).astype(np.float64)  # [h, w, 3]
    pixels = np.einsum("hwk,tjk->thwj", crop_pixels, affines)  # [T, h, w, 2] frame pixels
    grids = (2 * pixels + 1) / np.array([width, height]) - 1  # grid_sample, align_corners=False
    grid = torch.as_tensor(grids, dtype=frames.dtype, device=frames.device)
    crops = F.grid_sample(frames, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if cfg.channels == 1:
        luma = torch.tensor([0.299, 0.587, 0.114], dtype=frames.dtype, device=frames.device)
        crops = (crops * luma[None, :, None, None]).sum(1, keepdim=True)
    return crops


def _median_filter_zero_padded(values: np.ndarray, kernel: int) -> np.ndarray:
    """Odd-kernel median along a 1-D array, zero-padded like scipy.signal.medfilt.

    Clips shorter than half a kernel would get medians of the padding zeros; they use edge
    padding instead (the reference never sees them: it drops tracks under 100 frames).
    """
    half = kernel // 2
    if len(values) > half:
        padded = np.concatenate([np.zeros(half), values, np.zeros(half)])
    else:
        padded = np.pad(values, half, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, kernel), axis=1)


def syncnet_face_crops(
    frames: np.ndarray, face_boxes: np.ndarray, crop_scale: float = 0.4, size: int = 224
) -> np.ndarray:
    """Face crops of the SyncNet protocol: `[T, H, W, 3]` uint8 + boxes `[T, 4]` -> `[T, 224, 224, 3]`.

    Box size/centre are median-filtered over 13 frames; the crop spans the box height below the
    centre extended by `crop_scale`, padded with grey 110 outside the frame (syncnet_python's
    `crop_video`). Colour order is kept (RGB in, RGB out).
    """
    assert frames.ndim == 4 and face_boxes.shape == (len(frames), 4), (
        "frames [T,H,W,3], boxes [T,4]"
    )
    boxes = face_boxes.astype(np.float64)
    half_size = np.maximum(boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]) / 2
    kernel = 13
    half_size = _median_filter_zero_padded(half_size, kernel)
    centre_y = _median_filter_zero_padded((boxes[:, 1] + boxes[:, 3]) / 2, kernel)
    centre_x = _median_filter_zero_padded((boxes[:, 0] + boxes[:, 2]) / 2, kernel)
    out = np.empty((len(frames), size, size, 3), np.uint8)
    for t, frame in enumerate(frames):
        bs = half_size[t]
        pad = int(bs * (1 + 2 * crop_scale))
        padded = np.pad(frame, ((pad, pad), (pad, pad), (0, 0)), constant_values=110)
        my, mx = centre_y[t] + pad, centre_x[t] + pad
        face = padded[
            int(my - bs) : int(my + bs * (1 + 2 * crop_scale)),
            int(mx - bs * (1 + crop_scale)) : int(mx + bs * (1 + crop_scale)),
        ]
        out[t] = cv2.resize(face, (size, size))
    return out


# ---------------------------------------------------------------------------------------------
# Windows
# ---------------------------------------------------------------------------------------------


def video_windows(crops: torch.Tensor, window: int) -> torch.Tensor:
    """Stack consecutive frames: `crops: [T, C, H, W]` -> `[T - window + 1, window * C, H, W]`."""
    assert crops.ndim == 4, f"crops must be [T, C, H, W], got {tuple(crops.shape)}"
    num = crops.shape[0] - window + 1
    assert num > 0, f"need >= {window} frames, got {crops.shape[0]}"
    stacked = torch.stack(
        [crops[i : i + num] for i in range(window)], dim=1
    )  # [N, window, C, H, W]
    return stacked.flatten(1, 2)


def audio_window_starts(
    num_windows: int, fps: float, cfg: SyncScorerConfig, offset: int = 0
) -> np.ndarray:
    """First mel frame of each audio window, `[num_windows]` int.

    The audio window (cfg.audio_window_s long) is centred on the centre of video window i
    (frames i .. i+W-1), shifted by `offset` video frames (positive = later audio).
    """
    centre_s = (np.arange(num_windows) + offset + cfg.window_frames / 2) / fps
    return np.round((centre_s - cfg.audio_window_s / 2) * cfg.mel_rate).astype(np.int64)


def audio_windows(mel: torch.Tensor, starts: np.ndarray, length: int) -> torch.Tensor:
    """Slice `mel: [M, n_mels]` at `starts: [N]` -> `[N, length, n_mels]`.

    Out-of-range frames repeat the clip's quietest frame (silence), so windows near the clip
    edges stay valid inputs.
    """
    assert mel.ndim == 2, f"mel must be [M, n_mels], got {tuple(mel.shape)}"
    lo, hi = int(min(starts.min(), 0)), int(max(starts.max() + length, mel.shape[0]))
    quiet = mel[mel.sum(dim=1).argmin()]
    padded = torch.cat([quiet.expand(-lo, -1), mel, quiet.expand(hi - mel.shape[0], -1)])
    index = torch.as_tensor(starts - lo)[:, None] + torch.arange(length)[None, :]
    return padded[index]
