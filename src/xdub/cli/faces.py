"""`xdub faces`: list the face tracks of a video and save a thumbnail per track."""

from __future__ import annotations

import enum
from pathlib import Path

import numpy as np
import typer

from xdub.cli.app import app
from xdub.config import load, replace
from xdub.config.face import FaceConfig
from xdub.errors import NoFaceError, OutputError
from xdub.face.detect import DETECTORS

THUMB_SIZE = 160  # px, aligned face crop per track
# CLI choices come from the detector registry (plugins registered before the CLI runs included).
DetectorName = enum.Enum("DetectorName", {name: name for name in sorted(DETECTORS)}, type=str)


def _load_config(path: Path | None, detector: str | None, detect_every: int | None) -> FaceConfig:
    """FaceConfig from --config (or defaults), with the flags that were given applied on top."""
    cfg = load(FaceConfig, path) if path is not None else FaceConfig()
    if detector is not None:
        cfg = replace(cfg, detect=replace(cfg.detect, backend=detector))
    if detect_every is not None:
        cfg = replace(cfg, track=replace(cfg.track, detect_every=detect_every))
    return cfg


def _thumbnails(video: Path, tracks: list, out: Path) -> list[Path]:
    """Second pass over the video: an aligned crop of each track at its best-scoring frame."""
    from xdub.config.face import AlignConfig
    from xdub.face.align import estimate_alignment, warp_to_crop
    from xdub.media import iter_frames, write_png

    wanted: dict[int, list[int]] = {}
    for k, track in enumerate(tracks):
        row = int(np.argmax(np.where(track.present, track.scores, -1.0)))
        wanted.setdefault(track.first + row, []).append(k)
    align = AlignConfig(crop_size=THUMB_SIZE)
    paths: list[Path] = []
    for i, frame in enumerate(iter_frames(video)):
        for k in wanted.get(i, []):
            track = tracks[k]
            row = track.index_of(i)
            if track.landmarks is not None:
                affine = estimate_alignment(track.landmarks[row], THUMB_SIZE, align)
                thumb = warp_to_crop(frame, affine, THUMB_SIZE)
            else:
                x0, y0, x1, y1 = np.round(track.boxes[row]).astype(int)
                thumb = frame[max(y0, 0):y1, max(x0, 0):x1]
            path = out / f"face_{k:02d}_track{track.track_id}_frame{i:05d}.png"
            write_png(path, thumb)
            paths.append(path)
        if i >= max(wanted, default=-1):
            break
    return paths


@app.command()
def faces(
    video: Path = typer.Argument(..., help="Input video file."),
    out: Path | None = typer.Option(None, "--out", help="Folder for one PNG thumbnail per track."),
    detector: DetectorName | None = typer.Option(
        None, "--detector", help="Face detector (default mediapipe; haar: low-quality fallback)."),
    detect_every: int | None = typer.Option(
        None, "--detect-every", min=1, help="Full detection every N frames, tracking between "
        "(default 1)."),
    config: Path | None = typer.Option(None, "--config", help="FaceConfig YAML (configs/face)."),
) -> None:
    """List the face tracks of VIDEO (id, frames, size) and save a thumbnail per track."""
    from rich.console import Console
    from rich.progress import track as progress
    from rich.table import Table

    from xdub.face.detect import create_detector
    from xdub.face.track import track_faces
    from xdub.media import iter_frames, probe

    cfg = _load_config(config, None if detector is None else detector.value, detect_every)
    info = probe(video)
    frames = progress(iter_frames(video), total=info.num_frames, description="tracking faces",
                      transient=True, console=Console(stderr=True))
    tracks = track_faces(frames, create_detector(cfg.detect), cfg.track, fps=info.fps)
    if not tracks:
        raise NoFaceError(f"no face found in {video}")
    table = Table(title=f"{len(tracks)} face track(s) in {video.name}")
    for name in ("face", "track id", "first-last frame", "frames present", "mean box px"):
        table.add_column(name, justify="right")
    for k, t in enumerate(tracks):
        table.add_row(str(k), str(t.track_id), f"{t.first}-{t.last}",
                      f"{t.num_present}/{len(t.frame_indices)}", f"{t.mean_size:.0f}")
    Console().print(table)
    if out is not None:
        if out.exists() and not out.is_dir():
            raise OutputError(f"--out is not a folder: {out}")
        out.mkdir(parents=True, exist_ok=True)
        for path in _thumbnails(video, tracks, out):
            print(f"wrote {path}")
