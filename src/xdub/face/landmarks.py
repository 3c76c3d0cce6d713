"""The one landmark layout used across xdub, and named semantic points derived from it.

Layout "xdub-68" follows the semantics and order of the common 68-point annotation
(iBUG 300-W), so ground truth from other sources (e.g. the synthetic engine) can be given in
the same layout. Left/right are IMAGE sides: "left_eye" is the eye on the left of the picture
(the subject's right eye). Indices:

    0-16  jaw / face outline, image-left ear level -> chin (8) -> image-right ear level
    17-21 image-left eyebrow (outer -> inner)      22-26 image-right eyebrow (inner -> outer)
    27-30 nose bridge, top -> tip (30)             31-35 nostrils / nose base, left -> right
    36-41 image-left eye: outer corner, 2 upper lid, inner corner, 2 lower lid
    42-47 image-right eye: inner corner, 2 upper lid, outer corner, 2 lower lid
    48-59 outer lip contour from the left corner (48) over the upper lip to the right corner
          (54) and back along the lower lip; 60-67 inner lip contour the same way

Alignment needs only a few semantic points (`KEYPOINT_NAMES`), so any source that provides
`[6, 2]` keypoints in that order works as well as a full `[68, 2]` layout.
Imports: numpy only.
"""

from __future__ import annotations

import numpy as np

NUM_LANDMARKS = 68

# MediaPipe Face Mesh vertex for each xdub-68 point (chosen by us from the mesh topology;
# symmetric pairs use mirror-image mesh vertices so the layout has no left/right bias).
MESH_TO_68 = np.array([
    234, 93, 132, 58, 172, 136, 150, 176, 152, 400, 379, 365, 397, 288, 361, 323, 454,  # jaw
    70, 63, 105, 66, 107,  # image-left brow
    336, 296, 334, 293, 300,  # image-right brow
    168, 197, 5, 1,  # nose bridge -> tip
    98, 97, 2, 326, 327,  # nose base
    33, 160, 158, 133, 153, 144,  # image-left eye
    362, 385, 387, 263, 373, 380,  # image-right eye
    61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,  # outer lips
    78, 81, 13, 311, 308, 402, 14, 178,  # inner lips
], dtype=np.int64)

GROUPS: dict[str, slice] = {
    "jaw": slice(0, 17),
    "left_brow": slice(17, 22),
    "right_brow": slice(22, 27),
    "nose_bridge": slice(27, 31),
    "nose_base": slice(31, 36),
    "left_eye": slice(36, 42),
    "right_eye": slice(42, 48),
    "mouth_outer": slice(48, 60),
    "mouth_inner": slice(60, 68),
}

KEYPOINT_NAMES = ("left_eye", "right_eye", "nose_tip", "mouth_left", "mouth_right", "chin")
CHIN, NOSE_TIP, NOSE_MID, MOUTH_LEFT, MOUTH_RIGHT = 8, 30, 29, 48, 54

# Index of each point's mirror image (for horizontal-flip augmentation and symmetrising).
FLIP_68 = np.array(
    list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30] + [35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46] + [39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55] + [64, 63, 62, 61, 60, 67, 66, 65],
    dtype=np.int64,
)


def mesh_to_landmarks(mesh: np.ndarray) -> np.ndarray:
    """MediaPipe mesh `[468, 2|3]` -> xdub-68 landmarks `[68, 2]` float32."""
    assert mesh.shape[0] >= 468, f"expected a 468-point mesh, got {mesh.shape}"
    return mesh[MESH_TO_68, :2].astype(np.float32)


def keypoints(landmarks: np.ndarray) -> np.ndarray:
    """Semantic points `[..., 6, 2]` (KEYPOINT_NAMES order) from `[..., 68, 2]` (or as given)."""
    if landmarks.shape[-2] == len(KEYPOINT_NAMES):
        return landmarks
    assert landmarks.shape[-2] == NUM_LANDMARKS, f"expected [..., 68, 2], got {landmarks.shape}"
    return np.stack([
        landmarks[..., GROUPS["left_eye"], :].mean(-2),
        landmarks[..., GROUPS["right_eye"], :].mean(-2),
        landmarks[..., NOSE_TIP, :],
        landmarks[..., MOUTH_LEFT, :],
        landmarks[..., MOUTH_RIGHT, :],
        landmarks[..., CHIN, :],
    ], axis=-2)


def keypoint(landmarks: np.ndarray, name: str) -> np.ndarray:
    """One named semantic point `[..., 2]`, e.g. `keypoint(lm, "mouth_left")`."""
    return keypoints(landmarks)[..., KEYPOINT_NAMES.index(name), :]


def interocular(landmarks: np.ndarray) -> np.ndarray:
    """Distance between the eye centres `[...]` (the length unit of face configs)."""
    kp = keypoints(landmarks)
    return np.linalg.norm(kp[..., 1, :] - kp[..., 0, :], axis=-1)


def eye_offset(landmarks: np.ndarray, other: np.ndarray) -> float:
    """Mean distance between the eye centres of two faces `[68, 2]` (are they the same face?)."""
    return float(np.linalg.norm(keypoints(landmarks)[:2] - keypoints(other)[:2], axis=1).mean())


