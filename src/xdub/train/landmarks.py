"""Training recipe of the landmark refiner (`xdub.models.landmark_net.LandmarkNet`).

Data: engine frames (`LandmarkTrainConfig.scenarios`, every `frame_stride`-th frame of short
clips) with their exact landmarks. Each frame gives several refiner crops (`xdub.face.refine`'s
`refiner_crop`), each cut where *rough* landmarks put the face: the truth moved by a random
similarity (`jittered` crops: shift, zoom, turn), and, where the detector finds the face, the
detector's own landmarks (what dubbing starts from). The target is always the truth in that
crop. Crops where the face is not (`negatives`: placed 1.5-4 IODs away from it; and
`hard_negatives`: the fallback's own low-score BlazeFace candidates that are not the face)
teach the presence output. Crops are cut once into memory; each sample then gets a random
horizontal flip and a brightness / contrast change.
Objective: on crops with the face, L1 on the 68 points (crop pixels / quarter side) plus
`keypoint_weight` x L1 on the points the alignment fits (eye centres, nose tip, mouth
corners); on every crop, `presence_weight` x BCE of the presence logit.
At the end the held-out clips (`val_clips` per scenario, seeds never trained on) are scored:
the alignment keypoints' error in inter-ocular distances, detector alone vs refined; and the
fallback: the share of frames with the face found with it, and the faces it calls where there
is none (final/metrics.json). Run dir: the loop's + final/ (config.json, model.safetensors,
metrics.json).
Imports: numpy, torch, tqdm, xdub.{config, face, models, train}.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from xdub.config.face import DetectConfig
from xdub.config.landmarks import LandmarkRefineConfig, LandmarkTrainConfig
from xdub.face.align import template_landmarks
from xdub.face.detect import FaceDetection, create_detector
from xdub.face.landmarks import (
    FLIP_68,
    GROUPS,
    MOUTH_LEFT,
    MOUTH_RIGHT,
    NOSE_TIP,
    eye_offset,
    interocular,
    keypoints,
    transform_points,
)
from xdub.face.refine import RefinedDetector, refine_landmarks, refiner_crop
from xdub.models.landmark_net import LandmarkNet, offsets_to_pixels
from xdub.train.frame_recipes import clip_jobs, iter_records, train_to_final
from xdub.train.report import Panel

log = logging.getLogger(__name__)

SAME_FACE_IOD = 1.0  # a detection whose eye centres are this far off the truth is another face
HARD_NEGATIVE_SCORE = 0.05  # BlazeFace threshold of the candidates mined as hard negatives
LOSS_PANELS = (Panel(("loss", "points", "keypoints", "presence"), log_y=True),)
ALIGN_POINTS = 5  # keypoints() rows the alignment fits: eyes, nose tip, mouth corners


@dataclass(frozen=True)
class LandmarkCrops:
    """Refiner crops `[N, S, S, 3]` uint8, the true landmarks in each `[N, 68, 2]` float32, and
    whether each crop is placed on the face `[N]` bool (False: a negative)."""

    crops: np.ndarray
    targets: np.ndarray
    present: np.ndarray


@dataclass(frozen=True)
class LandmarkFrames:
    """Rendered frames `[N, H, W, 3]` uint8 with their true landmarks `[N, 68, 2]`."""

    frames: np.ndarray
    landmarks: np.ndarray


def render_frames(cfg: LandmarkTrainConfig, held_out: bool = False) -> LandmarkFrames:
    """Every `frame_stride`-th frame of the training (or held-out) clips of every scenario."""
    jobs = clip_jobs(cfg, held_out)
    frames, landmarks = [], []
    for record in tqdm(iter_records(jobs), total=len(jobs), unit="clip", mininterval=5.0,
                       desc="landmark clips" + (" (held out)" if held_out else "")):
        frames.append(record.frames[::cfg.frame_stride])
        landmarks.append(record.landmarks[::cfg.frame_stride].astype(np.float32))
    return LandmarkFrames(np.concatenate(frames), np.concatenate(landmarks))


def _moved(landmarks: np.ndarray, degrees: float, scale: float, shift: np.ndarray) -> np.ndarray:
    """`landmarks` `[68, 2]` turned by `degrees` and scaled about their centre, then shifted."""
    centre, angle = landmarks.mean(0), np.deg2rad(degrees)
    turn = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return ((landmarks - centre) @ turn.T + centre + shift).astype(np.float32)


def displaced(landmarks: np.ndarray, cfg: LandmarkTrainConfig,
              rng: np.random.Generator) -> np.ndarray:
    """`landmarks` `[68, 2]` moved by a random similarity about their centre (what a detector
    that is off by up to `jitter_shift` IODs, `jitter_scale`, `jitter_degrees` returns)."""
    iod = float(interocular(landmarks))
    degrees = rng.uniform(-cfg.jitter_degrees, cfg.jitter_degrees)
    scale = 1.0 + rng.uniform(-cfg.jitter_scale, cfg.jitter_scale)
    return _moved(landmarks, degrees, scale, rng.uniform(-1, 1, 2) * cfg.jitter_shift * iod)


def elsewhere(landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`landmarks` `[68, 2]` moved 1.5 .. 4 IODs away, turned up to 30 degrees and scaled 0.4 ..
    2.5 times: a crop placed there shows background, body or the edge of the face."""
    iod = float(interocular(landmarks))
    degrees = rng.uniform(-30, 30)
    scale = float(np.exp(rng.uniform(np.log(0.4), np.log(2.5))))
    heading = rng.uniform(0, 2 * np.pi)
    shift = rng.uniform(1.5, 4.0) * iod * np.array([np.cos(heading), np.sin(heading)])
    return _moved(landmarks, degrees, scale, shift)


