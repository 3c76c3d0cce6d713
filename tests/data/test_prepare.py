"""`xdub prepare` on a generated long video with known cuts, offsets, a face-less stretch and
a two-face stretch (tests/data/prepare_testkit.py), plus a no-audio and a broken file."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from prepare_testkit import build_long_video
from xdub.config import save
from xdub.config.face import FACE_PRESETS
from xdub.config.audio import AUDIO_PRESETS
from xdub.config.codec import CODEC_PRESETS
from xdub.config.prepare import CacheRules, PrepareConfig, SegmentRules
from xdub.data.prepare import run_prepare
from xdub.data.prepare.cache import ClipEncoders
from xdub.data.prepare.store import PreparedClipSource
from xdub.data.prepare.sync import clip_sync_scores
from xdub.data.shards import read_shard
from xdub.media import write_video
from xdub.models.syncnet import load_shipped_scorer
from xdub.sharding import Worker

FACE = FACE_PRESETS["tiny"]
CFG = PrepareConfig(segment=SegmentRules(clip_seconds=2.4, min_clip_seconds=1.6),
                    face=replace(FACE, align=replace(FACE.align, crop_size=128)),
                    videos_per_shard=1,
                    cache=CacheRules(codec=CODEC_PRESETS["tiny"], codec_weights="random",
                                     audio=AUDIO_PRESETS["tiny"]))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("raw")
    (folder / "a_broken.mp4").write_bytes(b"not a video at all")
    rng = np.random.default_rng(0)
    write_video(folder / "b_silent.mp4", rng.integers(0, 255, (60, 128, 160, 3), np.uint8), 25.0)
    truth = build_long_video(folder / "c_long.mp4")
    return folder, truth


@pytest.fixture(scope="module")
def prepared(inputs, tmp_path_factory) -> tuple[Path, list[dict]]:
    folder, _ = inputs
    out = tmp_path_factory.mktemp("prepared")
    videos = sorted(folder.glob("*.mp4"))
    summary = run_prepare(videos, out, CFG, Worker(), encoders=_encoders(CFG.cache))
    assert summary.complete and summary.shards_written == (0, 1, 2)
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    return out, rows


def _encoders(cache: CacheRules) -> ClipEncoders:
    """What `xdub prepare` builds from the cache config (the CLI module is not imported here:
    importing it would register its command before the others and reorder docs/cli.md)."""
    from xdub.audio import build_featurizer
    from xdub.train.inpaint import load_codec

    return ClipEncoders(load_codec(cache.codec, cache.codec_weights),
                        build_featurizer(cache.audio))


def _long_rows(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["video"].endswith("c_long.mp4")]


def test_probe_rejects_broken_and_silent_files(prepared):
    _, rows = prepared
    reasons = {Path(r["video"]).name: r["reason"] for r in rows if r["key"].endswith("v")}
    assert reasons == {"a_broken.mp4": "unreadable", "b_silent.mp4": "no_audio"}


def test_scene_cuts_found_within_one_frame(inputs):
    from xdub.data.prepare.scan import scan_video
    from xdub.face.detect import create_detector

    folder, truth = inputs
    scan = scan_video(folder / "c_long.mp4", CFG, create_detector(CFG.face.detect))
    assert scan.num_frames == truth["num_frames"]
    assert len(scan.cuts) == len(truth["cuts"])
    assert all(abs(a - b) <= 1 for a, b in zip(scan.cuts, truth["cuts"]))


def test_offsets_found_and_corrected_exactly(prepared, inputs):
    out, rows = prepared
    _, truth = inputs
    scorer = load_shipped_scorer()
    samples = {s["__key__"]: s for s in read_shard(out / "clips-000002.tar")}
    for start, stop, kind, delay in truth["shots"]:
        if kind != "face":
            continue
        (row,) = [r for r in _long_rows(rows) if start <= r["start"] < stop]
        assert row["status"] == "kept", row
        assert row["offset"] == -delay  # protocol sign: audio late by d frames -> offset -d
        clip = samples[row["key"]]
        rescored = clip_sync_scores(scorer, clip["crops"], clip["landmarks"], clip["audio"],
                                    25.0, 15)
        assert rescored.offset == 0
        assert len(clip["audio"]) == round(len(clip["crops"]) * 16000 / 25)
        check_cached_features(clip)


def check_cached_features(clip: dict) -> None:
    """Step 7: the cached latents / audio features are what training would compute."""
    from xdub.conditioning import encode_frames
    from xdub.data.crops import audio_windows_for

    encoders = _encoders(CFG.cache)
    latents = encode_frames(encoders.codec, clip["crops"])[0].numpy().astype(np.float16)
    assert np.array_equal(clip["latents"], latents)
    windows = audio_windows_for(encoders.featurizer, clip["audio"], 25.0, len(clip["crops"]))
    assert np.array_equal(clip["audio_features"], windows.astype(np.float16))


def test_faceless_stretch_rejected_and_two_faces_keep_the_speaker(prepared, inputs):
    from xdub.face.align import invert

    out, rows = prepared
    _, truth = inputs
    (empty,) = [s for s in truth["shots"] if s[2] == "empty"]
    (two,) = [s for s in truth["shots"] if s[2] == "two"]
    in_empty = [r for r in _long_rows(rows) if empty[0] <= r["start"] < empty[1]]
    assert [r["reason"] for r in in_empty] == ["no_face"]
    in_two = [r for r in _long_rows(rows) if two[0] <= r["start"] < two[1]]
    assert len({r["track"] for r in in_two}) == 2 and all(r["other_faces"] == 1 for r in in_two)
    assert sorted(r["reason"] or "kept" for r in in_two) == ["kept", "not_speaker"]
    (kept,) = [r for r in in_two if r["status"] == "kept"]
    sample = {s["__key__"]: s for s in read_shard(out / "clips-000002.tar")}[kept["key"]]
    centre_x = invert(sample["affines"][0]) @ np.array([64.0, 64.0, 1.0])
    assert centre_x[0] < 128  # the left face speaks the soundtrack


def test_clips_feed_the_stage1_dataset_and_report_exists(prepared):
    from xdub.audio.mel import MelFeaturizer
    from xdub.data.crops import prepare_clip
    from xdub.data.dataset import WindowDataset

    out, rows = prepared
    source = PreparedClipSource(out)
    assert len(source) == sum(r["status"] == "kept" for r in rows) >= 3
    record = source.load(0)
    assert np.array_equal(source.load_audio(0), record.samples)
    assert record.frames.shape[1:] == (128, 128, 3) and record.landmarks.shape[1:] == (68, 2)
    featurizer = MelFeaturizer()
    data = WindowDataset(source, lambda r: prepare_clip(r, FACE, featurizer, 0.4), 9, 1, 4, 2)
    assert data[0]["crops"].shape == (9, 96, 96, 3)
    from xdub.config.train import DataConfig, Stage1Config
    from xdub.train.stage1 import make_source

    stage1 = Stage1Config(data=DataConfig(source="prepared", prepared=str(out)))
    assert len(make_source(stage1)) == len(source)  # what `xdub train stage1` reads
    page = (out / "report" / "index.html").read_text()
    assert "no_face" in page and (out / "report" / "offset.png").is_file()


def test_killed_run_resumes_to_the_same_manifest(prepared, inputs, tmp_path):
    folder, _ = inputs
    out_a, _ = prepared
    out = tmp_path / "resumed"
    cfg_path = tmp_path / "prepare.yaml"
    save(CFG, cfg_path)
    cmd = [sys.executable, "-m", "xdub.cli.main", "prepare", str(folder), "--out", str(out),
           "--config", str(cfg_path), "--no-report"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list(out.glob(".clips-000002.*")) and proc.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # in the middle of shard 2 (the long video)
    proc.wait()
    assert (out / "clips-000001.tar").is_file() and not (out / "clips-000002.tar").exists()
    assert not (out / "manifest.jsonl").exists()
    assert list(out.glob(".clips-000002.*.partial.tar"))  # the killed shard's temp file
    first = (out / "clips-000000.tar").stat().st_mtime_ns
    log = io.StringIO()  # not a TTY: plain progress lines
    summary = run_prepare(sorted(folder.glob("*.mp4")), out, CFG, Worker(), stream=log,
                          report=False, encoders=_encoders(CFG.cache))
    assert summary.shards_skipped == (0, 1) and summary.shards_written == (2,)
    assert "prepare [1/1 videos, 100%, ETA 0:00:00] kept " in log.getvalue()
    assert (out / "clips-000000.tar").stat().st_mtime_ns == first
    assert not list(out.glob(".*"))  # the stale temp file was removed
    assert (out / "manifest.jsonl").read_bytes() == (out_a / "manifest.jsonl").read_bytes()
    assert (out / "clips-000002.tar").read_bytes() == (out_a / "clips-000002.tar").read_bytes()


def test_object_storage_output_and_reading(prepared, inputs, tmp_path):
    import fsspec

    folder, _ = inputs
    out_a, rows_a = prepared
    url = "memory://xdub-test/prepared"
    cheap = sorted(folder.glob("*.mp4"))[:2]  # the broken and the silent file: probe rejects
    cfg = replace(CFG, videos_per_shard=2)
    summary = run_prepare(cheap, url, cfg, Worker(), staging=tmp_path / "staging", report=False)
    fs = fsspec.filesystem("memory")
    assert summary.complete and fs.exists(f"{url}/clips-000000.tar")
    assert fs.cat_file(f"{url}/manifest.jsonl").decode().count("\n") == 2
    assert not list((tmp_path / "staging").glob("*.tar"))  # uploaded, then removed locally
    fs.put(str(out_a), "memory://xdub-test/copied", recursive=True)
    source = PreparedClipSource("memory://xdub-test/copied")
    assert len(source) == sum(r["status"] == "kept" for r in rows_a)
    assert source.load(0).frames.shape[1:] == (128, 128, 3)
