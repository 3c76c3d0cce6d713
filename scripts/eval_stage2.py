"""Stage-2 evidence: the editor vs copy-input vs the stage-1 inpainter, per scenario, via `xdub.bench`.

Every method is a black box run by the benchmark harness on held-out synthetic pairs (bench
seeds >= 1_000_000, never used in training): the engine renders (A, B) differing only in the
mouth, each method dubs video A with audio B, and the exact answer B scores it. Methods:

  copy_input            A unchanged (floor)
  oracle                B itself (the ground truth's own sync score)
  codec_ceiling         B's whole frames through the codec (bench built-in)
  codec_ceiling_crops   B through the product pipeline with codec encode->decode as generator:
                        the ceiling of a crop-level dubber per region (tracking, crops and
                        paste-back identical to the dubbers')
  stage1_inpainter      the inpainter inside the product pipeline (template lower-face mask)
  <NAME>                each --editor NAME=DIR: a stage-2 dubbing checkpoint (e.g. the
                        multi-phase editor and the single-phase ablation)

Writes <out>/bench/ (results.json, report.md, strips) and <out>/evidence.{json,md} with the
per-scenario table and the target checks. Usage:

  python scripts/eval_stage2.py --inpainter runs/chain/stage1/inpainter \
      --codec runs/chain/codec/final --scorer runs/chain/scorer/final \
      --editor editor=runs/chain/stage2/editor --out runs/eval_stage2 [--clips 3] [--duration 2]
      [--manifest src/xdub/assets/default]   # also store the numbers in the default's manifest
  (--no-baselines --merge OTHER/bench/results.json: add editors to an earlier run)
Not importable (scripts/ is outside the package); glues xdub.bench and xdub.train.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from xdub.bench.methods import (
    DubMethod,
    MethodContext,
    codec_ceiling,
    copy_input,
    oracle,
    pipeline_chunk_starts,
)
from xdub.bench.runner import run_bench
from xdub.config import replace
from xdub.config.bench import BENCH_PRESETS
from xdub.config.infer import DubberConfig, InferConfig, SamplingConfig
from xdub.generation import CodecGenerator, ModelGenerator
from xdub.pipeline import DubPipeline
from xdub.pipeline.loading import load_checkpoint
from xdub.train.inpaint import Inpainter, inpaint_generator, load_inpainter
from xdub.types import Audio, Video

SCENARIOS = ("standard", "occlusion", "stylized", "nonhuman", "lighting", "fast_motion")
KEYS = ("psnr_mouth", "ssim_mouth", "psnr_outside", "psnr_occluder", "lse_c", "lse_offset",
        "mouth_open_corr", "no_face_frac")


def inpainter_pipeline(inpainter: Inpainter, steps: int) -> DubPipeline:
    """The stage-1 inpainter as a dubber: template lower-face mask, composited onto the crop."""
    spec = inpainter.spec
    generator = inpaint_generator(inpainter, steps, composited=True)
    overlap = spec.motion_frames * inpainter.codec.temporal_factor if spec.motion_frames else 0
    dubber = DubberConfig(name="stage1-inpainter", codec=spec.codec, audio=spec.audio,
                          face=spec.face, diffusion=replace(spec.diffusion,
                                                            num_inference_steps=steps),
                          chunk_frames=spec.window_frames, overlap=overlap,
                          motion_frames=generator.motion_frames, ref_frames=spec.ref_frames)
    return DubPipeline(generator, dubber)


def codec_pipeline(pipeline: DubPipeline) -> DubPipeline:
    """The same pipeline (tracking, crops, paste-back) with the codec round trip as generator."""
    assert isinstance(pipeline.generator, ModelGenerator), "needs a model-driven pipeline"
    return DubPipeline(CodecGenerator(pipeline.generator), pipeline.dubber)


def in_memory_method(name: str, pipe, source: str = "input", steps: int | None = None) -> DubMethod:
    """A bench method around an already built `DubPipeline` (same call as the bench's own)."""

    def dub(video: Video, audio: Audio, seed: int = 0) -> tuple[Video, dict[str, float]]:
        cfg = InferConfig(sampling=SamplingConfig(seed=seed, steps=steps), no_face="passthrough")
        result = pipe(video, audio, cfg)
        return result.video, {"no_face_frac": result.summary.frames_without_face
                              / max(1, video.num_frames)}

    return DubMethod(name, dub, source=source, seeded=True,  # type: ignore[arg-type]
                     chunk_starts=lambda n: pipeline_chunk_starts(pipe, n),
                     description=f"{name} through the product pipeline")


def build_methods(args: argparse.Namespace) -> list[DubMethod]:
    """The method list of the module docstring (baselines unless --no-baselines)."""
    methods = []
    if not args.no_baselines:
        inpainter = inpainter_pipeline(load_inpainter(args.inpainter), args.steps)
        methods += [copy_input(MethodContext()), oracle(MethodContext()),
                    codec_ceiling(MethodContext(codec=str(args.codec))),
                    in_memory_method("codec_ceiling_crops", codec_pipeline(inpainter), "answer"),
                    in_memory_method("stage1_inpainter", inpainter, steps=args.steps)]
    for entry in args.editor:  # the pipeline loader (xdub dub)
        name, _, folder = entry.partition("=")
        editor = load_checkpoint(folder, device="cpu", dtype="float32")
        methods.append(in_memory_method(name, editor))
    return methods


def merged_results(paths: list[Path]) -> dict:
    """results.json files of bench runs over the same manifest, aggregates merged by method."""
    runs = [json.loads(p.read_text()) for p in paths]
    ids = {r["manifest"]["manifest_id"] for r in runs}
    if len(ids) != 1:
        raise SystemExit(f"results come from different bench manifests: {sorted(ids)}")
    merged = {"manifest": runs[0]["manifest"], "aggregates": {}}
    for run in runs:
        for scenario, methods in run["aggregates"].items():
            merged["aggregates"].setdefault(scenario, {}).update(methods)
    return merged


def summarize(results_paths: list[Path], editors: list[str]) -> dict:
    """Per-scenario means of the key metrics and the target checks for each editor."""
    data = merged_results(results_paths)
    agg = data["aggregates"]
    table: dict = {}
    for scenario in [*SCENARIOS, "all"]:
        if scenario not in agg:
            continue
        table[scenario] = {m: {k: (v.get(k) or {}).get("mean") for k in KEYS}
                           for m, v in agg[scenario].items()}
    checks: dict = {}
    for editor in editors:
        rows = {}
        for scenario in SCENARIOS:
            if scenario not in table:
                continue
            t = table[scenario]
            ed, inp, ceil, gt = (t.get(editor, {}), t.get("stage1_inpainter", {}),
                                 t.get("codec_ceiling_crops", {}), t.get("oracle", {}))
            rows[scenario] = {
                "mouth_psnr_gt_inpainter": _gt(ed.get("psnr_mouth"), inp.get("psnr_mouth")),
                "outside_within_1db_of_ceiling": _within(ed.get("psnr_outside"),
                                                         ceil.get("psnr_outside"), 1.0),
                "occluder_within_2db_of_ceiling": _within(ed.get("psnr_occluder"),
                                                          ceil.get("psnr_occluder"), 2.0),
                "sync_within_10pct_of_gt": _rel(ed.get("lse_c"), gt.get("lse_c"), 0.10),
            }
        checks[editor] = rows
    return {"table": table, "checks": checks, "manifest_id": data["manifest"]["manifest_id"]}


def _finite(*values) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def _gt(a, b):
    return bool(a > b) if _finite(a, b) else None


def _within(value, ceiling, tol):
    return bool(value >= ceiling - tol) if _finite(value, ceiling) else None


def _rel(value, ref, tol):
    return bool(value >= (1 - tol) * ref) if _finite(value, ref) and ref > 0 else None


def write_markdown(summary: dict, path: Path) -> None:
    """evidence.md: one table per scenario (methods x key metrics) + the target checks."""
    lines = [f"# Stage-2 evidence (bench manifest {summary['manifest_id']})", ""]
    for scenario, methods in summary["table"].items():
        lines += [f"## {scenario}", "", "| method | " + " | ".join(KEYS) + " |",
                  "|---" * (len(KEYS) + 1) + "|"]
        for method, values in methods.items():
            cells = ["n/a" if v is None else f"{v:.3f}" for v in values.values()]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Targets", ""]
    for editor, rows in summary["checks"].items():
        lines.append(f"### {editor}")
        for scenario, checks in rows.items():
            lines.append(f"- {scenario}: " + ", ".join(f"{k}={v}" for k, v in checks.items()))
        lines.append("")
    path.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inpainter", type=Path, required=True)
    parser.add_argument("--codec", type=Path, required=True)
    parser.add_argument("--scorer", type=Path, required=True)
    parser.add_argument("--editor", action="append", default=[], help="NAME=DIR (repeat)")
    parser.add_argument("--no-baselines", action="store_true",
                        help="only the editors (merge with an earlier baseline run: --merge)")
    parser.add_argument("--merge", type=Path, action="append", default=[],
                        help="results.json of an earlier run on the same manifest (repeat)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--steps", type=int, default=10, help="inpainter sampling steps")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--manifest", type=Path, default=None,
                        help="default folder whose manifest.json receives the numbers")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = replace(BENCH_PRESETS["default"], scenarios=tuple(args.scenarios.split(",")),
                  clips=args.clips, duration=args.duration, duration_overrides={},
                  methods=("copy_input",), checkpoints=(), codec=str(args.codec),
                  metrics=replace(BENCH_PRESETS["default"].metrics, sync_scorer=str(args.scorer)))
    methods = build_methods(args)
    run_bench(cfg, args.out / "bench", methods,
              progress=lambda done, total, what: print(f"[{done}/{total}] {what}", flush=True))
    editors = [e.partition("=")[0] for e in args.editor]
    summary = summarize([*args.merge, args.out / "bench" / "results.json"], editors)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "evidence.json").write_text(json.dumps(summary, indent=2))
    write_markdown(summary, args.out / "evidence.md")
    if args.manifest is not None:
        from xdub.train.export_default import update_metrics

        update_metrics(args.manifest, {"bench_manifest_id": summary["manifest_id"],
                                       "per_scenario": summary["table"],
                                       "targets": summary["checks"]})
    print((args.out / "evidence.md").read_text())


if __name__ == "__main__":
    main()
