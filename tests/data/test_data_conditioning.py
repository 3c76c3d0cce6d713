"""xdub.conditioning: shapes per mode, mask/audio regrouping, references, train == infer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xdub.audio.windows import gather_windows, span_centres, wan_token_spans, window_indices
from xdub.conditioning import (
    encode_condition,
    frames_to_tensor,
    group_audio_windows,
    mask_to_latent,
    select_reference_indices,
    source_channels,
    tensor_to_frames,
)
from xdub.config.codec import TinyCodecConfig
from xdub.models.codec import TinyVideoCodec
from xdub.models.codec.base import VideoCodec


class _CausalCodec(VideoCodec):
    """Stand-in Wan-like codec (temporal factor 4, spatial 8): average-pools pixels."""

    def __init__(self) -> None:
        super().__init__()
        self.latent_channels, self.temporal_factor, self.spatial_factor = 3, 4, 8
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        self.check_frames(frames)
        head = frames[:, :, :1]
        rest = frames[:, :, 1:].unflatten(2, (-1, 4)).mean(3) if frames.shape[2] > 1 else head[:, :, :0]
        return torch.nn.functional.avg_pool3d(torch.cat([head, rest], 2), (1, 8, 8))

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return latents.repeat_interleave(8, -1).repeat_interleave(8, -2)


@pytest.fixture(scope="module")
def codec() -> TinyVideoCodec:
    torch.manual_seed(0)
    return TinyVideoCodec(TinyCodecConfig(image_size=32, widths=(8, 16), latent_channels=4)).eval()


def _clip(t: int = 5, s: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    crops = rng.integers(0, 256, (t, s, s, 3), dtype=np.uint8)
    mask = np.zeros((t, s, s), np.float32)
    mask[:, s // 2:, 4:-4] = 1.0
    audio = rng.normal(size=(t, 20, 80)).astype(np.float32)
    return crops, mask, audio


def test_inpaint_and_edit_shapes(codec):
    crops, mask, audio = _clip()
    refs = crops[:2]
    cond = encode_condition(codec, crops, mode="inpaint", mask=mask, ref_crops=refs,
                            audio_windows=audio)
    assert cond.source_latents.shape == (1, 4 + 1, 5, 8, 8)
    assert cond.source_latents.shape[1] == source_channels(codec, "inpaint")
    assert cond.ref_latents.shape == (1, 4, 2, 8, 8)
    assert cond.audio_features.shape == (1, 5, 20, 80)
    torch.testing.assert_close(cond.source_latents[:, 4], mask_to_latent(mask, 1, 4)[:, 0])
    edit = encode_condition(codec, crops, mode="edit", audio_windows=audio)
    assert edit.source_latents.shape == (1, 4, 5, 8, 8) and edit.ref_latents is None
    # Inpaint hides the masked pixels: changing them does not change the source stream.
    changed = crops.copy()
    changed[:, 20:, 8:-8] = 0
    again = encode_condition(codec, changed, mode="inpaint", mask=mask)
    torch.testing.assert_close(again.source_latents, cond.source_latents)
    with pytest.raises(ValueError):
        encode_condition(codec, crops, mode="inpaint")


def test_batched_call_equals_single_calls(codec):
    items = [_clip(seed=k) for k in range(3)]
    batched = encode_condition(codec, np.stack([c for c, _, _ in items]), mode="inpaint",
                               mask=np.stack([m for _, m, _ in items]),
                               ref_crops=np.stack([c[:1] for c, _, _ in items]),
                               audio_windows=np.stack([a for _, _, a in items]))
    for k, (c, m, a) in enumerate(items):
        single = encode_condition(codec, c, mode="inpaint", mask=m, ref_crops=c[:1], audio_windows=a)
        torch.testing.assert_close(batched.source_latents[k:k + 1], single.source_latents, atol=1e-5, rtol=0)
        torch.testing.assert_close(batched.ref_latents[k:k + 1], single.ref_latents, atol=1e-5, rtol=0)


def test_causal_codec_groups_mask_and_audio_per_latent_frame():
    codec = _CausalCodec()
    crops, mask, _ = _clip(t=9, s=32)
    # Features at 50 Hz, 2 per 25 fps frame (the released layout): frame k -> [2k, 2k+1].
    sequence = torch.arange(18, dtype=torch.float32)[:, None].repeat(1, 3)
    per_frame = gather_windows(sequence, window_indices(span_centres(
        np.stack([np.arange(9)] * 2, 1), 25.0), 50.0, 2), "edge")
    cond = encode_condition(codec, crops, mode="inpaint", mask=mask, audio_windows=per_frame)
    assert cond.source_latents.shape == (1, 3 + 4, 3, 4, 4)
    # Regrouped windows equal the released model's per-token indexing (wan_token_spans).
    expected = gather_windows(sequence, window_indices(span_centres(wan_token_spans(3), 25.0),
                                                       50.0, 8), "edge")
    torch.testing.assert_close(cond.audio_features[0], expected)
    # Latent 0 is frame 0 alone (its mask repeated); latent 1 packs frames 1..4 into channels.
    lat = mask_to_latent(mask, 4, 8)
    assert lat.shape == (1, 4, 3, 4, 4)
    torch.testing.assert_close(lat[0, :, 0], lat[0, :1, 0].expand(4, -1, -1))
    with pytest.raises(ValueError):
        group_audio_windows(per_frame[:7], 4)


def test_audio_lead_in_gives_the_released_windows_inside_a_video():
    # A chunk starting at frame 12 with its 3 lead-in frames: latent 0 hears frames 9..12, as
    # the released model's `crop_overlap_audio_window` at start 12 (the old fill did not).
    sequence = torch.arange(80, dtype=torch.float32)[:, None].repeat(1, 3)
    start, frames = 12, 9
    spans = np.stack([np.arange(start - 3, start + frames)] * 2, 1)
    per_frame = gather_windows(sequence, window_indices(span_centres(spans, 25.0), 50.0, 2),
                               "edge")
    grouped = group_audio_windows(per_frame, 4)
    expected = gather_windows(sequence, window_indices(span_centres(
        wan_token_spans(3, first_frame=start), 25.0), 50.0, 8), "edge")
    torch.testing.assert_close(grouped[0], expected)
    assert grouped[0, 0, 0, 0] == 2 * (start - 3)


def test_frames_tensor_round_trip():
    crops, _, _ = _clip(t=3)
    video = frames_to_tensor(crops)
    assert video.shape == (1, 3, 3, 32, 32) and video.min() >= -1 and video.max() <= 1
    np.testing.assert_array_equal(tensor_to_frames(video)[0], crops)


@pytest.mark.parametrize("seed", range(20))
def test_references_never_inside_the_window(seed):
    rng = np.random.default_rng(seed)
    total = int(rng.integers(6, 60))
    length = int(rng.integers(1, total))
    start = int(rng.integers(0, total - length + 1))
    gap = int(rng.integers(0, 12))
    for draw in (rng, None):
        refs = select_reference_indices(total, (start, start + length), 3, gap, draw)
        assert refs.shape == (3,)
        assert not np.any((refs >= start) & (refs < start + length))
        assert refs.min() >= 0 and refs.max() < total
        def distance(f: int) -> int:
            return start - f if f < start else f - (start + length - 1)

        outside = [f for f in range(total) if f < start or f >= start + length]
        if any(distance(f) >= gap for f in outside):  # the gap is honoured whenever possible
            assert min(distance(int(f)) for f in refs) >= gap


def test_nearest_references_and_frames_to_avoid():
    """`nearest`: the frames just past the gap (lit and posed most like the window); `avoid`
    (a hand over the face) is skipped while other frames qualify, used when none does."""
    window = (20, 23)  # frames 20-22; gap 4: 0..18 and 26..39 qualify
    near = select_reference_indices(40, window, 2, 4, np.random.default_rng(0), nearest=True)
    np.testing.assert_array_equal(near, [16, 26])
    avoid = np.zeros(40, bool)
    avoid[[16, 26]] = True
    np.testing.assert_array_equal(
        select_reference_indices(40, window, 2, 4, None, nearest=True, avoid=avoid), [15, 27])
    drawn = select_reference_indices(40, window, 30, 4, np.random.default_rng(1), avoid=avoid)
    assert not np.isin(drawn, [16, 26]).any()
    everywhere = np.ones(40, bool)
    np.testing.assert_array_equal(
        select_reference_indices(40, window, 1, 4, None, nearest=True, avoid=everywhere), [16])


def test_references_need_a_frame_outside():
    with pytest.raises(ValueError):
        select_reference_indices(8, (0, 8), 1, 0, None)
