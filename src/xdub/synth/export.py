"""Write synthetic clips to disk: `<name>.mp4` + `<name>.wav` + `<name>.masks.npz` + `<name>.json`.

The mp4 is H.264 + AAC (`xdub.media.VideoWriter`), the wav the exact 16 kHz float audio as
16-bit PCM, the npz the per-frame masks bit-packed along the width
(`np.unpackbits(a, axis=-1, count=W).astype(bool)`, or use `load_masks`), and the JSON sidecar
the metadata and every per-frame array (mouth params, 68 landmarks, face box, lighting, head
pose/affine, blink, phones). Every file goes to a temp name in the destination folder and is
renamed when complete; the sidecar is written last, so its presence means the set is whole.
Frames are streamed into the encoder, so long clips never sit in memory.
Imports: numpy, xdub.media, xdub.errors, sibling synth modules.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xdub.atomic import write_bytes_atomic
from xdub.synth.clip import ClipPlan, SynthClip
from xdub.synth.motion import LIGHTING_COLUMNS, POSE_COLUMNS
from xdub.synth.tracks import MOUTH_PARAMS
from xdub.errors import MediaError, OutputError
from xdub.media import VideoWriter, write_wav

SIDECAR_FORMAT = "xdub-synth-sidecar"
SIDECAR_VERSION = 1


@dataclass(frozen=True)
class ExportedClip:
    """Paths of one exported clip."""

    video: Path
    audio: Path
    masks: Path
    sidecar: Path


def _round(a: np.ndarray, digits: int) -> list:
    return np.round(np.asarray(a, np.float64), digits).tolist()


def _sidecar(meta: dict[str, Any], arrays: dict[str, np.ndarray], phones: tuple,
             name: str) -> dict[str, Any]:
    """JSON-ready sidecar: metadata, file names, column names and per-frame arrays."""
    return {
        "format": SIDECAR_FORMAT, "format_version": SIDECAR_VERSION, **meta,
        "files": {"video": f"{name}.mp4", "audio": f"{name}.wav", "masks": f"{name}.masks.npz"},
        "columns": {"mouth_params": list(MOUTH_PARAMS), "lighting": list(LIGHTING_COLUMNS),
                    "head_pose": list(POSE_COLUMNS), "face_box": ["x0", "y0", "x1", "y1"]},
        "landmark_layout": "ibug68",
        "phones": [[p.symbol, round(p.start, 5), round(p.duration, 5), round(p.pitch_hz, 2)]
                   for p in phones],
        "frames": {
            "mouth_params": _round(arrays["mouth_params"], 4),
            "landmarks": _round(arrays["landmarks"], 3),
            "face_box": _round(arrays["face_box"], 3),
            "lighting": _round(arrays["lighting"], 4),
            "head_pose": _round(arrays["head_pose"], 4),
            "head_affine": _round(arrays["head_affine"], 5),
            "blink": _round(arrays["blink"], 4),
        },
    }


def _write_set(out_dir: Path, name: str, meta: dict[str, Any], arrays: dict[str, np.ndarray],
               packed: dict[str, np.ndarray], phones: tuple, audio: Any) -> ExportedClip:
    """Write wav, masks and (last) the sidecar next to an already written mp4."""
    wav = write_wav(out_dir / f"{name}.wav", audio)
    buf = io.BytesIO()
    np.savez_compressed(buf, **packed, width=np.int64(meta["size"][0]))
    masks = write_bytes_atomic(out_dir / f"{name}.masks.npz", buf.getvalue())
    doc = json.dumps(_sidecar(meta, arrays, phones, name), separators=(",", ":"))
    sidecar = write_bytes_atomic(out_dir / f"{name}.json", doc.encode())
    return ExportedClip(out_dir / f"{name}.mp4", wav, masks, sidecar)


def _check_dir(out_dir: str | Path) -> Path:
    out = Path(out_dir)
    if not out.is_dir():
        raise OutputError(f"output folder does not exist: {out}")
    return out


def export_plan(plan: ClipPlan, out_dir: str | Path, name: str,
                preset: str = "fast") -> ExportedClip:
    """Render `plan` frame by frame straight into `<out_dir>/<name>.mp4` and write the rest."""
    out = _check_dir(out_dir)
    scene = plan.scene
    marks, boxes, mouth_bits, occ_bits = [], [], [], []
    with VideoWriter(out / f"{name}.mp4", scene.cfg.fps, scene.cfg.size, audio=plan.audio,
                     preset=preset) as writer:
        for frame, truth in plan.frames():
            writer.write(frame)
            marks.append(truth.landmarks)
            boxes.append(truth.face_box)
            mouth_bits.append(np.packbits(truth.mouth_mask, axis=-1))
            occ_bits.append(np.packbits(truth.occluder_mask, axis=-1))
    arrays = {"mouth_params": plan.mouth.params, "landmarks": np.stack(marks),
              "face_box": np.stack(boxes), "lighting": scene.lighting, "head_pose": scene.pose,
              "head_affine": scene.affine, "blink": scene.animation.blink}
    packed = {"mouth_mask": np.stack(mouth_bits), "occluder_mask": np.stack(occ_bits)}
    return _write_set(out, name, plan.meta(), arrays, packed, plan.phones, plan.audio)


def export_clip(clip: SynthClip, out_dir: str | Path, name: str,
                preset: str = "fast") -> ExportedClip:
    """Write an in-memory clip as `<name>.mp4/.wav/.masks.npz/.json` in `out_dir`."""
    out = _check_dir(out_dir)
    h, w = clip.frames.shape[1:3]
    with VideoWriter(out / f"{name}.mp4", clip.fps, (w, h), audio=clip.audio,
                     preset=preset) as writer:
        for frame in clip.frames:
            writer.write(frame)
    t = clip.truth
    arrays = {k: getattr(t, k) for k in ("mouth_params", "landmarks", "face_box", "lighting",
                                         "head_pose", "head_affine", "blink")}
    packed = {"mouth_mask": np.packbits(t.mouth_mask, axis=-1),
              "occluder_mask": np.packbits(t.occluder_mask, axis=-1)}
    return _write_set(out, name, clip.meta, arrays, packed, clip.phones, clip.audio)


def load_masks(path: str | Path) -> dict[str, np.ndarray]:
    """Read a `.masks.npz` back to bool arrays `{"mouth_mask": [T, H, W], "occluder_mask": ...}`."""
    try:
        with np.load(path) as data:
            width = int(data["width"])
            return {k: np.unpackbits(data[k], axis=-1, count=width).astype(bool)
                    for k in ("mouth_mask", "occluder_mask")}
    except (OSError, KeyError, ValueError) as err:
        raise MediaError(f"cannot read masks {path}: {err}") from None


def load_sidecar(path: str | Path) -> dict[str, Any]:
    """Read a clip's JSON sidecar, with per-frame lists turned into float32 arrays."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise MediaError(f"cannot read sidecar {path}: {err}") from None
    if doc.get("format") != SIDECAR_FORMAT:
        raise MediaError(f"{path} is not an xdub synth sidecar")
    doc["frames"] = {k: np.asarray(v, np.float32) for k, v in doc["frames"].items()}
    return doc
