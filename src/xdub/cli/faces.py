"""`xdub faces`: list the face tracks of a video; save a thumbnail per track and a preview video
with every track drawn (tracks.mp4), both from `xdub.api.faces`."""

from __future__ import annotations

import enum
from pathlib import Path

import typer

from xdub.cli.app import app
from xdub.cli.progress import progress_for
from xdub.config import load, replace
from xdub.config.face import FaceConfig
from xdub.errors import NoFaceError, OutputError
from xdub.face.detect import DETECTORS

# CLI choices come from the detector registry (plugins registered before the CLI runs included).
DetectorName = enum.Enum("DetectorName", {name: name for name in sorted(DETECTORS)}, type=str)


def _load_config(path: Path | None, detector: str | None, detect_every: int | None,
                 base: FaceConfig | None = None) -> FaceConfig:
    """FaceConfig from --config (or `base`: the checkpoint's, or defaults), with the flags that
    were given applied on top."""
    cfg = load(FaceConfig, path) if path is not None else (base or FaceConfig())
    if detector is not None:
        cfg = replace(cfg, detect=replace(cfg.detect, backend=detector))
    if detect_every is not None:
        cfg = replace(cfg, track=replace(cfg.track, detect_every=detect_every))
    return cfg


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
    checkpoint: Path | None = typer.Option(
        None, "--checkpoint", help="Find faces as this dubbing checkpoint folder does (its face "
        "settings and landmark refiner), so the indices are those `xdub dub --checkpoint` "
        "takes; default: the embedded default."),
    refine_landmarks: bool = typer.Option(
        True, "--refine-landmarks/--no-refine-landmarks",
        help="Use the checkpoint's landmark refiner, as `xdub dub` does by default."),
) -> None:
    """List the face tracks of VIDEO (id, frames, size) and save a thumbnail per track."""
    from rich.console import Console
    from rich.table import Table

    from xdub.api.faces import find_faces, write_track_preview
    from xdub.media import write_png
    from xdub.pipeline.loading import load_face_finder

    face, finder = load_face_finder(checkpoint)
    cfg = _load_config(config, None if detector is None else detector.value, detect_every, face)
    if out is not None and out.exists() and not out.is_dir():
        raise OutputError(f"--out is not a folder: {out}")
    with progress_for(quiet=False) as progress:
        found = find_faces(video, cfg, progress=progress, finder=finder,
                           refine_landmarks=refine_landmarks)
    if not found:
        raise NoFaceError(f"no face found in {video}")
    table = Table(title=f"{len(found)} face track(s) in {video.name}")
    for name in ("face", "track id", "first-last frame", "frames present", "mean box px"):
        table.add_column(name, justify="right")
    for face in found:
        t = face.track
        table.add_row(str(face.index), str(t.track_id), f"{t.first}-{t.last}",
                      f"{t.num_present}/{len(t.frame_indices)}", f"{t.mean_size:.0f}")
    Console().print(table)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for face in found:
            path = out / f"face_{face.index:02d}_track{face.track.track_id}_frame{face.frame:05d}.png"
            write_png(path, face.image)
            print(f"wrote {path}")
        print(f"wrote {write_track_preview(video, found, out / 'tracks.mp4')}")
