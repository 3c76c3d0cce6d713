"""The one place that turns frames, landmarks, audio and reference frames into DiT inputs.

Shared by `xdub.data` (training windows) and `xdub.pipeline` (dubbing) so the two cannot
drift. Imports: numpy, torch, cv2, scipy, xdub.config, xdub.face, xdub.model_types.

Contract (all frames uint8 RGB; S = crop side; T = video frames of one window):

    crops = prepare_face_crops(frames, landmarks, fps, face_cfg.align, face_cfg.mask)
    windows = featurizer.features(samples, fps, num_frames)        # [T_all, W, D] per frame
    cond = encode_condition(codec, crops.crops[s:e], mode="inpaint", mask=crops.masks[s:e],
                            ref_crops=crops.crops[ref_idx], audio_windows=windows[s:e])
    latents = sampler(...)                                           # [B, C, F', h, w]
    new_crops = tensor_to_frames(codec.decode(latents))             # [B, T, S, S, 3] uint8

`encode_condition(codec, crops, *, mode, mask, ref_crops, audio_windows, motion_latents,
motion_mask) -> DiTConditioning`; every array argument may carry a leading batch axis:
  crops:          [T, S, S, 3] or [B, T, S, S, 3] uint8 (numpy or torch), T = 1 + k * tf
  mask:           [T, S, S] or [B, T, S, S] float in [0, 1], 1 = regenerate (inpaint only)
  ref_crops:      [R, S, S, 3] or [B, R, S, S, 3] uint8, or None
  audio_windows:  [T, W, D] or [B, T, W, D] float, ONE window per VIDEO frame, or None
  motion_latents: [B, C, F_m, h, w] clean latents of the previous chunk, or None
Result (tf = codec temporal factor, sf = spatial factor, F' = 1 + (T - 1) / tf):
  source_latents  "edit":    encode(crops)                                 [B, C, F', h, w]
                  "inpaint": cat(encode(crops * (1 - mask)), mask_latent)  [B, C + tf, F', h, w]
                    (masked pixels are mid-grey 0; mask_latent packs the tf frames of each
                    latent frame into tf channels, Wan-I2V style, average-pooled by sf)
  ref_latents     each reference frame encoded alone                      [B, C, R, h, w]
  audio_features  windows regrouped per LATENT frame (`group_audio_windows`) [B, F', tf*W, D]
Dropped conditions (guidance) are zeros, as `xdub.diffusion.guidance` expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from scipy.ndimage import maximum_filter1d

from xdub.config.face import AlignConfig, MaskConfig
from xdub.face.align import estimate_alignments, warp_to_crop
from xdub.face.landmarks import transform_points
from xdub.face.mask import lower_face_mask, mouth_mask
from xdub.model_types import DiTConditioning, VideoCodec

Mode = Literal["edit", "inpaint"]
ArrayLike = np.ndarray | torch.Tensor

# ---------------------------------------------------------------------------------------------
# Face crops, masks (pixels)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaceCrops:
    """Aligned face crops of one clip and everything derived from them, leading axis T.

    crops: [T, S, S, 3] uint8; affines: [T, 2, 3] frame->crop (for paste-back); masks:
    [T, S, S] float32 lower-face inpainting mask (held over time); mouth_masks: [T, S, S]
    float32 (loss weighting, metrics); landmarks: [T, 68, 2] crop-space xdub-68 points.
    """

    crops: np.ndarray
    affines: np.ndarray
    masks: np.ndarray
    mouth_masks: np.ndarray
    landmarks: np.ndarray

    def __len__(self) -> int:
        return int(self.crops.shape[0])


def crop_frame(frame: np.ndarray, affine: np.ndarray, size: int, interpolation: str) -> np.ndarray:
    """`warp_to_crop` with a Gaussian pre-blur when the crop shrinks the face (no aliasing)."""
    shrink = 1.0 / max(float(np.hypot(affine[0, 0], affine[1, 0])), 1e-6)  # frame px per crop px
    if shrink > 1.25:
        # sigma ~ 0.5 px of the crop grid, in frame pixels: the standard pre-filter for decimation.
        frame = cv2.GaussianBlur(frame, (0, 0), sigmaX=0.5 * shrink, sigmaY=0.5 * shrink)
    return warp_to_crop(frame, affine, size, interpolation)


def crop_frames(frames, affines: np.ndarray, size: int, interpolation: str) -> np.ndarray:
    """`crop_frame` over `frames: [T, H, W, 3]` (or a list) with `affines: [T, 2, 3]` ->
    `[T, size, size, 3]`: the one crop loop of training, pair generation and dubbing."""
    return np.stack([crop_frame(f, a, size, interpolation) for f, a in zip(frames, affines)])


def hold_masks(masks: np.ndarray, radius: int) -> np.ndarray:
    """Running maximum over +-`radius` frames of `masks: [T, S, S]` (temporally stable mask)."""
    if radius <= 0 or len(masks) < 2:
        return masks
    return maximum_filter1d(masks, size=2 * radius + 1, axis=0, mode="nearest")


def prepare_face_crops(
    frames: np.ndarray,
    landmarks: np.ndarray,
    fps: float,
    align: AlignConfig,
    mask: MaskConfig,
    mask_hold_s: float = 0.4,
) -> FaceCrops:
    """Crops, alignments and masks of `frames: [T, H, W, 3]` from `landmarks: [T, 68, 2]` px.

    The lower-face mask is the max over +-`mask_hold_s` seconds, so its outline does not
    follow the jaw frame by frame (which would tell the inpainter how wide the mouth was).
    """
    assert frames.ndim == 4 and frames.shape[-1] == 3, f"frames must be [T, H, W, 3]: {frames.shape}"
    assert landmarks.shape == (len(frames), 68, 2), f"landmarks must be [T, 68, 2]: {landmarks.shape}"
    size = align.crop_size
    affines = estimate_alignments(landmarks, size, align, fps)
    crops = crop_frames(frames, affines, size, align.interpolation)
    crop_lm = np.stack([transform_points(lm, a) for lm, a in zip(landmarks, affines)])
    lower = np.stack([lower_face_mask(lm, (size, size), mask) for lm in crop_lm])
    mouth = np.stack([mouth_mask(lm, (size, size), mask) for lm in crop_lm])
    lower = hold_masks(lower, round(mask_hold_s * fps))
    return FaceCrops(crops, affines.astype(np.float32), lower.astype(np.float32),
                     mouth.astype(np.float32), crop_lm.astype(np.float32))


def select_reference_indices(
    num_frames: int,
    window: tuple[int, int],
    count: int,
    min_gap: int,
    rng: np.random.Generator | None = None,
    nearest: bool = False,
    avoid: np.ndarray | None = None,
) -> np.ndarray:
    """`count` reference frame indices `[count]` outside the target `window = (start, stop)`.

    Frames at least `min_gap` frames away from the window are preferred (drawn with `rng`, or
    the farthest ones without it; with `nearest`, the nearest ones: their light and pose are
    the window's most nearly); if the clip has none, the farthest frames outside the window
    are used. `avoid: [num_frames]` bool marks frames to take only when nothing else qualifies
    (e.g. a hand over the face: a reference passes it on). Frames inside the window are never
    returned (ValueError if nothing is outside).
    """
    start, stop = window
    if not 0 <= start < stop <= num_frames:
        raise ValueError(f"window {window} does not fit a clip of {num_frames} frames")
    if count == 0:
        return np.zeros(0, np.int64)
    frames = np.arange(num_frames)
    distance = np.where(frames < start, start - frames, frames - (stop - 1))
    outside = frames[(frames < start) | (frames >= stop)]
    if outside.size == 0:
        raise ValueError(f"no frame outside the target window {window} of a {num_frames}-frame clip")
    far = outside[distance[outside] >= min_gap]
    pool = far if far.size else outside
    if avoid is not None:
        clear = pool[~np.asarray(avoid, bool)[pool]]
        pool = clear if clear.size else pool
    if nearest:
        ranked = pool[np.argsort(distance[pool], kind="stable")]
        return np.sort(np.resize(ranked, count)).astype(np.int64)
    if rng is None:
        ranked = pool[np.argsort(-distance[pool], kind="stable")]
        return np.resize(ranked, count).astype(np.int64)
    return np.sort(rng.choice(pool, size=count, replace=pool.size < count)).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Pixels <-> tensors
# ---------------------------------------------------------------------------------------------


def _batched(x: ArrayLike, ndim: int) -> torch.Tensor:
    """As a tensor with a leading batch axis (`ndim` = rank without it)."""
    tensor = torch.as_tensor(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x
    if tensor.ndim == ndim:
        tensor = tensor[None]
    assert tensor.ndim == ndim + 1, f"expected rank {ndim} or {ndim + 1}, got {tuple(tensor.shape)}"
    return tensor


def _codec_place(codec: VideoCodec) -> tuple[torch.device, torch.dtype]:
    param = next(codec.parameters())
    return param.device, param.dtype


def frames_to_tensor(
    frames: ArrayLike, device: torch.device | None = None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """uint8 `[T, S, S, 3]` or `[B, T, S, S, 3]` -> float `[B, 3, T, S, S]` in [-1, 1]."""
    tensor = _batched(frames, 4)
    tensor = tensor.to(device=device) if device is not None else tensor
    return rearrange(tensor.to(dtype), "b t h w c -> b c t h w") / 127.5 - 1.0


def tensor_to_frames(video: torch.Tensor) -> np.ndarray:
    """float `[B, 3, T, S, S]` in [-1, 1] -> uint8 numpy `[B, T, S, S, 3]` (rounded, clipped)."""
    assert video.ndim == 5 and video.shape[1] == 3, f"video must be [B, 3, T, S, S]: {video.shape}"
    pixels = ((video.detach().float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return rearrange(pixels, "b c t h w -> b t h w c").cpu().numpy()


@torch.no_grad()
def encode_frames(codec: VideoCodec, frames: ArrayLike | torch.Tensor) -> torch.Tensor:
    """uint8 crops `[(B,) T, S, S, 3]` (or float `[B, 3, T, S, S]`) -> latents `[B, C, F', h, w]`."""
    device, dtype = _codec_place(codec)
    video = frames if _is_float_video(frames) else frames_to_tensor(frames, device, dtype)
    return codec.encode(video.to(device=device, dtype=dtype))


def _is_float_video(x: ArrayLike) -> bool:
    return isinstance(x, torch.Tensor) and x.is_floating_point() and x.ndim == 5 and x.shape[1] == 3


# ---------------------------------------------------------------------------------------------
# Masks and audio at latent resolution
# ---------------------------------------------------------------------------------------------


def _causal_groups(x: torch.Tensor, factor: int) -> torch.Tensor:
    """`[B, T, ...]` with T = 1 + k * factor -> `[B, 1 + k, factor, ...]`; the first frame,
    which a causal codec encodes alone, is repeated `factor` times (edge padding in time)."""
    if (x.shape[1] - 1) % factor:
        raise ValueError(f"{x.shape[1]} frames do not fit 1 + k * {factor}")
    head = x[:, :1].expand(-1, factor, *x.shape[2:])
    return rearrange(torch.cat([head, x[:, 1:]], dim=1), "b (f k) ... -> b f k ...", k=factor)


def mask_to_latent(mask: ArrayLike, temporal_factor: int, spatial_factor: int) -> torch.Tensor:
    """Pixel mask `[(B,) T, S, S]` -> `[B, tf, F', S/sf, S/sf]`: area-pooled in space, the tf
    frames of each latent frame packed into channels."""
    mask_t = _batched(mask, 3).float()
    pooled = F.avg_pool2d(mask_t, spatial_factor)  # [B, T, h, w]: T acts as channels
    grouped = _causal_groups(pooled, temporal_factor)  # [B, F', tf, h, w]
    return rearrange(grouped, "b f k h w -> b k f h w").contiguous()


def latent_region(mask: ArrayLike, temporal_factor: int, spatial_factor: int) -> torch.Tensor:
    """Region weight map `[B, F', h, w]` in [0, 1] (max over each latent frame's video frames)."""
    return mask_to_latent(mask, temporal_factor, spatial_factor).amax(dim=1)


def group_audio_windows(windows: ArrayLike, temporal_factor: int) -> torch.Tensor:
    """Per-video-frame windows `[(B,) T, W, D]` -> per-latent-frame `[B, F', tf * W, D]`.

    Latent frame i >= 1 concatenates the windows of its tf video frames in time order. Latent 0
    stands for frame 0 but, like the released model, hears the tf frames ENDING at frame 0.
    With T = F' * tf the first tf - 1 windows are those lead-in frames before the clip (a chunk
    inside a video: `ModelGenerator.audio_windows` gives them). With T = 1 + (F' - 1) * tf there
    is no lead-in and the clip starts the audio: the released model's indices before the audio
    clamp to the first feature, so the missing frames are filled with frame 0's first feature.
    At tf = 1 (tiny codec) this is the identity.
    """
    win = _batched(windows, 3).float()
    if temporal_factor == 1:
        return win
    batch, frames, width, dim = win.shape
    if frames % temporal_factor == 0:  # lead-in present
        return rearrange(win, "b (f k) w d -> b f (k w) d", k=temporal_factor)
    if (frames - 1) % temporal_factor:
        raise ValueError(f"{frames} audio windows fit neither 1 + k * {temporal_factor} nor "
                         f"k * {temporal_factor} (with lead-in)")
    first = win[:, :1, :1].expand(batch, temporal_factor - 1, width, dim)
    return group_audio_windows(torch.cat([first, win], dim=1), temporal_factor)


# ---------------------------------------------------------------------------------------------
# The conditioning
# ---------------------------------------------------------------------------------------------


def masked_frames(frames: ArrayLike, mask: ArrayLike, device: torch.device,
                  dtype: torch.dtype) -> torch.Tensor:
    """`[B, 3, T, S, S]` in [-1, 1] with the masked region faded to mid-grey (0)."""
    video = frames_to_tensor(frames, device, dtype)
    keep = 1.0 - _batched(mask, 3).to(device=device, dtype=dtype).clamp(0, 1)
    return video * keep[:, None]


@torch.no_grad()
def encode_references(codec: VideoCodec, ref_crops: ArrayLike) -> torch.Tensor:
    """`[(B,) R, S, S, 3]` uint8 -> `[B, C, R, h, w]`: every reference encoded as its own
    1-frame clip (a causal codec would otherwise mix them in time)."""
    refs = _batched(ref_crops, 4)
    batch, count = refs.shape[:2]
    flat = rearrange(refs, "b r h w c -> (b r) 1 h w c")
    latents = encode_frames(codec, flat)  # [(B R), C, 1, h, w]
    return rearrange(latents, "(b r) c 1 h w -> b c r h w", b=batch, r=count)


@torch.no_grad()
def encode_condition(
    codec: VideoCodec,
    crops: ArrayLike,
    *,
    mode: Mode,
    mask: ArrayLike | None = None,
    ref_crops: ArrayLike | None = None,
    audio_windows: ArrayLike | None = None,
    motion_latents: torch.Tensor | None = None,
    motion_mask: torch.Tensor | None = None,
) -> DiTConditioning:
    """DiT conditioning for one window of face crops (see the module docstring for layouts)."""
    device, dtype = _codec_place(codec)
    tf, sf = codec.temporal_factor, codec.spatial_factor
    if mode == "inpaint":
        if mask is None:
            raise ValueError("mode='inpaint' needs a mask [T, S, S]")
        video = masked_frames(crops, mask, device, dtype)
        latents = codec.encode(video)
        mask_lat = mask_to_latent(mask, tf, sf).to(device=device, dtype=latents.dtype)
        source = torch.cat([latents, mask_lat], dim=1)
    elif mode == "edit":
        source = encode_frames(codec, crops)
    else:
        raise ValueError(f"mode must be 'edit' or 'inpaint', got {mode!r}")
    refs = encode_references(codec, ref_crops) if ref_crops is not None else None
    return assemble_condition(source, refs, audio_windows, tf, motion_latents, motion_mask)


def assemble_condition(
    source_latents: torch.Tensor,
    ref_latents: torch.Tensor | None,
    audio_windows: ArrayLike | None,
    temporal_factor: int,
    motion_latents: torch.Tensor | None = None,
    motion_mask: torch.Tensor | None = None,
) -> DiTConditioning:
    """DiTConditioning from already-encoded streams (e.g. latents cached per clip) and
    per-video-frame audio windows; `encode_condition` ends here too."""
    audio = None
    if audio_windows is not None:
        audio = group_audio_windows(audio_windows, temporal_factor).to(source_latents)
        expected = (source_latents.shape[0], source_latents.shape[2])
        if tuple(audio.shape[:2]) != expected:
            raise ValueError(f"audio windows {tuple(audio.shape)} do not match "
                             f"[B, F'] = {list(expected)} of the source latents")
    return DiTConditioning(source_latents=source_latents, ref_latents=ref_latents,
                           motion_latents=motion_latents, motion_mask=motion_mask,
                           audio_features=audio)


def source_channels(codec: VideoCodec, mode: Mode) -> int:
    """Channels of `source_latents` for a codec and mode (the DiT's `cond_channels`)."""
    return codec.latent_channels + (codec.temporal_factor if mode == "inpaint" else 0)
