"""What a dubbing checkpoint does to a photographic face (issue #12, "real footage").

No real talking-face video can be downloaded here, so the check uses a photograph that ships
inside an installed package (matplotlib's `grace_hopper.jpg`, or any image given with
--image), animated by a slow zoom and drift so the tracker sees motion, and dubbed with a
synthetic speech track. It reports how much of the frame the dub changed outside the lips
region (PSNR of the frame outside the grown mouth, from the tracked landmarks) and the
chroma noise inside it, and writes a strip input | output | |difference| at 4 times.

  python scripts/real_face_check.py --checkpoint src/xdub/assets/default --out /tmp/real
Not importable (scripts/ is outside the package).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from xdub.config.infer import InferConfig
from xdub.config.synth_speech import SpeechConfig
from xdub.synth.speech import make_speech
from xdub.face.align import warp_from_crop
from xdub.face.mask import mouth_mask
from xdub.pipeline import load_pipeline
from xdub.types import Audio, Video


def default_image() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


def animate(image: np.ndarray, frames: int) -> np.ndarray:
    """`[frames, H, W, 3]`: a slow zoom (1.0 -> 1.04) and drift of the still."""
    h, w = image.shape[:2]
    out = []
    for k in range(frames):
        t = k / max(frames - 1, 1)
        scale = 1.0 + 0.04 * t
        m = cv2.getRotationMatrix2D((w / 2 + 6 * np.sin(2 * np.pi * t), h / 2), 0.0, scale)
        out.append(cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT))
    return np.stack(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--image", type=Path, default=None)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    image = cv2.cvtColor(cv2.imread(str(args.image or default_image())), cv2.COLOR_BGR2RGB)
    fps = 25.0
    frames = animate(image, int(args.seconds * fps))
    speech = make_speech(np.random.default_rng(3), args.seconds, SpeechConfig())
    audio = Audio(speech.samples.astype(np.float32), speech.sample_rate)
    pipe = load_pipeline(checkpoint=args.checkpoint)
    result = pipe(Video(frames, fps, None), audio, InferConfig())
    out = result.video.frames[: len(frames)]
    table = result.faces
    size = table.crop_size
    changed_outside, chroma = [], []
    for k in range(len(out)):
        row = table.row(k)
        if row is None:
            continue
        crop_mask = mouth_mask(table.crop_landmarks[row], (size, size), pipe.dubber.face.mask)
        region = warp_from_crop(crop_mask.astype(np.float32), table.affines[row],
                                out.shape[1:3], "linear") > 0.01
        region = cv2.dilate(region.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
        diff = (out[k].astype(np.float64) - frames[k].astype(np.float64)) ** 2
        mse = diff[~region].mean()
        changed_outside.append(10 * np.log10(255 ** 2 / max(mse, 1e-10)))
        ycc = cv2.cvtColor(out[k], cv2.COLOR_RGB2YCrCb).astype(np.float64)
        ycc_in = cv2.cvtColor(frames[k], cv2.COLOR_RGB2YCrCb).astype(np.float64)
        chroma.append(float(np.abs(ycc[..., 1:] - ycc_in[..., 1:])[region].mean()))
    picks = np.linspace(0, len(out) - 1, 4).astype(int)
    rows = [np.concatenate([frames[k], out[k], np.clip(np.abs(out[k].astype(int) - frames[k])
                                                       * 4, 0, 255).astype(np.uint8)], 1)
            for k in picks]
    args.out.mkdir(parents=True, exist_ok=True)
    strip = np.concatenate(rows, 0)
    cv2.imwrite(str(args.out / "real_face_strip.png"), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
    report = {"checkpoint": args.checkpoint or "embedded default",
              "frames": len(out), "frames_with_face": len(changed_outside),
              "psnr_outside_lips_db": float(np.mean(changed_outside)) if changed_outside else None,
              "chroma_change_in_lips": float(np.mean(chroma)) if chroma else None}
    (args.out / "real_face.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
