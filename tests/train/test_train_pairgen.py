"""Pseudo-pair generation: records, filters, the pair store, and resume after a killed run."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from xdub.audio import MelFeaturizer
from xdub.config import replace as cfg_replace
from xdub.config.codec import TinyCodecConfig
from xdub.config.face import AlignConfig, FaceConfig
from xdub.config.model import MODEL_PRESETS
from xdub.config.sync import SCORER_PRESETS
from xdub.config.train import FilterConfig, InpainterSpec, PairGenConfig, SynthSourceConfig
from xdub.data.manifest import read_rows, summarize
from xdub.data.pairs import PairDataset, PairStore
from xdub.data.sources import SynthClipSource
from xdub.models import build_dit
from xdub.models.codec import TinyVideoCodec
from xdub.models.syncnet import SyncScorer
from xdub.train.inpaint import Inpainter, load_inpainter
from xdub.train.pairgen import (
    PairGenerator,
    SyncJudge,
    compose_input,
    failed_filters,
    generate_pairs,
    known_occluders,
    match_length,
    pick_donor,
)

SOURCE = SynthSourceConfig(scenario="standard", size=(64, 64), clip_seconds=0.4, num_clips=6)
NO_FILTER = FilterConfig(min_psnr_outside=-1.0, max_temporal_jump=1e9, use_sync=False)


@pytest.fixture(scope="module")
def inpainter_dir(tmp_path_factory) -> Path:
    """A random micro inpainter folder (micro DiT + micro codec), as stage 1 writes it."""
    torch.manual_seed(0)
    codec = TinyVideoCodec(TinyCodecConfig(image_size=32, widths=(8, 16), latent_channels=4))
    model = cfg_replace(MODEL_PRESETS["tiny"], latent_channels=4, cond_channels=5, dim=24,
                        num_layers=1, num_heads=2, ffn_dim=48, freq_dim=16, audio_dim=80,
                        audio_proj_dim=16, audio_proj_heads=2, patch_size=(1, 4, 4))
    spec = InpainterSpec(face=FaceConfig(align=AlignConfig(crop_size=32)), window_frames=5,
                         ref_frames=1, ref_min_gap=2, motion_frames=1)
    folder = tmp_path_factory.mktemp("inpainter")
    Inpainter(build_dit(model, seed=0).eval(), codec.eval(), MelFeaturizer(), spec, "").save(folder)
    return folder


@pytest.fixture
def single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # same numerics as the CLI subprocess (OMP_NUM_THREADS=1)
    yield
    torch.set_num_threads(before)


def _generator(folder: Path, filters: FilterConfig = NO_FILTER, judge=None) -> PairGenerator:
    cfg = PairGenConfig(steps=1, shard_size=2, filters=filters)
    return PairGenerator(SynthClipSource(SOURCE), load_inpainter(folder), judge, cfg)


def test_donor_choice_and_length_rule():
    donors = [pick_donor(i, 6, seed=0) for i in range(6)]
    assert all(d != i for i, d in enumerate(donors)) and donors == [pick_donor(i, 6, 0) for i in range(6)]
    short = np.arange(3, dtype=np.float32)
    np.testing.assert_array_equal(match_length(short, 7), [0, 1, 2, 0, 1, 2, 0])
    np.testing.assert_array_equal(match_length(np.arange(10.0), 4), [0, 1, 2, 3])
    with pytest.raises(ValueError):
        pick_donor(0, 1, 0)


def test_filter_thresholds_applied():
    cfg = FilterConfig(min_donor_sync=0.6, max_source_sync=0.4, min_sync_margin=0.1,
                       min_psnr_outside=30.0, max_temporal_jump=5.0)
    good = {"donor_sync": 0.8, "source_sync": 0.2, "psnr_outside": 35.0, "temporal_jump": 1.0}
    assert failed_filters(good, cfg) == []
    assert failed_filters({**good, "donor_sync": 0.5}, cfg) == ["donor_sync"]
    assert failed_filters({**good, "donor_sync": 0.25}, cfg) == ["donor_sync", "sync_margin"]
    assert failed_filters({**good, "source_sync": 0.45}, cfg) == ["source_sync"]
    assert failed_filters({**good, "psnr_outside": 29.9}, cfg) == ["psnr_outside"]
    assert failed_filters({**good, "temporal_jump": 6.0}, cfg) == ["temporal_jump"]
    assert failed_filters({**good, "donor_sync": math.nan}, cfg) == ["donor_sync", "sync_margin"]
    assert failed_filters({**good, "donor_sync": 0.0}, replace(cfg, use_sync=False)) == []


def test_pair_records_and_store_integrity(inpainter_dir, tmp_path, single_thread):
    torch.manual_seed(0)
    judge = SyncJudge(SyncScorer(SCORER_PRESETS["test"]))
    gen = _generator(inpainter_dir, replace(NO_FILTER, use_sync=True, min_donor_sync=0.0,
                                            max_source_sync=1.0, min_sync_margin=-1.0), judge)
    gen.source = SynthClipSource(SOURCE, seeds=[0, 1, 2])
    summary = generate_pairs(gen, tmp_path, progress=False)
    assert summary["pairs"] == 3 and summary["manifest"] is not None
    store = PairStore(tmp_path)
    assert len(store) == 3 and len({r.pair_id for r in store.rows}) == 3
    for k, row in enumerate(store.rows):
        arrays = store.load(k, verify=True)  # checksum recorded in the manifest
        t, s = row.num_frames, row.crop_size
        assert arrays["input_crops"].shape == arrays["target_crops"].shape == (t, s, s, 3)
        assert arrays["mask"].shape == (t, s, s) and arrays["affines"].shape == (t, 2, 3)
        n = round(t / row.fps * row.sample_rate)
        assert arrays["audio"].shape == arrays["donor_audio"].shape == (n,)
        outside = arrays["mask"] == 0  # the pair differs only inside the mask
        np.testing.assert_array_equal(arrays["input_crops"][outside], arrays["target_crops"][outside])
        assert row.source_clip != row.donor_clip and row.model_version == gen.inpainter.version
        assert set(row.scores) >= {"donor_sync", "source_sync", "psnr_outside", "temporal_jump"}
        assert 0.0 <= row.scores["donor_sync"] <= 1.0
    item = PairDataset(store)[0]
    assert item["input_crops"].dtype == torch.uint8 and item["record"].pair_id == "p00000000"


def test_mouth_composite_differs_only_in_the_clip_mouth_region(inpainter_dir, single_thread):
    gen = _generator(inpainter_dir)
    gen.cfg = replace(gen.cfg, composite="mouth")
    _, arrays = gen.make_pair(0, shard=0)
    mask = arrays["mask"]
    assert (mask == mask[:1]).all()  # one region for the whole clip: no per-frame lip contour
    lower = gen.prepare(gen.source.load(0)).crops.masks
    assert 0 < (mask > 0).sum() < 0.6 * (lower > 0.02).sum()  # well inside the inpainting mask
    outside = mask == 0
    np.testing.assert_array_equal(arrays["input_crops"][outside], arrays["target_crops"][outside])
    assert not np.array_equal(arrays["input_crops"], arrays["target_crops"])


def test_rejected_pairs_are_recorded_not_stored(inpainter_dir, tmp_path, single_thread):
    gen = _generator(inpainter_dir, replace(NO_FILTER, min_psnr_outside=1e6))
    gen.source = SynthClipSource(SOURCE, seeds=[3, 4])
    summary = generate_pairs(gen, tmp_path, progress=False)
    assert summary["accepted"] == 0 and summary["rejected_by"] == {"psnr_outside": 2}
    rows = read_rows(tmp_path / "manifest.jsonl")
    assert all(not r.accepted and r.file is None and r.reasons == ["psnr_outside"] for r in rows)
    assert summarize(rows)["acceptance_rate"] == 0.0


MAKE_PAIRS = ["make-pairs", "--seeds", "0:6", "--scenario", "standard", "--size", "64",
              "--clip-seconds", "0.4", "--scorer", "none", "--shard-size", "2", "--steps", "1"]


@pytest.fixture(scope="module")
def straight(inpainter_dir, tmp_path_factory) -> Path:
    """An uninterrupted single-process pair run over 6 clips (3 shards of 2)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("straight")
    generate_pairs(_generator(inpainter_dir), out, progress=False)
    torch.set_num_threads(before)
    return out


