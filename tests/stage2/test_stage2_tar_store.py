"""Pair stores as streaming tar shards: exported, read per pair from a path or a URL, trained on."""

from __future__ import annotations

import numpy as np
import pytest
from stage2_testkit import make_pair_store, tiny_stage2_config

from xdub.audio import MelFeaturizer
from xdub.data.pairs import PAIR_ARRAYS, PairStore, export_tar
from xdub.errors import MediaError
from xdub.train.pair_windows import PairWindows
from xdub.train.stage2 import train_stage2


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("stores")
    folder = make_pair_store(root / "folder", num_pairs=3, occluders=True)
    export_tar(folder, root / "tar")
    return folder, root / "tar"


def test_tar_store_holds_the_same_pairs(stores):
    folder, tar = stores
    assert sorted(p.name for p in tar.iterdir()) == ["manifest.jsonl", "pairs-000000.tar"]
    original = PairStore(folder)
    for copy in (PairStore(tar), PairStore(f"file://{tar}")):
        assert [r.pair_id for r in copy.rows] == [r.pair_id for r in original.rows]
        for k in range(len(original)):
            got, want = copy.load(k, verify=True), original.load(k)
            for name in PAIR_ARRAYS + ("occluders",):  # the optional array travels too
                np.testing.assert_array_equal(got[name], want[name])


def test_training_windows_are_identical_from_either_store(stores):
    folder, tar = stores
    windows = [next(PairWindows(PairStore(s), MelFeaturizer(), 6, 1, 2).batches(5, 2))
               for s in (folder, f"file://{tar}")]
    np.testing.assert_array_equal(windows[0].input_crops, windows[1].input_crops)
    np.testing.assert_array_equal(windows[0].audio, windows[1].audio)


def test_stage2_trains_from_a_store_url(stores, tmp_path):
    _, tar = stores
    editor = train_stage2(tiny_stage2_config(f"file://{tar}", mode="single", steps=1), tmp_path)
    assert editor is not None and (tmp_path / "single" / "final").is_dir()


def test_training_windows_paste_stored_occluders_over_source_and_target(stores):
    folder, _ = stores
    plain = PairWindows(PairStore(folder), MelFeaturizer(), 6, 1, 2)
    pasted = PairWindows(PairStore(folder), MelFeaturizer(), 6, 1, 2, occluder_paste=1.0,
                         occluder_paste_real=1.0)
    assert pasted.occluded == [0, 1, 2] and plain.occluded == [0, 1, 2]
    before, after = plain.sample(3), pasted.sample(3)
    changed = (after["input_crops"] != before["input_crops"]).any(-1)
    assert changed.any()
    np.testing.assert_array_equal(after["input_crops"][changed], after["target_crops"][changed])


def test_optional_arrays_stay_optional(tmp_path):
    store = PairStore(make_pair_store(tmp_path, num_pairs=1))
    assert set(store.load(0, verify=True)) == set(PAIR_ARRAYS)


def test_missing_tar_store_is_a_media_error(tmp_path):
    with pytest.raises(MediaError):
        PairStore(tmp_path)
    with pytest.raises(MediaError):
        PairStore(f"file://{tmp_path}/nowhere")


def test_scaling_doc_example_runs(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "scaling.md").read_text()
    block = re.search(r"```python\n(.*?)```", doc, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    make_pair_store(tmp_path / "runs" / "chain" / "pairs", num_pairs=2)
    scope: dict = {}
    exec(block, scope)  # noqa: S102 (the documented example, as a user would run it)
    assert len(scope["store"]) == 2


def test_adopted_shards_join_the_store_and_adopting_again_changes_nothing(tmp_path):
    from xdub.data.pairs import adopt_shards, merge_manifests

    main = make_pair_store(tmp_path / "pairs", num_pairs=2, seed=0)
    extra = make_pair_store(tmp_path / "pairs" / "extra_0", num_pairs=3, seed=1, rejected=1)
    assert adopt_shards(main, extra, first=1) == 1
    assert adopt_shards(main, extra, first=1) == 1  # a rerun (resumed chain) keeps it
    assert merge_manifests(main, 2) is not None
    store, alone = PairStore(main, accepted_only=False), PairStore(extra, accepted_only=False)
    assert [r.shard for r in store.all_rows] == [0, 0, 1, 1, 1]
    assert len(PairStore(main)) == 4  # accepted: 2 + 2
    for row, original in zip(store.all_rows[2:], alone.all_rows):
        assert row.pair_id == original.pair_id and row.accepted == original.accepted
        if original.file is not None:
            ours, theirs = store.load_row(row), alone.load_row(original)
            assert all(np.array_equal(ours[k], theirs[k]) for k in PAIR_ARRAYS)
