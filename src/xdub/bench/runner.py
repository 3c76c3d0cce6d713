"""Seed-locked benchmark runner: render every manifest pair, run every method, score, report.

    results = run_bench(BenchConfig(...), out_dir)   # -> results.json, manifest.json,
                                                     #    report.md, report.html, plots/, strips/
For each manifest entry the synth engine renders (A, B) and the same scene with a closed mouth;
each method dubs A with B's audio (reference methods get B), and `evaluate.clip_metrics` (+ LSE
and identity when configured) scores the result against B. Methods are black boxes
(`methods.DubMethod`); the pipeline is only ever called through one.
Imports: numpy, xdub.{config, synth, types}, xdub.bench.*.
"""

from __future__ import annotations

import importlib
import json
import logging
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from xdub.atomic import write_text_atomic
from xdub.bench.evaluate import EvalCase, clip_metrics
from xdub.bench.figures import frame_strip, mouth_strip, sample_frames
from xdub.bench.lipsync import describe_scorer, lip_sync_metrics, load_sync_scorer
from xdub.bench.manifest import BenchManifest, ManifestEntry, build_manifest
from xdub.bench.methods import DubMethod, build_methods
from xdub.bench.metrics import frechet_distance
from xdub.bench.perceptual import IdentityModel, identity_cosine, load_backend, lpips
from xdub.bench.regions import face_crops, mouth_boxes, regions_from_truth
from xdub.bench.report import write_report
from xdub.bench.results import BenchResults, ClipResult, save_results
from xdub.bench.temporal import chunk_starts as regular_chunk_starts
from xdub.config import replace, to_dict
from xdub.config.bench import BenchConfig
from xdub.config.synth import SCENARIOS
from xdub.errors import ConfigError, OutputError, XdubError
from xdub.media import write_png
from xdub.synth.clip import SynthClip, render_clip, render_pair
from xdub.synth.tracks import MOUTH_PARAMS, MouthTrack
from xdub.version import __version__

logger = logging.getLogger(__name__)

ProgressFn = Callable[[int, int, str], None]  # (done, total, description)


@dataclass(frozen=True)
class BenchPair:
    """A rendered manifest entry: input A, answer B and the closed-mouth frames of the scene."""

    entry: ManifestEntry
    source: SynthClip
    answer: SynthClip
    closed: np.ndarray  # [T, H, W, 3] uint8


def closed_mouth_track(num_frames: int, fps: float) -> MouthTrack:
    """Mouth parameters of a closed, relaxed mouth (opening 0, mid width) for every frame."""
    params = np.zeros((num_frames, len(MOUTH_PARAMS)), np.float32)
    params[:, MOUTH_PARAMS.index("width")] = 0.5
    return MouthTrack(params, fps)


def render_bench_pair(entry: ManifestEntry, manifest: BenchManifest) -> BenchPair:
    """Render one manifest entry (deterministic in the entry and the engine version)."""
    cfg = replace(
        SCENARIOS[entry.scenario],
        size=tuple(manifest.size),
        fps=manifest.fps,
        duration=entry.duration,
    )
    source, answer = render_pair(entry.seed, cfg)
    closed = render_clip(entry.seed, cfg, mouth=closed_mouth_track(len(source.frames), cfg.fps))
    return BenchPair(entry, source, answer, closed.frames)


