"""The stage-1 realism filter: pairs whose V' mouths a small judge spots stop being accepted."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from xdub.config.train import RealismFilterConfig
from xdub.data.manifest import PairRecord, pair_id, read_rows
from xdub.data.pairs import PairStore, checksum, merge_manifests, write_shard
from xdub.errors import ConfigError
from xdub.train.realism import MARKER, REASON, filter_by_realism, mouth_boxes

SIZE, FRAMES = 32, 8
CFG = RealismFilterConfig(enabled=True, min_score=0.3, folds=2, steps=150, side=8)


def _crops(rng: np.random.Generator, skin: np.ndarray) -> np.ndarray:
    """Skin-coloured crops with a dark mouth of random opening in the judge's box."""
    out = np.empty((FRAMES, SIZE, SIZE, 3), np.uint8)
    out[:] = skin
    for t in range(FRAMES):
        half = int(rng.integers(1, 4))
        out[t, 18 - half: 18 + half, 10:22] = (60, 20, 30)
    return out


def _store(folder: Path, fakes: set[int], num: int = 16, prior_only: set[int] = frozenset()) -> Path:
    """One shard of `num` accepted pairs: in the `fakes` ones V' has a green mouth (what a bad
    stage 1 might draw); in the others V' is real lips (indistinguishable from V)."""
    rng = np.random.default_rng(0)
    rows, arrays = [], {}
    for item in range(num):
        skin = rng.uniform(120, 200, size=3).astype(np.uint8)
        target, source = _crops(rng, skin), _crops(rng, skin)  # other lips, same face
        if item in fakes:
            source[:, 14:22, 10:22] = (40, 200, 60)
        named = {"input_crops": source, "target_crops": target,
                 "mask": np.zeros((FRAMES, SIZE, SIZE), np.uint8),
                 "audio": np.zeros(5120, np.float32), "donor_audio": np.zeros(5120, np.float32),
                 "affines": np.tile(np.eye(2, 3, dtype=np.float32), (FRAMES, 1, 1))}
        pid = pair_id(item)
        arrays[pid] = named
        reasons = ["prior_only"] if item in prior_only else []
        rows.append(PairRecord(pid, item, 0, f"src{item}", f"don{item}", "loop", {"noise": item},
                               "test", FRAMES, 25.0, SIZE, 16000, {"psnr_outside": 40.0},
                               not reasons, reasons, "shard_00000.safetensors", checksum(named)))
    folder.mkdir(parents=True, exist_ok=True)
    write_shard(folder, 0, rows, arrays)
    merge_manifests(folder, 1)
    return folder


def test_filter_rejects_the_pairs_whose_mouths_the_judge_spots(tmp_path: Path) -> None:
    fakes = {1, 4, 6, 9, 12, 15}
    folder = _store(tmp_path / "pairs", fakes)
    summary = filter_by_realism(folder, CFG, progress=False)
    assert summary is not None and summary["judges_learned"] and summary["judged"] == 16
    rows = {r.item: r for r in read_rows(folder / "shard_00000.jsonl")}
    assert {i for i, r in rows.items() if not r.accepted} == fakes
    assert all(rows[i].reasons == [REASON] for i in fakes)
    assert max(rows[i].scores[REASON] for i in fakes) < CFG.min_score
    assert min(r.scores[REASON] for i, r in rows.items() if i not in fakes) > CFG.min_score + 0.1
    # the merged manifest and the store the editor reads agree with the shard rows
    assert len(PairStore(folder)) == 16 - len(fakes) == summary["accepted"]
    assert summary["rejected_for_realism"] == len(fakes)


def test_filter_runs_once_and_is_off_by_default(tmp_path: Path) -> None:
    folder = _store(tmp_path / "pairs", {0, 3, 5, 10})
    assert filter_by_realism(folder, RealismFilterConfig(), progress=False) is None
    assert not (folder / MARKER).exists() and len(PairStore(folder)) == 16
    first = filter_by_realism(folder, CFG, progress=False)
    before = (folder / "shard_00000.jsonl").read_text()
    # a second call (a rerun, or a second process finishing at once) reads the verdict back
    assert filter_by_realism(folder, replace(CFG, min_score=0.9), progress=False) == first
    assert (folder / "shard_00000.jsonl").read_text() == before
    assert json.loads((folder / MARKER).read_text())["min_score"] == CFG.min_score


def test_self_made_pairs_are_not_judged(tmp_path: Path) -> None:
    """Prior-only pairs hold real lips and are never accepted anyway: no score, no new reason."""
    folder = _store(tmp_path / "pairs", {1, 2, 8, 9}, prior_only={12, 13, 14, 15})
    summary = filter_by_realism(folder, CFG, progress=False)
    assert summary is not None and summary["judged"] == 12
    rows = {r.item: r for r in read_rows(folder / "shard_00000.jsonl")}
    assert all(REASON not in rows[i].scores and rows[i].reasons == ["prior_only"]
               for i in (12, 13, 14, 15))


def test_mouth_box_is_cut_where_the_config_says() -> None:
    crops = np.zeros((1, 100, 100, 3), np.uint8)
    crops[0, 40:60, 40:60] = 255  # a white square centred at (50, 50), 20 px wide
    boxes = mouth_boxes(crops, (0.5, 0.5, 0.2), 10)
    assert boxes.shape == (1, 3, 10, 10) and boxes.min() == 1.0
    assert mouth_boxes(crops, (0.5, 0.8, 0.2), 10).max() == 0.0


def test_realism_config_rejects_nonsense() -> None:
    with pytest.raises(ConfigError):
        RealismFilterConfig(folds=1)
    with pytest.raises(ConfigError):
        RealismFilterConfig(min_score=1.5)
