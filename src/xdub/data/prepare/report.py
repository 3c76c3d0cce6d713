"""The HTML report of a prepared store: counts by reason, histograms, thumbnails.

`report/index.html` with PNG figures beside it (matplotlib object API on the Agg canvas, no
pyplot): outcomes by reason, and histograms of clip durations, face sizes, sync confidence and
offsets of kept clips; then thumbnails (the middle aligned crop) of kept and rejected clips.
Everything is computed from the manifest rows, so the report can be rebuilt at any time.
Imports: numpy, matplotlib, xdub.{atomic, config}, xdub.data.prepare.
"""

from __future__ import annotations

import html
import io
from collections import Counter
from pathlib import Path

import numpy as np

from xdub.atomic import atomic_dir
from xdub.config.prepare import PrepareConfig
from xdub.data.prepare.reasons import REASONS

HISTOGRAMS = (  # (row field, title, which rows)
    ("seconds", "clip duration (s)", "all"),
    ("face_fraction", "face size (box side / frame short side)", "all"),
    ("sync_confidence", "sync confidence (LSE-C) of kept clips", "kept"),
    ("offset", "audio-video offset found (frames) of kept clips", "kept"),
)


def _figure(draw, title: str) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0, 3.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    draw(ax)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def outcome_counts(rows: list[dict]) -> dict[str, int]:
    """{"kept": n, reason: n, ...} in pipeline order (reasons that occurred only)."""
    counts = Counter("kept" if r["status"] == "kept" else r["reason"] for r in rows)
    order = ["kept", *REASONS]
    return {k: counts[k] for k in order if counts[k]}


def _bars(counts: dict[str, int]) -> bytes:
    def draw(ax) -> None:
        names = list(counts)
        colours = ["tab:green" if n == "kept" else "tab:red" for n in names]
        ax.barh(names[::-1], list(counts.values())[::-1], color=colours[::-1])
        ax.set_xlabel("clips (videos for probe rejects)")
    return _figure(draw, "outcomes by reason")


def _histogram(values: list[float], title: str) -> bytes:
    def draw(ax) -> None:
        if values:
            ax.hist(values, bins=min(20, max(5, len(set(values)))), color="tab:blue")
        else:
            ax.text(0.5, 0.5, "no clips", ha="center", va="center", transform=ax.transAxes)
        ax.set_ylabel("clips")
    return _figure(draw, title)


def _thumb_cells(rows: list[dict], thumbs: dict[str, bytes], limit: int, folder: Path) -> str:
    """Figures of up to `limit` rows with thumbnails, spread over the outcomes (round robin)."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        if row["key"] in thumbs:
            groups.setdefault(row["reason"] or "kept", []).append(row)
    picked: list[dict] = []
    while len(picked) < limit and any(groups.values()):
        for group in groups.values():
            if group and len(picked) < limit:
                picked.append(group.pop(0))
    cells = []
    for row in picked:
        name = f"thumbs/{row['key']}.png"
        (folder / name).write_bytes(thumbs[row["key"]])
        label = "kept" if row["status"] == "kept" else f"{row['reason']}: {row['detail']}"
        cells.append(f'<figure><img src="{name}"><figcaption>{html.escape(row["key"])}<br>'
                     f"{html.escape(label)}</figcaption></figure>")
    return "".join(cells) or "<p>none</p>"


def write_report(out: Path, rows: list[dict], cfg: PrepareConfig,
                 thumbs: dict[str, bytes]) -> Path:
    """Write `out/report/` (index.html + PNGs + thumbnails) from manifest `rows` and the
    thumbnails by row key (`xdub.data.prepare.store.read_thumbs`)."""
    counts = outcome_counts(rows)
    with atomic_dir(out / "report") as folder:
        (folder / "thumbs").mkdir()
        (folder / "outcomes.png").write_bytes(_bars(counts))
        figures = ['<img src="outcomes.png">']
        for field, title, which in HISTOGRAMS:
            values = [float(r[field]) for r in rows if r.get(field) is not None
                      and (which == "all" or r["status"] == "kept")]
            (folder / f"{field}.png").write_bytes(_histogram(values, title))
            figures.append(f'<img src="{field}.png">')
        kept = [r for r in rows if r["status"] == "kept"]
        rejected = [r for r in rows if r["status"] != "kept"]
        table = "".join(f"<tr><td>{html.escape(k)}</td><td>{REASONS.get(k, '')}</td>"
                        f"<td>{v}</td></tr>" for k, v in counts.items())
        videos = len({r["video"] for r in rows})
        seconds = sum(float(r.get("seconds", 0)) for r in kept)
        page = f"""<!doctype html><html><head><meta charset="utf-8"><title>xdub prepare</title>
<style>body{{font-family:sans-serif;margin:2em}} img{{margin:4px}} figure{{display:inline-block;
margin:4px;font-size:11px;max-width:110px}} td{{padding:2px 10px}}</style></head><body>
<h1>xdub prepare report</h1>
<p>{videos} input videos; {len(kept)} clips kept ({seconds:.1f} s); {len(rejected)} rejected;
crops {cfg.face.align.crop_size} px at {cfg.segment.fps:g} fps.</p>
<table><tr><th>outcome</th><th>step</th><th>count</th></tr>{table}</table>
<h2>Figures</h2>{''.join(figures)}
<h2>Kept</h2>{_thumb_cells(kept, thumbs, cfg.thumbnails, folder)}
<h2>Rejected</h2>{_thumb_cells(rejected, thumbs, cfg.thumbnails, folder)}
</body></html>
"""
        (folder / "index.html").write_text(page)
    return out / "report" / "index.html"
