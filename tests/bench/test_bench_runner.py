"""End to end on real synthetic pairs: baselines' numbers, manifest, results.json, report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from xdub.bench.manifest import BenchManifest, build_manifest
from xdub.bench.results import load_results
from xdub.bench.runner import run_bench
from xdub.config import load, replace
from xdub.config.bench import (
    HELDOUT_SEED_START,
    SEEDS_PER_SLOT,
    BenchConfig,
    MetricConfig,
)
from xdub.errors import ConfigError

TINY = BenchConfig(
    scenarios=("standard", "occlusion"),
    clips=1,
    size=(96, 96),
    duration=0.6,
    strip_frames=2,
    metrics=MetricConfig(sync_scorer="none"),
)


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    calls = []
    results = run_bench(TINY, out, progress=lambda done, total, what: calls.append((done, total)))
    return out, results, calls


def _agg(results, scenario, method):
    return {k: v["mean"] for k, v in results.aggregate()[scenario][method].items()}


def test_oracle_is_perfect_and_copy_input_only_differs_in_the_mouth(bench_run):
    _, results, calls = bench_run
    assert calls[-1] == (4, 4)  # 2 pairs x 2 methods, progress reported for each
    for scenario in ("standard", "occlusion"):
        oracle = _agg(results, scenario, "oracle")
        copy = _agg(results, scenario, "copy_input")
        assert oracle["psnr_mouth"] == oracle["psnr_full"] == 100.0
        assert oracle["ssim_mouth"] == pytest.approx(1.0)
        assert oracle["mouth_open_corr"] == pytest.approx(1.0)
        assert oracle["temporal_error_full"] == 0.0
        assert 10 < copy["psnr_mouth"] < 45  # finite: the mouth really differs
        assert copy["psnr_outside"] == 100.0  # the engine changes nothing outside the mouth
        assert copy["ssim_outside"] == pytest.approx(1.0)
        assert copy["mouth_open_corr_input"] == pytest.approx(1.0)
        assert copy["mouth_open_corr"] < 0.9
    occlusion = _agg(results, "occlusion", "oracle")
    assert occlusion["psnr_occluder"] == 100.0  # the occlusion scenario has an occluder


def test_results_json_round_trip_and_report_files(bench_run):
    out, results, _ = bench_run
    data = json.loads((out / "results.json").read_text())  # strict JSON (no NaN tokens)
    assert data["manifest"]["manifest_id"] == results.manifest.manifest_id
    again = load_results(out / "results.json")
    assert again.to_dict()["aggregates"] == data["aggregates"]  # exact float round trip
    assert [c.metrics.keys() for c in again.clips] == [c.metrics.keys() for c in results.clips]
    seam = again.clips[0].metrics["seam_index"]
    assert math.isnan(seam)  # no chunk boundaries known for copy_input: null -> NaN
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    for text in (md, html):
        assert "Scenario: occlusion" in text and "PSNR mouth" in text
        assert "strips/standard_frames.png" in text and "plots/psnr_mouth.png" in text
    strip = cv2.imread(str(out / "strips" / "standard_frames.png"))
    assert strip is not None and strip.shape[1] > 3 * 96  # input | 2 methods | answer
    assert (out / "strips" / "occlusion_mouth.png").is_file()
    assert (
        BenchManifest.from_dict(json.loads((out / "manifest.json").read_text())) == results.manifest
    )


def test_manifest_seeds_are_held_out_stable_and_versioned():
    manifest = build_manifest(TINY)
    seeds = {e.scenario: e.seed for e in manifest.entries}
    assert seeds == {
        "standard": HELDOUT_SEED_START,
        "occlusion": HELDOUT_SEED_START + SEEDS_PER_SLOT,
    }
    # Choosing a subset of scenarios never changes the others' seeds.
    alone = build_manifest(replace(TINY, scenarios=("occlusion",)))
    assert alone.entries[0].seed == seeds["occlusion"]
    assert build_manifest(TINY).manifest_id == manifest.manifest_id
    assert build_manifest(replace(TINY, duration=0.8)).manifest_id != manifest.manifest_id
    data = manifest.to_dict()
    data["entries"][0]["seed"] += 1
    with pytest.raises(ConfigError, match="does not match"):
        BenchManifest.from_dict(data)


def test_config_file_and_validation():
    root = Path(__file__).resolve().parents[2]
    assert load(BenchConfig, root / "configs" / "bench" / "default.yaml") == BenchConfig()
    with pytest.raises(ConfigError, match="held-out"):
        BenchConfig(seed_start=5)
    with pytest.raises(ConfigError, match="unknown scenario"):
        BenchConfig(scenarios=("studio",))
    assert BenchConfig().duration_of("long") > BenchConfig().duration_of("standard")
    assert np.all(np.diff([BenchConfig().seed_of("standard", i) for i in range(3)]) == 1)
