"""Reject reasons of `xdub prepare`: one name per rule, raised by the step that applies it.

A step either returns its result or raises `Rejected(reason, detail)`; the runner records the
reason with the clip (or the whole video) in the manifest and counts it. `REASONS` lists every
name with the step it belongs to, in pipeline order, so reports and progress lines list them
in a stable order. Imports: stdlib only.
"""

from __future__ import annotations

REASONS: dict[str, str] = {
    # 1. probe (whole video)
    "unreadable": "probe",
    "too_short": "probe",
    "low_resolution": "probe",
    "no_audio": "probe",
    # 2. segmentation
    "short_shot": "segment",
    # 3. faces
    "no_face": "faces",
    "small_face": "faces",
    "face_lost": "faces",
    "head_pose": "faces",
    "multiple_faces": "faces",
    # 5. sync
    "offset_too_large": "sync",
    "low_sync_confidence": "sync",
    "not_speaker": "sync",
    # 6. quality
    "blurry": "quality",
    "dark": "quality",
    "overexposed": "quality",
    "clipped_exposure": "quality",
    "blocky": "quality",
}


class Rejected(Exception):
    """A clip or video fails a rule: `reason` is a key of `REASONS`, `detail` says by how much,
    `extra` holds measured values for the manifest row (e.g. the face size that was too small)."""

    def __init__(self, reason: str, detail: str = "", **extra: object) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown reject reason {reason!r}")
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.extra = extra
