"""Score one dubbed clip against its exact answer: the benchmark's per-clip metric set.

`EvalCase` bundles what a synthetic pair knows (input A, answer B, the same scene rendered
with a closed mouth, the regions); `clip_metrics(result, case)` returns, with regions as in
`xdub.bench.regions` and formulas as in `metrics`, `temporal` and `opening`:

  psnr_{full,mouth,outside,occluder,occluder_mouth}, ssim_{full,mouth,outside}
  mouth_open_corr        pearson(open(result), open(answer)) over frames with a visible mouth
  mouth_open_corr_input  pearson(open(result), open(input)): how much of the old speech leaks
  mouth_open_corr_input_partial  the same given open(answer) (`partial_pearson`): the leak
                         beyond what the two speech tracks share; the exact answer scores NaN
  flicker_mouth          temporal_mad(result) / temporal_mad(answer) in the mouth region
  temporal_error_{mouth,full}  mean |d result/dt - d answer/dt| (grey levels)
  seam_index             at the method's chunk starts (NaN when unknown), vs the answer
  jump_index             worst single step vs the median step, vs the answer
where open(x) = `opening_vs_closed(x, closed, zone, hidden=occluder)`. Every value is a float
(NaN = not applicable, e.g. no occluder in the clip). Imports: numpy, xdub.bench.*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from xdub.bench.metrics import (
    PSNR_MAX_DB,
    interior_mask,
    masked_mean,
    psnr_from_error,
    squared_error_map,
    ssim_map,
)
from xdub.bench.opening import opening_vs_closed, partial_pearson, pearson
from xdub.bench.regions import RegionMasks
from xdub.bench.temporal import jump_ratio, pool_steps, seam_ratio, step_change_map


@dataclass(frozen=True)
class EvalCase:
    """One benchmark pair: frames `[T, H, W, 3]` uint8 and regions of the same shape."""

    source: np.ndarray  # video A: the clip to dub
    answer: np.ndarray  # video B: the exact result
    closed: np.ndarray  # the same scene with the mouth closed (opening reference)
    regions: RegionMasks
    _openings: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        shape = self.answer.shape
        assert self.source.shape == shape and self.closed.shape == shape, "frames must match"
        assert self.regions.mouth.shape == shape[:3], "regions must be [T, H, W] of the frames"

    def opening(self, frames: np.ndarray) -> np.ndarray:
        """Per-frame mouth opening `[T]` of any frames of this scene."""
        return opening_vs_closed(
            frames, self.closed, self.regions.zone, hidden=self.regions.occluder
        )

    def reference_opening(self, which: str) -> np.ndarray:
        """Cached opening of "answer" or "source"."""
        if which not in self._openings:
            self._openings[which] = self.opening(getattr(self, which))
        return self._openings[which]


def fidelity_metrics(
    result: np.ndarray, case: EvalCase, max_db: float = PSNR_MAX_DB
) -> dict[str, float]:
    """Region PSNR/SSIM of `result: [T, H, W, 3]` against the answer."""
    error = squared_error_map(result, case.answer)
    local = ssim_map(result, case.answer)
    named = case.regions.named()
    out = {"psnr_full": psnr_from_error(error, None, max_db)}
    out.update(
        {f"psnr_{name}": psnr_from_error(error, mask, max_db) for name, mask in named.items()}
    )
    out["ssim_full"] = masked_mean(local, interior_mask(local.shape[1:]))
    for name in ("mouth", "outside"):
        out[f"ssim_{name}"] = masked_mean(local, named[name])
    return out


def motion_metrics(
    result: np.ndarray, case: EvalCase, chunk_starts: Sequence[int] | None = None
) -> dict[str, float]:
    """Mouth-opening agreement, flicker, temporal error and seam/jump indices."""
    regions = case.regions
    opening = case.opening(result)
    visible = regions.mouth_visible
    answer, source = case.reference_opening("answer"), case.reference_opening("source")
    out = {
        "mouth_open_corr": pearson(opening, answer, visible),
        "mouth_open_corr_input": pearson(opening, source, visible),
        "mouth_open_corr_input_partial": partial_pearson(opening, source, answer, visible),
    }
    own = pool_steps(step_change_map(result), regions.mouth)
    answer_own = pool_steps(step_change_map(case.answer), regions.mouth)
    own_mean, answer_mean = _nanmean(own), _nanmean(answer_own)
    out["flicker_mouth"] = own_mean / answer_mean if answer_mean > 0 else float("nan")
    error_change = step_change_map(result, case.answer)
    error_mouth = pool_steps(error_change, regions.mouth)
    error_full = pool_steps(error_change, None)
    out["temporal_error_mouth"] = _nanmean(error_mouth)
    out["temporal_error_full"] = _nanmean(error_full)
    out["seam_index"] = seam_ratio(error_full, chunk_starts) if chunk_starts else float("nan")
    out["jump_index"] = jump_ratio(error_full)
    return out


def clip_metrics(
    result: np.ndarray,
    case: EvalCase,
    max_db: float = PSNR_MAX_DB,
    chunk_starts: Sequence[int] | None = None,
) -> dict[str, float]:
    """Every image-based metric of one result clip (see module docstring)."""
    assert result.shape == case.answer.shape and result.dtype == np.uint8, (
        f"result must be uint8 {case.answer.shape}, got {result.dtype} {result.shape}"
    )
    return {**fidelity_metrics(result, case, max_db), **motion_metrics(result, case, chunk_starts)}


def _nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else float("nan")
