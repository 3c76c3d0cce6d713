"""Human-readable run outputs: metrics.jsonl appends, the loss-curve PNG and an HTML page.

The page (`index.html`) shows the loss curve, the latest metrics and every sample folder under
`samples/` (PNG grids inline, MP4 videos as players), newest first. Written via temp files.
Imports: stdlib, matplotlib (Agg, lazily).
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xdub.atomic import write_bytes_atomic, write_text_atomic


def append_metrics(path: Path, row: dict[str, Any]) -> None:
    """Append one JSON line (floats rounded to 6 significant digits)."""
    clean = {k: (float(f"{v:.6g}") if isinstance(v, float) and math.isfinite(v) else v)
             for k, v in row.items()}
    with path.open("a") as handle:
        handle.write(json.dumps(clean) + "\n")


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """All rows of a metrics.jsonl (missing file -> [])."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass(frozen=True)
class Panel:
    """One subplot of `plot_panels`: metrics keys drawn against step."""

    keys: tuple[str, ...]
    labels: tuple[str, ...] = ()  # legend labels, one per key (default: the keys)
    log_y: bool = False
    ylabel: str = ""
    ylim: tuple[float, float] | None = None
    dotted: tuple[str, ...] = ()  # sparse series (e.g. evals every N steps) drawn with markers


def plot_panels(rows: list[dict[str, Any]], path: Path, panels: tuple[Panel, ...]) -> bool:
    """Side-by-side curves of metrics rows against step; False if there is nothing to plot.

    Each key is drawn from the rows that carry it, so train and eval rows can share one file.
    """
    keys = {k for panel in panels for k in panel.keys}
    if not any("step" in r and keys & r.keys() for r in rows):
        return False
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(2 + 4 * len(panels), 3.5), dpi=100,
                             squeeze=False)
    for ax, panel in zip(axes[0], panels):
        for key, label in zip(panel.keys, panel.labels or panel.keys):
            xy = [(r["step"], r[key]) for r in rows
                  if "step" in r and isinstance(r.get(key), (int, float))]
            if xy:
                ax.plot(*zip(*xy), "o-" if key in panel.dotted else "-", label=label)
        ax.set_xlabel("step")
        if panel.log_y:
            ax.set_yscale("log")
        if panel.ylabel:
            ax.set_ylabel(panel.ylabel)
        if panel.ylim is not None:
            ax.set_ylim(*panel.ylim)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    write_bytes_atomic(path, buffer.getvalue())
    return True


def plot_losses(rows: list[dict[str, Any]], path: Path, keys: tuple[str, ...] = ("loss",)) -> bool:
    """Loss curve(s) against step, log-scale y; False if there is nothing to plot."""
    return plot_panels(rows, path, (Panel(keys, log_y=True),))


def write_index(run_dir: Path, title: str) -> Path:
    """(Re)write `run_dir/index.html` from loss.png, metrics.jsonl and samples/*."""
    rows = read_metrics(run_dir / "metrics.jsonl")
    parts = [f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>",
             f"<body style='font-family:sans-serif'><h1>{html.escape(title)}</h1>"]
    if (run_dir / "loss.png").is_file():
        parts.append("<img src='loss.png' alt='loss curve'>")
    if rows:
        last = rows[-1]
        cells = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
                        for k, v in last.items())
        parts.append(f"<h2>latest metrics</h2><table>{cells}</table>")
    samples = run_dir / "samples"
    folders = sorted((p for p in samples.iterdir() if p.is_dir()), reverse=True) if samples.is_dir() else []
    for folder in folders:
        parts.append(f"<h2>{html.escape(folder.name)}</h2>")
        for item in sorted(folder.iterdir()):
            rel = html.escape(f"samples/{folder.name}/{item.name}")
            if item.suffix == ".png":
                parts.append(f"<img src='{rel}' style='image-rendering:pixelated;width:512px'>")
            elif item.suffix == ".mp4":
                parts.append(f"<video src='{rel}' controls loop width='512'></video>")
    parts.append("</body></html>")
    path = run_dir / "index.html"
    write_text_atomic(path, "\n".join(parts))
    return path
