"""Face detection speed and crop jitter (raw vs smoothed) for xdub.face.

Usage:
    python benchmarks/face_track.py [--real CLIP.mp4] [--frames 100] [--json out.json]

Speed: frames/s of detection + landmarks (full BlazeFace + mesh), of tracking-mode landmark
refits (mesh only, from the previous frame) and of the Haar fallback, on the astronaut photo
scaled into 256x256, 1280x720 and 1920x1080 frames (face ~45% of the frame height).
Jitter: std of the second difference of the aligned crop centre (px, frame space), raw (no
smoothing anywhere) vs smoothed (tracker One-Euro + crop-parameter One-Euro), on a synthetic
clip (the photo moving on a known smooth path, so the error against the truth is reported too)
and, with --real, on a real video. Single-threaded; runs in about a minute on one CPU core.
"""

from __future__ import annotations

import argparse
import json
import time

import cv2
import numpy as np
import skimage.data

from xdub.config.face import AlignConfig, DetectConfig, TrackConfig
from xdub.face.align import affine_to_params, estimate_alignments
from xdub.face.detect import HaarDetector, MediaPipeDetector
from xdub.face.smooth import jitter
from xdub.face.track import select_track, track_faces

CROP = 512


def _frame_with_face(width: int, height: int) -> np.ndarray:
    """The astronaut photo scaled so the face is ~45% of the frame height, centred."""
    photo = skimage.data.astronaut()
    scale = 0.45 * height / 100.0  # the face is ~100 px tall in the 512 px photo
    m = np.array([[scale, 0, width / 2 - 225 * scale], [0, scale, height / 2 - 125 * scale]])
    return cv2.warpAffine(photo, m, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)


def _fps(fn, frame: np.ndarray, seconds: float = 1.5) -> float:
    fn(frame)  # warm-up (first call builds the runtime's kernels)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn(frame)
        n += 1
    return n / (time.perf_counter() - start)


def bench_speed() -> list[dict]:
    """Frames/s per resolution for detect+mesh, mesh refit, and Haar."""
    mp, haar = MediaPipeDetector(DetectConfig()), HaarDetector(DetectConfig())
    rows = []
    for name, (w, h) in {"256x256": (256, 256), "720p": (1280, 720), "1080p": (1920, 1080)}.items():
        frame = _frame_with_face(w, h)
        faces = mp.detect(frame)
        assert faces, f"no face found in the {name} benchmark frame"
        first = faces[0]
        rows.append({
            "resolution": name,
            "detect_mesh_fps": _fps(mp.detect, frame),
            "refine_fps": _fps(lambda f, face=first: mp.refine(f, face), frame),
            "haar_fps": _fps(haar.detect, frame, seconds=1.0),
        })
    return rows


def synthetic_clip(frames: int, size: int = 384) -> tuple[np.ndarray, np.ndarray]:
    """Photo moving on a smooth path: frames `[T, S, S, 3]` and the path affines `[T, 2, 3]`."""
    photo = skimage.data.astronaut()
    t = np.arange(frames) / 25.0
    clip, paths = [], []
    for k in range(frames):
        dx, dy = 30 * np.sin(2 * np.pi * 0.4 * t[k]), 15 * np.sin(2 * np.pi * 0.25 * t[k] + 1)
        angle = 0.08 * np.sin(2 * np.pi * 0.3 * t[k])
        scale = 1.0 + 0.1 * np.sin(2 * np.pi * 0.2 * t[k])
        m = cv2.getRotationMatrix2D((225.0, 125.0), np.degrees(angle), scale)
        m[:, 2] += np.array([size / 2 - 225.0 + dx, size / 2 - 125.0 + dy])
        clip.append(cv2.warpAffine(photo, m, (size, size), flags=cv2.INTER_CUBIC,
                                   borderMode=cv2.BORDER_REFLECT))
        paths.append(m)
    return np.stack(clip), np.stack(paths)


