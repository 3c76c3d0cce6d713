"""Issue #12 trade-off plot: every measured editor/sampling variant as a point of lip-opening
correlation with the answer (x) against mouth PSNR minus copy-input (y), coloured by the leak,
from `scripts/eval_editors.py` output folders (their figures.json, "all"-scenario means).

    python scripts/plot_tradeoff.py --out docs/images/tradeoff_12.png \
        /work/runs/eval_tune_a6 /work/runs/eval_tune_big_a6 ...   [--label METHOD=TEXT]

A variant that dubs better lies up and to the right of the others; moving along the cloud
(more audio guidance, more steps) trades mouth quality for lip following. Not importable.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SKIP = {"copy_input", "oracle"}


def scenario_mean(rows: dict[str, dict[str, dict[str, float]]], method: str, key: str) -> float:
    """Mean of one figure over the scenarios (the table's "all" row is recomputed)."""
    values = [r[method][key] for name, r in rows.items()
              if name != "all" and method in r and math.isfinite(r[method][key])]
    return sum(values) / len(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--label", action="append", default=[], help="METHOD=TEXT (repeat)")
    parser.add_argument("--title", default="Tiny editor variants (tuning seeds)")
    args = parser.parse_args()
    labels = dict(item.split("=", 1) for item in args.label)
    points = []
    for folder in args.folders:
        rows = json.loads((folder / "figures.json").read_text())
        for method in sorted({m for r in rows.values() for m in r} - SKIP):
            points.append((labels.get(method, method),
                           scenario_mean(rows, method, "open_corr_answer"),
                           scenario_mean(rows, method, "mouth_psnr_minus_copy"),
                           scenario_mean(rows, method, "open_corr_input_leak")))
    fig, ax = plt.subplots(figsize=(7.5, 5))
    art = ax.scatter([p[1] for p in points], [p[2] for p in points], c=[p[3] for p in points],
                     cmap="viridis_r", vmin=0.2, vmax=1.0, s=40, zorder=3)
    for name, x, y, _ in points:
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7)
    ax.scatter([0.75], [2.0], marker="*", s=160, c="crimson", zorder=3)
    ax.annotate("goal", (0.75, 2.0), textcoords="offset points", xytext=(5, -4), fontsize=8)
    ax.axhline(0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("lip-opening corr. with the answer (goal >= 0.75)")
    ax.set_ylabel("mouth PSNR minus copy-input, dB (goal >= +2)")
    ax.set_title(args.title, fontsize=10)
    fig.colorbar(art, ax=ax, label="leak: corr. with the input's old lips (goal <= 0.2)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out} ({len(points)} points)")


if __name__ == "__main__":
    main()