def _cli(inpainter_dir: Path, out: Path, tmp_path: Path) -> list[str]:
    config = tmp_path / "pairs.yaml"
    config.write_text("filters:\n  min_psnr_outside: -1.0\n  max_temporal_jump: 1.0e+9\n"
                      "  use_sync: false\n")
    return [*MAKE_PAIRS[:1], str(inpainter_dir), "--out", str(out), "--config", str(config),
            *MAKE_PAIRS[1:]]


def _assert_identical_stores(folder: Path, reference: Path) -> None:
    """Same files, byte for byte, one row per clip and no temp file left."""
    names = sorted(p.name for p in reference.iterdir())
    assert sorted(p.name for p in folder.iterdir()) == names  # (no .partial files either)
    for name in names:
        assert (folder / name).read_bytes() == (reference / name).read_bytes(), name
    items = [row.item for row in read_rows(folder / "manifest.jsonl")]
    assert items == list(range(6))


def test_two_processes_make_every_pair_exactly_once(inpainter_dir, straight, tmp_path):
    import json

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scale"))
    from launch_testkit import ok, torchrun

    out = tmp_path / "two"
    result = ok(torchrun(["--tee", "1", "-m", "xdub.cli.main",
                          *_cli(inpainter_dir, out, tmp_path)]))
    summaries = {}
    for rank in (0, 1):  # torchrun prefixes each rank's stdout lines with "[default<rank>]:"
        tag = f"[default{rank}]:"
        text = "\n".join(line.split(":", 1)[1] for line in result.stdout.splitlines()
                         if line.startswith(tag))
        summaries[rank] = json.loads(text[text.index("{"):])
    assert {s["worker"] for s in summaries.values()} == {"0/2", "1/2"}
    assert summaries[0]["shards_done"] == [0, 2] and summaries[1]["shards_done"] == [1]
    assert summaries[0]["pairs"] + summaries[1]["pairs"] == 6
    _assert_identical_stores(out, straight)


