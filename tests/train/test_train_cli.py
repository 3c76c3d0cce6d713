"""`xdub train codec` / `xdub train syncnet`: each chain step runs alone and resumes."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from xdub.cli.main import main
from xdub.config import replace, to_dict
from xdub.config.codec import CODEC_LOOP, CodecTrainConfig, TinyCodecConfig
from xdub.config.sync import SYNC_TRAIN_PRESETS


def _steps(run_dir: Path) -> list[int]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["step"] for r in rows if "loss" in r]


def _yaml(path: Path, cfg) -> Path:
    path.write_text(yaml.safe_dump(cfg if isinstance(cfg, dict) else to_dict(cfg)))
    return path


def test_train_syncnet_command_runs_alone_and_resumes(tmp_path: Path) -> None:
    test = SYNC_TRAIN_PRESETS["test"]
    cfg = replace(test, loop=replace(test.loop, steps=2, batch_size=2), pool_clips=2,
                  anchors_per_clip=1, max_shift=2, scenario="standard")
    config, run = _yaml(tmp_path / "sync.yaml", cfg), tmp_path / "run"
    assert main(["train", "syncnet", "--config", str(config), "--run-dir", str(run)]) == 0
    assert (run / "final" / "config.json").is_file()
    assert main(["train", "syncnet", "--config", str(config), "--run-dir", str(run),
                 "--steps", "3"]) == 0
    assert _steps(run) == [1, 2, 3]


def test_train_codec_command_runs_alone(tmp_path: Path) -> None:
    """One step on engine crops (resuming is tested in tests/train_codec)."""
    small = TinyCodecConfig(image_size=16, latent_channels=4, widths=(8, 16))
    model = _yaml(tmp_path / "model.yaml", {"kind": "tiny", "tiny": to_dict(small)})
    cfg = CodecTrainConfig(loop=replace(CODEC_LOOP, steps=1, batch_size=4, log_every=1),
                           eval_crops=4, pca_crops=8, stats_crops=8)
    config, run = _yaml(tmp_path / "codec.yaml", cfg), tmp_path / "run"
    args = ["train", "codec", "--config", str(config), "--model", str(model), "--run-dir", str(run)]
    assert main(args) == 0
    assert (run / "final" / "model.safetensors").is_file() and _steps(run) == [1]
    assert json.loads((run / "result.json").read_text())["eval_crops"] == 4
