"""Stage-2 step function, init from stage 1, and a whole tiny run that exports an editor."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from stage2_testkit import make_pair_store, tiny_stage2_config

from xdub.audio import build_featurizer
from xdub.data.pairs import PairStore
from xdub.diffusion import PhaseMap, TrainSigmaSampler
from xdub.models import XDubDiT, build_dit
from xdub.pipeline.loading import load_checkpoint
from xdub.train.inpaint import load_codec
from xdub.train.pair_windows import PairWindows
from xdub.train.phases import PhaseObjective, SubRun, mouth_box
from xdub.train.stage2 import StepContext, step_fn, train_stage2, transfer_stage1
from xdub.train.stage2_parts import load_scorer


def _context(cfg):
    torch.manual_seed(0)
    codec = load_codec(cfg.codec, "random")
    scorer = load_scorer("random")
    box = mouth_box(cfg.face.align.crop_size, cfg.face.align, scorer.cfg)
    phase_map = PhaseMap.from_config(cfg.diffusion)
    objective = PhaseObjective(cfg.objectives, phase_map, codec, scorer, box)
    return StepContext(cfg, codec, objective, TrainSigmaSampler.from_config(cfg.diffusion),
                       phase_map, torch.Generator().manual_seed(0)), scorer


def test_stage2_step_runs_and_loss_decreases_on_fixed_batch(tmp_path):
    cfg = tiny_stage2_config(make_pair_store(tmp_path / "pairs"))
    ctx, scorer = _context(cfg)
    featurizer = build_featurizer(cfg.audio)
    pairs = PairWindows(PairStore(cfg.pairs), featurizer, 6, 1, 2, 0, scorer.cfg)
    batch = next(pairs.batches(0, 2))
    assert batch.mel_windows.shape[:2] == (2, 2)  # 6 frames -> two 5-frame sync windows
    model = build_dit(cfg.model, seed=0).train()
    optim = torch.optim.Adam(model.parameters(), lr=2e-3)
    for run in (SubRun("base", 1), SubRun("e", 1, "lip", 1.0), SubRun("t", 1, "texture", 1.0)):
        ctx.gen.manual_seed(0)
        loss, logs = step_fn(ctx, run, model, batch)
        assert torch.isfinite(loss) and "flow" in logs
        if run.phase == "lip":
            assert "sync" in logs
        if run.phase == "texture":
            assert "texture" in logs
    losses = []
    run = SubRun("lip", 10, "lip", 1.0)
    for _ in range(12):
        ctx.gen.manual_seed(0)  # same noise, sigmas and drops every step: a fixed batch
        loss, _ = step_fn(ctx, run, model, batch)
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0], losses


def test_stage2_init_from_stage1_copies_shared_weights():
    tiny = tiny_stage2_config(Path("unused")).model
    stage1 = build_dit(replace(tiny, cond_channels=tiny.latent_channels + 1), seed=1)
    state = stage1.state_dict()
    for cond in (tiny.latent_channels, None):
        editor = build_dit(replace(tiny, cond_channels=cond), seed=2)
        report = transfer_stage1(editor, state)
        own = editor.state_dict()
        shared = [k for k in state if k in own and own[k].shape == state[k].shape]
        assert len(shared) > 20 and sorted(shared) == sorted(report["copied"])
        assert all(torch.equal(own[k], state[k]) for k in shared)
        if cond is None:
            assert "cond_embedding.weight" in report["dropped"]
        else:
            assert report["adapted"] == ["cond_embedding.weight"]
            assert torch.equal(own["cond_embedding.weight"],
                               state["cond_embedding.weight"][:, : tiny.latent_channels])


def test_stage2_tiny_run_exports_a_loadable_editor_and_resumes(tmp_path):
    cfg = tiny_stage2_config(make_pair_store(tmp_path / "pairs"), mode="lora", steps=5)
    editor = train_stage2(cfg, tmp_path / "run")
    assert editor is not None and (editor / "dubber.json").is_file()
    for phase in ("structure", "lip", "texture"):
        assert (editor / f"{phase}.safetensors").is_file()
    pipe = load_checkpoint(editor, device="cpu")
    assert [p for p, _ in pipe.generator.sampler.experts] == ["structure", "lip", "texture"]
    crops = np.zeros((6, 32, 32, 3), np.uint8)
    from xdub.generation import ChunkInput

    out = pipe.generator.generate(ChunkInput(crops, torch.zeros(6, 20, 80), crops[:1]),
                                  torch.Generator().manual_seed(0))
    assert out.shape == crops.shape
    stamp = (tmp_path / "run" / "base" / "final" / "dit" / "model.safetensors").stat().st_mtime
    assert train_stage2(cfg, tmp_path / "run") is not None  # rerun: every sub-run skipped
    assert (tmp_path / "run" / "base" / "final" / "dit" / "model.safetensors").stat().st_mtime == stamp
    assert XDubDiT.from_pretrained(editor / "dit").config == cfg.model


def test_stage2_cached_latents_equal_online_encoding(tmp_path):
    from xdub.train.stage2 import encode_batch
    from xdub.train.stage2_parts import clip_encoder

    cfg = tiny_stage2_config(make_pair_store(tmp_path / "pairs"))
    ctx, scorer = _context(cfg)
    featurizer = build_featurizer(cfg.audio)
    store = PairStore(cfg.pairs)
    online = PairWindows(store, featurizer, 6, 1, 2, 0, scorer.cfg)
    cached = PairWindows(store, featurizer, 6, 1, 2, 0, scorer.cfg, encoder=clip_encoder(ctx.codec))
    target_a, cond_a = encode_batch(ctx, next(online.batches(3, 2)))
    target_b, cond_b = encode_batch(ctx, next(cached.batches(3, 2)))
    torch.testing.assert_close(target_a, target_b, atol=1e-5, rtol=1e-5)
    for name in ("source_latents", "ref_latents", "audio_features"):
        torch.testing.assert_close(getattr(cond_a, name), getattr(cond_b, name), atol=1e-5,
                                   rtol=1e-5)


def test_stage2_pair_cache_keeps_what_its_byte_budget_holds(tmp_path, monkeypatch):
    from xdub.audio import MelFeaturizer

    store = PairStore(make_pair_store(tmp_path / "pairs", num_pairs=3))
    loads = []
    monkeypatch.setattr(store, "load", lambda i, load=store.load: loads.append(i) or load(i))
    one = PairWindows(store, MelFeaturizer(), 6, 1, 2).clip(0).nbytes
    assert one > 0
    for budget, expected_loads in ((10 * one, 3), (int(1.5 * one), 6)):
        loads.clear()
        windows = PairWindows(store, MelFeaturizer(), 6, 1, 2, cache_bytes=budget)
        for index in (0, 1, 2, 0, 1, 2):
            windows.clip(index)
        assert len(loads) == expected_loads, budget  # all kept / each evicted before its reuse
        assert windows._cached_bytes == sum(c.nbytes for c in windows._cache.values())


def test_stage2_pair_cache_budget_comes_from_the_config(tmp_path, monkeypatch):
    from xdub.errors import ConfigError
    from xdub.train import stage2

    seen = {}

    class Stop(Exception):
        pass

    def spy(*args, **kwargs):
        seen["bytes"] = kwargs["cache_bytes"]
        raise Stop

    monkeypatch.setattr(stage2, "PairWindows", spy)
    store = make_pair_store(tmp_path / "pairs")
    with pytest.raises(Stop):
        stage2.train_stage2(tiny_stage2_config(store, pair_cache_gib=0.5), tmp_path / "run")
    assert seen["bytes"] == 1 << 29
    with pytest.raises(ConfigError, match="pair_cache_gib"):
        tiny_stage2_config(store, pair_cache_gib=0.0)


def test_stage2_fused_editor_from_fused_stage1(tmp_path):
    from xdub.generation import ChunkInput
    from xdub.models.fusion import SourceFusedDiT
    from xdub.train.stage2 import _initial_dit

    pairs = make_pair_store(tmp_path / "pairs")
    tiny = tiny_stage2_config(pairs).model
    stage1 = SourceFusedDiT(build_dit(replace(tiny, cond_channels=tiny.latent_channels + 1), seed=3))
    torch.nn.init.normal_(stage1.fuse.weight, std=0.01)
    stage1.save_pretrained(tmp_path / "stage1_dit")
    cfg = tiny_stage2_config(pairs, mode="lora", steps=5, source_fusion="aligned_add",
                             init_from=str(tmp_path / "stage1_dit"))
    initial = _initial_dit(cfg)
    assert isinstance(initial, SourceFusedDiT)
    assert torch.equal(initial.fuse.weight, stage1.fuse.weight)
    assert torch.equal(initial.dit.blocks[0].ffn[0].weight, stage1.dit.blocks[0].ffn[0].weight)
    editor = train_stage2(cfg, tmp_path / "run")
    assert (editor / "dit" / "fusion.safetensors").is_file()
    pipe = load_checkpoint(editor, device="cpu", dtype="float32")
    assert isinstance(pipe.generator.dit, SourceFusedDiT) and len(pipe.dubber.experts) == 3
    crops = np.zeros((6, 32, 32, 3), np.uint8)
    out = pipe.generator.generate(ChunkInput(crops, torch.zeros(6, 20, 80), crops[:1]),
                                  torch.Generator().manual_seed(0))
    assert out.shape == crops.shape


def test_stage2_lip_prior_trains_in_the_base_run_and_ships(tmp_path):
    from xdub.config.model import LipPriorConfig
    from xdub.generation import ChunkInput
    from xdub.models.fusion import load_dit

    from xdub.models.checkpoint import read_tensors
    from xdub.train.stage2 import _initial_dit

    prior = LipPriorConfig(enabled=True, audio_width=8, width=8, layers=1, pretrain_steps=3)
    cfg = tiny_stage2_config(make_pair_store(tmp_path / "pairs"), mode="lora", steps=4,
                             source_fusion="aligned_residual", lip_prior=prior)
    editor = train_stage2(cfg, tmp_path / "run")
    assert editor is not None
    pretrained = tmp_path / "run" / "lip_prior" / "final" / "lip_prior.safetensors"
    weights = read_tensors(pretrained, "prior")[0]
    assert weights["out.weight"].abs().sum() > 0  # the prior-only sub-run trained it
    start = _initial_dit(cfg, pretrained).lip_prior.state_dict()
    assert all(torch.equal(start[k], v) for k, v in weights.items())  # the editor starts there
    base = load_dit(tmp_path / "run" / "base" / "final" / "dit")
    assert base.lip_prior is not None and base.lip_prior.out.weight.abs().sum() > 0  # trained
    pipe = load_checkpoint(editor, device="cpu")
    crops = np.zeros((6, 32, 32, 3), np.uint8)
    out = pipe.generator.generate(ChunkInput(crops, torch.zeros(6, 20, 80), crops[:1]),
                                  torch.Generator().manual_seed(0))
    assert out.shape == crops.shape


def test_stage2_lip_prior_stays_as_pretrained_when_not_trained_with_the_editor(tmp_path):
    from xdub.config.model import LipPriorConfig
    from xdub.models.checkpoint import read_tensors
    from xdub.models.fusion import load_dit

    prior = LipPriorConfig(enabled=True, audio_width=8, width=8, layers=1, pretrain_steps=3,
                           train_with_editor=False)
    cfg = tiny_stage2_config(make_pair_store(tmp_path / "pairs"), mode="lora", steps=4,
                             source_fusion="aligned_residual", lip_prior=prior)
    assert train_stage2(cfg, tmp_path / "run") is not None
    pretrained = read_tensors(tmp_path / "run" / "lip_prior" / "final" / "lip_prior.safetensors",
                              "prior")[0]
    base = load_dit(tmp_path / "run" / "base" / "final" / "dit").lip_prior.state_dict()
    assert all(torch.equal(base[k], v) for k, v in pretrained.items())


def test_stage2_lip_prior_sync_run_fine_tunes_the_pretrained_prior_and_ships(tmp_path):
    import json

    from xdub.config.model import LipPriorConfig
    from xdub.models.checkpoint import read_tensors
    from xdub.models.fusion import load_dit

    # a learning rate of ~0 keeps what the sync run started from: the pretrained weights, not
    # a fresh prior (whose zero-initialised output layer would stay zero)
    prior = LipPriorConfig(enabled=True, audio_width=8, width=8, layers=1, pretrain_steps=3,
                           sync_steps=2, sync_lr=1e-12, train_with_editor=False)
    cfg = tiny_stage2_config(make_pair_store(tmp_path / "pairs"), mode="lora", steps=4,
                             source_fusion="aligned_residual", lip_prior=prior)
    assert train_stage2(cfg, tmp_path / "run") is not None
    run = tmp_path / "run"
    pretrained = read_tensors(run / "lip_prior" / "final" / "lip_prior.safetensors", "prior")[0]
    tuned = read_tensors(run / "lip_prior_sync" / "final" / "lip_prior.safetensors", "prior")[0]
    assert pretrained["out.weight"].abs().sum() > 0
    assert all(torch.allclose(tuned[k], v, atol=1e-6) for k, v in pretrained.items())
    logged = [json.loads(line) for line in
              (run / "lip_prior_sync" / "metrics.jsonl").read_text().splitlines()]
    syncs = [row["sync"] for row in logged if "sync" in row]
    assert syncs and all(np.isfinite(syncs)) and min(syncs) > 0  # -log P(sync) was trained on
    pretrain_log = (run / "lip_prior" / "metrics.jsonl").read_text()
    assert '"sync"' not in pretrain_log  # the pretraining has no sync loss
    base = load_dit(run / "base" / "final" / "dit").lip_prior.state_dict()
    assert all(torch.equal(base[k], v) for k, v in tuned.items())  # the editor got the tuned one


def test_stage2_lip_prior_pretrains_on_rejected_pairs_when_asked(tmp_path, monkeypatch):
    from xdub.config.model import LipPriorConfig
    from xdub.train import stage2

    seen = {}

    def fake_pretrain(ctx, run_dir, run, start, pairs, began, state):
        seen["pairs"] = len(pairs)
        return False  # stop the run here: only the prior's data matters

    monkeypatch.setattr(stage2, "_pretrain_prior", fake_pretrain)
    store = make_pair_store(tmp_path / "pairs", num_pairs=3, rejected=1)
    for which, expected in (("accepted", 2), ("all", 3)):
        prior = LipPriorConfig(enabled=True, audio_width=8, width=8, layers=1, pretrain_steps=3,
                               pretrain_pairs=which)
        cfg = tiny_stage2_config(store, source_fusion="aligned_residual", lip_prior=prior)
        assert stage2.train_stage2(cfg, tmp_path / which) is None
        assert seen["pairs"] == expected, which


def test_stage2_lip_prior_needs_an_aligned_fusion(tmp_path):
    from xdub.config.model import LipPriorConfig
    from xdub.errors import ConfigError

    with pytest.raises(ConfigError, match="lip_prior"):
        tiny_stage2_config(make_pair_store(tmp_path), source_fusion="in_context",
                           lip_prior=LipPriorConfig(enabled=True))


def test_stage2_lip_prior_refuses_fsdp(tmp_path, monkeypatch):
    from xdub.config.model import LipPriorConfig
    from xdub.errors import ConfigError

    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    cfg = tiny_stage2_config(make_pair_store(tmp_path / "pairs"), source_fusion="aligned_residual",
                             lip_prior=LipPriorConfig(enabled=True))
    with pytest.raises(ConfigError, match="FSDP"):
        train_stage2(cfg, tmp_path / "run")
