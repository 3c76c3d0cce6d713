"""The occluder segmenter: model, training recipe, `xdub train occluders`, and dubbing keeping the
input's pixels under what it marks (issue #12, occluders)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from xdub.cli.main import main
from xdub.config import to_dict
from xdub.config.face import AlignConfig
from xdub.config.infer import OccluderKeepConfig
from xdub.config.occluders import OccluderNetConfig, OccluderTrainConfig
from xdub.errors import ConfigError, WeightsError
from xdub.generation import protect_occluders
from xdub.models.occluder_net import OccluderNet
from xdub.train.frame_recipes import scenario_seeds
from xdub.train.occluders import batches, jitter, render_frames, segmentation_loss

SMALL = OccluderNetConfig(width=8, levels=3, groups=4)


def _cfg(**changes) -> OccluderTrainConfig:
    base = OccluderTrainConfig(model=SMALL, align=AlignConfig(crop_size=32, extent=2.0,
                                                              center_y=1.0),
                               scenarios=("occlusion", "standard"), clips=(2, 1), val_clips=1,
                               clip_seconds=1.0, size=(128, 128))
    return replace(base, loop=replace(base.loop, steps=2, batch_size=4, log_every=1), **changes)


def test_net_shapes_and_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = OccluderNet(SMALL).eval()
    crops = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    probs = net.probabilities(crops)
    assert probs.shape == (3, 32, 32) and probs.dtype == np.float32
    assert 0.0 <= probs.min() and probs.max() <= 1.0
    net.save_pretrained(tmp_path / "occ")
    again = OccluderNet.from_pretrained(tmp_path / "occ")
    np.testing.assert_array_equal(again.probabilities(crops), probs)
    with pytest.raises(ValueError, match="divisible by 4"):
        net.probabilities(crops[:, :30, :30])


def test_config_and_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        OccluderNetConfig(width=6, groups=4)
    with pytest.raises(ConfigError):
        OccluderTrainConfig(scenarios=("occlusion",), clips=(1, 2))
    with pytest.raises(ConfigError):
        OccluderKeepConfig(low=0.7, high=0.6)
    with pytest.raises(WeightsError, match="occluder net checkpoint incomplete"):
        OccluderNet.from_pretrained(tmp_path)


def test_protect_occluders_keeps_input_where_covered() -> None:
    decoded = np.full((1, 8, 8, 3), 200, np.uint8)
    original = np.full((1, 8, 8, 3), 10, np.uint8)
    covered = np.zeros((1, 8, 8), np.float32)
    covered[0, 2, 2] = 1.0  # one covered pixel, grown by 1 px
    out = protect_occluders(decoded, original, covered, OccluderKeepConfig(enabled=True, grow=1))
    for y, x in ((2, 2), (1, 2), (3, 2), (2, 1), (2, 3)):  # the pixel and its 4 neighbours
        assert out[0, y, x, 0] == 10
    assert (out[0, 5:, 5:] == 200).all()  # elsewhere the editor's pixels
    out = protect_occluders(decoded, original, covered, OccluderKeepConfig(enabled=True, grow=0))
    assert out[0, 2, 2, 0] == 10 and out[0, 2, 3, 0] == 200


def test_engine_frames_masks_and_batches() -> None:
    cfg = _cfg()
    assert scenario_seeds(cfg, 0, False) == [3_000_000, 3_000_001]
    assert scenario_seeds(cfg, 1, True) == [3_150_000]  # held out: never trained on
    frames = render_frames(cfg)
    assert frames.crops.shape == (75, 32, 32, 3) and frames.masks.shape == (75, 32, 32)
    assert frames.occluded.any() and not frames.occluded[50:].any()  # "standard": no occluders
    rng = np.random.default_rng(0)
    crop, mask = jitter(frames.crops[0], frames.masks[0], cfg, rng)
    assert crop.shape == (32, 32, 3) and mask.shape == (32, 32) and 0 <= mask.min() <= mask.max() <= 1
    first = next(batches(cfg, frames, 5))
    again = next(batches(cfg, frames, 5))  # batch i depends on i only (resume)
    assert first[0].shape == (4, 3, 32, 32) and first[1].shape == (4, 1, 32, 32)
    torch.testing.assert_close(first[0], again[0])
    loss, logs = segmentation_loss(torch.zeros(4, 1, 32, 32), first[1], 1.0)
    assert loss.item() > 0 and set(logs) == {"bce", "dice"}


def test_train_occluders_command_runs_and_resumes(tmp_path: Path) -> None:
    config = tmp_path / "occ.yaml"
    config.write_text(yaml.safe_dump(to_dict(_cfg())))
    run = tmp_path / "run"
    assert main(["train", "occluders", "--config", str(config), "--run-dir", str(run)]) == 0
    figures = json.loads((run / "final" / "metrics.json").read_text())
    assert {"iou", "recall", "precision", "false_alarm"} <= set(figures)
    OccluderNet.from_pretrained(run / "final")
    assert main(["train", "occluders", "--config", str(config), "--run-dir", str(run),
                 "--steps", "3"]) == 0
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]


def test_weights_that_do_not_fit_the_config_are_one_line_errors(tmp_path: Path) -> None:
    OccluderNet(SMALL).save_pretrained(tmp_path / "occ")
    (tmp_path / "occ" / "config.json").write_text(json.dumps(to_dict(replace(SMALL, width=16))))
    with pytest.raises(WeightsError, match="does not match the occluder net") as err:
        OccluderNet.from_pretrained(tmp_path / "occ")
    assert "\n" not in str(err.value)