def not_the_face(detector, frame: np.ndarray, truth: np.ndarray, model: str,
                 limit: int) -> list[np.ndarray]:
    """Coarse landmarks of up to `limit` low-score candidates of BlazeFace's `model` that are
    not the face (eye centres over `SAME_FACE_IOD` off): what the dubbing fallback must reject."""
    far = SAME_FACE_IOD * float(interocular(truth))
    return [face.landmarks
            for face in detector.candidates(frame, model, HARD_NEGATIVE_SCORE, 2 * limit + 1)
            if eye_offset(face.landmarks, truth) > far][:limit]


def detected(detector, frame: np.ndarray, truth: np.ndarray) -> np.ndarray | None:
    """The detector's landmarks of the face whose eyes are nearest the truth's, if it is the
    same face (eye centres within `SAME_FACE_IOD`), else None."""
    faces: list[FaceDetection] = [f for f in detector.detect(frame) if f.landmarks is not None]
    if not faces:
        return None
    errors = [eye_offset(f.landmarks, truth) for f in faces]
    best = int(np.argmin(errors))
    return faces[best].landmarks if errors[best] <= SAME_FACE_IOD * interocular(truth) else None


def cut_crops(cfg: LandmarkTrainConfig, pool: LandmarkFrames) -> LandmarkCrops:
    """The refiner crops of every frame (see the module docstring), cut once."""
    crop = cfg.model.crop
    rng = np.random.default_rng([cfg.loop.seed, 11])
    needs_detector = cfg.detector or cfg.hard_negatives
    detector = create_detector(DetectConfig()) if needs_detector else None
    crops, targets, present = [], [], []
    for frame, truth in tqdm(zip(pool.frames, pool.landmarks), total=len(pool.frames),
                             desc="landmark crops", unit="frame", mininterval=5.0):
        starts = [(displaced(truth, cfg, rng), True) for _ in range(cfg.jittered)]
        found = detected(detector, frame, truth) if cfg.detector else None
        if found is not None:
            starts.append((found, True))
        starts += [(elsewhere(truth, rng), False) for _ in range(cfg.negatives)]
        if cfg.hard_negatives:
            starts += [(c, False) for c in not_the_face(detector, frame, truth,
                                                        cfg.dubbing.fallback_model,
                                                        cfg.hard_negatives)]
        for start, is_face in starts:
            image, affine = refiner_crop(frame, start, crop)
            crops.append(image)
            targets.append(transform_points(truth, affine))
            present.append(is_face)
    return LandmarkCrops(np.stack(crops), np.stack(targets).astype(np.float32),
                         np.array(present, bool))


def batches(cfg: LandmarkTrainConfig, data: LandmarkCrops, consumed: int):
    """Endless (x `[B, 3, S, S]` in [-1, 1], target `[B, 68, 2]` crop pixels, present `[B]`
    float) batches from micro-batch `consumed` on; batch i depends on i only (a resumed run
    continues the same stream). Half the samples are mirrored (points swapped left / right
    with `FLIP_68`)."""
    side = cfg.model.crop.crop_size
    index = consumed
    while True:
        rng = np.random.default_rng([cfg.loop.seed, index])
        picks = rng.integers(len(data.crops), size=cfg.loop.batch_size)
        images = data.crops[picks].astype(np.float32)
        targets = data.targets[picks].copy()
        flip = rng.random(len(picks)) < 0.5
        images[flip] = images[flip, :, ::-1]
        targets[flip] = targets[flip][:, FLIP_68]
        targets[flip, :, 0] = side - 1 - targets[flip, :, 0]
        gain, contrast = 1.0 + rng.uniform(-1, 1, (2, len(picks), 1, 1, 1)) * cfg.jitter_gain
        mean = images.mean(axis=(1, 2, 3), keepdims=True)
        images = np.clip((images - mean) * contrast + mean * gain, 0.0, 255.0)
        x = torch.from_numpy(images.astype(np.float32)).permute(0, 3, 1, 2) / 127.5 - 1.0
        yield x, torch.from_numpy(targets), torch.from_numpy(data.present[picks].astype(np.float32))
        index += 1