def _git_commit() -> str:
    """Short commit of the xdub source tree, or "unknown" outside a git checkout."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
            cwd=Path(__file__).parent,  # inside the package: its git checkout
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "unknown"


def _environment(sync_scorer: str) -> dict[str, Any]:
    return {
        "xdub_version": __version__,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "sync_scorer": sync_scorer,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def load_identity_model(spec: str) -> IdentityModel | None:
    """ "pkg.module:factory" -> factory() (an IdentityModel); "" -> None."""
    if not spec:
        return None
    module_name, sep, attr = spec.partition(":")
    if not sep:
        raise ConfigError(f"identity_model must look like pkg.module:factory, got '{spec}'")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"cannot import identity model '{spec}': {err}") from None
    return factory()


@dataclass
class _Scorers:
    """Optional network-backed scorers shared by every clip."""

    sync: Any | None = None
    identity: IdentityModel | None = None
    lpips_weights: str = ""
    sets: _SetFeatures | None = None  # FID/FVD feature accumulator


def _chunk_starts(method: DubMethod, num_frames: int, seam_every: int) -> list[int] | None:
    if method.chunk_starts is not None:
        return list(method.chunk_starts(num_frames))
    return regular_chunk_starts(num_frames, seam_every) if seam_every > 0 else None


def score_result(
    result: np.ndarray,
    pair: BenchPair,
    case: EvalCase,
    method: DubMethod,
    cfg: BenchConfig,
    scorers: _Scorers,
) -> dict[str, float]:
    """All metrics of one method's result frames `[T, H, W, 3]` on one pair."""
    starts = _chunk_starts(method, len(result), cfg.seam_every)
    metrics = clip_metrics(result, case, cfg.metrics.psnr_max_db, starts)
    truth = pair.answer.truth
    if scorers.sync is not None:
        metrics.update(
            lip_sync_metrics(
                scorers.sync,
                result,
                truth.landmarks,
                truth.face_box,
                pair.answer.audio.samples,
                pair.answer.fps,
            )
        )
    if scorers.identity is not None:
        metrics["identity_cos"] = identity_cosine(
            scorers.identity,
            face_crops(result, truth.face_box),
            face_crops(pair.answer.frames, truth.face_box),
        )
    if scorers.lpips_weights:
        metrics["lpips"] = lpips(result, pair.answer.frames, scorers.lpips_weights)
    return metrics


def _write_strips(
    out_dir: Path, pair: BenchPair, case: EvalCase, picked: dict[str, np.ndarray], picks: list[int]
) -> None:
    """`strips/<scenario>_{frames,mouth}.png`: input | methods | answer at frames `picks`."""

    def at(frames: np.ndarray) -> np.ndarray:
        return frames[picks]

    columns = [
        ("input", at(pair.source.frames)),
        *picked.items(),
        ("answer", at(pair.answer.frames)),
    ]
    local = list(range(len(picks)))
    boxes = mouth_boxes(case.regions.zone[picks])
    folder = out_dir / "strips"
    folder.mkdir(parents=True, exist_ok=True)
    name = pair.entry.scenario
    write_png(folder / f"{name}_frames.png", frame_strip(columns, local))
    write_png(folder / f"{name}_mouth.png", mouth_strip(columns, local, boxes))


def _strip_picks(case: EvalCase, count: int) -> list[int]:
    """Evenly spaced frames among those with a visible mouth (all frames if too few)."""
    visible = np.flatnonzero(case.regions.mouth_visible)
    pool = visible if len(visible) >= count else np.arange(len(case.answer))
    return [int(pool[i]) for i in sample_frames(len(pool), count)]


