"""Training recipe of the tiny scorer on a toy clip source (no synthetic engine needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from xdub.bench.sync_metrics import evaluate_sync_scorer
from xdub.config import replace
from xdub.config.sync import SYNC_TRAIN_PRESETS
from xdub.models.syncnet import SyncScorer
from xdub.train.checkpointing import latest_checkpoint, load_checkpoint
from xdub.train.losses import contrastive_loss
from xdub.train.syncnet import SyncClip, WindowPool, train_sync_scorer

CFG = SYNC_TRAIN_PRESETS["test"]
MODEL = CFG.model


def toy_clip(seed: int, seconds: float = 1.0) -> SyncClip:
    """A mouth-like ellipse whose opening follows the loudness of noise bursts."""
    rng = np.random.default_rng(seed)
    fps, sr = MODEL.fps, MODEL.sample_rate
    num_frames = int(seconds * fps)
    opening = np.repeat(rng.random(num_frames // 3 + 1), 3)[:num_frames]
    envelope = np.repeat(opening, sr // int(fps))
    samples = (rng.standard_normal(len(envelope)) * 0.3 * envelope).astype(np.float32)
    yy, xx = np.mgrid[: MODEL.crop_height, : MODEL.crop_width]
    crops = np.zeros((num_frames, MODEL.crop_height, MODEL.crop_width, 1), np.uint8)
    for t, o in enumerate(opening):
        inside = ((xx - 48) / 30) ** 2 + ((yy - 24) / (2 + 18 * o)) ** 2 < 1
        crops[t, inside, 0] = 220
    return SyncClip(crops=crops, samples=samples, fps=fps, seed=seed)


def test_sync_pool_batch_shapes() -> None:
    pool = WindowPool(MODEL)
    for seed in range(3):
        pool.add(toy_clip(seed))
    video, audio = pool.sample(np.random.default_rng(0), 4, max_shift=3, anchors=2)
    assert video.shape == (4, 2, MODEL.window_frames, MODEL.crop_height, MODEL.crop_width)
    assert audio.shape == (4, 8, MODEL.audio_window_frames, MODEL.n_mels)
    assert video.min() >= -1 and video.max() <= 1


def test_sync_few_steps_reduce_loss() -> None:
    torch.manual_seed(0)
    model = SyncScorer(MODEL).train()
    pool = WindowPool(MODEL)
    for seed in range(4):
        pool.add(toy_clip(seed))
    video, audio = pool.sample(np.random.default_rng(1), 4, max_shift=3, anchors=2, augment=False)
    optim = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(8):
        loss, logs = contrastive_loss(model, video, audio)
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert set(logs) == {"nce", "bce", "offset_acc", "clip_acc"}
    assert losses[-1] < 0.8 * losses[0]


def test_sync_train_writes_run_and_resumes(tmp_path: Path) -> None:
    run = tmp_path / "run"
    train_sync_scorer(CFG, run, clip_source=toy_clip)
    for name in ("config.yaml", "git_sha.txt", "metrics.jsonl", "loss.png"):
        assert (run / name).is_file(), name
    assert (run / "final" / "model.safetensors").is_file()
    assert load_checkpoint(latest_checkpoint(run / "checkpoints")).step == CFG.loop.steps
    # Resume: more steps continue from the checkpoint instead of restarting.
    longer = replace(CFG, loop=replace(CFG.loop, steps=CFG.loop.steps + 2))
    train_sync_scorer(longer, run, clip_source=toy_clip)
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, CFG.loop.steps + 3))


def test_sync_interrupted_run_resumes_to_the_same_weights(tmp_path: Path) -> None:
    """Ctrl-C at step 2 (while re-rendering the pool), rerun: the weights of a run that was
    never interrupted (same batches, optimiser, schedule after the resume)."""
    cfg = replace(CFG, refresh_every=2, refresh_clips=1)
    whole = train_sync_scorer(cfg, tmp_path / "whole", clip_source=toy_clip)
    calls = []

    def interrupting(seed: int) -> SyncClip:
        calls.append(seed)
        if len(calls) == cfg.pool_clips + 1:  # the first refresh, before batch 2
            raise KeyboardInterrupt
        return toy_clip(seed)

    with pytest.raises(KeyboardInterrupt):
        train_sync_scorer(cfg, tmp_path / "cut", clip_source=interrupting)
    assert load_checkpoint(latest_checkpoint(tmp_path / "cut" / "checkpoints")).step == 2
    resumed = train_sync_scorer(cfg, tmp_path / "cut", clip_source=toy_clip)
    for key, value in whole.state_dict().items():
        assert torch.allclose(value, resumed.state_dict()[key], atol=1e-6), key


def test_sync_evaluate_scorer_reports_fractions() -> None:
    torch.manual_seed(0)
    model = SyncScorer(MODEL)
    clips = [toy_clip(seed, seconds=1.6) for seed in range(2)]
    result = evaluate_sync_scorer(model, clips, shifts=(-5, 5))
    assert result["clips"] == 2
    keys = ("classification_acc", "offset_classification_acc", "ranking_acc", "offset_exact")
    for key in (*keys, "offset_exact_shifted"):
        assert 0.0 <= result[key] <= 1.0, key
    assert np.isfinite(result["lse_sync_d"])


def test_sync_pool_windows_match_inference_windows() -> None:
    """Training windows == the windows `SyncScorer.clip_embeddings` builds (no train/infer drift)."""
    from xdub.models.syncnet_features import (
        audio_window_starts,
        audio_windows,
        log_mel,
        video_windows,
    )

    clip = toy_clip(5, seconds=1.6)
    pool = WindowPool(MODEL)
    pool.add(clip)
    video, audio = pool.sample(np.random.default_rng(3), 1, max_shift=3, anchors=2, augment=False)
    all_video = video_windows(SyncScorer.normalize_crops(clip.crops), MODEL.window_frames)
    mel = log_mel(clip.samples, MODEL)
    all_audio = audio_windows(
        mel, audio_window_starts(len(all_video), clip.fps, MODEL), MODEL.audio_window_frames
    )
    start = next(i for i in range(len(all_video)) if torch.allclose(all_video[i], video[0, 0]))
    for r in range(2):
        assert torch.allclose(video[0, r], all_video[start + r])
        assert torch.allclose(audio[0, r + 3], all_audio[start + r])  # offset 0 sits at r + K


def test_sync_yaml_configs_match_presets() -> None:
    from xdub.config import load
    from xdub.config.sync import SCORER_PRESETS, SyncScorerConfig, SyncTrainConfig

    root = Path(__file__).resolve().parents[2] / "configs" / "sync"
    assert load(SyncTrainConfig, root / "train_tiny.yaml") == SYNC_TRAIN_PRESETS["tiny"]
    assert load(SyncScorerConfig, root / "scorer_tiny.yaml") == SCORER_PRESETS["tiny"]


def test_sync_synthetic_source_crops_a_mouth() -> None:
    from xdub.train.syncnet import synthetic_clip_source

    clip = synthetic_clip_source(MODEL, "standard", seconds=1.0, jitter=False)(3)
    assert clip.crops.shape == (25, MODEL.crop_height, MODEL.crop_width, MODEL.channels)
    assert clip.samples.shape == (16000,) and clip.fps == MODEL.fps
    # Speech moves the mouth in the crop centre; the crop edges (cheeks, chin) barely change.
    motion = clip.crops[..., 0].astype(float).std(axis=0)  # [h, w] temporal std
    centre = motion[16:32, 32:64].mean()
    edges = np.concatenate([motion[:, :12], motion[:, -12:]], axis=1).mean()
    assert centre > 5 * edges


def test_sync_shipped_scorer_finds_the_offset_of_a_synthetic_clip() -> None:
    """The weights in xdub/assets/syncnet_tiny load and still do their job (held-out seed)."""
    from xdub.bench.sync_metrics import shift_audio, sync_scores
    from xdub.config.sync import EVAL_SEED_BASE, SCORER_PRESETS
    from xdub.models.syncnet import load_shipped_scorer
    from xdub.models.syncnet_features import log_mel
    from xdub.train.syncnet import synthetic_clip_source

    model = load_shipped_scorer()
    assert model.cfg == SCORER_PRESETS["tiny"] and not model.training
    clip = synthetic_clip_source(model.cfg, "standard", seconds=2.4, jitter=False)(EVAL_SEED_BASE)
    crops = SyncScorer.normalize_crops(clip.crops)
    synced = sync_scores(model, crops, log_mel(clip.samples, model.cfg), clip.fps, max_offset=8)
    assert synced.offset == 0 and synced.confidence > 0.1
    late = shift_audio(clip.samples, 4, clip.fps, model.cfg.sample_rate)
    shifted = sync_scores(model, crops, log_mel(late, model.cfg), clip.fps, max_offset=8)
    assert shifted.offset == -4
