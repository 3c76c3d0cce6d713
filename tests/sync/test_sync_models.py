"""SyncScorer (tiny scorer) and PublicSyncNet (LSE protocol network): shapes, I/O, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from xdub.bench.sync_metrics import protocol_sync_scores, sync_scores
from xdub.config.sync import SCORER_PRESETS
from xdub.errors import WeightsError
from xdub.models.syncnet import SyncScorer
from xdub.models.syncnet_features import log_mel
from xdub.models.syncnet_public import PublicSyncNet, load_public_syncnet

CFG = SCORER_PRESETS["test"]


def _scorer(seed: int = 0) -> SyncScorer:
    torch.manual_seed(seed)
    return SyncScorer(CFG).eval()


def _inputs(batch: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    video = torch.rand(batch, 5 * CFG.channels, CFG.crop_height, CFG.crop_width, generator=gen)
    audio = torch.randn(batch, CFG.audio_window_frames, CFG.n_mels, generator=gen)
    return video * 2 - 1, audio


def test_sync_scorer_shapes_and_unit_embeddings() -> None:
    model = _scorer()
    video, audio = _inputs(3)
    v, a = model.embed_video(video), model.embed_audio(audio)
    assert v.shape == a.shape == (3, CFG.embed_dim)
    assert torch.allclose(v.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert torch.allclose(a.norm(dim=-1), torch.ones(3), atol=1e-5)
    prob = model.sync_probability(video, audio)
    assert prob.shape == (3,) and ((prob > 0) & (prob < 1)).all()
    with pytest.raises(AssertionError, match="video windows"):
        model.embed_video(video[:, :3])


def test_sync_scorer_loss_backpropagates() -> None:
    model = _scorer().train()
    video, audio = _inputs(4)
    video.requires_grad_(True)
    model.sync_loss(video, audio).backward()
    assert video.grad is not None and video.grad.abs().sum() > 0


def test_sync_clip_sync_loss_is_differentiable_in_crops() -> None:
    model = _scorer().requires_grad_(False)
    crops = (torch.rand(12, CFG.channels, CFG.crop_height, CFG.crop_width) * 2 - 1).requires_grad_()
    mel = torch.randn(12 * 4 + 8, CFG.n_mels)
    loss = model.clip_sync_loss(crops, mel, fps=25.0)
    loss.backward()
    assert loss.ndim == 0 and loss.item() > 0
    assert crops.grad is not None and crops.grad.abs().sum() > 0


def test_sync_scorer_save_load_identical(tmp_path: Path) -> None:
    model = _scorer(seed=3)
    with torch.no_grad():  # non-trivial BatchNorm statistics must round-trip too
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
    model.save_pretrained(tmp_path / "ckpt")
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    loaded = SyncScorer.from_pretrained(tmp_path / "ckpt")
    assert loaded.cfg == model.cfg and not loaded.training
    video, audio = _inputs(2, seed=5)
    with torch.no_grad():
        assert torch.equal(
            model.sync_probability(video, audio), loaded.sync_probability(video, audio)
        )


def test_sync_scorer_missing_checkpoint_raises(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="model.safetensors"):
        SyncScorer.from_pretrained(tmp_path)


def test_sync_scores_end_to_end_with_scorer() -> None:
    model = _scorer()
    num_frames = 30
    crops = torch.rand(num_frames, CFG.channels, CFG.crop_height, CFG.crop_width) * 2 - 1
    samples = np.random.default_rng(0).standard_normal(num_frames * 640).astype(np.float32)
    scores = sync_scores(model, crops, log_mel(samples * 0.1, CFG), fps=25.0, max_offset=5)
    assert -5 <= scores.offset <= 5
    assert scores.confidence >= 0 and np.isfinite(scores.distance)
    assert scores.mean_distances.shape == (11,)


# ---------------------------------------------------------------------------------------------
# Public SyncNet
# ---------------------------------------------------------------------------------------------

EXPECTED_SHAPES = {  # a few entries of the reference syncnet_v2.model state dict
    "netcnnaud.0.weight": (64, 1, 3, 3),
    "netcnnaud.4.weight": (192, 64, 3, 3),
    "netcnnaud.18.weight": (512, 256, 5, 4),
    "netcnnaud.19.running_var": (512,),
    "netfcaud.0.weight": (512, 512),
    "netfcaud.3.weight": (1024, 512),
    "netcnnlip.0.weight": (96, 3, 5, 7, 7),
    "netcnnlip.4.weight": (256, 96, 1, 5, 5),
    "netcnnlip.18.weight": (512, 256, 1, 6, 6),
    "netfclip.1.running_mean": (512,),
    "netfclip.3.bias": (1024,),
}


@pytest.fixture(scope="module")
def public_net() -> PublicSyncNet:
    torch.manual_seed(0)
    net = PublicSyncNet()
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)
    return net.eval()


def test_sync_public_key_names_and_shapes(public_net: PublicSyncNet) -> None:
    state = {k: v for k, v in public_net.state_dict().items() if "num_batches" not in k}
    assert len(state) == 88
    for key, shape in EXPECTED_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    assert {k.split(".")[0] for k in state} == {"netcnnaud", "netfcaud", "netcnnlip", "netfclip"}


def test_sync_public_round_trip_old_style_file(public_net: PublicSyncNet, tmp_path: Path) -> None:
    # Old torch files lack num_batches_tracked; keys carry no prefix.
    state = {k: v for k, v in public_net.state_dict().items() if "num_batches" not in k}
    path = tmp_path / "syncnet_v2.model"
    torch.save(state, path)
    loaded = load_public_syncnet(path)
    lips = torch.rand(2, 3, 5, 224, 224) * 255
    mfcc = torch.randn(2, 1, 13, 20)
    with torch.no_grad():
        assert torch.equal(loaded.forward_lip(lips), public_net.forward_lip(lips))
        assert torch.equal(loaded.forward_aud(mfcc), public_net.forward_aud(mfcc))
    assert loaded.forward_aud(mfcc).shape == (2, 1024)


def test_sync_public_protocol_scores(public_net: PublicSyncNet) -> None:
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 255, (12, 224, 224, 3), dtype=np.uint8)
    samples = (rng.standard_normal(12 * 640) * 0.1).astype(np.float32)
    scores = protocol_sync_scores(public_net, faces, samples, max_offset=3)
    assert scores.mean_distances.shape == (7,)
    assert -3 <= scores.offset <= 3 and scores.confidence >= 0 and scores.distance > 0


def test_sync_public_missing_file_names_the_download(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="syncnet_v2.model") as err:
        load_public_syncnet(tmp_path / "nope.model")
    assert "\n" not in str(err.value)


def test_sync_public_bad_files_raise_weights_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.model"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(WeightsError):
        load_public_syncnet(garbage)
    wrong = tmp_path / "wrong.model"
    torch.save({"netcnnaud.0.weight": torch.zeros(3, 3)}, wrong)
    with pytest.raises(WeightsError, match="architecture"):
        load_public_syncnet(wrong)
