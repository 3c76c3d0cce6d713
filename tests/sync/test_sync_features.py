"""Preprocessing of the sync scorers: protocol MFCC, log-mel, crops and window slicing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from xdub.config import replace
from xdub.config.sync import SCORER_PRESETS
from xdub.models.syncnet_features import (
    audio_window_starts,
    audio_windows,
    crop_mouths,
    log_mel,
    protocol_mfcc,
    syncnet_face_crops,
    video_windows,
)

CFG = SCORER_PRESETS["tiny"]


def _chirp(num: int) -> np.ndarray:
    t = np.arange(num) / 16000
    return (0.3 * np.sin(2 * np.pi * (200 * t + 1500 * t**2))).astype(np.float32)


def test_sync_protocol_mfcc_matches_reference_values() -> None:
    # Rows 0 and 5 of python_speech_features.mfcc(int16-scaled chirp, 16000), computed once
    # with that library (v0.6.1) and frozen here.
    expected = np.array(
        [
            [
                18.3143,
                24.8451,
                16.016,
                9.2406,
                1.6044,
                -6.9418,
                -13.8769,
                -19.6396,
                -22.1855,
                -22.0259,
                -18.6328,
                -14.0435,
                -8.787,
            ],
            [
                19.2224,
                26.7999,
                11.9789,
                -3.3981,
                -17.7105,
                -27.5908,
                -29.3561,
                -24.8291,
                -14.9259,
                -4.0445,
                5.7642,
                10.5953,
                10.7617,
            ],
        ]
    )
    mfcc = protocol_mfcc(_chirp(1600))
    assert mfcc.shape == (9, 13)
    np.testing.assert_allclose(mfcc[[0, 5]], expected, atol=2e-3)


@pytest.mark.parametrize("seconds", [1.0, 2.5])
def test_sync_protocol_mfcc_rate_is_100_hz(seconds: float) -> None:
    num = int(seconds * 16000)
    mfcc = protocol_mfcc(np.zeros(num, np.float32) + 1e-3)
    assert mfcc.shape == (1 + int(np.ceil((num - 400) / 160)), 13)
    assert abs(mfcc.shape[0] - 100 * seconds) <= 2
    assert mfcc.dtype == np.float32 and np.isfinite(mfcc).all()


def test_sync_protocol_mfcc_rejects_other_rates() -> None:
    with pytest.raises(ValueError, match="16 kHz"):
        protocol_mfcc(np.zeros(800, np.float32), sample_rate=8000)


def test_sync_log_mel_shape_and_gain_invariance() -> None:
    samples = _chirp(16000)
    mel = log_mel(samples, CFG)
    assert mel.shape == (100, CFG.n_mels)
    assert abs(mel.mean().item()) < 1e-4 and abs(mel.std().item() - 1) < 1e-2
    louder = log_mel(samples * 4.0, CFG)
    assert torch.allclose(mel, louder, atol=1e-3)


def test_sync_audio_window_starts_follow_video_time() -> None:
    starts = audio_window_starts(5, 25.0, CFG)
    np.testing.assert_array_equal(starts, [0, 4, 8, 12, 16])  # 4 mel frames per video frame
    np.testing.assert_array_equal(audio_window_starts(2, 25.0, CFG, offset=-3), [-12, -8])
    # At 50 fps a 5-frame window is 0.1 s; the 0.2 s audio window stays centred on it.
    assert audio_window_starts(1, 50.0, CFG)[0] == -5


def test_sync_audio_windows_pad_with_quietest_frame() -> None:
    mel = torch.arange(10, dtype=torch.float32)[:, None].repeat(1, 3)
    wins = audio_windows(mel, np.array([-2, 7]), 4)
    assert wins.shape == (2, 4, 3)
    assert wins[0, :, 0].tolist() == [0, 0, 0, 1]
    assert wins[1, :, 0].tolist() == [7, 8, 9, 0]


def test_sync_video_windows_stack_consecutive_frames() -> None:
    crops = torch.arange(7, dtype=torch.float32)[:, None, None, None].expand(7, 2, 3, 4)
    wins = video_windows(crops, 5)
    assert wins.shape == (3, 10, 3, 4)
    assert wins[1, ::2, 0, 0].tolist() == [1, 2, 3, 4, 5]


def test_sync_crop_mouths_centres_the_mouth() -> None:
    frames = np.zeros((3, 200, 300, 3), np.uint8)
    frames[:, 118:123, 148:153] = 255  # a bright "mouth" around (150, 120)
    mouth = np.tile(
        np.array([[140.0, 120.0], [160.0, 120.0], [150.0, 115.0], [150.0, 125.0]]), (3, 1, 1)
    )
    boxes = np.tile(np.array([100.0, 40.0, 200.0, 160.0]), (3, 1))
    crops = crop_mouths(frames, mouth, boxes, CFG)
    assert crops.shape == (3, CFG.crop_height, CFG.crop_width, 1) and crops.dtype == np.uint8
    row, col = np.unravel_index(np.argmax(crops[0, ..., 0]), crops.shape[1:3])
    assert abs(row - CFG.crop_height / 2) <= 3 and abs(col - CFG.crop_width / 2) <= 3
    rgb = crop_mouths(frames, mouth, boxes, replace(CFG, channels=3))
    assert rgb.shape[-1] == 3


def test_sync_face_crops_protocol_geometry() -> None:
    frames = np.zeros((8, 240, 320, 3), np.uint8)
    frames[:, 100:140, 140:180] = (255, 0, 0)
    boxes = np.tile(np.array([120.0, 80.0, 200.0, 160.0]), (8, 1))
    crops = syncnet_face_crops(frames, boxes)
    assert crops.shape == (8, 224, 224, 3)
    assert syncnet_face_crops(frames[:2], boxes[:2]).shape == (2, 224, 224, 3)  # short clip
    # The box centre sits horizontally centred, at 1/(2+2*0.4) of the crop height.
    rows, cols = np.nonzero(crops[0, :, :, 0] > 128)
    assert abs(cols.mean() - 111.5) <= 2
    assert abs(rows.mean() - 224 / (2 + 2 * 0.4)) <= 2
    assert crops[0, :, :, 2].max() == 0  # colour order kept


def test_sync_crop_mouths_follows_roll_and_downscales() -> None:
    # A horizontal bar through the mouth, rotated by 20 degrees in the frame.
    frames = np.zeros((1, 600, 600, 3), np.uint8)
    angle = np.deg2rad(20.0)
    centre = np.array([300.0, 300.0])
    direction = np.array([np.cos(angle), np.sin(angle)])
    for r in np.linspace(-150, 150, 600):
        x, y = np.round(centre + r * direction).astype(int)
        frames[0, y - 3 : y + 4, x - 3 : x + 4] = 255
    mouth = centre[None, None, :] + np.array([[-50.0, 0.0], [50.0, 0.0]])[None]
    boxes = np.array([[100.0, 100.0, 500.0, 500.0]])  # crop width 0.8 * 400 = 320 px -> 96
    level = crop_mouths(frames, mouth, boxes, CFG, roll=np.array([angle]))[0, ..., 0]
    # Derotated: the bar is a horizontal line through the crop's middle row.
    rows = np.nonzero(level.mean(axis=1) > 100)[0]
    assert len(rows) > 0 and abs(rows.mean() - (CFG.crop_height - 1) / 2) <= 1.5
    unrotated = crop_mouths(frames, mouth, boxes, CFG)[0, ..., 0]
    assert (unrotated.mean(axis=1) > 100).sum() == 0  # a slanted bar fills no row


def test_sync_crop_mouths_68_uses_jaw_width_and_mouth_points() -> None:
    from xdub.models.syncnet_features import crop_mouths_68

    marks = np.zeros((2, 68, 2))
    marks[:, :17, 0] = np.linspace(100, 300, 17)  # jaw 200 px wide
    marks[:, :17, 1] = 250
    marks[:, 36:42] = (160, 150)
    marks[:, 42:48] = (240, 150)  # level eyes
    marks[:, 48:68] = (200, 260)  # mouth centre
    frames = np.zeros((2, 400, 400, 3), np.uint8)
    frames[:, 258:263, 198:203] = 255
    crops = crop_mouths_68(frames, marks, CFG)
    row, col = np.unravel_index(np.argmax(crops[0, ..., 0]), crops.shape[1:3])
    assert abs(row - CFG.crop_height / 2) <= 2 and abs(col - CFG.crop_width / 2) <= 2
    # Twice the crop scale: the bright square covers a quarter of the area.
    big = crop_mouths_68(frames, marks, CFG, scale=2.0)
    assert (big[0] > 128).sum() < 0.5 * (crops[0] > 128).sum()


def test_sync_torch_crops_match_numpy_crops_and_carry_gradients() -> None:
    from xdub.models.syncnet_features import crop_mouths_torch

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 120, 160, 3), dtype=np.uint8)
    frames = cv2.GaussianBlur(frames.reshape(120 * 3, 160, 3), (7, 7), 2).reshape(3, 120, 160, 3)
    mouth = np.tile(np.array([[70.0, 80.0], [100.0, 84.0]]), (3, 1, 1)) + rng.normal(
        0, 1, (3, 1, 2)
    )
    boxes = np.tile(np.array([40.0, 20.0, 140.0, 110.0]), (3, 1))
    roll = np.array([0.1, 0.12, 0.08])
    reference = crop_mouths(frames, mouth, boxes, CFG, roll).astype(np.float32) / 127.5 - 1
    tensor = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1
    tensor.requires_grad_(True)
    crops = crop_mouths_torch(tensor, mouth, boxes, CFG, roll)
    assert crops.shape == (3, 1, CFG.crop_height, CFG.crop_width)
    got = crops.detach().permute(0, 2, 3, 1).numpy()
    # cv2 quantises sample positions to 1/32 px and rounds to uint8: a few levels at most.
    assert np.abs(got - reference).max() < 0.05 and np.abs(got - reference).mean() < 0.01
    crops.sum().backward()
    assert tensor.grad is not None and tensor.grad.abs().sum() > 0