# Mean frontal face in xdub-68 layout, in "face units": eye midpoint at the origin, x along the
# eye line, inter-ocular distance 1, y pointing down. Measured by us with the bundled mesh model
# on frontal neutral faces (scikit-image's astronaut photo and frames of a talking-head clip),
# each similarity-aligned, averaged and mirrored (left/right averaged) to remove pose bias.
MEAN_SHAPE = np.array([
    (-1.050, 0.128), (-1.029, 0.335), (-0.991, 0.558), (-0.916, 0.798),
    (-0.815, 1.006), (-0.700, 1.167), (-0.556, 1.306), (-0.322, 1.500),
    (0.000, 1.592), (0.322, 1.500), (0.556, 1.306), (0.700, 1.167),
    (0.815, 1.006), (0.916, 0.798), (0.991, 0.558), (1.029, 0.335),
    (1.050, 0.128), (-0.894, -0.258), (-0.799, -0.330), (-0.653, -0.360),
    (-0.461, -0.339), (-0.237, -0.304), (0.237, -0.304), (0.461, -0.339),
    (0.653, -0.360), (0.799, -0.330), (0.894, -0.258), (0.000, -0.026),
    (0.000, 0.244), (0.000, 0.470), (0.000, 0.698), (-0.268, 0.690),
    (-0.118, 0.745), (0.000, 0.753), (0.118, 0.745), (0.268, 0.690),
    (-0.715, -0.015), (-0.612, -0.066), (-0.436, -0.071), (-0.266, 0.036),
    (-0.401, 0.060), (-0.570, 0.056), (0.266, 0.036), (0.436, -0.071),
    (0.612, -0.066), (0.715, -0.015), (0.570, 0.056), (0.401, 0.060),
    (-0.433, 0.963), (-0.335, 0.931), (-0.127, 0.914), (0.000, 0.933),
    (0.127, 0.914), (0.335, 0.931), (0.433, 0.963), (0.330, 1.109),
    (0.132, 1.242), (0.000, 1.260), (-0.132, 1.242), (-0.330, 1.109),
    (-0.373, 0.966), (-0.186, 0.979), (0.000, 1.000), (0.186, 0.979),
    (0.373, 0.966), (0.196, 1.084), (0.000, 1.119), (-0.196, 1.084),
], dtype=np.float32)


def similarity_fit(src: np.ndarray, dst: np.ndarray,
                   weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares similarity `[2, 3]` (rotation, scale, shift) taking `src` to `dst` `[N, 2]`."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    w = np.ones(len(src)) if weights is None else np.asarray(weights, np.float64)
    w = w / w.sum()
    mu_s, mu_d = (w[:, None] * src).sum(0), (w[:, None] * dst).sum(0)
    s0, d0 = src - mu_s, dst - mu_d
    # Closed form for the 2D similarity (Umeyama): complex-number view of the points.
    a = (w * (s0[:, 0] * d0[:, 0] + s0[:, 1] * d0[:, 1])).sum()
    b = (w * (s0[:, 0] * d0[:, 1] - s0[:, 1] * d0[:, 0])).sum()
    var = (w * (s0 ** 2).sum(1)).sum()
    sc, ss = a / max(var, 1e-12), b / max(var, 1e-12)
    rot = np.array([[sc, -ss], [ss, sc]])
    return np.concatenate([rot, (mu_d - rot @ mu_s)[:, None]], axis=1)


def transform_points(points: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to `points: [..., 2]`."""
    affine = np.asarray(affine, np.float64)
    return (np.asarray(points, np.float64) @ affine[:, :2].T + affine[:, 2]).astype(np.float32)


def landmarks_from_keypoints(points: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Coarse `[68, 2]` landmarks: MEAN_SHAPE fitted to a few named points `[N, 2]`
    (`KEYPOINT_NAMES`, or "mouth_centre") by a similarity. A "mouth_centre" point then moves the
    face below the nose onto it (nothing at nose level, fully from the mouth down): a frog's
    similarity fit to eyes and nose put its mouth landmarks on its nose, and the paste region
    built from them left its old open mouth in the dub (issue #12, design 3.1)."""
    points = np.asarray(points, np.float64)
    named = keypoints(MEAN_SHAPE)
    rigid = [k for k, n in enumerate(names) if n != "mouth_centre"]
    template = named[[KEYPOINT_NAMES.index(names[k]) for k in rigid]]
    shape = transform_points(MEAN_SHAPE, similarity_fit(template, points[rigid]))
    if "mouth_centre" in names:
        nose = keypoint(shape, "nose_tip")
        mouth = (keypoint(shape, "mouth_left") + keypoint(shape, "mouth_right")) / 2
        down = mouth - nose
        share = np.clip((shape - nose) @ down / max(float(down @ down), 1e-12), 0.0, 1.0)
        shape = shape + share[:, None] * (points[names.index("mouth_centre")] - mouth)
    return shape.astype(np.float32)
