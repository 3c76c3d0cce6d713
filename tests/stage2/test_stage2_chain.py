"""The training chain: step order, skipping finished steps, resuming after an incomplete one."""

from __future__ import annotations

import json
from pathlib import Path

from xdub.config import load, replace
from xdub.config.chain import CHAIN_STEPS, ChainConfig
from xdub.config.stage2 import Stage2Config, load_stage2
from xdub.train.chain import run_chain, step_done
from xdub.train.chain_steps import ChainContext

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"


def _fake_steps(calls: list[str], fail_once: set[str]):
    def make(name: str):
        def step(ctx: ChainContext) -> bool:
            calls.append(name)
            (ctx.out / name).mkdir(parents=True, exist_ok=True)
            if name in fail_once:
                fail_once.discard(name)
                return False  # e.g. a time budget ran out
            return True

        return step

    return {name: make(name) for name in CHAIN_STEPS}


def test_stage2_chain_skips_finished_steps_and_resumes(tmp_path):
    calls: list[str] = []
    steps = _fake_steps(calls, {"stage1"})
    status = run_chain(ChainConfig(), tmp_path, tmp_path / "out", steps)
    assert calls == ["codec", "scorer", "occluders", "landmarks", "stage1"]
    assert status["stage1"] == "incomplete"
    assert step_done(tmp_path / "out", "scorer") and not step_done(tmp_path / "out", "stage1")
    calls.clear()
    status = run_chain(ChainConfig(), tmp_path, tmp_path / "out", steps)
    assert calls == ["stage1", "phases", "robust_decoder", "pairs", "stage2", "export"]
    assert status["codec"] == "skipped" and status["export"] == "done"
    calls.clear()
    run_chain(ChainConfig(), tmp_path, tmp_path / "out", steps)
    assert calls == []  # everything finished: nothing reruns
    times = json.loads((tmp_path / "out" / "chain_times.json").read_text())
    assert set(times) == set(CHAIN_STEPS)


def test_stage2_chain_stop_after(tmp_path):
    calls: list[str] = []
    run_chain(ChainConfig(stop_after="scorer"), tmp_path, tmp_path / "out",
              _fake_steps(calls, set()))
    assert calls == ["codec", "scorer"]


def test_stage2_chain_occluder_step_needs_the_editor_crop(tmp_path):
    """No occluder recipe: nothing to do; one cropping faces unlike the editor: refused."""
    import pytest

    from xdub.config.occluders import OccluderTrainConfig
    from xdub.config import save
    from xdub.errors import ConfigError
    from xdub.train.chain_steps import run_occluders

    chain_file = CONFIGS / "chain_tiny.yaml"
    shipped = load(ChainConfig, chain_file)
    assert shipped.occluders_train  # the shipped chain trains one
    none = ChainContext(replace(shipped, occluders_train=""), chain_file.parent, tmp_path)
    assert run_occluders(none) and not (tmp_path / "occluders").exists()
    recipe = load(OccluderTrainConfig, CONFIGS.parent / "occluders" / "train_tiny.yaml")
    assert recipe.align == ChainContext(shipped, chain_file.parent, tmp_path).stage2_config(
    ).face.align
    save(replace(recipe, align=replace(recipe.align, extent=3.6)), tmp_path / "bad.yaml")
    bad = ChainContext(replace(shipped, occluders_train=str(tmp_path / "bad.yaml")),
                       chain_file.parent, tmp_path)
    with pytest.raises(ConfigError, match="crops faces differently"):
        run_occluders(bad)


