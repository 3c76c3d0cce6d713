"""Metrics that need a pretrained network the user supplies: identity, FID, FVD, LPIPS.

xdub ships no weights for these and downloads nothing. Identity takes any object with an
`embed(faces)` method (`IdentityModel`). FID/FVD/LPIPS are slots: each takes a weights path
and a loader registered with `register_backend(kind, loader)`; a missing path or file raises
`WeightsError` saying what to download, a missing loader says how to plug one in.

- identity cosine = mean_t cos(embed(result_face_t), embed(answer_face_t));
- FID = `frechet_distance` of per-frame features, FVD = the same of per-clip features;
- LPIPS = mean over frames of the backend's per-frame distance.
Imports: numpy, xdub.errors, xdub.bench.metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from xdub.bench.metrics import frechet_distance
from xdub.errors import ConfigError, WeightsError

Kind = Literal["fid", "fvd", "lpips"]

# What each slot expects, for the error message (facts about the usual reference weights).
_WEIGHTS_HINT = {
    "fid": "an Inception-v3 FID feature network (e.g. pt_inception-2015-12-05-6726825d.pth)",
    "fvd": "an I3D Kinetics-400 feature network (e.g. i3d_torchscript.pt)",
    "lpips": "LPIPS weights (e.g. the alex/vgg linear layers, alex.pth)",
}


class IdentityModel(Protocol):
    """A face-embedding network: `embed(faces [N, h, w, 3] uint8 RGB) -> [N, D]` float."""

    def embed(self, faces: np.ndarray) -> np.ndarray: ...


def identity_cosine(
    model: IdentityModel, result_faces: np.ndarray, reference_faces: np.ndarray
) -> float:
    """Mean per-frame cosine similarity of face embeddings (1 = same identity)."""
    assert result_faces.shape == reference_faces.shape and result_faces.ndim == 4, (
        "faces must be [N, h, w, 3] and equal in shape"
    )
    emb_r = np.asarray(model.embed(result_faces), np.float64)
    emb_a = np.asarray(model.embed(reference_faces), np.float64)
    assert emb_r.shape == emb_a.shape and emb_r.ndim == 2, "embed must return [N, D]"
    norms = np.linalg.norm(emb_r, axis=1) * np.linalg.norm(emb_a, axis=1)
    return float(np.mean((emb_r * emb_a).sum(axis=1) / np.maximum(norms, 1e-12)))


# ---------------------------------------------------------------------------------------------
# Weight-backed slots
# ---------------------------------------------------------------------------------------------

Backend = Callable[..., np.ndarray]
_LOADERS: dict[str, Callable[[Path], Backend]] = {}


def register_backend(kind: Kind, loader: Callable[[Path], Backend]) -> None:
    """Plug in a network: `loader(weights_path) -> backend`.

    fid: backend(frames [N, H, W, 3] uint8) -> [N, D]; fvd: backend(clip [T, H, W, 3] uint8)
    -> [D]; lpips: backend(result [T, H, W, 3], reference [T, H, W, 3]) -> [T] distances.
    """
    if kind not in _WEIGHTS_HINT:
        raise ConfigError(f"unknown perceptual metric '{kind}'; choose from {list(_WEIGHTS_HINT)}")
    _LOADERS[kind] = loader


def load_backend(kind: Kind, weights_path: str | Path | None) -> Backend:
    """The registered network for `kind` with its weights, or a one-line error."""
    hint = _WEIGHTS_HINT[kind]
    if not weights_path:
        raise WeightsError(f"{kind.upper()} needs weights: download {hint} and pass its path")
    path = Path(weights_path)
    if not path.is_file():
        raise WeightsError(f"{kind.upper()} weights not found at '{path}': download {hint} there")
    if kind not in _LOADERS:
        raise WeightsError(
            f"{kind.upper()}: xdub has no built-in network for '{path.name}'; plug one in with "
            f"xdub.bench.perceptual.register_backend('{kind}', loader)"
        )
    return _LOADERS[kind](path)


def fid(real_frames: np.ndarray, fake_frames: np.ndarray, weights_path: str | Path | None) -> float:
    """FID between two frame sets `[N, H, W, 3]` uint8 (per-frame features)."""
    backend = load_backend("fid", weights_path)
    return frechet_distance(np.asarray(backend(real_frames)), np.asarray(backend(fake_frames)))


def fvd(
    real_clips: Sequence[np.ndarray],
    fake_clips: Sequence[np.ndarray],
    weights_path: str | Path | None,
) -> float:
    """FVD between two clip sets, each clip `[T, H, W, 3]` uint8 (per-clip features)."""
    backend = load_backend("fvd", weights_path)
    real = np.stack([np.asarray(backend(c)) for c in real_clips])
    fake = np.stack([np.asarray(backend(c)) for c in fake_clips])
    return frechet_distance(real, fake)


def lpips(result: np.ndarray, reference: np.ndarray, weights_path: str | Path | None) -> float:
    """Mean LPIPS distance of a clip `[T, H, W, 3]` to its answer (lower = closer)."""
    backend = load_backend("lpips", weights_path)
    return float(np.mean(np.asarray(backend(result, reference))))