def _prepare_output(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create output folder {out_dir}: {err.strerror or err}") from None


class _SetFeatures:
    """Accumulates per-frame (FID) and per-clip (FVD) features for the set-level metrics."""

    def __init__(self, fid_weights: str, fvd_weights: str) -> None:
        self.fid = load_backend("fid", fid_weights) if fid_weights else None
        self.fvd = load_backend("fvd", fvd_weights) if fvd_weights else None
        self.feats: dict[str, dict[str, list[np.ndarray]]] = {}

    def add(self, key: str, frames: np.ndarray) -> None:
        """Add a clip's features under `key` (a method name, or "answer")."""
        store = self.feats.setdefault(key, {"fid": [], "fvd": []})
        if self.fid is not None:
            store["fid"].append(np.asarray(self.fid(frames)))
        if self.fvd is not None:
            store["fvd"].append(np.asarray(self.fvd(frames))[None])

    def scores(self) -> dict[str, dict[str, float]]:
        """{method: {fid, fvd}} against the answers."""
        real = self.feats.get("answer", {})
        out: dict[str, dict[str, float]] = {}
        for key, store in self.feats.items():
            if key == "answer":
                continue
            out[key] = {
                kind: frechet_distance(np.concatenate(real[kind]), np.concatenate(feats))
                for kind, feats in store.items()
                if feats
            }
        return out


def _clip_result(pair: BenchPair, method: str, metrics: dict[str, float]) -> ClipResult:
    """One results row of `method` on `pair` (with the scenario a `mixed` entry actually drew)."""
    entry = pair.entry
    return ClipResult(
        entry.scenario,
        entry.index,
        entry.seed,
        method,
        metrics,
        str(pair.answer.meta.get("scenario", "")),
    )


def _run_pair(
    pair: BenchPair,
    methods: list[DubMethod],
    cfg: BenchConfig,
    scorers: _Scorers,
    out_dir: Path,
    tick: Callable[[str], None],
) -> list[ClipResult]:
    """Run and score every method on one rendered pair (and write its strips if first)."""
    entry = pair.entry
    case = EvalCase(
        pair.source.frames,
        pair.answer.frames,
        pair.closed,
        regions_from_truth(pair.answer.truth, cfg.regions),
    )
    picks = _strip_picks(case, cfg.strip_frames) if entry.index == 0 else []
    picked: dict[str, np.ndarray] = {}
    rows = []
    if scorers.sets is not None:
        scorers.sets.add("answer", pair.answer.frames)
    for method in methods:
        started = time.perf_counter()
        try:
            video, info = method.run(
                pair.source.video, pair.answer.audio, pair.answer.video, entry.seed
            )
        except XdubError as err:  # one failing clip must not sink the whole benchmark
            logger.warning(
                "%s failed on %s seed %d: %s", method.name, entry.scenario, entry.seed, err
            )
            rows.append(_clip_result(pair, method.name, {"failed": 1.0}))
            tick(f"{entry.scenario} #{entry.index} {method.name} (failed)")
            continue
        runtime = time.perf_counter() - started
        metrics = score_result(video.frames, pair, case, method, cfg, scorers)
        metrics.update(info)
        metrics.update({"runtime_s": runtime, "failed": 0.0})
        rows.append(_clip_result(pair, method.name, metrics))
        if scorers.sets is not None:
            scorers.sets.add(method.name, video.frames)
        if picks:
            picked[method.name] = video.frames[picks]
        tick(f"{entry.scenario} #{entry.index} {method.name}")
    if picks:
        _write_strips(out_dir, pair, case, picked, picks)
    return rows


def run_bench(
    cfg: BenchConfig,
    out_dir: str | Path,
    methods: list[DubMethod] | None = None,
    *,
    device: str = "cpu",
    progress: ProgressFn | None = None,
    identity_model: IdentityModel | None = None,
) -> BenchResults:
    """Run the benchmark of `cfg` and write every output into `out_dir`; returns the results.

    `methods` overrides `cfg.methods`/`cfg.checkpoints` (e.g. in-memory methods from Python).
    """
    out_dir = Path(out_dir)
    # 1. Inputs fixed by the manifest; methods and optional scorers built up front (fail fast).
    manifest = build_manifest(cfg)
    if methods is None:
        methods = build_methods(cfg.methods, cfg.checkpoints, cfg.codec, device)
    m_cfg = cfg.metrics
    sync = load_sync_scorer(m_cfg.sync_scorer)
    sets = (
        _SetFeatures(m_cfg.fid_weights, m_cfg.fvd_weights)
        if m_cfg.fid_weights or m_cfg.fvd_weights
        else None
    )
    scorers = _Scorers(
        sync, identity_model or load_identity_model(m_cfg.identity_model), m_cfg.lpips_weights, sets
    )
    _prepare_output(out_dir)
    env = _environment(describe_scorer(m_cfg.sync_scorer, sync))
    described = [
        {"name": m.name, "description": m.description, "source": m.source} for m in methods
    ]
    results = BenchResults(manifest, to_dict(cfg), env, described)
    # 2. Every pair, every method.
    total, done = len(manifest.entries) * len(methods), [0]

    def tick(description: str) -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total, description)

    for entry in manifest.entries:
        results.clips += _run_pair(
            render_bench_pair(entry, manifest), methods, cfg, scorers, out_dir, tick
        )
    if sets is not None:
        results.set_metrics = sets.scores()
    # 3. Machine-readable results, the manifest on its own, and the human report.
    save_results(results, out_dir / "results.json")
    write_text_atomic(out_dir / "manifest.json", json.dumps(manifest.to_dict(), indent=1))
    write_report(results, out_dir)
    logger.info(
        "bench %s: %d clips x %d methods -> %s",
        manifest.manifest_id,
        len(manifest.entries),
        len(methods),
        out_dir,
    )
    return results