def test_stage2_chain_wires_outputs_into_stage2(tmp_path):
    chain_file = CONFIGS / "chain_tiny.yaml"
    shipped = load(ChainConfig, chain_file)
    cfg = replace(shipped, measure_phases=True)
    ctx = ChainContext(cfg, chain_file.parent, tmp_path)
    phases = tmp_path / "phases"
    phases.mkdir()
    (phases / "phases.json").write_text(json.dumps({"lip_texture_sigma": 0.31,
                                                    "structure_lip_sigma": 0.77, "used": True}))
    s2 = ctx.stage2_config()
    assert isinstance(s2, Stage2Config)
    assert s2.pairs == str(tmp_path / "pairs") and s2.init_from.endswith("inpainter/dit")
    assert s2.codec_weights == str(tmp_path / "codec" / "final")
    assert (s2.diffusion.lip_texture_sigma, s2.diffusion.structure_lip_sigma) == (0.31, 0.77)
    (phases / "phases.json").write_text(json.dumps({"lip_texture_sigma": 0.05,
                                                    "structure_lip_sigma": 0.95, "used": False}))
    s2 = ctx.stage2_config()  # an uninformative measurement keeps the configured boundaries
    configured = load_stage2(CONFIGS / shipped.stage2).diffusion
    assert s2.diffusion.structure_lip_sigma == configured.structure_lip_sigma
    (phases / "phases.json").write_text(json.dumps({"lip_texture_sigma": 0.31,
                                                    "structure_lip_sigma": 0.77, "used": True}))
    s2 = ChainContext(shipped, chain_file.parent, tmp_path).stage2_config()
    assert s2.diffusion.lip_texture_sigma == configured.lip_texture_sigma  # not measured


def test_stage2_chain_training_record_names_the_occluder_recipe(tmp_path):
    from xdub.train.chain_steps import training_record

    chain_file = CONFIGS / "chain_tiny.yaml"
    ctx = ChainContext(load(ChainConfig, chain_file), chain_file.parent, tmp_path)
    (tmp_path / "occluders" / "final").mkdir(parents=True)
    (tmp_path / "occluders" / "final" / "metrics.json").write_text('{"iou": 0.9}')
    record = training_record(ctx)
    assert record["occluders"]["scenarios"] == ["occlusion", "mixed", "nonhuman"]
    assert record["occluders_held_out"] == {"iou": 0.9}


def test_stage2_chain_robust_decoder_step_fine_tunes_the_chain_codec(tmp_path, monkeypatch):
    """No recipe: nothing to do; a recipe that would retrain the encoder: refused; else the
    chain's own codec is what the decoder-only fine-tune starts from."""
    import pytest

    from xdub.config import save
    from xdub.config.codec import CodecTrainConfig
    from xdub.errors import ConfigError
    from xdub.train import codec as codec_training
    from xdub.train.chain_steps import run_robust_decoder

    chain_file = CONFIGS / "chain_tiny.yaml"
    shipped = load(ChainConfig, chain_file)
    none = ChainContext(replace(shipped, robust_decoder_train=""), chain_file.parent, tmp_path)
    assert run_robust_decoder(none) and not (tmp_path / "robust_decoder").exists()
    recipe_file = CONFIGS.parent / "codec" / "train_tiny_robust.yaml"
    recipe = load(CodecTrainConfig, recipe_file)
    assert recipe.decoder_only
    save(replace(recipe, decoder_only=False), tmp_path / "full.yaml")
    full = ChainContext(replace(shipped, robust_decoder_train=str(tmp_path / "full.yaml")),
                        chain_file.parent, tmp_path)
    with pytest.raises(ConfigError, match="decoder_only"):
        run_robust_decoder(full)
    seen = {}

    def fake_training(run_dir, out_dir, model, train):
        seen.update(run_dir=run_dir, init_from=train.init_from, noise=train.decoder_noise)
        out_dir.mkdir(parents=True)
        (out_dir / "config.json").write_text("{}")
        return 30.0

    monkeypatch.setattr(codec_training, "train_tiny_codec_on_synth", fake_training)
    ctx = ChainContext(replace(shipped, robust_decoder_train=str(recipe_file)), chain_file.parent,
                       tmp_path)
    assert run_robust_decoder(ctx)
    assert seen == {"run_dir": tmp_path / "robust_decoder", "init_from": str(ctx.codec_dir),
                    "noise": recipe.decoder_noise}