def test_rerun_after_sigkill_mid_shard_gives_one_identical_copy(inpainter_dir, straight,
                                                               tmp_path):
    broken = tmp_path / "broken"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "xdub.cli.main",
                             *_cli(inpainter_dir, broken, tmp_path)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (broken / "shard_00000.jsonl").exists():
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "first shard never finished"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # dies while shard 1 is in progress
    proc.wait()
    assert not (broken / "manifest.jsonl").exists()
    first_shard = (broken / "shard_00000.jsonl").stat().st_mtime_ns
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    summary = generate_pairs(_generator(inpainter_dir), broken, progress=False)
    torch.set_num_threads(before)
    assert summary["skipped_shards"] >= 1 and 0 not in summary["shards_done"]
    assert (broken / "shard_00000.jsonl").stat().st_mtime_ns == first_shard  # not redone
    _assert_identical_stores(broken, straight)


class _HandOverMouth(SynthClipSource):
    """Synthetic clips with a known occluder over the whole lower half of every frame."""

    def load(self, index):
        record = super().load(index)
        hand = np.zeros(record.frames.shape[:3], bool)
        hand[:, record.frames.shape[1] // 2:] = True
        return replace(record, occluders=hand)


def test_pairs_keep_known_occluders_from_v(inpainter_dir, single_thread):
    """The inpainter would redraw a hand as skin and lips; V' keeps V's pixels under it."""
    gen = _generator(inpainter_dir)
    gen.source = _HandOverMouth(SOURCE)
    assert SynthClipSource(SOURCE).load(0).occluders is not None  # engine truth is passed on
    row, kept = gen.make_pair(0, shard=0)
    gen.cfg = replace(gen.cfg, keep_occluders=False)
    _, redrawn = gen.make_pair(0, shard=0)
    from xdub.train.pairgen import occluders_in_crops

    hand = _HandOverMouth(SOURCE).load(0).occluders
    under = occluders_in_crops(hand, kept["affines"], kept["mask"].shape[1]) == 1.0
    inpainted = redrawn["mask"] > 0
    assert (under & inpainted).sum() > 50  # the "hand" covers part of the inpainted face
    np.testing.assert_array_equal(kept["input_crops"][under], kept["target_crops"][under])
    assert (kept["mask"][under] == 0).all()
    assert (kept["occluders"][under] == 255).all()  # stored for stage-2 occluder pastes
    region = redrawn["mask"].astype(np.float32) / 255.0  # the composite region, occluders in
    occ = kept["occluders"].astype(np.float32) / 255.0
    assert abs(row.scores["occluder_cover"] - (occ * region).sum() / region.sum()) < 0.01
    assert not np.array_equal(redrawn["input_crops"][under & inpainted],
                              redrawn["target_crops"][under & inpainted])


def test_pair_references_avoid_frames_with_known_occluders(inpainter_dir, single_thread,
                                                          monkeypatch):
    """A reference passes its hand on (a lip prior's guess starts from it): pair generation
    marks the frames whose occluders cover the inpainting mask for the reference choice."""
    import xdub.train.pairgen as pairgen

    seen = []
    real = pairgen.inpaint_clip

    def spy(*args, ref_avoid=None, **kwargs):
        seen.append(ref_avoid)
        return real(*args, ref_avoid=ref_avoid, **kwargs)

    monkeypatch.setattr(pairgen, "inpaint_clip", spy)

    class _HandInSomeFrames(SynthClipSource):
        def load(self, index):
            record = super().load(index)
            hand = np.zeros(record.frames.shape[:3], bool)
            hand[::2, record.frames.shape[1] // 2:] = True  # even frames only
            return replace(record, occluders=hand)

    gen = _generator(inpainter_dir)
    gen.source = _HandInSomeFrames(SOURCE)
    gen.make_pair(0, shard=0)
    avoid = seen[-1]
    assert avoid[::2].all() and not avoid[1::2].any()
    gen.source = SynthClipSource(replace(SOURCE, scenario="standard"))
    gen.make_pair(0, shard=0)
    assert not seen[-1].any()  # known occluders, none over the face: nothing to avoid
    assert pairgen.occluded_frames(np.zeros((2, 4, 4)), np.ones((2, 4, 4))).tolist() == [False,
                                                                                         False]


def test_shuffle_pairs_take_the_clip_s_own_mouth_and_are_for_the_prior_only(inpainter_dir,
                                                                           single_thread):
    """No stage 1: V' is V with its own composite region from `shift` frames away (real lips,
    other speech), the crop path is the stage-1 pairs', and the row is never accepted (the
    editor reads accepted pairs only; the lip prior reads all)."""
    from xdub.train.pairgen import PRIOR_ONLY, ShufflePairGenerator

    stage1 = _generator(inpainter_dir)
    gen = ShufflePairGenerator(stage1.source, stage1.inpainter, None, stage1.cfg)
    row, arrays = gen.make_pair(1, shard=0)
    assert not row.accepted and row.reasons == [PRIOR_ONLY] and row.file is not None
    _, made = stage1.make_pair(1, shard=0)
    np.testing.assert_array_equal(arrays["target_crops"], made["target_crops"])  # same crops
    np.testing.assert_array_equal(arrays["mask"], made["mask"])
    shift = int(row.scores["shift"])
    total = len(arrays["target_crops"])
    assert total // 4 <= shift <= total - total // 4
    region = arrays["mask"] > 0
    shifted = np.roll(arrays["target_crops"], shift, axis=0)
    full = arrays["mask"] == 255
    np.testing.assert_array_equal(arrays["input_crops"][full], shifted[full])
    np.testing.assert_array_equal(arrays["input_crops"][~region], arrays["target_crops"][~region])
    assert not np.array_equal(arrays["input_crops"], arrays["target_crops"])
    np.testing.assert_array_equal(arrays["audio"], made["audio"])  # the clip's own speech


def test_chain_pair_sources_kinds():
    from xdub.config.chain import ChainConfig, PairSourceConfig
    from xdub.errors import ConfigError

    ChainConfig(extra_pair_sources=(PairSourceConfig(kind="shuffle"),))
    with pytest.raises(ConfigError, match="kind must be stage1"):
        ChainConfig(pair_source=PairSourceConfig(kind="shuffle"))
    with pytest.raises(ConfigError, match="kind must be one of"):
        PairSourceConfig(kind="oracle")


def test_make_pairs_cli_makes_shuffle_pairs_for_the_prior(inpainter_dir, tmp_path, capsys,
                                                          single_thread):
    """`--kind shuffle`: every clip gives a stored prior-only pair; another kind is a usage error."""
    from xdub.cli.main import EXIT_USAGE, main

    out = tmp_path / "shuffle"
    args = [*_cli(inpainter_dir, out, tmp_path), "--kind", "shuffle"]
    assert main(args) == 0
    rows = read_rows(out / "manifest.jsonl")
    assert len(rows) == 6 and all(r.reasons == ["prior_only"] and r.file for r in rows)
    assert main([*args[:-1], "oracle"]) == EXIT_USAGE
    assert "--kind must be inpaint or shuffle" in capsys.readouterr().err


def test_realism_filter_runs_once_the_store_is_whole(inpainter_dir, tmp_path, single_thread):
    """With `realism` enabled the last shard's process judges every stage-1 pair: each row gets
    its score, the summary says what the judges did, and the editor's store follows the rows."""
    from xdub.config.train import RealismFilterConfig
    from xdub.train.realism import MARKER, REASON

    gen = _generator(inpainter_dir)
    gen.cfg = cfg_replace(gen.cfg, realism=RealismFilterConfig(enabled=True, steps=20, side=8))
    summary = generate_pairs(gen, tmp_path, progress=False)
    rows = read_rows(tmp_path / "manifest.jsonl")
    assert (tmp_path / MARKER).is_file() and summary["realism"]["judged"] == 6
    assert all(REASON in r.scores and r.accepted == (r.scores[REASON] >= 0.3
                                                     or not summary["realism"]["judges_learned"])
               for r in rows)
    assert len(PairStore(tmp_path)) == summary["accepted"] == sum(r.accepted for r in rows)


def test_retrieval_starts_stage1_from_the_clip_s_own_mouths(inpainter_dir, single_thread):
    """`PairGenConfig.retrieval`: at strength 0 V' is V with its composite region taken from the
    frames the scorer's best path picks for the donor audio; above 0 the inpainter denoises from
    there (neither the retrieved crops nor the plain stage 1); no scorer, no retrieval."""
    from xdub.config.train import MouthRetrievalConfig
    from xdub.errors import ConfigError

    torch.manual_seed(0)
    judge = SyncJudge(SyncScorer(SCORER_PRESETS["test"]))
    gen = _generator(inpainter_dir, judge=judge)
    retrieved = MouthRetrievalConfig(enabled=True, strength=0.0)
    gen.cfg = replace(gen.cfg, retrieval=retrieved)
    row, arrays = gen.make_pair(1, shard=0)
    assert row.model_version == gen.inpainter.version + "+retrieval0"
    record = gen.source.load(1)
    donor = match_length(gen.source.load_audio(pick_donor(1, len(gen.source), 0)),
                         len(record.samples))
    path = judge.mouth_path(record, donor, retrieved)
    assert path.shape == (record.num_frames,) and not np.array_equal(path, np.arange(len(path)))
    full = arrays["mask"] == 255
    np.testing.assert_array_equal(arrays["input_crops"][full], arrays["target_crops"][path][full])
    outside = arrays["mask"] == 0
    np.testing.assert_array_equal(arrays["input_crops"][outside], arrays["target_crops"][outside])
    # Composited once: the feather mixes the retrieved crop and V as the stage-1 output's would.
    clip = gen.prepare(record)
    once = compose_input(clip, clip.crops.crops[path], known_occluders(record, clip), gen.cfg)[0]
    np.testing.assert_array_equal(arrays["input_crops"], once)
    assert np.isnan(row.scores["psnr_outside"]) and "psnr_outside" not in row.reasons
    gen.cfg = replace(gen.cfg, retrieval=replace(retrieved, strength=0.5))
    _, denoised = gen.make_pair(1, shard=0)
    gen.cfg = replace(gen.cfg, retrieval=replace(retrieved, enabled=False))
    _, plain = gen.make_pair(1, shard=0)
    assert not np.array_equal(denoised["input_crops"], arrays["input_crops"])
    assert not np.array_equal(denoised["input_crops"], plain["input_crops"])
    gen.cfg, gen.judge = replace(gen.cfg, retrieval=retrieved), None
    with pytest.raises(ConfigError, match="scorer"):
        gen.make_pair(1, shard=0)
