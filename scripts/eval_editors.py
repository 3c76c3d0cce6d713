"""Issue #12 figures for dubbing checkpoints on held-out synthetic pairs, one table.

Each checkpoint dubs video A with audio B through the product pipeline (`xdub dub`'s loader);
the benchmark harness scores it against the exact answer B and against copying A. Per method
and scenario: mouth PSNR minus copy-input's, mouth-opening correlation with the answer, the
leak (correlation with the INPUT's old lips) and the leak given the answer (the two speech
tracks share some rhythm, so even the exact answer "leaks": the oracle row shows that floor),
scorer sync confidence relative to the answer's, occluder PSNR minus copy's and the mouth
flicker ratio. Writes <out>/bench/ (results.json,
report, strips) and <out>/figures.{json,md}.

  python scripts/eval_editors.py --editor shipped=src/xdub/assets/default \
      --editor new=/work/runs/s2/editor --out /work/runs/eval [--seed-start 1500000]
  --editor fbc=src/xdub/assets/default,cache=0.1   (first-block step cache, threshold 0.1)
  --editor new1=/work/runs/s2/editor,steps=1,audio=1   (per-editor sampling overrides)
Tune on a seed range (e.g. --seed-start 1500000) and report on the default held-out range.
  --manifest src/xdub/assets/default   also store the table (copy, answer and the first
      editor's rows) in that default's manifest.json, under `metrics.issue12_heldout` (or
      --metrics-key), with the protocol spelled out (scripts/train_default.sh does this)
  --strips docs/images/default_strips.jpg   the README's mouth strips (--strip-frames 8
      timestamps per scenario, the first clip of each)
Not importable (scripts/ is outside the package).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from xdub.bench.methods import DubMethod, MethodContext, copy_input, oracle, pipeline_chunk_starts
from xdub.bench.runner import run_bench
from xdub.config import replace
from xdub.config.bench import BENCH_PRESETS
from xdub.config.infer import InferConfig, SamplingConfig
from xdub.media.image import write_image
from xdub.pipeline import load_pipeline
from xdub.types import Audio, Video

SCENARIOS = ("standard", "occlusion", "stylized", "nonhuman", "lighting", "fast_motion")


def block_rows(pipe) -> list[int]:
    """[rows through the DiT's first block, rows through its last], counted from now on: their
    ratio is the share of stream evaluations that ran every block (the step cache skips the
    others)."""
    dit = pipe.generator.dit
    blocks = (dit.dit if hasattr(dit, "dit") else dit).blocks  # plain or source-fused DiT
    counts = [0, 0]
    for index, block in enumerate((blocks[0], blocks[-1])):
        block.register_forward_pre_hook(
            lambda _m, inputs, i=index: counts.__setitem__(i, counts[i] + len(inputs[0])))
    return counts


def pipeline_method(name: str, folder: str, steps: int | None, ref: float | None,
                    aud: float | None, reuse: float | None = None,
                    cache: float = 0.0, strength: float | None = None) -> DubMethod:
    """A bench method around the checkpoint folder, loaded as `xdub dub` loads it. Besides the
    video it reports CPU seconds per dub and full DiT forwards (batch rows) per chunk."""
    pipe = load_pipeline(checkpoint=folder)
    rows = block_rows(pipe)

    def dub(video: Video, audio: Audio, seed: int = 0) -> tuple[Video, dict[str, float]]:
        sampling = SamplingConfig(seed=seed, steps=steps, ref_scale=ref, audio_scale=aud,
                                  guidance_reuse_from=reuse, step_cache_threshold=cache,
                                  denoise_strength=strength)
        before, started = list(rows), time.process_time()
        result = pipe(video, audio, InferConfig(sampling=sampling, no_face="passthrough"))
        cpu = time.process_time() - started
        evaluations = pipe.generator.configured(sampling).sampler.evaluations_per_chunk
        first, last = rows[0] - before[0], rows[1] - before[1]
        full = evaluations * last / first if first else float("nan")
        return result.video, {"cpu_s": cpu, "full_forwards_per_chunk": full}

    return DubMethod(name, dub, source="input", seeded=True,  # type: ignore[arg-type]
                     chunk_starts=lambda n: pipeline_chunk_starts(pipe, n),
                     description=f"{name}: {folder}")


def figures(results: dict, methods: list[str]) -> dict:
    """Per scenario and method: the issue-#12 figures (means over clips)."""
    out: dict = {}
    for scenario, per_method in results["aggregates"].items():
        def mean(method: str, key: str, per_method: dict = per_method) -> float:
            value = (per_method.get(method, {}).get(key) or {}).get("mean")
            return float("nan") if value is None else float(value)

        def gain(method: str, key: str) -> float:  # the exact answer's PSNR is capped: n/a
            return float("nan") if method == "oracle" else mean(method, key) - mean("copy_input", key)

        row = {}
        for m in methods:
            row[m] = {
                "mouth_psnr_minus_copy": gain(m, "psnr_mouth"),
                "open_corr_answer": mean(m, "mouth_open_corr"),
                "open_corr_input_leak": mean(m, "mouth_open_corr_input"),
                "leak_given_answer": mean(m, "mouth_open_corr_input_partial"),
                "sync_vs_answer": mean(m, "lse_c") / mean("oracle", "lse_c"),
                "occluder_psnr_minus_copy": gain(m, "psnr_occluder"),
                "flicker_ratio": mean(m, "flicker_mouth"),
                "mouth_psnr": mean(m, "psnr_mouth"),
                "full_forwards_per_chunk": mean(m, "full_forwards_per_chunk"),
                "cpu_s": mean(m, "cpu_s"),
            }
        out[scenario] = row
    return out


def stack_strips(folder: Path, scenarios: tuple[str, ...], gap: int = 24) -> np.ndarray:
    """The bench's `<scenario>_mouth.png` strips of `folder`, one under the other, `gap` white
    rows apart (RGB uint8)."""
    import cv2

    strips = [cv2.cvtColor(cv2.imread(str(folder / f"{name}_mouth.png")), cv2.COLOR_BGR2RGB)
              for name in scenarios]
    width = max(s.shape[1] for s in strips)
    rows = []
    for strip in strips:
        pad = np.full((strip.shape[0] + gap, width, 3), 255, np.uint8)
        pad[:strip.shape[0], :strip.shape[1]] = strip
        rows.append(pad)
    return np.concatenate(rows)[:-gap]


def markdown(table: dict) -> str:
    keys = ["mouth_psnr_minus_copy", "open_corr_answer", "open_corr_input_leak",
            "leak_given_answer", "sync_vs_answer", "occluder_psnr_minus_copy", "flicker_ratio",
            "mouth_psnr", "full_forwards_per_chunk", "cpu_s"]
    lines = ["| scenario | method | " + " | ".join(keys) + " |", "|---" * (len(keys) + 2) + "|"]
    for scenario, rows in table.items():
        for method, vals in rows.items():
            cells = ["n/a" if not math.isfinite(vals[k]) else f"{vals[k]:.2f}" for k in keys]
            lines.append(f"| {scenario} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--editor", action="append", default=[],
                        help="NAME=DIR[,steps=N][,ref=X][,audio=Y][,reuse=S][,cache=T]"
                             "[,strength=D] (repeat); "
                             "the suffixes override --steps / --ref-scale / --audio-scale for "
                             "that editor; reuse = guidance reuse from sigma S; cache = step "
                             "cache threshold T; strength = denoise strength D (start from the "
                             "rewritten source)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--seed-start", type=int, default=1_000_000)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--ref-scale", type=float, default=None)
    parser.add_argument("--audio-scale", type=float, default=None)
    parser.add_argument("--sync-scorer", default="auto",
                        help="scorer folder for the sync figure ('auto' = the shipped one); "
                             "a separately trained one checks a model trained against the shipped")
    parser.add_argument("--manifest", type=Path, default=None,
                        help="default folder whose manifest.json receives the first editor's table")
    parser.add_argument("--metrics-key", default="issue12_heldout")
    parser.add_argument("--strip-frames", type=int, default=8,
                        help="timestamps in each scenario's strip (issue #12 asks for 8)")
    parser.add_argument("--strips", type=Path, default=None,
                        help="also write every scenario's mouth strip (input | methods | "
                             "answer), one under the other, to this PNG or .jpg (the README's "
                             "docs/images/default_strips.jpg)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    base = BENCH_PRESETS["default"]
    cfg = replace(base, scenarios=tuple(args.scenarios.split(",")), clips=args.clips,
                  duration=args.duration, duration_overrides={}, methods=("copy_input",), checkpoints=(),
                  seed_start=args.seed_start, strip_frames=args.strip_frames,
                  metrics=replace(base.metrics, sync_scorer=args.sync_scorer))
    methods = [copy_input(MethodContext()), oracle(MethodContext())]
    names = []
    for entry in args.editor:
        name, _, spec = entry.partition("=")
        if name in ("copy_input", "oracle") or name in names:  # rows would merge silently
            parser.error(f"--editor {entry}: name '{name}' is taken; choose another")
        folder, *options = spec.split(",")
        given = dict(option.split("=", 1) for option in options)
        unknown = set(given) - {"steps", "ref", "audio", "reuse", "cache", "strength"}
        if unknown:
            parser.error(f"--editor {entry}: unknown option(s) {sorted(unknown)}")
        steps = int(given["steps"]) if "steps" in given else args.steps
        ref = float(given["ref"]) if "ref" in given else args.ref_scale
        aud = float(given["audio"]) if "audio" in given else args.audio_scale
        reuse = float(given["reuse"]) if "reuse" in given else None
        cache = float(given.get("cache", 0.0))
        strength = float(given["strength"]) if "strength" in given else None
        methods.append(pipeline_method(name, folder, steps, ref, aud, reuse, cache, strength))
        names.append(name)
    run_bench(cfg, args.out / "bench", methods,
              progress=lambda done, total, what: print(f"[{done}/{total}] {what}", flush=True))
    results = json.loads((args.out / "bench" / "results.json").read_text())
    table = figures(results, ["copy_input", "oracle", *names])  # oracle: the leak's floor
    (args.out / "figures.json").write_text(json.dumps(table, indent=2, default=float))
    (args.out / "figures.md").write_text(markdown(table))
    print(markdown(table))
    if args.strips is not None:
        stacked = stack_strips(args.out / "bench" / "strips", cfg.scenarios)
        # JPEG 90: the skin noise of the engine's faces makes the whole strip 3.7 MB as a PNG
        print(f"wrote {write_image(args.strips, stacked, jpeg_quality=90)}")
    if args.manifest is not None and names:
        from xdub.train.export_default import update_metrics

        kept = ["copy_input", "oracle", names[0]]
        protocol = (f"scripts/eval_editors.py: seeds from {args.seed_start}, "
                    f"{len(cfg.scenarios)} scenarios x {args.clips} clips x {args.duration:g} s, "
                    f"sync scorer {args.sync_scorer}; {names[0]} = {args.editor[0]}; oracle = "
                    "the exact answer; 'all' = mean over scenarios")
        update_metrics(args.manifest, {args.metrics_key: {"protocol": protocol, "figures": {
            scenario: {m: rows[m] for m in kept} for scenario, rows in table.items()}}})
        print(f"wrote {args.metrics_key} into {args.manifest / 'manifest.json'}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
