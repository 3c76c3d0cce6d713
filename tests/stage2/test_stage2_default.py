"""The embedded default: export layout, manifest schema, and (once shipped) that it loads."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from importlib import resources
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from stage2_testkit import make_pair_store, tiny_stage2_config

from xdub.config import load
from xdub.config.stage2 import Stage2Config, load_stage2
from xdub.config.sync import SCORER_PRESETS
from xdub.config.train import Stage1Config
from xdub.errors import ConfigError, OutputError, WeightsError
from xdub.models.syncnet import SyncScorer
from xdub.pipeline.loading import load_checkpoint
from xdub.train.export_default import (
    MANIFEST_NAME,
    check_manifest,
    export_default,
    read_manifest,
    refresh_manifest,
    update_metrics,
)
from xdub.train.stage2 import train_stage2

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"


def test_stage2_configs_build_on_stage1(tmp_path):
    shared = {f.name for f in dataclasses.fields(Stage1Config)} & {
        f.name for f in dataclasses.fields(Stage2Config)}
    assert {"model", "codec", "audio", "face", "diffusion", "data", "loop"} <= shared
    for preset in ("tiny", "small", "wan5b"):
        cfg = load_stage2(CONFIGS / f"stage2_{preset}.yaml")
        stage1 = load(Stage1Config, CONFIGS / f"stage1_{preset}.yaml")
        assert cfg.model.cond_channels in (None, cfg.model.latent_channels)
        assert cfg.audio == stage1.audio  # inherited, not copied
        # the crops are stage 1's (same detector, tracker, alignment); only the exported
        # dubber's paste-back (blend region, mouth mask growth) may differ
        assert (cfg.face.detect, cfg.face.track, cfg.face.align) == (
            stage1.face.detect, stage1.face.track, stage1.face.align)
    (tmp_path / "bad.yaml").write_text(f"base: {CONFIGS / 'stage2_tiny.yaml'}\nnot_a_key: 1\n")
    with pytest.raises(ConfigError):
        load_stage2(tmp_path / "bad.yaml")


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("default")
    cfg = tiny_stage2_config(make_pair_store(root / "pairs"), mode="lora", steps=5)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        editor = train_stage2(cfg, root / "run")
    finally:
        torch.set_num_threads(before)
    torch.manual_seed(0)
    SyncScorer(SCORER_PRESETS["test"]).save_pretrained(root / "scorer")
    return export_default(editor, root / "scorer", root / "default",
                          training={"data_seeds": {"pairs": [0, 2]}})


def test_stage2_default_manifest_schema(exported, tmp_path):
    exported = Path(shutil.copytree(exported, tmp_path / "copy"))  # this test corrupts it
    assert check_manifest(exported) == []
    manifest = read_manifest(exported)
    assert manifest["dubber"]["experts"] == [["structure", "structure.safetensors"],
                                             ["lip", "lip.safetensors"],
                                             ["texture", "texture.safetensors"]]
    assert manifest["total_bytes"] == sum(e["bytes"] for e in manifest["files"].values())
    update_metrics(exported, {"psnr_mouth": 30.0})
    assert read_manifest(exported)["metrics"]["psnr_mouth"] == 30.0
    assert check_manifest(exported) == []  # metrics do not touch the hashed files
    dubber = json.loads((exported / "dubber.json").read_text())
    dubber["face"]["align"]["beta"] = 8.0  # a dubbing setting changed after export
    (exported / "dubber.json").write_text(json.dumps(dubber))
    assert any("dubber.json" in p for p in check_manifest(exported))
    refresh_manifest(exported)
    assert check_manifest(exported) == []
    assert read_manifest(exported)["dubber"]["face"]["align"]["beta"] == 8.0
    (exported / "codec" / "config.json").write_text("{}")
    assert any("codec/config.json" in p for p in check_manifest(exported))


def test_refresh_manifest_keeps_the_size_budget(exported, tmp_path, monkeypatch):
    folder = tmp_path / "copy"
    shutil.copytree(exported, folder)
    before = (folder / "manifest.json").read_text()
    monkeypatch.setattr("xdub.train.export_default.MAX_BYTES", 1000)
    with pytest.raises(OutputError, match="40 MB budget"):
        refresh_manifest(folder)
    assert (folder / "manifest.json").read_text() == before  # nothing half-written


def test_stage2_default_loads_as_a_pipeline(exported):
    pipe = load_checkpoint(exported, device="cpu")
    assert pipe.dubber.experts and SyncScorer.from_pretrained(exported / "syncnet")


def _shipped() -> Path | None:
    folder = Path(str(resources.files("xdub") / "assets" / "default"))
    return folder if (folder / MANIFEST_NAME).is_file() else None


@pytest.mark.skipif(_shipped() is None, reason="no embedded default in this checkout yet")
def test_stage2_shipped_default_is_valid_and_loads():
    folder = _shipped()
    assert check_manifest(folder) == []
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    assert manifest["total_bytes"] <= 40 * 2**20
    pipe = load_checkpoint(folder, device="cpu")
    assert pipe.dubber.crop_size == manifest["dubber"]["face"]["align"]["crop_size"]


def test_stage2_default_exports_an_occluder_net_enabled(exported, tmp_path):
    from xdub.config.occluders import OccluderNetConfig
    from xdub.models.occluder_net import OccluderNet

    OccluderNet(OccluderNetConfig(width=8, levels=3, groups=4)).save_pretrained(tmp_path / "occ")
    editor = Path(shutil.copytree(exported, tmp_path / "editor",
                                  ignore=shutil.ignore_patterns("syncnet", "manifest.json")))
    folder = export_default(editor, exported / "syncnet", tmp_path / "default", training={},
                            occluder_dir=tmp_path / "occ")
    assert check_manifest(folder) == []
    assert read_manifest(folder)["dubber"]["occluders"]["enabled"] is True
    assert "occluders/model.safetensors" in read_manifest(folder)["files"]
    pipe = load_checkpoint(folder, device="cpu")
    assert isinstance(pipe.generator.occluder_net, OccluderNet)
    with pytest.raises(WeightsError, match="missing"):
        export_default(editor, exported / "syncnet", tmp_path / "again", training={},
                       occluder_dir=tmp_path / "nothing")


def test_stage2_default_exports_a_landmark_refiner_enabled(exported, tmp_path):
    from xdub.config import to_dict
    from xdub.config.face import AlignConfig
    from xdub.config.landmarks import LandmarkNetConfig, LandmarkRefineConfig
    from xdub.models.landmark_net import LandmarkNet

    crop = AlignConfig(crop_size=32, extent=3.2, center_y=0.6, smooth=False)
    LandmarkNet(LandmarkNetConfig(crop=crop, width=8, levels=3, hidden=16)).save_pretrained(
        tmp_path / "lm")
    editor = Path(shutil.copytree(exported, tmp_path / "editor",
                                  ignore=shutil.ignore_patterns("syncnet", "manifest.json")))
    folder = export_default(editor, exported / "syncnet", tmp_path / "default", training={},
                            landmark_dir=tmp_path / "lm",
                            landmark_refine=LandmarkRefineConfig(passes=3))
    assert check_manifest(folder) == []
    assert read_manifest(folder)["dubber"]["landmarks"] == to_dict(
        LandmarkRefineConfig(enabled=True, passes=3))
    assert "landmarks/model.safetensors" in read_manifest(folder)["files"]
    assert isinstance(load_checkpoint(folder, device="cpu").landmark_net, LandmarkNet)
    with pytest.raises(WeightsError, match="missing"):
        export_default(editor, exported / "syncnet", tmp_path / "again", training={},
                       landmark_dir=tmp_path / "nothing")


def test_stage2_default_exports_a_decoder_only_fine_tune_of_its_codec(exported, tmp_path):
    """`decoder_dir` ships another decoder for the same latents (the robust decoder); a codec
    with another encoder is refused."""
    from xdub.models.codec import TinyVideoCodec

    editor = Path(shutil.copytree(exported, tmp_path / "editor",
                                  ignore=shutil.ignore_patterns("syncnet", "manifest.json")))
    own = TinyVideoCodec.from_pretrained(editor / "codec")
    tuned = TinyVideoCodec.from_pretrained(editor / "codec")
    with torch.no_grad():
        for param in tuned.decoder.parameters():
            param.add_(0.01)
    tuned.save_pretrained(tmp_path / "tuned")
    folder = export_default(editor, exported / "syncnet", tmp_path / "default", training={},
                            decoder_dir=tmp_path / "tuned")
    assert check_manifest(folder) == []
    shipped = TinyVideoCodec.from_pretrained(folder / "codec")
    assert shipped.encodes_like(own) and torch.equal(next(shipped.decoder.parameters()),
                                                     next(tuned.decoder.parameters()))
    load_checkpoint(folder, device="cpu")
    with torch.no_grad():
        next(tuned.encoder.parameters()).add_(0.01)
    tuned.save_pretrained(tmp_path / "other")
    with pytest.raises(WeightsError, match="not a decoder-only fine-tune"):
        export_default(editor, exported / "syncnet", tmp_path / "again", training={},
                       decoder_dir=tmp_path / "other")
    assert not (tmp_path / "again").exists()


def test_stage2_recipe_writes_its_dubbing_settings_and_the_shipped_default_has_them():
    """The prior's dubbing settings (gate power, chunk trim) go from the stage-2 recipe into the
    exported dubber.json; the shipped default was made with the recipe's."""
    from xdub.generation.folder import read_dubber_config
    from xdub.pipeline.loading import default_checkpoint
    from xdub.train.editor import dubber_config

    recipe = load_stage2(CONFIGS / "stage2_tiny_prior.yaml")
    spec = dubber_config(recipe, {}, "x")
    assert (spec.prior_gate_power, spec.prior_chunk_trim) == (0.1, 0.25)
    shipped = read_dubber_config(default_checkpoint())
    assert (shipped.prior_gate_power, shipped.prior_chunk_trim) == (
        recipe.prior_gate_power, recipe.prior_chunk_trim)
    assert shipped.face.align == spec.face.align  # the dubbing crop's smoothing too
    assert shipped.diffusion == spec.diffusion  # and the sampling (denoise strength, steps)


def test_stage2_ablation_configs_change_only_what_they_ablate():
    # design 3.1 session 20: each ablation row differs from the shipped recipe in one thing
    recipe = load_stage2(CONFIGS / "stage2_tiny_prior.yaml")
    single = load_stage2(CONFIGS / "stage2_tiny_prior_single.yaml")
    nosync = load_stage2(CONFIGS / "stage2_tiny_prior_nosync.yaml")
    assert recipe.phases.mode != "single" and recipe.objectives.sync_weight > 0
    assert single == dataclasses.replace(
        recipe, phases=dataclasses.replace(recipe.phases, mode="single"))
    assert nosync == dataclasses.replace(
        recipe, objectives=dataclasses.replace(recipe.objectives, sync_weight=0.0))
