"""xdub.face: detect, track, align, mask and paste back faces in numpy RGB frames.

Flow: `create_detector(cfg.detect)` -> `track_faces(frames, detector, cfg.track)` ->
`select_track(tracks, "longest")` -> `estimate_alignments(track.landmarks, size, cfg.align)` ->
`warp_to_crop` -> (model edits the crop) -> `lower_face_mask` on crop-space landmarks ->
`paste_back(frame, crop, affine, cfg.blend, mask)`. Landmarks use the xdub-68 layout
(`xdub.face.landmarks`). Pure functions of arrays except the detectors (which load bundled
model files). Imports: numpy, cv2, scipy, xdub.config, xdub.errors (never media/models/...).
"""

from xdub.face.align import (
    estimate_alignment,
    estimate_alignments,
    smooth_alignments,
    warp_from_crop,
    warp_to_crop,
)
from xdub.face.blend import changed_pixels, paste_back
from xdub.face.detect import (
    DETECTORS,
    FaceDetection,
    FaceDetector,
    create_detector,
    register_detector,
)
from xdub.face.landmarks import KEYPOINT_NAMES, keypoint, keypoints
from xdub.face.mask import lower_face_mask, mouth_mask
from xdub.face.track import FaceTrack, FaceTracker, select_track, track_faces

__all__ = [
    "DETECTORS",
    "KEYPOINT_NAMES",
    "FaceDetection",
    "FaceDetector",
    "FaceTrack",
    "FaceTracker",
    "create_detector",
    "estimate_alignment",
    "estimate_alignments",
    "keypoint",
    "keypoints",
    "lower_face_mask",
    "mouth_mask",
    "paste_back",
    "changed_pixels",
    "register_detector",
    "select_track",
    "smooth_alignments",
    "track_faces",
    "warp_from_crop",
    "warp_to_crop",
]
