"""One raw video through every step: probe -> scan -> segments -> faces -> crops -> sync ->
quality (-> cached latents/audio features when encoders are given), yielding one manifest row per outcome (and the clip fields of kept clips).

Rows are plain JSON (no times, no absolute state), so the same input gives the same manifest
on every run. Imports: numpy, xdub.{media, models, face, config}, xdub.data.prepare.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xdub.config.prepare import PrepareConfig
from xdub.data.prepare.cache import ClipEncoders, cached_features
from xdub.data.prepare.crops import CroppedClip, crop_clips
from xdub.data.prepare.faces import FaceClip, face_clips
from xdub.data.prepare.probe import probe_video
from xdub.data.prepare.quality import check_quality
from xdub.data.prepare.reasons import Rejected
from xdub.data.prepare.scan import THUMB_SIDE, scan_video, shrink
from xdub.data.prepare.segments import Segment, split_shots
from xdub.data.prepare.sync import read_clip_audio, sync_clip
from xdub.errors import MediaError
from xdub.face.detect import FaceDetector
from xdub.media.image import encode_png
from xdub.models.syncnet import SyncScorer


@dataclass(frozen=True)
class Outcome:
    """One manifest row, its thumbnail (PNG bytes or None) and, for kept clips, its fields."""

    row: dict[str, Any]
    thumb: bytes | None = None
    fields: dict[str, Any] | None = None


def _thumb(image: np.ndarray | None) -> bytes | None:
    return None if image is None else encode_png(shrink(image, THUMB_SIDE))


def _row(key: str, source: dict, status: str, reason: str | None = None, detail: str = "",
         **extra: Any) -> dict[str, Any]:
    return {"key": key, **source, "status": status, "reason": reason, "detail": detail, **extra}


def _segment_key(prefix: str, seg: Segment, tag: str = "") -> str:
    """Row key: video prefix, first frame of the segment, and a tag (track or reject number)."""
    return f"{prefix}f{seg.start:07d}{tag}"


def _kept(prefix: str, source: dict, clip: CroppedClip, scorer: SyncScorer, path: Path,
          cfg: PrepareConfig, encoders: ClipEncoders | None) -> Outcome:
    """Sync + quality of one cropped clip -> a kept or rejected Outcome."""
    face, fps = clip.face, cfg.segment.fps
    key = _segment_key(prefix, face.segment, f"t{face.track.track_id:03d}")
    geometry = {"start": face.start, "stop": face.stop, "shot": face.segment.shot,
                "start_segment": face.segment.start,
                "track": face.track.track_id, "seconds": (face.stop - face.start) / fps,
                "face_fraction": round(face.face_fraction, 4), "other_faces": face.other_faces,
                "yaw_deg": round(face.yaw_deg, 1), "pitch_deg": round(face.pitch_deg, 1),
                **{k: round(v, 4) for k, v in clip.quality.items()}}
    thumb = _thumb(clip.crops[len(clip.crops) // 2])
    margin = cfg.sync.max_correction
    padded = read_clip_audio(path, face.start, face.stop, fps, margin)
    try:
        sync = sync_clip(scorer, clip.crops, clip.landmarks, padded, margin, fps, cfg.sync)
        check_quality(clip.quality, cfg.quality)
    except Rejected as reject:
        return Outcome(_row(key, source, "rejected", reject.reason, reject.detail, **geometry),
                       thumb)
    row = _row(key, source, "kept", fps=fps, offset=sync.offset,
               sync_confidence=round(sync.confidence, 4), crop_size=int(clip.crops.shape[1]),
               **geometry)
    fields = {"crops": clip.crops, "landmarks": clip.landmarks, "boxes": clip.boxes,
              "affines": clip.affines, "audio": sync.samples, "meta": row}
    if encoders is not None:
        fields.update(cached_features(encoders, clip.crops, sync.samples, fps))
    return Outcome(row, thumb, fields)


def prepare_video(path: Path, prefix: str, cfg: PrepareConfig, detector: FaceDetector,
                  scorer: SyncScorer, encoders: ClipEncoders | None = None) -> Iterator[Outcome]:
    """Every outcome of raw video `path`; row keys start with `prefix` (unique per video).

    Streams: a kept clip is yielded as soon as it is scored, so memory holds one segment's
    clips, not the video's. A file that probes fine but fails to decode later (a corrupt
    packet) ends with one "unreadable" row; clips finished before the failure stay.
    """
    source = {"video": str(path), "bytes": path.stat().st_size if path.is_file() else 0}
    try:
        probe_video(path, cfg.probe)
        yield from _outcomes(path, prefix, source, cfg, detector, scorer, encoders)
    except Rejected as reject:
        yield Outcome(_row(prefix + "v", source, "rejected", reject.reason, reject.detail))
    except MediaError as err:
        yield Outcome(_row(prefix + "v", source, "rejected", "unreadable", str(err)))


def pick_speaker(group: list[Outcome]) -> list[Outcome]:
    """Of several kept faces in one segment keep the one the audio belongs to (highest sync
    confidence); the others become "not_speaker" rejects (their clip fields are dropped)."""
    kept = [o for o in group if o.fields is not None]
    if len(kept) < 2:
        return group
    best = max(kept, key=lambda o: (o.row["sync_confidence"], -o.row["track"]))
    out = []
    for o in group:
        if o.fields is None or o is best:
            out.append(o)
            continue
        detail = (f"confidence {o.row['sync_confidence']:.2f} < {best.row['sync_confidence']:.2f}"
                  f" of track {best.row['track']}")
        row = {k: v for k, v in o.row.items() if k not in ("fps", "offset", "sync_confidence",
                                                             "crop_size")}
        out.append(Outcome({**row, "status": "rejected", "reason": "not_speaker",
                            "detail": detail}, o.thumb))
    return out


def _outcomes(path: Path, prefix: str, source: dict, cfg: PrepareConfig, detector: FaceDetector,
              scorer: SyncScorer, encoders: ClipEncoders | None) -> Iterator[Outcome]:
    """Steps 2-6 of a video that passed the probe."""
    scan = scan_video(path, cfg, detector)
    segments, short = split_shots(scan.cuts, scan.num_frames, cfg.segment)
    for seg in short:
        yield Outcome(_row(_segment_key(prefix, seg), source, "rejected", "short_shot",
                           f"{seg.num_frames} frames", start=seg.start, stop=seg.stop,
                           shot=seg.shot, seconds=seg.num_frames / scan.fps),
                      _thumb(scan.thumbnail_near((seg.start + seg.stop) // 2)))
    min_frames = max(1, round(cfg.segment.min_clip_seconds * cfg.segment.fps))
    planned: list[FaceClip] = []
    for seg in segments:
        for k, result in enumerate(face_clips(seg, scan.tracks, scan.frame_size, min_frames,
                                              cfg.faces)):
            if isinstance(result, FaceClip):
                planned.append(result)
                continue
            yield Outcome(_row(_segment_key(prefix, seg, f"r{k}"), source, "rejected",
                               result.reason, result.detail, start=seg.start, stop=seg.stop,
                               shot=seg.shot, seconds=seg.num_frames / scan.fps, **result.extra),
                          _thumb(scan.thumbnail_near((seg.start + seg.stop) // 2)))
    # Clips of one segment all finish before any clip of the next one (segments do not
    # overlap), so grouping consecutive clips by segment sees every face of a shot piece.
    group: list[Outcome] = []
    for clip in crop_clips(path, planned, cfg.face.align, cfg.segment.fps):
        outcome = _kept(prefix, source, clip, scorer, path, cfg, encoders)
        if group and group[0].row["start_segment"] != outcome.row["start_segment"]:
            yield from _finish(group, cfg)
            group = []
        group.append(outcome)
    yield from _finish(group, cfg)


def _finish(group: list[Outcome], cfg: PrepareConfig) -> list[Outcome]:
    return pick_speaker(group) if cfg.sync.speaker_only else group