def crop_centres(frames: np.ndarray, fps: float, smooth: bool) -> tuple[np.ndarray, float]:
    """Crop centre `[T, 2]` (frame px) of the longest track, and its detected-frame fraction."""
    track_cfg = TrackConfig(smooth=smooth)
    align_cfg = AlignConfig(crop_size=CROP, smooth=smooth)
    track = select_track(track_faces(frames, MediaPipeDetector(), track_cfg, fps=fps))
    assert track.landmarks is not None
    affines = estimate_alignments(track.landmarks, CROP, align_cfg, fps)
    centres = np.stack([affine_to_params(a, CROP)[:2] for a in affines])
    return centres, track.num_present / len(frames)


def bench_jitter(frames: np.ndarray, fps: float, truth: np.ndarray | None) -> dict:
    """Jitter (and error vs `truth: [T, 2]` if given) of the crop centre, raw vs smoothed."""
    out: dict = {"frames": len(frames)}
    for mode in ("raw", "smoothed"):
        centres, out["detected_fraction"] = crop_centres(frames, fps, smooth=mode == "smoothed")
        out[f"jitter_{mode}_px"] = jitter(centres)
        if truth is not None:
            err = centres - truth[: len(centres)]
            out[f"noise_jitter_{mode}_px"] = jitter(err)  # the true path's own curvature removed
            err -= err.mean(0)  # a constant offset is a template choice, not tracking error
            out[f"rms_err_{mode}_px"] = float(np.sqrt((err ** 2).sum(1).mean()))
    return out


def _read_clip(path: str, limit: int) -> tuple[np.ndarray, float]:
    from xdub.media import iter_frames, probe

    frames = [f for _, f in zip(range(limit), iter_frames(path))]
    return np.stack(frames), probe(path).fps


def main() -> None:
    """Run both benchmarks and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", help="a real talking-head clip to measure jitter on")
    parser.add_argument("--frames", type=int, default=100, help="frames per jitter clip")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    results: dict = {"speed": bench_speed()}
    print(f"{'resolution':>10} {'detect+mesh fps':>16} {'mesh refit fps':>15} {'haar fps':>9}")
    for r in results["speed"]:
        print(f"{r['resolution']:>10} {r['detect_mesh_fps']:>16.1f} {r['refine_fps']:>15.1f} "
              f"{r['haar_fps']:>9.1f}")
    clip, paths = synthetic_clip(args.frames)
    reference = crop_centres(clip[:1].repeat(3, axis=0), 25.0, smooth=False)[0][0]
    # Truth: where the path carries the photo point that frame 0's crop centre came from.
    photo_point = np.linalg.solve(paths[0][:, :2], reference - paths[0][:, 2])
    truth = np.stack([p[:, :2] @ photo_point + p[:, 2] for p in paths])
    results["jitter"] = {"synthetic": bench_jitter(clip, 25.0, truth)}
    if args.real:
        frames, fps = _read_clip(args.real, args.frames * 10)
        results["jitter"]["real"] = bench_jitter(frames, fps, None)
    print(f"\n{'clip':>10} {'frames':>7} {'detected':>9} {'jitter raw':>11} {'jitter smooth':>14} "
          f"{'noise jit raw':>14} {'noise jit smooth':>17} {'err raw':>8} {'err smooth':>11}  (px)")
    nan = float("nan")
    for name, r in results["jitter"].items():
        print(f"{name:>10} {r['frames']:>7} {r['detected_fraction']:>9.0%} "
              f"{r['jitter_raw_px']:>11.3f} "
              f"{r['jitter_smoothed_px']:>14.3f} {r.get('noise_jitter_raw_px', nan):>14.3f} "
              f"{r.get('noise_jitter_smoothed_px', nan):>17.3f} "
              f"{r.get('rms_err_raw_px', nan):>8.3f} "
              f"{r.get('rms_err_smoothed_px', nan):>11.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
