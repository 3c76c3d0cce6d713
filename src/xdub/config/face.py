"""Face configs: detection, tracking, alignment, masks and paste-back (stdlib only).

Each stage of `xdub.face` takes only its own sub-config. `FaceConfig` bundles them for the
pipeline/CLI; `FACE_PRESETS` pairs a crop size with each model preset ("tiny" trains on small
crops, "wan5b" on 512x512). Lengths in the align/mask configs are in inter-ocular distances
(IOD, the distance between the two eye centres) so they hold at any resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class DetectConfig:
    """Which face detector runs and how strict it is."""

    backend: str = "mediapipe"  # a key of xdub.face.detect.DETECTORS ("mediapipe", "haar", ...)
    model: Literal["short", "full"] = "short"  # BlazeFace: short = faces <2 m, full = <5 m
    min_score: float = 0.5  # detector confidence threshold, 0.3 (recall) .. 0.8 (precision)
    nms_iou: float = 0.3  # boxes overlapping more than this are merged (MediaPipe default)
    max_faces: int = 8  # at most this many faces per frame (largest first)
    min_face_px: int = 24  # smaller boxes are dropped: too small to dub
    mesh: bool = True  # run the 468-point mesh (else landmarks from 4 detector keypoints)
    mesh_min_score: float = 0.5  # mesh face-presence threshold; below -> coarse landmarks
    num_threads: int = 1  # TFLite CPU threads; 1 keeps parallel workers from oversubscribing


@dataclass(frozen=True, slots=True)
class TrackConfig:
    """Identity association, gap bridging, smoothing and scene cuts."""

    detect_every: int = 1  # run the full detector every N frames; between, refine from last pose
    min_iou: float = 0.2  # a detection this far off a track's predicted box is a new face
    landmark_weight: float = 0.5  # cost weight of mean landmark distance (in box sizes) vs IoU
    max_cost: float = 1.2  # assignments costing more are rejected (1 - IoU + w * dist)
    max_gap: int = 8  # frames a face may be missed and still be bridged (interpolated)
    max_still_gap: int = 50  # longer misses, up to this many frames, are bridged too when the
    #   face comes back near where it was (IoU >= still_iou with its last box): BlazeFace loses
    #   some non-human faces for 15 frames in a row (a held-out frog came back at IoU 0.59),
    #   and those frames were passed through with their old lips
    still_iou: float = 0.4
    min_length: int = 3  # tracks shorter than this (detected frames) are dropped as spurious
    smooth: bool = True  # One-Euro smoothing of boxes/landmarks in finalize()
    min_cutoff: float = 5.0  # One-Euro Hz at rest: light, keeps ~97% of lip motion (crop: align)
    beta: float = 3.0  # One-Euro cutoff growth with speed (Hz per face-size/s); higher = less lag
    zero_phase: bool = True  # run the filter forward and backward (offline: no lag)
    scene_cut: bool = True  # close all tracks on a detected shot change
    scene_cut_threshold: float = 0.5  # HSV histogram Bhattacharyya distance, 0.3..0.7


@dataclass(frozen=True, slots=True)
class AlignConfig:
    """Canonical square face crop: where the face sits and how the crop is smoothed."""

    crop_size: int = 512  # output crop side in pixels (model preset decides)
    extent: float = 3.6  # crop side in IODs: 2.8 tight face .. 4.5 whole head and neck
    center_y: float = 0.75  # crop centre below the eye midpoint, in IODs (chin stays inside)
    use_mouth: bool = True  # fit mouth corners too (weighted) besides eyes and nose
    mouth_weight: float = 0.5  # corners move while speaking, so they count less
    smooth: bool = True  # smooth crop centre/scale/angle over time
    min_cutoff: float = 3.0  # One-Euro Hz at rest for the crop; 1 (steadier) .. 5 (follows more)
    beta: float = 0.5  # One-Euro cutoff growth with speed (Hz per IOD/s); tuned in benchmarks/
    interpolation: Literal["linear", "cubic", "lanczos"] = "cubic"  # resampling for warps


@dataclass(frozen=True, slots=True)
class MaskConfig:
    """Lower-face / mouth mask geometry (lengths in IODs).

    A mask is ~1 inside the outline grown by `dilate`, then fades out over ~4 x `feather`.
    """

    top: Literal["nose_tip", "nose_mid", "eyes"] = "nose_mid"  # upper edge of the lower face
    dilate: float = 0.1  # grow the outline: room for a jaw opening wider than the original
    chin_margin: float = 0.25  # extra room below the chin for a larger jaw drop
    feather: float = 0.06  # Gaussian fade sigma outside the grown outline (0.03 .. 0.15)
    mouth_dilate: float = 0.08  # growth of the mouth-only mask around the outer lips


@dataclass(frozen=True, slots=True)
class BlendConfig:
    """Paste-back of generated crops into full-resolution frames."""

    region: Literal["lower_face", "mouth", "crop"] = "lower_face"  # what of the crop replaces
    #   the frame: the lower-face mask, the mouth mask (grown by MaskConfig.mouth_dilate: for
    #   a model whose lower face outside the lips is less faithful than the source), or all
    color_match: Literal["none", "mean_std", "gain_map"] = "mean_std"  # tone matching method
    ring: float = 0.06  # ring width around the mask driving colour matching (fraction of crop)
    gain_sigma: float = 0.08  # blur sigma of the low-frequency gain map (fraction of crop)
    max_gain: float = 1.5  # colour gains are clipped to [1/max_gain, max_gain]: no wild casts
    border_feather: float = 0.04  # feather (fraction of crop) at the crop edge for region="crop"
    interpolation: Literal["linear", "cubic", "lanczos"] = "cubic"


@dataclass(frozen=True, slots=True)
class FaceConfig:
    """All face settings; stages take their own field."""

    detect: DetectConfig = field(default_factory=DetectConfig)
    track: TrackConfig = field(default_factory=TrackConfig)
    align: AlignConfig = field(default_factory=AlignConfig)
    mask: MaskConfig = field(default_factory=MaskConfig)
    blend: BlendConfig = field(default_factory=BlendConfig)


FACE_PRESETS: dict[str, FaceConfig] = {
    "tiny": FaceConfig(align=AlignConfig(crop_size=96)),
    "wan5b": FaceConfig(align=AlignConfig(crop_size=512)),
}
