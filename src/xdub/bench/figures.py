"""Report figures: grouped bar plots of aggregates and before/after frame strips, as PNG bytes.

Bar plots use matplotlib's object API with the Agg canvas (no pyplot, no global backend
switch). Strips are plain numpy/cv2 mosaics (saved with `xdub.media.write_png`): one column
per video (input | methods... | answer), one row per sampled frame, a label bar on top; mouth
strips crop each frame to the ground-truth mouth box and enlarge it. Imports: numpy, cv2, matplotlib.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import cv2
import numpy as np

_LABEL_H = 18  # pixels of the label bar above each strip column
_GAP = 2  # pixels between tiles


def bar_plot(
    title: str,
    groups: Sequence[str],
    series: dict[str, tuple[list[float], list[float]]],
    ylabel: str = "",
    top: float | None = None,
) -> bytes:
    """Grouped bars: x = `groups` (scenarios), one bar per series (method) with +-std whiskers.

    series: {name: (means per group, stds per group)}; NaN bars are left out; `top` clips the
    y axis (bars above it are drawn to the edge). Returns PNG bytes.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(
        figsize=(max(4.0, 0.9 * len(groups) * max(1, len(series)) ** 0.5 + 2), 3.2), dpi=100
    )
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / max(1, len(series))
    x = np.arange(len(groups))
    for k, (name, (means, stds)) in enumerate(series.items()):
        m, s = np.asarray(means, float), np.nan_to_num(np.asarray(stds, float))
        if top is not None:
            m, s = np.minimum(m, top), np.where(m >= top, 0.0, s)
        ax.bar(x + (k - (len(series) - 1) / 2) * width, m, width, yerr=s, label=name, capsize=2)
    ax.set_xticks(x, list(groups), rotation=20, ha="right", fontsize=8)
    ax.set_title(title, fontsize=10)
    if top is not None:
        ax.set_ylim(top=top)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, ncols=min(4, max(1, len(series))))
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def sample_frames(num_frames: int, count: int) -> list[int]:
    """`count` evenly spaced frame indices inside a clip of `num_frames` (no duplicates)."""
    if count <= 0 or num_frames <= 0:
        return []
    if num_frames <= count:
        return list(range(num_frames))
    picks = np.linspace(0, num_frames - 1, count + 2)[1:-1]
    return sorted({round(float(p)) for p in picks})


def _label_bar(text: str, width: int) -> np.ndarray:
    bar = np.full((_LABEL_H, width, 3), 255, np.uint8)
    scale = min(0.45, 0.9 * width / max(1, 9 * len(text)))
    cv2.putText(
        bar, text, (3, _LABEL_H - 5), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA
    )
    return bar


def _mosaic(columns: Sequence[tuple[str, list[np.ndarray]]]) -> np.ndarray:
    """Columns of equally sized tiles with a label on top -> one RGB image."""
    built = []
    for label, tiles in columns:
        w = tiles[0].shape[1]
        parts = [_label_bar(label, w)]
        for tile in tiles:
            parts += [np.full((_GAP, w, 3), 255, np.uint8), tile]
        built.append(np.concatenate(parts))
    gap = np.full((built[0].shape[0], _GAP, 3), 255, np.uint8)
    return np.concatenate([piece for col in built for piece in (col, gap)][:-1], axis=1)


def frame_strip(
    columns: Sequence[tuple[str, np.ndarray]], picks: Sequence[int], max_side: int = 192
) -> np.ndarray:
    """Mosaic of frames `picks` of each `(label, frames [T, H, W, 3])`, tiles <= max_side."""
    h, w = columns[0][1].shape[1:3]
    scale = min(1.0, max_side / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return _mosaic(
        [
            (label, [cv2.resize(frames[i], size, interpolation=cv2.INTER_AREA) for i in picks])
            for label, frames in columns
        ]
    )


def mouth_strip(
    columns: Sequence[tuple[str, np.ndarray]],
    picks: Sequence[int],
    boxes: np.ndarray,
    tile_width: int = 128,
) -> np.ndarray:
    """Mosaic of the mouth boxes `[T, 4]` (x0, y0, x1, y1) of frames `picks`, enlarged."""
    tiles_h = []
    for i in picks:
        x0, y0, x1, y1 = (int(v) for v in boxes[i])
        tiles_h.append(max(1, round(tile_width * (y1 - y0) / max(1, x1 - x0))))
    tile_h = int(np.median(tiles_h)) if tiles_h else tile_width // 2
    out = []
    for label, frames in columns:
        tiles = []
        for i in picks:
            x0, y0, x1, y1 = (int(v) for v in boxes[i])
            tiles.append(
                cv2.resize(
                    frames[i, y0:y1, x0:x1], (tile_width, tile_h), interpolation=cv2.INTER_NEAREST
                )
            )
        out.append((label, tiles))
    return _mosaic(out)
