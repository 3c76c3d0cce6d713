"""Benchmark results: per-clip metric rows, per-scenario aggregates, and `results.json` I/O.

`results.json` layout (schema 1): {schema, manifest (with manifest_id), config, env, methods:
[{name, description, source}], clips: [{scenario, index, seed, drawn_scenario, method,
metrics: {name: value | null}}], aggregates: {scenario | "all": {method: {metric: {mean, std,
n}}}}}. Non-finite values are stored as null (strict JSON) and read back as NaN; `std` is the
sample std over clips (0 for one clip). Imports: stdlib, numpy, xdub.bench.manifest.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xdub.atomic import write_text_atomic
from xdub.bench.manifest import BenchManifest
from xdub.errors import ConfigError

SCHEMA = 1
ALL = "all"  # aggregate key over every scenario


@dataclass(frozen=True)
class MetricInfo:
    """How to present one metric."""

    label: str
    higher_is_better: bool | None  # None = closer to 1 is better / informational
    unit: str = ""
    digits: int = 3


# Presentation order of every metric the runner may produce (unknown names are shown last).
METRIC_INFO: dict[str, MetricInfo] = {
    "psnr_mouth": MetricInfo("PSNR mouth", True, "dB", 2),
    "ssim_mouth": MetricInfo("SSIM mouth", True),
    "mouth_open_corr": MetricInfo("Open corr", True),
    "mouth_open_corr_input": MetricInfo("Leak: open corr with input lips", False),
    "mouth_open_corr_input_partial": MetricInfo("Leak given the answer", False),
    "psnr_outside": MetricInfo("PSNR outside", True, "dB", 2),
    "ssim_outside": MetricInfo("SSIM outside", True),
    "psnr_full": MetricInfo("PSNR full", True, "dB", 2),
    "ssim_full": MetricInfo("SSIM full", True),
    "psnr_occluder": MetricInfo("PSNR occluder", True, "dB", 2),
    "psnr_occluder_mouth": MetricInfo("PSNR occluder∩mouth", True, "dB", 2),
    "flicker_mouth": MetricInfo("Flicker ratio mouth", None),
    "temporal_error_mouth": MetricInfo("Temporal err mouth", False, "", 2),
    "temporal_error_full": MetricInfo("Temporal err full", False, "", 3),
    "seam_index": MetricInfo("Seam index", False, "", 2),
    "jump_index": MetricInfo("Jump index", False, "", 2),
    "lse_c": MetricInfo("LSE-C", True, "", 2),
    "lse_d": MetricInfo("LSE-D", False, "", 2),
    "lse_offset": MetricInfo("Sync offset", None, "frames", 1),
    "identity_cos": MetricInfo("Identity cos", True),
    "lpips": MetricInfo("LPIPS", False),
    "no_face_frac": MetricInfo("Frames without face", False, "", 3),
    "chunks": MetricInfo("Chunks", None, "", 1),
    "runtime_s": MetricInfo("Runtime", False, "s", 2),
    "failed": MetricInfo("Failed runs", False, "", 2),
}


@dataclass(frozen=True)
class ClipResult:
    """Metrics of one method on one benchmark pair."""

    scenario: str
    index: int
    seed: int
    method: str
    metrics: dict[str, float]
    drawn_scenario: str = ""  # what `mixed` actually drew (= scenario otherwise)


@dataclass
class BenchResults:
    """A whole benchmark run (what `results.json` holds)."""

    manifest: BenchManifest
    config: dict[str, Any]
    env: dict[str, Any]
    methods: list[dict[str, str]]
    clips: list[ClipResult] = field(default_factory=list)
    set_metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # method -> FID/FVD

    def metric_names(self) -> list[str]:
        """Every metric present, in presentation order."""
        seen = {name for clip in self.clips for name in clip.metrics}
        known = [name for name in METRIC_INFO if name in seen]
        return known + sorted(seen - set(known))

    def scenarios(self) -> list[str]:
        """Scenarios in manifest order."""
        return list(dict.fromkeys(e.scenario for e in self.manifest.entries))

    def aggregate(self) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
        """{scenario | "all": {method: {metric: {mean, std, n}}}} over finite clip values."""
        out: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
        names = self.metric_names()
        for scenario in [*self.scenarios(), ALL]:
            rows = [c for c in self.clips if scenario in (ALL, c.scenario)]
            out[scenario] = {}
            for method in [m["name"] for m in self.methods]:
                mine = [c.metrics for c in rows if c.method == method]
                out[scenario][method] = {
                    n: _stat([m.get(n, math.nan) for m in mine]) for n in names
                }
        return out

    def to_dict(self) -> dict[str, Any]:
        """The `results.json` document (strict JSON after `_finite`)."""
        return _finite(
            {
                "schema": SCHEMA,
                "manifest": self.manifest.to_dict(),
                "config": self.config,
                "env": self.env,
                "methods": self.methods,
                "clips": [vars(c) for c in self.clips],
                "set_metrics": self.set_metrics,
                "aggregates": self.aggregate(),
            }
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchResults:
        """Inverse of `to_dict` (aggregates are recomputed, not trusted)."""
        if data.get("schema") != SCHEMA:
            raise ConfigError(
                f"results schema {data.get('schema')} unsupported (expected {SCHEMA})"
            )
        clips = [
            ClipResult(
                c["scenario"],
                int(c["index"]),
                int(c["seed"]),
                c["method"],
                {k: _nan(v) for k, v in c["metrics"].items()},
                c.get("drawn_scenario", ""),
            )
            for c in data["clips"]
        ]
        sets = {
            m: {k: _nan(v) for k, v in d.items()} for m, d in data.get("set_metrics", {}).items()
        }
        return cls(
            BenchManifest.from_dict(data["manifest"]),
            data["config"],
            data["env"],
            data["methods"],
            clips,
            sets,
        )


def _stat(values: list[float]) -> dict[str, float]:
    finite = np.array([v for v in values if v is not None and math.isfinite(v)], np.float64)
    if not len(finite):
        return {"mean": math.nan, "std": math.nan, "n": 0}
    std = float(finite.std(ddof=1)) if len(finite) > 1 else 0.0
    return {"mean": float(finite.mean()), "std": std, "n": len(finite)}


def _nan(value: Any) -> float:
    return math.nan if value is None else float(value)


def _finite(obj: Any) -> Any:
    """Replace NaN/inf floats (anywhere in a JSON tree) by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.generic):
        return _finite(obj.item())
    return obj


def save_results(results: BenchResults, path: str | Path) -> Path:
    """Write `results.json` (strict JSON, atomic)."""
    return write_text_atomic(path, json.dumps(results.to_dict(), indent=1, allow_nan=False))


def load_results(path: str | Path) -> BenchResults:
    """Read a `results.json` written by `save_results`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"results file not found: {path}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path} is not valid JSON: {err}") from None
    return BenchResults.from_dict(data)