def align_points(points: torch.Tensor) -> torch.Tensor:
    """`[B, 68, 2]` -> the alignment's keypoints `[B, 5, 2]` (eye centres, nose tip, corners)."""
    return torch.stack([points[:, GROUPS["left_eye"]].mean(1),
                        points[:, GROUPS["right_eye"]].mean(1),
                        points[:, NOSE_TIP], points[:, MOUTH_LEFT], points[:, MOUTH_RIGHT]], 1)


def landmark_loss(model: torch.nn.Module, x: torch.Tensor, target: torch.Tensor,
                  present: torch.Tensor, template: torch.Tensor, keypoint_weight: float,
                  presence_weight: float) -> tuple[torch.Tensor, dict[str, float]]:
    """On the crops with the face: L1 on all points + `keypoint_weight` x L1 on the alignment's
    keypoints, in units of a quarter crop side (the net's output unit, `offsets_to_pixels`); on
    all: `presence_weight` x BCE of the presence logit."""
    unit = x.shape[-1] / 4
    offsets, logits = model(x)
    on_face = present > 0.5
    pred, target = offsets_to_pixels(offsets[on_face], template, x.shape[-1]), target[on_face]
    points = (pred - target).abs().mean() / unit if len(pred) else offsets.sum() * 0.0
    keys = ((align_points(pred) - align_points(target)).abs().mean() / unit if len(pred)
            else offsets.sum() * 0.0)
    presence = F.binary_cross_entropy_with_logits(logits, present)
    loss = points + keypoint_weight * keys + presence_weight * presence
    return loss, {"points": float(points.detach()), "keypoints": float(keys.detach()),
                  "presence": float(presence.detach())}


def keypoint_error(landmarks: np.ndarray, truth: np.ndarray) -> float:
    """Mean distance of the alignment's keypoints, in the truth's inter-ocular distances."""
    dist = np.linalg.norm(keypoints(landmarks)[:ALIGN_POINTS] - keypoints(truth)[:ALIGN_POINTS],
                          axis=-1)
    return float(dist.mean() / interocular(truth))


def score(net: LandmarkNet, pool: LandmarkFrames, refine: LandmarkRefineConfig
          ) -> dict[str, float]:
    """Held-out figures: share of frames the detector finds, the alignment keypoints' error
    (IODs, mean and 90th percentile) of the detector's landmarks and of the refined ones on
    those frames; with `refine`'s fallback, the share of the frames found in all, and the share
    of frames where the fallback calls a face that is not there."""
    detector = create_detector(DetectConfig())
    refined_detector = RefinedDetector(detector, net.predict, net.cfg.crop, refine)
    before, after, rescued, false = [], [], 0, 0
    for frame, truth in zip(pool.frames, pool.landmarks):
        far = SAME_FACE_IOD * float(interocular(truth))
        recognised = refined_detector.recognise(frame) if refine.fallback_score else []
        wrong = [f for f in recognised if eye_offset(f.landmarks, truth) > far]
        false += bool(wrong)
        found = detected(detector, frame, truth)
        if found is None:
            rescued += len(recognised) > len(wrong)
            continue
        before.append(keypoint_error(found, truth))
        moved, _ = refine_landmarks(net.predict, frame, found, net.cfg.crop, refine.passes)
        after.append(keypoint_error(moved, truth))
    frames = max(len(pool.frames), 1)
    figures = {"frames": len(pool.frames), "found": len(before) / frames,
               "passes": refine.passes, "fallback_score": refine.fallback_score,
               "found_with_fallback": (len(before) + rescued) / frames,
               "fallback_false_face_frames": false / frames}
    for name, errors in (("detector", before), ("refined", after)):
        figures[f"{name}_iod_mean"] = float(np.mean(errors)) if errors else float("nan")
        figures[f"{name}_iod_p90"] = float(np.percentile(errors, 90)) if errors else float("nan")
    return figures


def train_landmark_net(cfg: LandmarkTrainConfig, run_dir: str | Path) -> LandmarkNet:
    """Train (or resume from `run_dir/checkpoints`), write `run_dir/final/` with the EMA weights
    and the held-out figures (dubbing as `cfg.dubbing`), and return the net in eval mode."""
    run_dir = Path(run_dir)
    data = cut_crops(cfg, render_frames(cfg))
    log.info("landmark pool: %d crops", len(data.crops))
    torch.manual_seed(cfg.loop.seed)
    net = LandmarkNet(cfg.model).train()
    crop = cfg.model.crop
    template = torch.from_numpy(template_landmarks(crop.crop_size, crop).astype(np.float32))

    def step(model: torch.nn.Module, batch: tuple[torch.Tensor, ...]):
        x, target, present = batch
        return landmark_loss(model, x, target, present, template, cfg.keypoint_weight,
                             cfg.presence_weight)

    held_out = (lambda trained: score(trained, render_frames(cfg, held_out=True), cfg.dubbing)
                if cfg.val_clips else None)
    return train_to_final(cfg.loop, run_dir, net, step, partial(batches, cfg, data), cfg,
                          "xdub landmark refiner", LOSS_PANELS, held_out)
